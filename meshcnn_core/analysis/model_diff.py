"""Two models on one mesh: how alike their poolings are.

From two :class:`~meshcnn_core.recording.Recording` of the same mesh, :func:`compare_recordings`
gives, per stage that a pooling leaves in both, the Spearman rank correlation of the pooling
priorities (squared feature norms) over the input edges both still have, and the first collapse
at which the two collapse sequences (the input edges collapsed, in order, stage after stage)
part ways. Reading recordings only: no forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from ..recording import Recording

__all__ = ["StageDiff", "Divergence", "ModelDiff", "compare_recordings", "spearman"]


@dataclass(frozen=True)
class StageDiff:
    """One stage of the comparison.

    Attributes:
        stage: the stage index (the pooling that leaves it).
        common_edges: input edges present at this stage in both recordings.
        spearman: rank correlation of their priorities over those edges (nan: fewer than 2, or
            one side constant).
    """

    stage: int
    common_edges: int
    spearman: float


@dataclass(frozen=True)
class Divergence:
    """Where the collapse sequences first differ.

    Attributes:
        stage: the stage whose pooling it happens in.
        position: index of the collapse within that pooling.
        overall: index of the collapse counted over all poolings.
        edge_a: input edge id the first model collapses there (None: its pooling stopped).
        edge_b: the same for the second model.
    """

    stage: int
    position: int
    overall: int
    edge_a: int | None
    edge_b: int | None


@dataclass(frozen=True)
class ModelDiff:
    """The comparison of two recordings of one mesh.

    Attributes:
        stages: one :class:`StageDiff` per stage a pooling leaves in both.
        divergence: the first difference of the collapse sequences, None if they agree.
        shared_collapses: collapses the two sequences share before they part (all of them if they
            never do).
    """

    stages: list[StageDiff]
    divergence: Divergence | None
    shared_collapses: int


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (ties get average ranks); nan if undefined.

    Shapes: ``(n,), (n,) -> float``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"spearman needs two 1-d arrays of one length, got {x.shape} and {y.shape}")
    if len(x) < 2:
        return float("nan")
    rx, ry = rankdata(x) - (len(x) + 1) / 2, rankdata(y) - (len(y) + 1) / 2
    den = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / den) if den > 0 else float("nan")


def _pooling_stages(rec: Recording) -> list[int]:
    """Stages that a pooling leaves (input and pooled stages followed by another pooled stage)."""
    kinds = [str(rec.arrays[f"stage{k}_kind"]) for k in range(rec.num_stages)]
    return [k for k in range(len(kinds) - 1) if kinds[k] != "unpool" and kinds[k + 1] == "pool"]


def _at(order: np.ndarray, i: int) -> int | None:
    return int(order[i]) if i < len(order) else None


def compare_recordings(a: Recording, b: Recording) -> ModelDiff:
    """Compare the poolings of two recordings of the same mesh.

    Raises:
        ValueError: the recordings are not of the same mesh (edges or vertices differ).
    """
    va, vb = a.input_vertices, b.input_vertices
    same_edges = np.array_equal(a.input_edges, b.input_edges)
    if not same_edges or va.shape != vb.shape or not np.allclose(va, vb):
        raise ValueError("the two recordings are not of the same mesh; record both models on one mesh")
    common = sorted(set(_pooling_stages(a)) & set(_pooling_stages(b)))
    stages: list[StageDiff] = []
    for k in common:
        ids_a, ids_b = a.arrays[f"stage{k}_edge_ids"], b.arrays[f"stage{k}_edge_ids"]
        both, ia, ib = np.intersect1d(ids_a, ids_b, return_indices=True)
        pa, pb = a.arrays[f"stage{k}_priority"][ia], b.arrays[f"stage{k}_priority"][ib]
        stages.append(StageDiff(k, int(len(both)), spearman(pa, pb)))
    divergence, done = None, 0
    for k in common:
        ca, cb = a.arrays[f"stage{k}_collapse_order"], b.arrays[f"stage{k}_collapse_order"]
        n = min(len(ca), len(cb))
        diff = np.flatnonzero(ca[:n] != cb[:n])
        if len(diff) or len(ca) != len(cb):
            i = int(diff[0]) if len(diff) else n
            divergence = Divergence(k, i, done + i, _at(ca, i), _at(cb, i))
            done += i
            break
        done += n
    return ModelDiff(stages, divergence, done)
