"""Edge provenance: which input edges an edge carries, and where an input edge went.

Every edge of every stage of a :class:`~meshcnn_core.recording.Recording` is named by an *input
edge id* (the id of the input edge it started as) and owns a *group*: the input edges whose
features were averaged into it by the poolings so far (itself included). Groups overlap: MeshCNN
copies a collapsed edge's group into the edges on both of its sides, so one input edge can be
carried by several edges of a later stage. Two directions are answered here:

* :func:`edge_origin` (forward): for edge ``row`` of stage ``k``, the input edges merged into it.
* :func:`edge_fate` (reverse): for one input edge, at every stage the edges that carry it, whether
  it is still an edge itself, and its rank in each pooling queue it entered; and when, how and at
  which step a pooling removed it.

Picking: :func:`nearest_edge` finds the edge of a stage closest to a 3D point (a click on an edge
or on its midpoint marker), :func:`edge_by_id` finds an input edge id at a stage, with a message
that says where the edge went when it is no longer there.

The pooling queue is rebuilt from the recorded priorities exactly as the pooling orders it
(priority ascending, ties by row), so ranks are the real visiting order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..recording import Recording, StageView

__all__ = [
    "REMOVAL_KINDS", "REMOVAL_WORDS", "EdgeOrigin", "StageCarrier", "EdgeFate", "PickedEdge",
    "pooling_stages", "queue_order", "queue_ranks", "carriers", "edge_origin", "edge_fate", "edge_midpoints",
    "nearest_edge", "edge_by_id",
]

REMOVAL_KINDS = ("collapsed", "merged", "triplet")  # the recording's ``removed_kind`` codes 0, 1, 2
REMOVAL_WORDS = {
    "collapsed": "collapsed",
    "merged": "merged into a face neighbour by a collapse",
    "triplet": "removed with a valence-3 vertex (a triplet)",
}


def pooling_stages(rec: Recording) -> list[int]:
    """Stages ``k`` that a pooling leaves (stage ``k + 1`` is that pooling's result)."""
    kinds = [str(rec.arrays[f"stage{k}_kind"]) for k in range(rec.num_stages)]
    return [k for k in range(rec.num_stages - 1) if kinds[k + 1] == "pool"]


def queue_order(stage: StageView) -> np.ndarray:
    """Rows of ``stage`` in the order the pooling queue visits them. Shapes: ``-> (E_k,)`` int64.

    Priority ascending (compared as the pooling compares it: the recorded float32 value, widened to
    float64), ties by row.
    """
    pr = np.asarray(stage.priority, dtype=np.float32).astype(np.float64)
    return np.lexsort((np.arange(len(pr)), pr))


def queue_ranks(stage: StageView) -> np.ndarray:
    """Position of each row in the pooling queue (0 = visited first). Shapes: ``-> (E_k,)`` int64."""
    order = queue_order(stage)
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order))
    return ranks


def _check_stage(rec: Recording, stage: int) -> StageView:
    if not isinstance(stage, (int, np.integer)) or not 0 <= int(stage) < rec.num_stages:
        raise ValueError(f"stage must be an integer in 0..{rec.num_stages - 1}, got {stage!r}")
    return rec.stage(int(stage))


def _check_input_edge(rec: Recording, edge_id: int) -> int:
    e = rec.num_input_edges
    if not isinstance(edge_id, (int, np.integer)) or not 0 <= int(edge_id) < e:
        raise ValueError(f"input edge ids run from 0 to {e - 1}; got {edge_id!r}")
    return int(edge_id)


def carriers(stage: StageView, edge_id: int) -> np.ndarray:
    """Rows of ``stage`` whose group holds input edge ``edge_id`` (ascending). Shapes: ``-> (n,)``."""
    pos = np.flatnonzero(stage.groups_indices == edge_id)
    return np.searchsorted(stage.groups_indptr, pos, side="right") - 1


