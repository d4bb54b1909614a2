"""MeshPool: collapse the lowest-priority edges and average the features of merged edges.

:func:`pool_topology` is the pure core: ``topology, priority, target -> PoolRecord``. The record
holds everything the pooling did (queue priority, the order of removals, which layer-input edges
each surviving edge absorbed, the new topology); unpooling consumes it, and the app shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ..errors import MeshError
from ..mesh.topology import MeshTopology
from .pool_events import PoolStatus, RemovalKind
from .pool_kernel import pool_edges

__all__ = ["PoolRecord", "pool_topology", "priority_from_features", "MeshPool", "average_groups"]


class PoolRecord(NamedTuple):
    """What one pooling layer did to one mesh.

    Attributes:
        target: edge count asked for (the result may be 1-2 below, then padded).
        priority: ``(E_in,)`` float32 squared feature norm of each layer-input edge.
        kept: ``(E_out,)`` int64 layer-input index of each surviving edge.
        groups_indptr: ``(E_out + 1,)`` CSR offsets; row ``r`` lists the layer-input edges
            merged into surviving edge ``r`` (itself included).
        groups_indices: ``(nnz,)`` int64 layer-input edge indices (sorted within a row).
        groups_rows: ``(nnz,)`` int64 row of each entry of ``groups_indices``.
        occurrences: ``(E_in,)`` float32 MeshCNN's unpooling divisor per layer-input edge.
        removed: ``(R,)`` int64 layer-input edges in the order they were removed.
        removed_kind: ``(R,)`` int8 :class:`~.pool_events.RemovalKind` of each removal.
        topology_in: the layer's input topology.
        topology_out: the pooled topology.
        skipped: ``(S,)`` int64 layer-input edges popped from the queue and not collapsed, in
            queue order.
        skip_reason: ``(S,)`` int8 :class:`~.pool_events.SkipReason` of each skip.
        skip_at: ``(S,)`` int64 removals made before each skip: ``removed[:skip_at[i]]`` happened
            before skip ``i``. Every pop is a skip or a collapse (a ``COLLAPSED`` removal, preceded
            by its triplet and merged removals), so the two logs interleave into the true pop
            sequence, which is ``order[:len(skipped) + len(collapsed)]`` of the priority queue.
    """

    target: int
    priority: np.ndarray
    kept: np.ndarray
    groups_indptr: np.ndarray
    groups_indices: np.ndarray
    groups_rows: np.ndarray
    occurrences: np.ndarray
    removed: np.ndarray
    removed_kind: np.ndarray
    topology_in: MeshTopology
    topology_out: MeshTopology
    skipped: np.ndarray
    skip_reason: np.ndarray
    skip_at: np.ndarray

    @property
    def collapsed(self) -> np.ndarray:
        """``(K,)`` layer-input edges that were collapsed, in order."""
        return self.removed[self.removed_kind == RemovalKind.COLLAPSED]


def priority_from_features(x: torch.Tensor, num_edges: int) -> np.ndarray:
    """Squared feature norm per edge, computed as MeshCNN does. Shapes: ``(C, E_pad) -> (E,)``."""
    with torch.no_grad():
        f = x[:, :num_edges].unsqueeze(-1)  # (C, E, 1)
        return torch.sum(f * f, 0).squeeze(-1).float().cpu().numpy()


def pool_topology(topo: MeshTopology, priority: np.ndarray, target: int) -> PoolRecord:
    """Collapse edges of ``topo`` in priority order until ``target`` edges remain. Pure.

    Raises:
        MeshError: the mesh cannot be pooled to ``target`` (too few edges, or too many refused
            collapses), or its one-ring is degenerate.
    """
    e_in = topo.num_edges
    if e_in < target:
        raise MeshError(f"the mesh has {e_in} edges, fewer than the pooling target {target}")
    priority = np.asarray(priority, dtype=np.float32)
    order = np.lexsort((np.arange(e_in), priority.astype(np.float64)))
    res = pool_edges(
        order, int(target), topo.edges, topo.gemm, topo.sides, topo.ve_indptr, topo.ve_indices,
        topo.positions, topo.vertex_mask,
    )
    if res.status == PoolStatus.EXHAUSTED:
        raise MeshError(
            f"pooling could reduce the mesh only to {res.edges_count} edges, not to {target}: too many edges "
            "lie on boundaries or cannot be collapsed (is the mesh closed and manifold?)"
        )
    if res.status == PoolStatus.BAD_TRIPLET:
        raise MeshError("pooling met a degenerate one-ring (is the mesh manifold, in one piece?)")
    new_topo = MeshTopology(
        edges=res.edges, gemm=res.gemm, sides=res.sides, ve_indptr=res.ve_indptr, ve_indices=res.ve_indices,
        positions=res.positions, vertex_mask=res.vertex_mask, edge_ids=topo.edge_ids[res.kept],
    )
    return PoolRecord(
        target=int(target), priority=priority, kept=res.kept, groups_indptr=res.groups_indptr,
        groups_indices=res.groups_indices, groups_rows=res.groups_rows, occurrences=res.occurrences,
        removed=res.removed, removed_kind=res.removed_kind, topology_in=topo, topology_out=new_topo,
        skipped=res.skipped, skip_reason=res.skip_reason, skip_at=res.skip_at,
    )


def average_groups(x: torch.Tensor, records: Sequence[PoolRecord], target: int) -> torch.Tensor:
    """Average layer-input features over each surviving edge's group, zero-pad to ``target``.

    Shapes: ``(B, C, E_in_pad) -> (B, C, target)``.
    """
    b, c, e_pad = x.shape
    if b == 1:
        rows, cols = records[0].groups_rows, records[0].groups_indices
        counts = np.ones(target, dtype=np.float32)
        counts[: len(records[0].kept)] = np.diff(records[0].groups_indptr)
    else:
        rows = np.concatenate([r.groups_rows + i * target for i, r in enumerate(records)])
        cols = np.concatenate([r.groups_indices + i * e_pad for i, r in enumerate(records)])
        counts = np.ones(b * target, dtype=np.float32)
        for i, r in enumerate(records):
            counts[i * target : i * target + len(r.kept)] = np.diff(r.groups_indptr)
    dev = x.device
    flat = x.permute(0, 2, 1).reshape(b * e_pad, c)  # (B*E_in_pad, C)
    gathered = flat.index_select(0, torch.from_numpy(cols).to(dev))  # (nnz, C)
    out = flat.new_zeros(b * target, c)  # (B*target, C)
    out = out.index_add_(0, torch.from_numpy(rows).to(dev), gathered)
    out = out / torch.from_numpy(counts).to(dev).unsqueeze(1)
    return out.view(b, target, c).permute(0, 2, 1)  # (B, C, target)


class MeshPool(nn.Module):
    """Pool each mesh of a batch to ``target`` edges (MeshCNN's collapse rule).

    Shapes:
        x: ``(B, C, E_pad)`` or ``(B, C, E_pad, 1)`` -> ``(B, C, target)``, plus the new
        topologies and one :class:`PoolRecord` per mesh.
    """

    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = int(target)

    def forward(
        self, x: torch.Tensor, topologies: Sequence[MeshTopology]
    ) -> tuple[torch.Tensor, list[MeshTopology], list[PoolRecord]]:
        if x.dim() == 4:
            x = x.squeeze(-1)
        records = [
            pool_topology(topo, priority_from_features(x[i], topo.num_edges), self.target)
            for i, topo in enumerate(topologies)
        ]
        out = average_groups(x, records, self.target)
        return out, [r.topology_out for r in records], records

    def extra_repr(self) -> str:
        return f"target={self.target}"
