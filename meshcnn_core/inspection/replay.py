"""Collapse replay: what one pooling layer did, event by event, in the order it did it.

MeshCNN's pooling pops edges from a queue (lowest priority first). Each pop ends as

* a **collapse**: the popped edge's end points merge; on each of its two faces one of the two other
  edges is merged into the other (two ``merged`` removals), then the edge itself goes; before that,
  valence-3 vertices next to it may have been removed with their three edges (``triplet``);
* or a **skip**: the edge was already gone, touches a boundary, its one-ring is invalid, ... (the
  reason is one of :class:`~meshcnn_core.nn.pool_events.SkipReason`).

:func:`replay` rebuilds that sequence from a :class:`~meshcnn_core.recording.Recording`: the
removal log (``removed_order``, ``removed_kind``) always; the skip log (``skipped``,
``skip_reason``, ``skip_at``) when the recording has it (format version 2). Without a skip log the
popped edge behind a triplet removal is unknown, so those removals appear as their own
``"triplets"`` events and no skips are listed; each collapse still says how many pops before it
did not collapse (from the queue ranks, which are exact either way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..nn.pool_events import RemovalKind, SkipReason
from ..recording import Recording
from .provenance import carriers, pooling_stages, queue_ranks

__all__ = ["SKIP_WORDS", "ReplayEvent", "Replay", "replay", "has_skip_log"]

SKIP_WORDS = {
    SkipReason.REMOVED: "already removed by an earlier collapse",
    SkipReason.BOUNDARY: "it or one of its four neighbours lies on a boundary",
    SkipReason.BOUNDARY_AFTER_TRIPLET: "removing a triplet next to it brought a boundary into its one-ring",
    SkipReason.TARGET_REACHED: "removing triplets next to it already reached the target edge count",
    SkipReason.PINCHED: "a pinched one-ring (both other edges of a face shared with the facing triangle)",
    SkipReason.INVALID_ONE_RING: "its end points do not share exactly two neighbours (collapsing would "
    "make the mesh non-manifold)",
}
_SKIP_KEYS = ("skipped", "skip_reason", "skip_at")
_EMPTY = np.zeros(0, dtype=np.int64)


def has_skip_log(rec: Recording, stage: int) -> bool:
    """Whether the recording kept the skipped pops of the pooling leaving ``stage``."""
    return all(f"stage{stage}_{key}" in rec.arrays for key in _SKIP_KEYS)


@dataclass(frozen=True)
class ReplayEvent:
    """One step of a pooling layer.

    Attributes:
        step: position in the replay (0 = first).
        kind: ``"collapse"``, ``"skip"`` or ``"triplets"`` (triplet removals whose popped edge the
            recording does not name: only without a skip log).
        edge: input id of the popped edge (None for ``"triplets"``).
        row: its row at the layer's input stage (None for ``"triplets"``).
        priority: its queue priority, the squared feature norm (None for ``"triplets"``).
        rank: its position in the queue, 0 = popped first (None for ``"triplets"``).
        reason: why a skip was skipped (None otherwise).
        triplets: ``(3t,)`` input ids removed with valence-3 vertices during this step, in order.
        merged: ``(2,)`` input ids merged into a face neighbour by a collapse (empty otherwise).
        removed: ``(R,)`` every input id this step removed, in order (triplets, merged, the edge).
        removed_rows: ``(R,)`` their rows at the layer's input stage.
        carried_by: ``(n,)`` for a collapse, the input ids of the edges of the next stage whose
            groups hold the collapsed edge (the edges it was merged into, as they end up); else empty.
        skipped_before: for a collapse, how many pops since the previous collapse did not collapse
            (skips, exact from the queue ranks); 0 otherwise.
        edges_before: edge count before the step.
        edges_after: edge count after the step.
    """

    step: int
    kind: str
    edge: int | None
    row: int | None
    priority: float | None
    rank: int | None
    reason: SkipReason | None
    triplets: np.ndarray
    merged: np.ndarray
    removed: np.ndarray
    removed_rows: np.ndarray
    carried_by: np.ndarray
    skipped_before: int
    edges_before: int
    edges_after: int


@dataclass(frozen=True)
class Replay:
    """One pooling layer, replayed.

    Attributes:
        stage: the layer's input stage ``k`` (its result is stage ``k + 1``).
        target: the edge count the layer pools to (the result may be 1-2 below).
        edges_in: ``E_k``.
        edges_out: ``E_{k+1}``.
        events: the steps in real order.
        has_skips: the recording kept the skip log (skips are listed, triplets attached to pops).
    """

    stage: int
    target: int | None
    edges_in: int
    edges_out: int
    events: tuple[ReplayEvent, ...]
    has_skips: bool

    @property
    def collapses(self) -> list[ReplayEvent]:
        """The collapse events, in order."""
        return [e for e in self.events if e.kind == "collapse"]

    def row_status(self, step: int) -> np.ndarray:
        """``(E_k,)`` int8 state of every row of stage ``k`` after events ``0..step``.

        ``-1`` still an edge, else the :class:`RemovalKind` that removed it. ``step = -1`` is
        the state before the first event.
        """
        if not -1 <= step < len(self.events):
            raise ValueError(f"step must be in -1..{len(self.events) - 1}, got {step}")
        out = np.full(self.edges_in, -1, dtype=np.int8)
        for ev in self.events[: step + 1]:
            n_t, n_m = len(ev.triplets), len(ev.merged)
            kinds = [RemovalKind.TRIPLET] * n_t + [RemovalKind.MERGED] * n_m
            kinds += [RemovalKind.COLLAPSED] * (len(ev.removed) - n_t - n_m)
            out[ev.removed_rows] = kinds
        return out


def _bad_log(stage: int) -> ValueError:
    return ValueError(f"the removal log of the pooling after stage {stage} is not a valid pooling sequence; "
                      "the recording was altered")


def replay(rec: Recording, stage: int) -> Replay:
    """Replay the pooling that leaves ``stage``.

    Raises:
        ValueError: no pooling leaves ``stage``, or the recording's logs are inconsistent.
    """
    pools = pooling_stages(rec)
    if stage not in pools:
        raise ValueError(f"no pooling leaves stage {stage}; pooling layers leave stages {pools}")
    st, nxt = rec.stage(stage), rec.stage(stage + 1)
    row_of = np.full(rec.num_input_edges, -1, dtype=np.int64)
    row_of[st.edge_ids] = np.arange(st.num_edges)
    ranks = queue_ranks(st)
    removed = np.asarray(st.removed_order, dtype=np.int64)
    kinds = np.asarray(st.removed_kind)
    skips = has_skip_log(rec, stage)
    skipped = np.asarray(st.skipped, dtype=np.int64)  # empty in a version-1 recording
    reasons = np.asarray(st.skip_reason)
    skip_at = np.asarray(st.skip_at, dtype=np.int64)
    ids = np.concatenate([removed, skipped])
    if len(ids) and (ids.min() < 0 or ids.max() >= rec.num_input_edges):
        raise _bad_log(stage)
    if (row_of[ids] < 0).any() or len(np.unique(removed)) != len(removed) or len(skip_at) != len(skipped):
        raise _bad_log(stage)
    if len(reasons) != len(skipped) or not set(np.unique(reasons).tolist()) <= {int(r) for r in SkipReason}:
        raise _bad_log(stage)

    events: list[ReplayEvent] = []
    count = st.num_edges
    last_rank = -1

    def emit(kind, edge, trip, merged, reason=None) -> None:
        nonlocal count, last_rank
        ids = np.concatenate([trip, merged, [edge] if kind == "collapse" else []]).astype(np.int64)
        row = None if edge is None else int(row_of[edge])
        carried, before = _EMPTY, 0
        if kind == "collapse":
            carried = nxt.edge_ids[carriers(nxt, edge)]
            before = int(ranks[row]) - last_rank - 1
            last_rank = int(ranks[row])
        events.append(ReplayEvent(
            step=len(events), kind=kind, edge=edge, row=row,
            priority=None if row is None else float(st.priority[row]),
            rank=None if row is None else int(ranks[row]),
            reason=reason, triplets=np.asarray(trip, dtype=np.int64),
            merged=np.asarray(merged, dtype=np.int64),
            removed=ids, removed_rows=row_of[ids], carried_by=carried, skipped_before=before,
            edges_before=count, edges_after=count - len(ids),
        ))
        count -= len(ids)

    def flush_triplets(trip) -> None:
        if len(trip) % 3:
            raise _bad_log(stage)
        for j in range(0, len(trip), 3):
            emit("triplets", None, trip[j : j + 3], [])

    trip: list[int] = []
    merged: list[int] = []
    s = 0
    for i in range(len(removed) + 1):
        while s < len(skipped) and skip_at[s] <= i:  # skips logged after removals[:skip_at]
            if merged or len(trip) % 3:
                raise _bad_log(stage)
            emit("skip", int(skipped[s]), trip, [], SkipReason(int(reasons[s])))
            trip, s = [], s + 1
        if i == len(removed):
            break
        k = int(kinds[i])
        if k == RemovalKind.TRIPLET:
            trip.append(int(removed[i]))
        elif k == RemovalKind.MERGED:
            merged.append(int(removed[i]))
        elif k == RemovalKind.COLLAPSED and len(merged) == 2 and len(trip) % 3 == 0:
            if skips:
                emit("collapse", int(removed[i]), trip, merged)
            else:
                flush_triplets(trip)
                emit("collapse", int(removed[i]), [], merged)
            trip, merged = [], []
        else:
            raise _bad_log(stage)
    if merged or s != len(skipped):
        raise _bad_log(stage)
    flush_triplets(trip)
    if count != nxt.num_edges:
        raise _bad_log(stage)
    pool_res = rec.meta.get("config", {}).get("pool_res")
    target = int(pool_res[pools.index(stage)]) if pool_res and len(pool_res) > pools.index(stage) else None
    return Replay(stage=stage, target=target, edges_in=st.num_edges, edges_out=nxt.num_edges,
                  events=tuple(events), has_skips=skips)