@dataclass(frozen=True)
class EdgeOrigin:
    """The input edges merged into one edge of one stage.

    Attributes:
        stage: the stage index ``k``.
        row: the edge's row at stage ``k``.
        edge_id: its input edge id.
        members: ``(M,)`` int64 input edge ids merged into it, ascending (itself included).
    """

    stage: int
    row: int
    edge_id: int
    members: np.ndarray

    def mask(self, num_input_edges: int) -> np.ndarray:
        """``(E,)`` bool over the input edges: True for the members (for coloring the input mesh)."""
        out = np.zeros(num_input_edges, dtype=bool)
        out[self.members] = True
        return out


def edge_origin(rec: Recording, stage: int, row: int) -> EdgeOrigin:
    """The input edges merged into edge ``row`` of stage ``stage`` (forward provenance).

    Raises:
        ValueError: the stage or row does not exist.
    """
    st = _check_stage(rec, stage)
    if not isinstance(row, (int, np.integer)) or not 0 <= int(row) < st.num_edges:
        raise ValueError(f"stage {stage} has edges 0..{st.num_edges - 1}; got {row!r}")
    row = int(row)
    members = np.array(st.group(row), dtype=np.int64)
    return EdgeOrigin(stage=st.index, row=row, edge_id=int(st.edge_ids[row]), members=members)


@dataclass(frozen=True)
class StageCarrier:
    """Where one input edge is at one stage.

    Attributes:
        stage: the stage index ``k``.
        kind: ``"input"``, ``"pool"`` or ``"unpool"``.
        rows: ``(n,)`` int64 rows of stage ``k`` whose group holds the input edge (ascending).
        edge_ids: ``(n,)`` int64 their input edge ids.
        carrier_ranks: ``(n,)`` int64 their positions in the queue of the pooling leaving stage ``k``
            (empty when no pooling leaves it).
        alive: the input edge is itself an edge of stage ``k`` (it survived as itself so far).
        row: its own row at stage ``k`` when ``alive``, else None.
        rank: when ``alive`` and a pooling leaves stage ``k``: its position in that pooling's queue
            (0 = visited first), else None.
        queue_size: the queue length ``E_k`` when ``rank`` is given, else None.
        priority: its queue priority (squared feature norm) when ``rank`` is given, else None.
    """

    stage: int
    kind: str
    rows: np.ndarray
    edge_ids: np.ndarray
    carrier_ranks: np.ndarray
    alive: bool
    row: int | None
    rank: int | None
    queue_size: int | None
    priority: float | None


@dataclass(frozen=True)
class EdgeFate:
    """Everything the recording says about one input edge, stage by stage (reverse provenance).

    Attributes:
        edge_id: the input edge id.
        stages: one :class:`StageCarrier` per stage, in stage order.
        removed_at: the stage whose pooling removed the edge (None: never removed).
        removed_how: ``"collapsed"``, ``"merged"`` (into a face neighbour by a collapse) or
            ``"triplet"`` (removed with a valence-3 vertex); None when never removed.
        removed_step: its position in that pooling's removal order (0 = first removed), or None.
        survived: it is still an edge itself at the last stage of the encoder (the deepest pooled
            stage).
    """

    edge_id: int
    stages: tuple[StageCarrier, ...]
    removed_at: int | None
    removed_how: str | None
    removed_step: int | None
    survived: bool


def edge_fate(rec: Recording, edge_id: int) -> EdgeFate:
    """Where input edge ``edge_id`` is at every stage, its queue ranks and how it was removed.

    Raises:
        ValueError: ``edge_id`` is not an input edge id.
    """
    edge_id = _check_input_edge(rec, edge_id)
    pools = set(pooling_stages(rec))
    out = []
    removed_at = removed_how = removed_step = None
    for k in range(rec.num_stages):
        st = rec.stage(k)
        rows = carriers(st, edge_id)
        own = np.flatnonzero(st.edge_ids == edge_id)
        alive = len(own) > 0
        row = int(own[0]) if alive else None
        rank = size = prio = None
        ranks = np.zeros(0, dtype=np.int64)
        if k in pools:
            all_ranks = queue_ranks(st)
            ranks = all_ranks[rows]
            if alive:
                rank, size, prio = int(all_ranks[row]), st.num_edges, float(st.priority[row])
        out.append(StageCarrier(
            stage=k, kind=st.kind, rows=rows, edge_ids=st.edge_ids[rows], carrier_ranks=ranks, alive=alive,
            row=row, rank=rank, queue_size=size, priority=prio,
        ))
        if k in pools and removed_at is None:
            hit = np.flatnonzero(st.removed_order == edge_id)
            if len(hit):
                removed_at, removed_step = k, int(hit[0])
                removed_how = REMOVAL_KINDS[int(st.removed_kind[hit[0]])]
    last_encoder = max([k for k in range(rec.num_stages) if out[k].kind != "unpool"])
    return EdgeFate(
        edge_id=edge_id, stages=tuple(out), removed_at=removed_at, removed_how=removed_how,
        removed_step=removed_step, survived=out[last_encoder].alive,
    )


