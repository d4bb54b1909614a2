"""Which human-body part each label of MeshCNN's ``human_seg`` set is, read off the meshes.

The set's ``classes.txt`` gives only the values 1-8. Their meaning follows from how the labelled
regions touch, which is the same on every mesh whatever its pose (:func:`derive_body_parts`):

* the **torso** is the label that touches the most others (head, upper arms, thighs);
* the **head** is the one other label that touches only the torso, in one piece;
* the torso's other neighbours start two chains of three labels each, torso - upper - lower - end
  (two pieces each: left and right): upper arm - forearm - hand, and thigh - lower leg - foot;
* the **arm** chain is the one whose parts lie nearer the head (mean distance of their edge
  midpoints from the head's), on each mesh.

Measured on all 399 meshes of the set (381 train + 18 test), with ``python -m
meshcnn_core.data.body_parts ../shared/datasets/human_seg``: label pairs that touch on every mesh are
exactly 1-5, 5-4, 4-3, 3-2, 5-6, 6-7, 7-8 (a few meshes add a stray contact between two of them,
at most 4 meshes per pair); the chain 4-3-2 lies nearer label 1 than 6-7-8, part by part, on all 399
meshes. So: 1 head, 2 hand, 3 forearm, 4 upper arm, 5 torso, 6 thigh, 7 lower leg, 8 foot
(:data:`HUMAN_SEG_PARTS`; the configs' ``part_names``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MeshCNNError
from ..mesh.io import load_mesh
from ..mesh.topology import build_topology
from .eseg import mesh_labels

__all__ = ["HUMAN_SEG_PARTS", "BodyEvidence", "body_evidence", "derive_body_parts", "main"]

HUMAN_SEG_PARTS = ("head", "hand", "forearm", "upper arm", "torso", "thigh", "lower leg", "foot")


@dataclass(frozen=True)
class BodyEvidence:
    """What the meshes of a segmentation set say about how its labels touch.

    Attributes:
        meshes: how many meshes were read.
        touching: ``{(a, b): n}`` with ``a < b``: on how many meshes an edge of label ``a`` has a
            one-ring neighbour of label ``b``.
        distance: ``(M, L, L)``: ``[m, i, j]`` is the mean distance of label ``j``'s edge midpoints
            from the centre of label ``i``'s on mesh ``m``; nan where a label is absent.
        labels: the label values, in order (the order of ``distance``'s axes).
    """

    meshes: int
    touching: dict[tuple[int, int], int]
    distance: np.ndarray
    labels: tuple[int, ...]

    def always_touching(self) -> set[tuple[int, int]]:
        """The pairs that touch on every mesh."""
        return {p for p, n in self.touching.items() if n == self.meshes}


def body_evidence(root: str | os.PathLike) -> BodyEvidence:
    """Read every mesh of ``root`` (MeshCNN's segmentation layout) and gather :class:`BodyEvidence`."""
    root = Path(root)
    paths = sorted((root / "train").glob("*.obj")) + sorted((root / "test").glob("*.obj"))
    if not paths:
        raise MeshCNNError(f"{root}: no meshes in train/ or test/")
    touching: Counter = Counter()
    per_mesh = []
    for path in paths:
        mesh = load_mesh(path)
        topo = build_topology(mesh.vertices, mesh.faces).topology
        lab = mesh_labels(root, path, topo.num_edges)
        gemm = np.asarray(topo.gemm)  # (E, 4) one-ring neighbours, -1 on a border
        a = np.repeat(lab, 4)
        b = lab[np.maximum(gemm, 0)].reshape(-1)
        ok = (gemm.reshape(-1) >= 0) & (a != b)
        touching.update({(int(x), int(y)) for x, y in zip(np.minimum(a, b)[ok], np.maximum(a, b)[ok])})
        mid = mesh.vertices[np.asarray(topo.edges)].mean(axis=1)  # (E, 3)
        per_mesh.append((lab, mid))
    labels = tuple(sorted({int(v) for lab, _ in per_mesh for v in np.unique(lab)}))
    distance = np.full((len(per_mesh), len(labels), len(labels)), np.nan)
    for m, (lab, mid) in enumerate(per_mesh):
        for i, a in enumerate(labels):
            if (lab == a).any():
                centre = mid[lab == a].mean(axis=0)
                for j, b in enumerate(labels):
                    if (lab == b).any():
                        distance[m, i, j] = np.linalg.norm(mid[lab == b] - centre, axis=1).mean()
    return BodyEvidence(len(paths), dict(touching), distance, labels)


def _neighbours(pairs: set[tuple[int, int]], label: int) -> set[int]:
    return {b if a == label else a for a, b in pairs if label in (a, b)}


def derive_body_parts(ev: BodyEvidence) -> dict[int, str]:
    """Name each label from :class:`BodyEvidence` (the rules of the module docstring).

    Raises:
        MeshCNNError: the labels do not touch like a human body's eight parts on every mesh.
    """
    pairs = ev.always_touching()
    labels = ev.labels
    shape = "labels that touch like head, torso and two three-part limbs on every mesh"
    if len(labels) != 8:
        raise MeshCNNError(f"{len(labels)} labels, not 8: not {shape}")
    torso = max(labels, key=lambda v: len(_neighbours(pairs, v)))
    around = _neighbours(pairs, torso)
    leaves = [v for v in around if _neighbours(pairs, v) == {torso}]
    if len(around) != 3 or len(leaves) != 1:
        raise MeshCNNError(f"label {torso} touches {sorted(around)}: not {shape}")
    head = leaves[0]
    chains = []
    for first in sorted(around - {head}):
        chain, prev = [first], torso
        while len(chain) < 3:
            nxt = _neighbours(pairs, chain[-1]) - {prev}
            if len(nxt) != 1:
                raise MeshCNNError(f"label {chain[-1]} touches {sorted(nxt | {prev})}: not {shape}")
            prev = chain[-1]
            chain.append(nxt.pop())
        if _neighbours(pairs, chain[-1]) != {chain[-2]}:
            raise MeshCNNError(f"label {chain[-1]} ends no limb: not {shape}")
        chains.append(chain)
    if len(pairs) != 7 or {*chains[0], *chains[1], torso, head} != set(labels):
        raise MeshCNNError(f"the labels touch as {sorted(pairs)}: not {shape}")
    col = {v: j for j, v in enumerate(labels)}
    d = ev.distance[:, col[head]]  # (M, L): from the head
    nearer = np.all([d[:, col[a]] < d[:, col[b]] for a, b in zip(*chains)], axis=0)  # (M,)
    if nearer.all():
        arm, leg = chains
    elif not nearer.any():
        leg, arm = chains
    else:
        raise MeshCNNError(
            f"chain {chains[0]} is nearer the head on {int(nearer.sum())} of {len(nearer)} meshes: "
            "arms and legs cannot be told apart"
        )
    names = {head: "head", torso: "torso"}
    names.update(zip(arm, ("upper arm", "forearm", "hand")))
    names.update(zip(leg, ("thigh", "lower leg", "foot")))
    return dict(sorted(names.items()))


def main(argv: list[str] | None = None) -> int:
    """Print the evidence and the derived names for a data-set folder."""
    p = argparse.ArgumentParser(
        prog="python -m meshcnn_core.data.body_parts", description=__doc__.split("\n")[0]
    )
    p.add_argument("data", help="a human-body segmentation set in MeshCNN's layout")
    a = p.parse_args(argv)
    try:
        ev = body_evidence(a.data)
        print(f"{ev.meshes} meshes; label pairs that touch (meshes):")
        for (x, y), n in sorted(ev.touching.items(), key=lambda kv: -kv[1]):
            print(f"  {x}-{y}: {n}")
        names = derive_body_parts(ev)
    except (MeshCNNError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("names: " + ", ".join(f"{v} {n}" for v, n in names.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
