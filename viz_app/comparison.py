"""Comparing two recordings of the same mesh: which input edges each model kept, per stage and per part."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meshcnn_core.analysis.part_keep import PartKeep, part_keep
from meshcnn_core.recording import Recording

__all__ = ["StageOverlap", "same_input", "stage_overlaps", "kept_status", "PartKeepPair", "part_keep_pair"]


def same_input(a: Recording, b: Recording) -> bool:
    """Whether two recordings ran on the same input mesh (same edges in the same order, same vertices).

    The vertices count too: a mesh scaled for one model (see :mod:`meshcnn_core.mesh.size`) keeps
    its edges but is another input, on which MeshCNN computes other features.
    """
    ea, eb = a.input_edges, b.input_edges
    if ea.shape != eb.shape or not np.array_equal(ea, eb):
        return False
    va, vb = a.input_vertices, b.input_vertices
    return va.shape == vb.shape and bool(np.allclose(va, vb))


@dataclass(frozen=True)
class StageOverlap:
    """Overlap of the input edges two models kept at one stage (``kept`` = the stage's edge ids)."""

    stage: int
    kept_a: int
    kept_b: int
    both: int
    jaccard: float


def _kept(rec: Recording, k: int) -> np.ndarray:
    e = rec.num_input_edges
    out = np.zeros(e, dtype=bool)
    out[rec.stage(k).edge_ids] = True
    return out


def stage_overlaps(a: Recording, b: Recording) -> list[StageOverlap]:
    """Per stage (input and pooled stages both have), the Jaccard index of the input edges kept.

    Raises:
        ValueError: the recordings ran on different meshes.
    """
    if not same_input(a, b):
        raise ValueError("the two recordings ran on different meshes; their edges cannot be compared")
    out = []
    for k in range(min(a.num_stages, b.num_stages)):
        if a.stage(k).kind == "unpool" or b.stage(k).kind == "unpool":
            break
        ka, kb = _kept(a, k), _kept(b, k)
        both = int((ka & kb).sum())
        union = int((ka | kb).sum())
        out.append(StageOverlap(k, int(ka.sum()), int(kb.sum()), both, both / union if union else 1.0))
    return out


def kept_status(a: Recording, b: Recording, k: int) -> np.ndarray:
    """``(E,)`` int8 per input edge at stage ``k``: 0 neither kept it, 1 A only, 2 B only, 3 both."""
    if not same_input(a, b):
        raise ValueError("the two recordings ran on different meshes; their edges cannot be compared")
    ka, kb = _kept(a, k), _kept(b, k)
    return (ka.astype(np.int8) + 2 * kb.astype(np.int8)).astype(np.int8)


@dataclass(frozen=True)
class PartKeepPair:
    """Per ground-truth part, the share of its input edges each of two models kept at each stage.

    Attributes:
        a, b: :func:`~meshcnn_core.analysis.part_keep.part_keep` of each recording.
        stages: ``(S,)`` the stage indices both tables cover (input and pooled stages both have).
    """

    a: PartKeep
    b: PartKeep
    stages: np.ndarray


def part_keep_pair(a: Recording, b: Recording, labels: np.ndarray) -> PartKeepPair:
    """:func:`~meshcnn_core.analysis.part_keep.part_keep` of two recordings of the same mesh.

    Args:
        a: a recording of the mesh.
        b: another recording of the same input mesh.
        labels: ``(E,)`` the part label of each input edge, in the recordings' edge order.

    Raises:
        ValueError: the recordings ran on different meshes, or ``labels`` does not fit them.
    """
    if not same_input(a, b):
        raise ValueError("the two recordings ran on different meshes; their edges cannot be compared")
    ta, tb = part_keep(a, labels), part_keep(b, labels)
    n = min(len(ta.stage_edges), len(tb.stage_edges))
    return PartKeepPair(ta, tb, np.arange(n))