# ---------------------------------------------------------------- picking


@dataclass(frozen=True)
class PickedEdge:
    """An edge of one stage found by a click or an id.

    Attributes:
        stage: the stage index.
        row: the edge's row at that stage.
        edge_id: its input edge id.
        distance: distance from the query point to the edge segment (0 for a pick by id).
    """

    stage: int
    row: int
    edge_id: int
    distance: float


def edge_midpoints(rec: Recording, stage: int) -> np.ndarray:
    """Midpoint of every edge of a stage, at that stage's vertex positions. Shapes: ``-> (E_k, 3)``."""
    st = _check_stage(rec, stage)
    return st.vertices[st.edges].mean(axis=1)


def nearest_edge(rec: Recording, stage: int, point) -> PickedEdge:
    """The edge of ``stage`` closest to a 3D point (a clicked point on an edge or its midpoint marker).

    Distances are to the edge segments at the stage's vertex positions; ties go to the lower row.

    Args:
        rec: the recording.
        stage: the stage shown.
        point: ``(3,)`` the clicked coordinates.

    Raises:
        ValueError: the point is not 3 finite numbers, or the stage does not exist.
    """
    st = _check_stage(rec, stage)
    try:
        p = np.asarray(point, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"a picked point must be 3 numbers (x, y, z); got {point!r}") from None
    if p.shape != (3,) or not np.isfinite(p).all():
        raise ValueError(f"a picked point must be 3 finite numbers (x, y, z); got {point!r}")
    a = st.vertices[st.edges[:, 0]]  # (E_k, 3)
    d = st.vertices[st.edges[:, 1]] - a  # (E_k, 3)
    len2 = np.einsum("ij,ij->i", d, d)
    t = np.clip(np.einsum("ij,ij->i", p - a, d) / np.where(len2 > 0, len2, 1.0), 0.0, 1.0)
    dist = np.linalg.norm(a + t[:, None] * d - p, axis=1)  # (E_k,)
    row = int(np.argmin(dist))
    return PickedEdge(stage=st.index, row=row, edge_id=int(st.edge_ids[row]), distance=float(dist[row]))


def edge_by_id(rec: Recording, stage: int, edge_id: int) -> PickedEdge:
    """The edge of ``stage`` whose input edge id is ``edge_id`` (the number-box fallback to picking).

    Raises:
        ValueError: ``edge_id`` is not an input edge id, or it is no longer an edge at ``stage``
            (the message says which pooling removed it and which edges carry it there).
    """
    st = _check_stage(rec, stage)
    edge_id = _check_input_edge(rec, edge_id)
    own = np.flatnonzero(st.edge_ids == edge_id)
    if len(own):
        return PickedEdge(stage=st.index, row=int(own[0]), edge_id=edge_id, distance=0.0)
    fate = edge_fate(rec, edge_id)
    where = st.edge_ids[carriers(st, edge_id)]
    how = (
        f"it was {REMOVAL_WORDS[fate.removed_how]} in the pooling after stage {fate.removed_at}"
        if fate.removed_at is not None else "it is not on this stage's mesh"
    )
    ids = ", ".join(str(int(i)) for i in where)
    carried = f"; its features are carried by edge{'s' if len(where) > 1 else ''} {ids}" if len(where) else ""
    raise ValueError(f"input edge {edge_id} is not an edge at stage {st.index}: {how}{carried}")
