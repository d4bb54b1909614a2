"""MeshCNN's sequential edge-collapse loop, compiled with numba over flat arrays.

A faithful re-implementation of the original's pooling rules (``models/layers/mesh_pool.py``),
one compiled step per rule; each step's docstring names the rule it implements:

* :func:`collapse_edges` (``__pool_main``): pop edges in order of increasing priority (squared
  feature norm, ties by id) until the target edge count is reached; log every pop that does not
  collapse as a skip with its :class:`SkipReason`.
* :func:`_try_collapse` (``__pool_edge``): skip boundary edges, clean both faces of triplets
  (:func:`_clean_side`), test the one-ring (:func:`_one_ring_valid`), then collapse
  (:func:`_collapse`: :func:`_pool_side` twice, :func:`_merge_vertices`).
* Edge groups (which layer-input edges each edge absorbed) are not built during the loop: every
  union is logged in time order, and :func:`_flatten_groups` replays the log at the end;
  :func:`_occurrences` derives MeshCNN's unpooling divisors from the same log.

Vertex renaming uses alias pointers with path compression (:func:`_find`) instead of rewriting the
edge array, and per-vertex edge lists are linked lists concatenated in O(1); both keep MeshCNN's
exact semantics, including stale entries left by triplet removal.

The mutable loop state is grouped in three NamedTuples of arrays: ``_Mesh`` (the topology being
edited), ``_VertexEdges`` (per-vertex edge lists) and ``_Journal`` (what happened, in order).
All compiled functions stay in this one file on purpose: numba's on-disk cache (``cache=True``)
is checked per source file, so a step moved to another module could leave a stale compiled loop.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .pool_events import PoolStatus, RemovalKind, SkipReason

__all__ = ["CollapseResult", "Compacted", "Pooled", "collapse_edges", "compact", "pool_edges"]

# The rule steps are inlined into the loop at numba-IR level: a real call passes the NamedTuple
# state with a reference-count update per array, which made the loop ~30% slower than one big
# function. Each step still compiles on its own (and can be called alone, e.g. in a debugger).
_step = njit(cache=True, inline="always")

_GO_ON = -1  # step result: no reason to skip, continue with the next step
_FAILED = -2  # step result: a degenerate triplet (PoolStatus.BAD_TRIPLET)
_N_REMOVED, _N_UNIONS, _N_SKIPPED = 0, 1, 2  # slots of _Journal.counts


class CollapseResult(NamedTuple):
    """What :func:`collapse_edges` returns. Edge ids are layer-local (rows of the input arrays).

    Attributes:
        status: a :class:`PoolStatus` value.
        edges_count: edges left (``target``, or 1-2 below it; more if not OK).
        mask: ``(E,)`` bool, edges still in the mesh.
        edges: ``(E, 2)`` int64 vertex ids after merges (rows of removed edges are stale).
        gemm: ``(E, 4)`` int64 neighbours after re-linking.
        sides: ``(E, 4)`` int64.
        positions: ``(V, 3)`` float64, merged vertices moved to midpoints.
        vertex_mask: ``(V,)`` bool, vertices still in the mesh.
        ve_indptr: ``(V + 1,)`` CSR offsets of the per-vertex edge lists (empty for removed vertices).
        ve_indices: ``(nnz,)`` edge ids (a multiset per vertex; may list removed edges).
        groups_indptr: ``(E + 1,)`` CSR offsets; rows of removed edges are empty.
        groups_indices: ``(nnz,)`` layer-input edges merged into each surviving edge (unsorted).
        occurrences: ``(E,)`` float32 MeshCNN's unpooling divisor per edge.
        removed: ``(R,)`` int64 removed edges in removal order.
        removed_kind: ``(R,)`` int8 :class:`RemovalKind` of each removal.
        skipped: ``(S,)`` int64 popped edges that were not collapsed, in queue order.
        skip_reason: ``(S,)`` int8 :class:`SkipReason` of each skip.
        skip_at: ``(S,)`` int64 number of removals made before each skip (so ``removed[:skip_at[i]]``
            happened before skip ``i``): the two logs interleave into the true pop sequence.
    """

    status: int
    edges_count: int
    mask: np.ndarray
    edges: np.ndarray
    gemm: np.ndarray
    sides: np.ndarray
    positions: np.ndarray
    vertex_mask: np.ndarray
    ve_indptr: np.ndarray
    ve_indices: np.ndarray
    groups_indptr: np.ndarray
    groups_indices: np.ndarray
    occurrences: np.ndarray
    removed: np.ndarray
    removed_kind: np.ndarray
    skipped: np.ndarray
    skip_reason: np.ndarray
    skip_at: np.ndarray


class Compacted(NamedTuple):
    """What :func:`compact` returns: the pooled topology renumbered to the surviving edges.

    Attributes:
        kept: ``(E',)`` int64 layer-input id of each surviving edge (ascending).
        edges: ``(E', 2)`` int64.
        gemm: ``(E', 4)`` int64 in the new numbering.
        sides: ``(E', 4)`` int64.
        ve_indices: ``(nnz,)`` int64 per-vertex lists in the new numbering (removed edges -> 0).
        groups_indptr: ``(E' + 1,)`` int64 CSR offsets.
        groups_indices: ``(nnz,)`` int64 layer-input edges of each group, sorted within a row.
        groups_rows: ``(nnz,)`` int64 row of each entry.
    """

    kept: np.ndarray
    edges: np.ndarray
    gemm: np.ndarray
    sides: np.ndarray
    ve_indices: np.ndarray
    groups_indptr: np.ndarray
    groups_indices: np.ndarray
    groups_rows: np.ndarray


class _Mesh(NamedTuple):
    edges: np.ndarray  # (E, 2) vertex ids as first given; resolve with _find(parent, .)
    gemm: np.ndarray  # (E, 4)
    sides: np.ndarray  # (E, 4)
    parent: np.ndarray  # (V,) alias pointer of each vertex (itself unless merged away)
    positions: np.ndarray  # (V, 3)
    vertex_mask: np.ndarray  # (V,)
    mask: np.ndarray  # (E,) edges still in the mesh


class _VertexEdges(NamedTuple):
    head: np.ndarray  # (V,) first node of each vertex's list, -1 if empty
    tail: np.ndarray  # (V,) last node
    edge: np.ndarray  # (nnz,) edge id of each node
    next: np.ndarray  # (nnz,) next node, -1 at the end


class _Journal(NamedTuple):
    removed: np.ndarray  # (E,) removal log
    removed_kind: np.ndarray  # (E,) int8 RemovalKind
    union_src: np.ndarray  # (2E + 16,) group unions src -> dst, in time order
    union_dst: np.ndarray
    skipped: np.ndarray  # (E,) skip log
    skip_reason: np.ndarray  # (E,) int8 SkipReason
    skip_at: np.ndarray  # (E,) removals made before each skip
    counts: np.ndarray  # (3,) _N_REMOVED, _N_UNIONS, _N_SKIPPED


class _Triplet(NamedTuple):
    n_shared: int  # neighbours shared by the far sides of the face's two other edges
    key_a: int  # the face's two other edges ...
    key_b: int
    middle: int  # ... and the edge they share (the triplet is key_a, key_b, middle)
    keep_a: int  # the edges that take their places in the face of the popped edge
    keep_b: int
    keep_side_a: int
    keep_side_b: int


# ------------------------------------------------------------------ small helpers


@njit(cache=True)
def _find(parent, v):
    """Current id of vertex ``v`` after merges (path compression)."""
    root = v
    while parent[root] != root:
        root = parent[root]
    while parent[v] != root:
        nxt = parent[v]
        parent[v] = root
        v = nxt
    return root


@_step
def _redirect(gemm, sides, ea, sa, eb, sb):
    """MeshCNN's ``__redirect_edges``: make ``ea`` (slot ``sa``) and ``eb`` (slot ``sb``) neighbours."""
    gemm[ea, sa] = eb
    gemm[eb, sb] = ea
    sides[ea, sa] = sb
    sides[eb, sb] = sa


@_step
def _other_side(s):
    """MeshCNN's ``__get_other_side``: the other slot of the same face (0<->1, 2<->3)."""
    return s + 1 - 2 * (s % 2)


@_step
def _far_slot(s):
    """First slot of the *other* face of an edge that lists us in slot ``s``."""
    return (s - (s % 2) + 2) % 4


@_step
def _edges_left(j, n_edges):
    return n_edges - j.counts[_N_REMOVED]


@_step
def _log_removal(j, e, kind):
    counts = j.counts
    n = counts[_N_REMOVED]
    j.removed[n] = e
    j.removed_kind[n] = kind
    counts[_N_REMOVED] = n + 1


@_step
def _log_union(j, src, dst):
    """Record that the group of ``src`` is copied into that of ``dst`` now (MeshCNN's ``union``)."""
    counts = j.counts
    n = counts[_N_UNIONS]
    j.union_src[n] = src
    j.union_dst[n] = dst
    counts[_N_UNIONS] = n + 1


@_step
def _log_skip(j, e, reason):
    counts = j.counts
    n = counts[_N_SKIPPED]
    j.skipped[n] = e
    j.skip_reason[n] = reason
    j.skip_at[n] = counts[_N_REMOVED]
    counts[_N_SKIPPED] = n + 1


@_step
def _ve_remove(ve, v, e):
    """Remove one occurrence of edge ``e`` from vertex ``v``'s list (MeshCNN's ``ve[v].remove(e)``)."""
    head, tail, node_edge, node_next = ve  # array fields as locals: each field access costs refcounting
    prev = -1
    node = head[v]
    while node != -1:
        if node_edge[node] == e:
            nxt = node_next[node]
            if prev == -1:
                head[v] = nxt
            else:
                node_next[prev] = nxt
            if tail[v] == node:
                tail[v] = prev
            return
        prev = node
        node = node_next[node]


# ------------------------------------------------------------------ the rules


@njit(cache=True)  # explicit arrays: a plain call is as cheap as inlining here
def _has_boundaries(gemm, e):
    """MeshCNN's ``has_boundaries``: ``e`` or one of its neighbours lacks a face."""
    for i in range(4):
        n = gemm[e, i]
        if n == -1:
            return True
        for k in range(4):
            if gemm[n, k] == -1:
                return True
    return False


@_step
def _find_triplet(m, e, side):
    """MeshCNN's ``__get_invalids`` (the test): is the face at ``side`` of ``e`` next to a valence-3 vertex?

    The face's two other edges ``key_a``, ``key_b`` each have a far face; if those far faces share
    one edge (``middle``), the three form a triplet around a valence-3 vertex. ``n_shared`` counts
    the shared pairs: 0 (clean), 1 (a triplet) or more (pinched).
    """
    gemm, sides = m.gemm, m.sides
    key_a = gemm[e, side]
    key_b = gemm[e, side + 1]
    far_a = _far_slot(sides[e, side])
    far_b = _far_slot(sides[e, side + 1])
    a0 = gemm[key_a, far_a]
    a1 = gemm[key_a, far_a + 1]
    b0 = gemm[key_b, far_b]
    b1 = gemm[key_b, far_b + 1]
    n_shared = 0
    sh_a = -1
    sh_b = -1
    for i in range(2):
        ai = a0 if i == 0 else a1
        for k in range(2):
            bk = b0 if k == 0 else b1
            if ai == bk:
                n_shared += 1
                sh_a = i
                sh_b = k
    if n_shared != 1:
        return _Triplet(n_shared, key_a, key_b, -1, -1, -1, -1, -1)
    return _Triplet(
        1, key_a, key_b,
        a0 if sh_a == 0 else a1,
        a1 if sh_a == 0 else a0,
        b1 if sh_b == 0 else b0,
        sides[key_a, far_a + 1 - sh_a],
        sides[key_b, far_b + 1 - sh_b],
    )


@_step
def _unlink_triplet(m, j, e, side, t):
    """MeshCNN's ``__get_invalids`` (the re-link): bypass triplet ``t`` in the face at ``side`` of ``e``.

    ``keep_a`` and ``keep_b`` become the face's other edges; the six group unions are logged in
    the original's order.
    """
    gemm, sides = m.gemm, m.sides
    _redirect(gemm, sides, e, side, t.keep_a, t.keep_side_a)
    _redirect(gemm, sides, e, side + 1, t.keep_b, t.keep_side_b)
    _redirect(gemm, sides, t.keep_a, _other_side(t.keep_side_a), t.keep_b, _other_side(t.keep_side_b))
    _log_union(j, t.key_a, e)
    _log_union(j, t.key_b, e)
    _log_union(j, t.key_a, t.keep_a)
    _log_union(j, t.middle, t.keep_a)
    _log_union(j, t.key_b, t.keep_b)
    _log_union(j, t.middle, t.keep_b)


@_step
def _remove_triplet(m, j, t):
    """MeshCNN's ``__remove_triplete``: remove the triplet's three edges and their common vertex.

    Returns False (after removing the edges, as the original does before its assertion) when the
    three edges do not share exactly one vertex.
    """
    parent, edges, mask = m.parent, m.edges, m.mask
    c0 = _find(parent, edges[t.key_a, 0])
    c1 = _find(parent, edges[t.key_a, 1])
    n_common = 0
    centre = -1
    for cand in (c0, c1):
        in_all = True
        for other in (t.key_b, t.middle):
            if _find(parent, edges[other, 0]) != cand and _find(parent, edges[other, 1]) != cand:
                in_all = False
        if in_all and not (cand == c1 and c0 == c1):
            n_common += 1
            centre = cand
    for edge in (t.key_a, t.key_b, t.middle):
        mask[edge] = False
        _log_removal(j, edge, RemovalKind.TRIPLET)
    if n_common != 1:
        return False
    m.vertex_mask[centre] = False
    return True


@_step
def _clean_side(m, j, e, side, target):
    """MeshCNN's ``__clean_side``: remove triplets from the face at ``side`` of ``e`` until none is left.

    Returns ``_GO_ON``, a :class:`SkipReason` (``TARGET_REACHED``, ``BOUNDARY_AFTER_TRIPLET``,
    ``PINCHED``) or ``_FAILED``.
    """
    n_edges = m.mask.shape[0]
    if _edges_left(j, n_edges) <= target:
        return SkipReason.TARGET_REACHED
    while True:
        t = _find_triplet(m, e, side)
        if t.n_shared == 0:
            return _GO_ON
        if t.n_shared != 1:
            return SkipReason.PINCHED  # nothing changed yet; the original asserts here
        _unlink_triplet(m, j, e, side, t)
        if not _remove_triplet(m, j, t):
            return _FAILED
        if _edges_left(j, n_edges) <= target:
            return SkipReason.TARGET_REACHED
        if _has_boundaries(m.gemm, e):
            return SkipReason.BOUNDARY_AFTER_TRIPLET


@_step
def _one_ring_valid(m, ve, v_stamp, clock, e):
    """MeshCNN's ``__is_one_ring_valid``: the end points of ``e`` share exactly two other neighbours.

    Neighbours come from the per-vertex edge lists, stale entries included, as in the original.
    ``v_stamp`` marks vertices with ``clock`` (seen from ``a``) and ``clock + 1`` (counted).
    """
    parent, edges = m.parent, m.edges
    head, _, node_edge, node_next = ve
    va = _find(parent, edges[e, 0])
    vb = _find(parent, edges[e, 1])
    node = head[va]
    while node != -1:
        e2 = node_edge[node]
        v_stamp[_find(parent, edges[e2, 0])] = clock
        v_stamp[_find(parent, edges[e2, 1])] = clock
        node = node_next[node]
    n_shared = 0
    node = head[vb]
    while node != -1:
        e2 = node_edge[node]
        for k in range(2):
            u = _find(parent, edges[e2, k])
            if u != va and u != vb and v_stamp[u] == clock:
                v_stamp[u] = clock + 1
                n_shared += 1
        node = node_next[node]
    return n_shared == 2


@_step
def _pool_side(m, ve, j, e, side):
    """MeshCNN's ``__pool_side``: merge ``key_b`` into ``key_a``, the two other edges of a face of ``e``.

    ``key_a`` takes over ``key_b``'s far neighbours; the groups of ``key_b`` and ``e`` go to ``key_a``.
    """
    gemm, sides, parent, edges = m.gemm, m.sides, m.parent, m.edges
    key_a = gemm[e, side]
    key_b = gemm[e, side + 1]
    slot_a = sides[e, side] - sides[e, side] % 2
    far_b = _far_slot(sides[e, side + 1])
    b0 = gemm[key_b, far_b]
    b1 = gemm[key_b, far_b + 1]
    _redirect(gemm, sides, key_a, slot_a, b0, sides[key_b, far_b])
    _redirect(gemm, sides, key_a, slot_a + 1, b1, sides[key_b, far_b + 1])
    _log_union(j, key_b, key_a)
    _log_union(j, e, key_a)
    m.mask[key_b] = False
    _log_removal(j, key_b, RemovalKind.MERGED)
    for k in range(2):
        _ve_remove(ve, _find(parent, edges[key_b, k]), key_b)


@_step
def _merge_vertices(m, ve, e):
    """MeshCNN's ``merge_vertices``: end point 0 of ``e`` moves to the midpoint, end point 1 joins it."""
    parent, positions = m.parent, m.positions
    head, tail, _, node_next = ve
    va = _find(parent, m.edges[e, 0])
    vb = _find(parent, m.edges[e, 1])
    _ve_remove(ve, va, e)
    _ve_remove(ve, vb, e)
    for k in range(3):
        positions[va, k] = (positions[va, k] + positions[vb, k]) / 2
    m.vertex_mask[vb] = False
    parent[vb] = va
    if head[vb] != -1:  # append vb's list to va's
        if head[va] == -1:
            head[va] = head[vb]
        else:
            node_next[tail[va]] = head[vb]
        tail[va] = tail[vb]
    head[vb] = -1
    tail[vb] = -1


@_step
def _collapse(m, ve, j, e):
    """The collapse of ``__pool_edge``: pool both faces, merge the end points, remove ``e`` (3 edges)."""
    _pool_side(m, ve, j, e, 0)
    _pool_side(m, ve, j, e, 2)
    _merge_vertices(m, ve, e)
    m.mask[e] = False
    _log_removal(j, e, RemovalKind.COLLAPSED)


@_step
def _try_collapse(m, ve, j, v_stamp, clock, e, target):
    """MeshCNN's ``__pool_edge`` for a popped edge (plus ``__pool_main``'s ``mask`` test).

    Returns ``_GO_ON`` if ``e`` was collapsed, else its :class:`SkipReason`, or ``_FAILED``.
    """
    if not m.mask[e]:
        return SkipReason.REMOVED
    if _has_boundaries(m.gemm, e):
        return SkipReason.BOUNDARY
    for side in (0, 2):
        r = _clean_side(m, j, e, side, target)
        if r != _GO_ON:
            return r
    if not _one_ring_valid(m, ve, v_stamp, clock, e):
        return SkipReason.INVALID_ONE_RING
    _collapse(m, ve, j, e)
    return _GO_ON


# ------------------------------------------------------------------ set-up and outputs


@njit(cache=True)
def _linked_vertex_edges(ve_indptr, ve_indices, n_verts):
    """Per-vertex edge lists as linked lists (CSR row ``v`` -> a chain of nodes)."""
    head = np.full(n_verts, -1, dtype=np.int64)
    tail = np.full(n_verts, -1, dtype=np.int64)
    node_next = np.full(ve_indices.shape[0], -1, dtype=np.int64)
    for v in range(n_verts):
        s = ve_indptr[v]
        t = ve_indptr[v + 1]
        if t > s:
            head[v] = s
            tail[v] = t - 1
            for k in range(s, t - 1):
                node_next[k] = k + 1
    return _VertexEdges(head, tail, ve_indices.astype(np.int64), node_next)


@njit(cache=True)
def _vertex_edges_csr(ve, vertex_mask):
    """The linked per-vertex lists of surviving vertices back as CSR ``(indptr (V + 1,), indices)``."""
    head, _, node_edge, node_next = ve
    return _linked_lists_to_csr(head, node_next, node_edge, vertex_mask)


@njit(cache=True)
def _linked_lists_to_csr(head, nxt, val, keep):
    """Linked lists (row ``r`` starts at ``head[r]``, ``-1`` ends it) as CSR ``(indptr, indices)``.

    Row ``r`` holds ``val`` along its list when ``keep[r]``, else nothing.
    """
    n_rows = keep.shape[0]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    for r in range(n_rows):
        cnt = 0
        if keep[r]:
            node = head[r]
            while node != -1:
                cnt += 1
                node = nxt[node]
        indptr[r + 1] = indptr[r] + cnt
    indices = np.empty(indptr[n_rows], dtype=np.int64)
    for r in range(n_rows):
        if keep[r]:
            k = indptr[r]
            node = head[r]
            while node != -1:
                indices[k] = val[node]
                k += 1
                node = nxt[node]
    return indptr, indices


@njit(cache=True)
def _grow(a, n):
    if n < a.shape[0]:
        return a
    b = np.empty(max(2 * a.shape[0], n + 16), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def _flatten_groups(union_src, union_dst, mask):
    """MeshCNN's ``MeshUnion``: replay the union log on per-edge sets; surviving rows as CSR.

    Each group starts as ``{e}``; union ``i`` adds to ``dst`` the members ``src`` has *at that
    time* (sets as linked lists, new members appended). Returns ``(indptr (E + 1,), indices)``.
    """
    n_edges = mask.shape[0]
    cap = 4 * n_edges + 16
    g_val = np.empty(cap, dtype=np.int64)
    g_next = np.empty(cap, dtype=np.int64)
    head = np.arange(n_edges)
    tail = np.arange(n_edges)
    for e in range(n_edges):
        g_val[e] = e
        g_next[e] = -1
    used = n_edges
    stamp = np.zeros(n_edges, dtype=np.int64)
    for i in range(union_src.shape[0]):
        src = union_src[i]
        dst = union_dst[i]
        clock = i + 1
        node = head[dst]
        while node != -1:
            stamp[g_val[node]] = clock
            node = g_next[node]
        node = head[src]
        while node != -1:
            c = g_val[node]
            if stamp[c] != clock:
                stamp[c] = clock
                if used >= g_val.shape[0]:
                    g_val = _grow(g_val, used + 1)
                    g_next = _grow(g_next, used + 1)
                g_val[used] = c
                g_next[used] = -1
                g_next[tail[dst]] = used
                tail[dst] = used
                used += 1
            node = g_next[node]
    return _linked_lists_to_csr(head, g_next, g_val, mask)


@njit(cache=True)
def _occurrences(union_src, union_dst, n_edges):
    """MeshCNN's unpooling divisor (the column sums of its union matrix), ``(E,)`` float32.

    That is the number of time-ordered union paths leaving each edge (1 for an edge never merged).
    """
    paths = np.ones(n_edges, dtype=np.float64)
    for i in range(union_src.shape[0] - 1, -1, -1):
        paths[union_src[i]] += paths[union_dst[i]]
    return paths.astype(np.float32)


# ------------------------------------------------------------------ the loop


@njit(cache=True)
def collapse_edges(order, target, edges, gemm, sides, ve_indptr, ve_indices, positions, vertex_mask):
    """MeshCNN's ``__pool_main``: pop edges in ``order`` and collapse until ``target`` edges remain. Pure.

    Args:
        order: ``(E,)`` edges in queue order (priority ascending, ties by id).
        target: edge count to stop at (the loop may stop 1-2 below it).
        edges: ``(E, 2)`` int64 vertex ids.
        gemm: ``(E, 4)`` int64 neighbours.
        sides: ``(E, 4)`` int64.
        ve_indptr: ``(V + 1,)`` CSR offsets of the per-vertex edge lists (a multiset each).
        ve_indices: ``(nnz,)`` edge ids of the per-vertex lists.
        positions: ``(V, 3)`` float64.
        vertex_mask: ``(V,)`` bool.

    Returns:
        a :class:`CollapseResult` (new arrays; the inputs are not modified).
    """
    n_edges = edges.shape[0]
    n_verts = positions.shape[0]
    m = _Mesh(
        edges.copy(), gemm.copy(), sides.copy(), np.arange(n_verts), positions.copy(), vertex_mask.copy(),
        np.ones(n_edges, dtype=np.bool_),
    )
    ve = _linked_vertex_edges(ve_indptr, ve_indices, n_verts)
    # every removed edge costs at most 2 unions (a triplet: 6 for 3 edges; a collapse: 4 for 3)
    j = _Journal(
        np.empty(n_edges, dtype=np.int64), np.empty(n_edges, dtype=np.int8),
        np.empty(2 * n_edges + 16, dtype=np.int64), np.empty(2 * n_edges + 16, dtype=np.int64),
        np.empty(n_edges, dtype=np.int64), np.empty(n_edges, dtype=np.int8),
        np.empty(n_edges, dtype=np.int64),
        np.zeros(3, dtype=np.int64),
    )
    v_stamp = np.zeros(n_verts, dtype=np.int64)
    status = PoolStatus.OK
    pos = 0
    while _edges_left(j, n_edges) > target:
        if pos >= n_edges:
            status = PoolStatus.EXHAUSTED
            break
        e = order[pos]
        pos += 1
        r = _try_collapse(m, ve, j, v_stamp, 2 * pos, e, target)
        if r == _FAILED:
            status = PoolStatus.BAD_TRIPLET
            break
        if r != _GO_ON:
            _log_skip(j, e, r)

    edges_out, parent = m.edges, m.parent
    for e in range(n_edges):
        edges_out[e, 0] = _find(parent, edges_out[e, 0])
        edges_out[e, 1] = _find(parent, edges_out[e, 1])
    ve_ptr, ve_idx = _vertex_edges_csr(ve, m.vertex_mask)
    n_unions = j.counts[_N_UNIONS]
    g_ptr, g_idx = _flatten_groups(j.union_src[:n_unions], j.union_dst[:n_unions], m.mask)
    n_removed = j.counts[_N_REMOVED]
    n_skipped = j.counts[_N_SKIPPED]
    return CollapseResult(
        status, n_edges - n_removed, m.mask, m.edges, m.gemm, m.sides, m.positions, m.vertex_mask,
        ve_ptr, ve_idx, g_ptr, g_idx, _occurrences(j.union_src[:n_unions], j.union_dst[:n_unions], n_edges),
        j.removed[:n_removed], j.removed_kind[:n_removed],
        j.skipped[:n_skipped], j.skip_reason[:n_skipped], j.skip_at[:n_skipped],
    )


@njit(cache=True)
def compact(mask, edges, gemm, sides, ve_indices, grp_indptr, grp_indices):
    """Drop removed edges and renumber, as the original's ``clean`` does. Returns a :class:`Compacted`.

    Removed edges map to 0 in the per-vertex lists (the original's quirk, kept on purpose: later
    one-ring tests see those stale entries as edge 0). Groups come out with their members sorted.

    Shapes: ``mask (E,), edges (E, 2), gemm (E, 4), sides (E, 4), ve_indices (nnz,), grp_indptr
    (E + 1,), grp_indices (nnz_g,)`` -> rows of the ``E'`` surviving edges.
    """
    n = mask.shape[0]
    remap = np.zeros(n, dtype=np.int64)
    n_kept = 0
    for e in range(n):
        if mask[e]:
            remap[e] = n_kept
            n_kept += 1
    kept = np.empty(n_kept, dtype=np.int64)
    new_edges = np.empty((n_kept, 2), dtype=np.int64)
    new_gemm = np.empty((n_kept, 4), dtype=np.int64)
    new_sides = np.empty((n_kept, 4), dtype=np.int64)
    g_ptr = np.zeros(n_kept + 1, dtype=np.int64)
    r = 0
    for e in range(n):
        if mask[e]:
            kept[r] = e
            new_edges[r, 0] = edges[e, 0]
            new_edges[r, 1] = edges[e, 1]
            for i in range(4):
                g = gemm[e, i]
                new_gemm[r, i] = -1 if g == -1 else remap[g]
                new_sides[r, i] = sides[e, i]
            g_ptr[r + 1] = g_ptr[r] + grp_indptr[e + 1] - grp_indptr[e]
            r += 1
    new_ve = np.empty(ve_indices.shape[0], dtype=np.int64)
    for k in range(ve_indices.shape[0]):
        new_ve[k] = remap[ve_indices[k]]
    g_idx = grp_indices.copy()  # rows of removed edges are empty, so the order already matches
    g_rows = np.empty(g_idx.shape[0], dtype=np.int64)
    for r in range(n_kept):
        s = g_ptr[r]
        t = g_ptr[r + 1]
        for k in range(s, t):
            g_rows[k] = r
        for k in range(s + 1, t):  # insertion sort: groups are small
            v = g_idx[k]
            q = k - 1
            while q >= s and g_idx[q] > v:
                g_idx[q + 1] = g_idx[q]
                q -= 1
            g_idx[q + 1] = v
    return Compacted(kept, new_edges, new_gemm, new_sides, new_ve, g_ptr, g_idx, g_rows)


class Pooled(NamedTuple):
    """What :func:`pool_edges` returns: :func:`collapse_edges` then :func:`compact`, in one call.

    Attributes:
        status: a :class:`PoolStatus` value (the other fields are meaningful only when ``OK``).
        edges_count: ``E'``, edges left.
        kept: ``(E',)`` int64 layer-input id of each surviving edge (ascending).
        edges: ``(E', 2)`` int64.
        gemm: ``(E', 4)`` int64 in the new numbering.
        sides: ``(E', 4)`` int64.
        ve_indptr: ``(V + 1,)`` int64 CSR offsets of the per-vertex edge lists.
        ve_indices: ``(nnz,)`` int64 per-vertex lists in the new numbering (removed edges -> 0).
        positions: ``(V, 3)`` float64.
        vertex_mask: ``(V,)`` bool.
        groups_indptr: ``(E' + 1,)`` int64 CSR offsets.
        groups_indices: ``(nnz,)`` int64 layer-input edges of each group, sorted within a row.
        groups_rows: ``(nnz,)`` int64 row of each entry.
        occurrences, removed, removed_kind, skipped, skip_reason, skip_at: as in :class:`CollapseResult`.
    """

    status: int
    edges_count: int
    kept: np.ndarray
    edges: np.ndarray
    gemm: np.ndarray
    sides: np.ndarray
    ve_indptr: np.ndarray
    ve_indices: np.ndarray
    positions: np.ndarray
    vertex_mask: np.ndarray
    groups_indptr: np.ndarray
    groups_indices: np.ndarray
    groups_rows: np.ndarray
    occurrences: np.ndarray
    removed: np.ndarray
    removed_kind: np.ndarray
    skipped: np.ndarray
    skip_reason: np.ndarray
    skip_at: np.ndarray


@njit(cache=True)
def pool_edges(order, target, edges, gemm, sides, ve_indptr, ve_indices, positions, vertex_mask):
    """:func:`collapse_edges` then :func:`compact` in one compiled call (what MeshPool runs). Pure.

    One call instead of two saves boxing the uncompacted arrays into Python and back, which is a
    measurable share of a small layer's time. Args as for :func:`collapse_edges`.

    Returns:
        a :class:`Pooled`.
    """
    r = collapse_edges(order, target, edges, gemm, sides, ve_indptr, ve_indices, positions, vertex_mask)
    c = compact(r.mask, r.edges, r.gemm, r.sides, r.ve_indices, r.groups_indptr, r.groups_indices)
    return Pooled(
        r.status, r.edges_count, c.kept, c.edges, c.gemm, c.sides, r.ve_indptr, c.ve_indices, r.positions,
        r.vertex_mask, c.groups_indptr, c.groups_indices, c.groups_rows, r.occurrences, r.removed,
        r.removed_kind, r.skipped, r.skip_reason, r.skip_at,
    )
