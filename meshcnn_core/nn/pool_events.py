"""Names for what happens to an edge during MeshCNN's pooling: removal kinds, skip reasons, status.

The compiled kernel (:mod:`.pool_kernel`) stores these as small integers (``int8`` arrays in a
:class:`~meshcnn_core.nn.pool.PoolRecord` and in a recording file); compare against the enum
members, never against bare numbers::

    collapsed = record.removed[record.removed_kind == RemovalKind.COLLAPSED]

Every edge popped from the priority queue ends as exactly one of: a collapse (it is logged as a
:attr:`RemovalKind.COLLAPSED` removal) or a skip (logged with a :class:`SkipReason`).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["RemovalKind", "SkipReason", "PoolStatus"]


class RemovalKind(IntEnum):
    """Why an edge left the mesh (one entry per removed edge, in removal order)."""

    COLLAPSED = 0
    """The popped edge itself, collapsed: its end points merge into one vertex at the midpoint."""
    MERGED = 1
    """One of the two other edges of a face of a collapsed edge, merged into its face neighbour."""
    TRIPLET = 2
    """One of the three edges around a valence-3 vertex next to the popped edge (the vertex and its
    three edges are removed before the collapse, MeshCNN's ``__remove_triplete``)."""


class SkipReason(IntEnum):
    """Why an edge popped from the queue was not collapsed (MeshCNN's ``__pool_edge`` returning False)."""

    REMOVED = 0
    """Already gone: removed earlier (merged or in a triplet) by another edge's collapse."""
    BOUNDARY = 1
    """The edge or one of its four neighbours lies on a boundary (MeshCNN's ``has_boundaries``)."""
    BOUNDARY_AFTER_TRIPLET = 2
    """Removing a triplet next to the edge brought a boundary into its one-ring."""
    TARGET_REACHED = 3
    """Removing triplets next to the edge already brought the mesh down to the target edge count;
    pooling ends here."""
    PINCHED = 4
    """Both other edges of one face are shared with the facing triangle (a pinched one-ring). The
    original stops with an ``AssertionError`` there; this kernel skips the edge instead."""
    INVALID_ONE_RING = 5
    """The end points do not share exactly two other neighbours (MeshCNN's ``__is_one_ring_valid``):
    collapsing would make the mesh non-manifold."""


class PoolStatus(IntEnum):
    """How the collapse loop ended."""

    OK = 0
    """The mesh reached the target edge count (or 1-2 below it)."""
    EXHAUSTED = 1
    """Every edge was popped and the target was not reached."""
    BAD_TRIPLET = 2
    """A triplet's three edges did not share exactly one vertex (the original asserts there)."""
