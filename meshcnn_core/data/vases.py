"""Two binary classification sets from the COSEG vases' part labels: handle or not, neck or not.

MeshCNN's paper shows that a network trained to tell whether a vase has a handle pools a vase
differently from one trained to tell whether it has a neck. The labels of both tasks come from
the part labels of MeshCNN's COSEG vase segmentation set (``seg/<name>.eseg``, one label 1-4 per
edge): a vase has a handle when any of its edges carries the handle label, a neck when any carries
the neck label. Every vase has 1500 edges, so both classifiers take the same input.

**Which label is which** (measured by :func:`part_statistics` on all 297 meshes; the vases stand
along +y, the axis with the largest extent on average):

=====  =============  ===============  ================  =======================================
label  in % of vases  mean height [*]  mean radius [**]  through-holes (genus > 0)
=====  =============  ===============  ================  =======================================
1      76%            0.89             0.24              in 25% of the vases with it
2      58%            0.67             0.69              in 63% with it; in none of those without
3      100%           0.41             0.67              (every vase: the body)
4      81%            0.04             0.47              (the base)
=====  =============  ===============  ================  =======================================

[*] mean height of the part's edge midpoints as a fraction of the vase's vertical extent;
[**] mean distance from the vertical axis, as a fraction of the vase's largest.

Label 2 is the **handle**: every vase with a through-hole has it (a handle attached at both ends
is what makes a hole in a vase), it is absent from many vases, and it lies far from the axis.
Label 1 is the **neck**: it sits at the top and is the narrowest part (closest to the axis).
Label 3 (in every vase, half of the edges) is the body and label 4 (at the bottom) the base.
A part, when present, has at least 48 (neck) / 118 (handle) edges, so presence needs no threshold.

The derived sets keep MeshCNN's train/test split and link to the original meshes (no copy of
the research-only data; where links are not possible the files are copied into ``out`` outside
the repository)::

    python -m meshcnn_core.data.vases --src ../shared/datasets/coseg_vases --out runs/data
    # -> runs/data/vase_handle/{handle,no_handle}/{train,test}/*.obj
    #    runs/data/vase_neck/{neck,no_neck}/{train,test}/*.obj
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MeshCNNError
from ..mesh.io import load_mesh
from ..mesh.topology import build_topology
from .eseg import mesh_labels

__all__ = ["HANDLE_LABEL", "NECK_LABEL", "TASKS", "PartStats", "part_statistics", "derive_vase_tasks", "main"]

HANDLE_LABEL = 2
NECK_LABEL = 1
TASKS = {"vase_handle": (HANDLE_LABEL, "handle"), "vase_neck": (NECK_LABEL, "neck")}
UP_AXIS = 1


@dataclass(frozen=True)
class PartStats:
    """Where a part label lies, over a data set (see the module docstring's table).

    Attributes:
        label: the part label value.
        presence: share of meshes with at least one edge of this label.
        height: mean height of its edge midpoints, as a fraction of each mesh's vertical extent.
        radius: mean distance from the vertical axis, as a fraction of each mesh's largest.
        holes_with: share of the meshes having the label that have genus > 0.
        holes_without: share of the meshes lacking the label that have genus > 0 (nan if none).
        min_edges: fewest edges of the label in a mesh that has it.
    """

    label: int
    presence: float
    height: float
    radius: float
    holes_with: float
    holes_without: float
    min_edges: int


def _meshes(src: Path) -> list[tuple[str, Path]]:
    return [(split, p) for split in ("train", "test") for p in sorted((src / split).glob("*.obj"))]


def part_statistics(src: str | os.PathLike, labels: tuple[int, ...] = (1, 2, 3, 4)) -> list[PartStats]:
    """Measure where each part label lies on the vases of ``src`` (MeshCNN's segmentation layout)."""
    src = Path(src)
    per_mesh = []
    for _, path in _meshes(src):
        mesh = load_mesh(path)
        topo, kept, _ = build_topology(mesh.vertices, mesh.faces)
        lab = mesh_labels(src, path, topo.num_edges)
        v = mesh.vertices
        mid = v[topo.edges].mean(axis=1)  # (E, 3)
        lo, hi = v[:, UP_AXIS].min(), v[:, UP_AXIS].max()
        height = (mid[:, UP_AXIS] - lo) / (hi - lo)
        side = [a for a in range(3) if a != UP_AXIS]
        centre = (v[:, side].max(axis=0) + v[:, side].min(axis=0)) / 2
        r = np.linalg.norm(mid[:, side] - centre, axis=1)
        genus = (2 - (topo.num_vertices - topo.num_edges + len(kept))) // 2
        per_mesh.append((lab, height, r / r.max(), genus))
    out = []
    for label in labels:
        has = np.array([(m[0] == label).any() for m in per_mesh])
        holes = np.array([m[3] > 0 for m in per_mesh])
        sel = [m for m, h in zip(per_mesh, has) if h]
        out.append(PartStats(
            label=int(label), presence=float(has.mean()),
            height=float(np.mean([m[1][m[0] == label].mean() for m in sel])) if sel else float("nan"),
            radius=float(np.mean([m[2][m[0] == label].mean() for m in sel])) if sel else float("nan"),
            holes_with=float(holes[has].mean()) if has.any() else float("nan"),
            holes_without=float(holes[~has].mean()) if (~has).any() else float("nan"),
            min_edges=int(min((m[0] == label).sum() for m in sel)) if sel else 0,
        ))
    return out


def _link(target: Path, link: Path) -> None:
    try:
        link.symlink_to(target.resolve())
    except OSError:
        shutil.copyfile(target, link)


def derive_vase_tasks(src: str | os.PathLike, out: str | os.PathLike) -> dict[str, Path]:
    """Write ``out/vase_handle`` and ``out/vase_neck`` (MeshCNN's classification layout).

    Returns:
        ``{task: folder}``. Existing task folders are replaced.
    """
    src, out = Path(src), Path(out)
    items = _meshes(src)
    if not items:
        raise MeshCNNError(f"{src}: no train/*.obj or test/*.obj meshes")
    folders = {}
    for task, (label, part) in TASKS.items():
        root = out / task
        shutil.rmtree(root, ignore_errors=True)
        for split, path in items:
            has = bool((mesh_labels(src, path) == label).any())
            folder = root / (part if has else f"no_{part}") / split
            folder.mkdir(parents=True, exist_ok=True)
            _link(path, folder / path.name)
        folders[task] = root
    return folders


def main(argv: list[str] | None = None) -> int:
    """Command line: derive the two sets, or print the part statistics."""
    p = argparse.ArgumentParser(prog="python -m meshcnn_core.data.vases", description=__doc__.split("\n")[0])
    p.add_argument("--src", default="../shared/datasets/coseg_vases")
    p.add_argument("--out", help="folder for vase_handle/ and vase_neck/")
    p.add_argument("--stats", action="store_true", help="print where each part label lies")
    a = p.parse_args(argv)
    try:
        if a.stats:
            for s in part_statistics(a.src):
                print(f"label {s.label}: in {s.presence:.0%} of vases, height {s.height:.2f}, "
                      f"radius {s.radius:.2f}, genus > 0 in {s.holes_with:.0%} with it / "
                      f"{s.holes_without:.0%} without, at least {s.min_edges} edges")
        if a.out:
            for task, root in derive_vase_tasks(a.src, a.out).items():
                counts = {d.name: {s: len(list((d / s).glob("*.obj"))) for s in ("train", "test")}
                          for d in sorted(root.iterdir())}
                print(f"{task}: {root} {counts}")
    except (MeshCNNError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
