"""Which parts of a mesh a model keeps: per ground-truth part, the share of its edges kept per stage.

A model *keeps* an input edge at stage ``k`` when the edge is still an edge of its own there (its
id is among ``stage{k}_edge_ids``; the same notion as the compare page's overlap and
:meth:`~meshcnn_core.recording.Recording.survival_depth`). Given per-edge part labels (a COSEG
``.eseg`` file, or a generator's labels), :func:`part_keep` gives, per part, the share of the
part's input edges kept at each stage: the table that shows a handle classifier keeping handles
and a neck classifier keeping necks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..recording import Recording

__all__ = ["PartKeep", "part_keep", "mean_part_keep"]


@dataclass(frozen=True)
class PartKeep:
    """Per part and stage, the share of the part's input edges a model kept.

    Attributes:
        parts: ``(P,)`` the part labels present, sorted.
        part_edges: ``(P,)`` int, input edges per part.
        stage_edges: ``(S,)`` int, edges at each stage (input and pooled stages, in order).
        kept: ``(S, P)`` float64 in [0, 1], share of part ``p``'s input edges kept at stage ``s``.
    """

    parts: np.ndarray
    part_edges: np.ndarray
    stage_edges: np.ndarray
    kept: np.ndarray

    def share_of_stage(self) -> np.ndarray:
        """``(S, P)``: share of each stage's kept input edges that belong to part ``p`` (rows sum to 1)."""
        counts = self.kept * self.part_edges[None, :]  # (S, P)
        return counts / counts.sum(axis=1, keepdims=True)

    def enrichment(self) -> np.ndarray:
        """``(S, P)``: a part's share of the kept edges over its share of the input edges (1 = no change)."""
        return self.share_of_stage() / (self.part_edges / self.part_edges.sum())[None, :]


def part_keep(rec: Recording, labels: np.ndarray) -> PartKeep:
    """Per part, the share of its input edges ``rec`` kept at each input or pooled stage.

    Args:
        rec: a recording of one mesh.
        labels: ``(E,)`` int part label of each input edge, in the recording's edge order.

    Raises:
        ValueError: ``labels`` does not have one entry per input edge.
    """
    labels = np.asarray(labels).reshape(-1)
    e = rec.num_input_edges
    if len(labels) != e:
        raise ValueError(f"{len(labels)} part labels for a mesh of {e} edges: they must match one to one")
    parts, inverse = np.unique(labels, return_inverse=True)  # (P,), (E,)
    part_edges = np.bincount(inverse, minlength=len(parts))  # (P,)
    rows, sizes = [], []
    for k in range(rec.num_stages):
        stage = rec.stage(k)
        if stage.kind == "unpool":
            break
        kept = np.zeros(e, dtype=bool)
        kept[stage.edge_ids] = True
        rows.append(np.bincount(inverse, weights=kept, minlength=len(parts)) / part_edges)
        sizes.append(stage.num_edges)
    return PartKeep(parts, part_edges, np.asarray(sizes, dtype=np.int64), np.vstack(rows))


def mean_part_keep(tables: list[PartKeep], parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and count over meshes of the kept share, per stage and part in ``parts``.

    A mesh without a part does not count for it. Returns ``(mean, n)``: ``(S, P)`` float64 (nan
    where no mesh has the part) and ``(P,)`` int meshes with each part; all tables must have the
    same number of stages.

    Raises:
        ValueError: empty list, or tables with different numbers of stages.
    """
    if not tables:
        raise ValueError("no tables to average")
    s = len(tables[0].stage_edges)
    if any(len(t.stage_edges) != s for t in tables):
        raise ValueError("the tables have different numbers of stages (different networks?)")
    parts = np.asarray(parts)
    total = np.zeros((s, len(parts)))
    n = np.zeros(len(parts), dtype=np.int64)
    for t in tables:
        for j, p in enumerate(parts):
            hit = np.flatnonzero(t.parts == p)
            if len(hit):
                total[:, j] += t.kept[:, hit[0]]
                n[j] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n[None, :] > 0, total / np.maximum(n, 1)[None, :], np.nan)
    return mean, n
