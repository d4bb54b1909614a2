"""The sequential edge-collapse loop of MeshCNN's pooling, compiled with numba.

This is a faithful re-implementation of the original collapse rule, written as flat arrays and
integer loops (no per-edge Python objects):

* edges are visited once, in order of increasing priority (squared feature norm), ties by id;
* an edge touching a boundary is skipped; before collapsing, each of its two faces is cleaned of
  "triplets" (a valence-3 vertex next to the edge: its three edges are removed and the one-ring
  re-linked), and the collapse happens only if the end points then share exactly two neighbours;
* a collapse merges each face's two other edges into one, keeps the first end point (moved to the
  midpoint) and removes three edges;
* edge groups (which layer-input edges each edge absorbed) are kept as small linked sets, and
  every union is logged so that MeshCNN's unpooling weights can be recomputed exactly.

Vertex renaming uses alias pointers with path compression instead of rewriting the edge array,
and per-vertex edge lists are linked lists that are concatenated in O(1); both keep MeshCNN's
exact semantics, including stale entries left by triplet removal.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["collapse_edges", "compact", "STATUS_OK", "STATUS_EXHAUSTED", "STATUS_BAD_TRIPLET"]

STATUS_OK = 0
STATUS_EXHAUSTED = 1  # every edge was tried and the target was not reached
STATUS_BAD_TRIPLET = 2  # a triplet's three edges do not share exactly one vertex

KIND_COLLAPSED = 0  # the edge that was collapsed
KIND_MERGED = 1  # an edge merged into its face neighbour by a collapse
KIND_TRIPLET = 2  # an edge removed with a valence-3 vertex


@njit(cache=True)
def _find(parent, v):
    root = v
    while parent[root] != root:
        root = parent[root]
    while parent[v] != root:
        nxt = parent[v]
        parent[v] = root
        v = nxt
    return root


@njit(cache=True)
def _grow(a, n):
    if n < a.shape[0]:
        return a
    b = np.empty(max(2 * a.shape[0], n + 16), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b



@njit(cache=True)
def _union(src, dst, g_val, g_next, g_head, g_tail, g_stamp, g_clock, g_used, log_src, log_dst, n_log):
    """Copy the group of ``src`` into that of ``dst`` (set union) and log the union.

    Returns the (possibly grown) arrays and the updated counters:
    ``(g_val, g_next, g_clock, g_used, log_src, log_dst, n_log)``.
    """
    if n_log >= log_src.shape[0]:
        log_src = _grow(log_src, n_log + 1)
        log_dst = _grow(log_dst, n_log + 1)
    log_src[n_log] = src
    log_dst[n_log] = dst
    n_log += 1
    g_clock += 1
    node = g_head[dst]
    while node != -1:
        g_stamp[g_val[node]] = g_clock
        node = g_next[node]
    node = g_head[src]
    while node != -1:
        c = g_val[node]
        if g_stamp[c] != g_clock:
            g_stamp[c] = g_clock
            if g_used >= g_val.shape[0]:
                g_val = _grow(g_val, g_used + 1)
                g_next = _grow(g_next, g_used + 1)
            g_val[g_used] = c
            g_next[g_used] = -1
            g_next[g_tail[dst]] = g_used
            g_tail[dst] = g_used
            g_used += 1
        node = g_next[node]
    return g_val, g_next, g_clock, g_used, log_src, log_dst, n_log


@njit(cache=True)
def _has_boundaries(gemm, e):
    for i in range(4):
        n = gemm[e, i]
        if n == -1:
            return True
        for j in range(4):
            if gemm[n, j] == -1:
                return True
    return False


@njit(cache=True)
def _redirect(gemm, sides, ea, sa, eb, sb):
    gemm[ea, sa] = eb
    gemm[eb, sb] = ea
    sides[ea, sa] = sb
    sides[eb, sb] = sa


@njit(cache=True)
def _other_side(s):
    return s + 1 - 2 * (s % 2)


@njit(cache=True)
def _ve_remove(ve_head, ve_tail, node_edge, node_next, v, e):
    prev = -1
    node = ve_head[v]
    while node != -1:
        if node_edge[node] == e:
            nxt = node_next[node]
            if prev == -1:
                ve_head[v] = nxt
            else:
                node_next[prev] = nxt
            if ve_tail[v] == node:
                ve_tail[v] = prev
            return True
        prev = node
        node = node_next[node]
    return False


@njit(cache=True)
def collapse_edges(
    order, target, edges, gemm, sides, ve_indptr, ve_indices, positions, vertex_mask
):
    """Run MeshCNN's collapse loop on copies of the topology arrays.

    Args:
        order: ``(E,)`` edges in queue order (priority ascending, ties by id).
        target: edge count to stop at (the loop may stop 1-2 below it).
        edges: ``(E, 2)`` int64 vertex ids, modified in place (ends renamed after merges).
        gemm: ``(E, 4)`` int64 neighbours, modified in place.
        sides: ``(E, 4)`` int64, modified in place.
        ve_indptr: ``(V + 1,)`` CSR offsets of the per-vertex edge lists (a multiset each).
        ve_indices: ``(nnz,)`` edge ids of the per-vertex lists.
        positions: ``(V, 3)`` float64, modified in place (merged vertices move to midpoints).
        vertex_mask: ``(V,)`` bool, modified in place.

    Returns:
        ``(status, edges_count, mask (E,), ve_out_indptr, ve_out_indices, grp_indptr, grp_indices,
        occurrences (E,), removed (R,), removed_kind (R,))`` where groups are CSR rows for every
        edge (only the rows of surviving edges are meaningful) and the per-vertex lists are in
        layer-local edge ids (not yet remapped).
    """
    n_edges = edges.shape[0]
    n_verts = positions.shape[0]
    mask = np.ones(n_edges, dtype=np.bool_)
    parent = np.arange(n_verts)
    edges_count = n_edges

    # per-vertex edge lists as linked lists
    n_nodes = ve_indices.shape[0]
    node_edge = ve_indices.copy()
    node_next = np.full(n_nodes, -1, dtype=np.int64)
    ve_head = np.full(n_verts, -1, dtype=np.int64)
    ve_tail = np.full(n_verts, -1, dtype=np.int64)
    for v in range(n_verts):
        s = ve_indptr[v]
        t = ve_indptr[v + 1]
        if t > s:
            ve_head[v] = s
            ve_tail[v] = t - 1
            for k in range(s, t - 1):
                node_next[k] = k + 1

    # edge groups: one linked set per edge, initially {e}
    cap = 4 * n_edges + 16
    g_val = np.empty(cap, dtype=np.int64)
    g_next = np.empty(cap, dtype=np.int64)
    g_head = np.empty(n_edges, dtype=np.int64)
    g_tail = np.empty(n_edges, dtype=np.int64)
    for e in range(n_edges):
        g_val[e] = e
        g_next[e] = -1
        g_head[e] = e
        g_tail[e] = e
    g_used = n_edges
    g_stamp = np.zeros(n_edges, dtype=np.int64)
    g_clock = 0

    # union log (source, target) for the unpooling occurrences
    log_src = np.empty(8 * n_edges + 16, dtype=np.int64)
    log_dst = np.empty(8 * n_edges + 16, dtype=np.int64)
    n_log = 0

    removed = np.empty(n_edges, dtype=np.int64)
    removed_kind = np.empty(n_edges, dtype=np.int8)
    n_removed = 0

    v_stamp = np.zeros(n_verts, dtype=np.int64)
    v_clock = 0
    status = STATUS_OK

    pos = 0
    while edges_count > target:
        if pos >= n_edges:
            status = STATUS_EXHAUSTED
            break
        edge_id = order[pos]
        pos += 1
        if not mask[edge_id]:
            continue
        if _has_boundaries(gemm, edge_id):
            continue

        # ---- clean both sides of triplets; stop early as MeshCNN's short-circuit does
        ok_sides = True
        for side in (0, 2):
            if edges_count <= target:
                ok_sides = False
                break
            while True:
                # get_invalids(edge_id, side): may re-link and log unions
                key_a = gemm[edge_id, side]
                key_b = gemm[edge_id, side + 1]
                side_a = sides[edge_id, side]
                side_b = sides[edge_id, side + 1]
                osa = (side_a - (side_a % 2) + 2) % 4
                osb = (side_b - (side_b % 2) + 2) % 4
                oka0 = gemm[key_a, osa]
                oka1 = gemm[key_a, osa + 1]
                okb0 = gemm[key_b, osb]
                okb1 = gemm[key_b, osb + 1]
                n_shared = 0
                sh_i = -1
                sh_j = -1
                for i in range(2):
                    ai = oka0 if i == 0 else oka1
                    for j in range(2):
                        bj = okb0 if j == 0 else okb1
                        if ai == bj:
                            n_shared += 1
                            sh_i = i
                            sh_j = j
                if n_shared == 0:
                    break
                if n_shared != 1:
                    # both other edges shared: a pinched one-ring where the original stops with an
                    # AssertionError; nothing was changed yet, so we skip this edge instead
                    ok_sides = False
                    break
                # with a single shared pair MeshCNN takes the first (i, j) found
                middle = oka0 if sh_i == 0 else oka1
                uka = oka1 if sh_i == 0 else oka0
                ukb = okb1 if sh_j == 0 else okb0
                usa = sides[key_a, osa + 1 - sh_i]
                usb = sides[key_b, osb + 1 - sh_j]
                _redirect(gemm, sides, edge_id, side, uka, usa)
                _redirect(gemm, sides, edge_id, side + 1, ukb, usb)
                _redirect(gemm, sides, uka, _other_side(usa), ukb, _other_side(usb))
                pairs = ((key_a, edge_id), (key_b, edge_id), (key_a, uka), (middle, uka), (key_b, ukb), (middle, ukb))
                for src, dst in pairs:
                    g_val, g_next, g_clock, g_used, log_src, log_dst, n_log = _union(
                        src, dst, g_val, g_next, g_head, g_tail, g_stamp, g_clock, g_used, log_src, log_dst, n_log
                    )
                # remove the triplet (key_a, key_b, middle) and its centre vertex
                t0 = key_a
                c0 = _find(parent, edges[t0, 0])
                c1 = _find(parent, edges[t0, 1])
                n_common = 0
                centre = -1
                for cand in (c0, c1):
                    inall = True
                    for t in (key_b, middle):
                        if _find(parent, edges[t, 0]) != cand and _find(parent, edges[t, 1]) != cand:
                            inall = False
                    if inall and not (cand == c1 and c0 == c1):
                        n_common += 1
                        centre = cand
                for t in (key_a, key_b, middle):
                    mask[t] = False
                    removed[n_removed] = t
                    removed_kind[n_removed] = KIND_TRIPLET
                    n_removed += 1
                edges_count -= 3
                if n_common != 1:
                    status = STATUS_BAD_TRIPLET
                    return (status, edges_count, mask, ve_indptr, ve_indices, ve_indptr, ve_indices,
                            np.zeros(n_edges, dtype=np.float32), removed[:n_removed], removed_kind[:n_removed])
                vertex_mask[centre] = False
                if edges_count <= target:
                    ok_sides = False
                    break
                if _has_boundaries(gemm, edge_id):
                    ok_sides = False
                    break
            if not ok_sides:
                break
        if not ok_sides:
            continue

        # ---- one-ring validity: the end points share exactly two other neighbours
        va = _find(parent, edges[edge_id, 0])
        vb = _find(parent, edges[edge_id, 1])
        v_clock += 2
        node = ve_head[va]
        while node != -1:
            e2 = node_edge[node]
            v_stamp[_find(parent, edges[e2, 0])] = v_clock
            v_stamp[_find(parent, edges[e2, 1])] = v_clock
            node = node_next[node]
        n_sh = 0
        node = ve_head[vb]
        while node != -1:
            e2 = node_edge[node]
            for k in range(2):
                u = _find(parent, edges[e2, k])
                if u != va and u != vb and v_stamp[u] == v_clock:
                    v_stamp[u] = v_clock + 1
                    n_sh += 1
            node = node_next[node]
        if n_sh != 2:
            continue

        # ---- collapse: merge the two other edges of each face, then the end points
        for side in (0, 2):
            key_a = gemm[edge_id, side]
            key_b = gemm[edge_id, side + 1]
            side_a = sides[edge_id, side]
            side_b = sides[edge_id, side + 1]
            osb = (side_b - (side_b % 2) + 2) % 4
            okb0 = gemm[key_b, osb]
            okb1 = gemm[key_b, osb + 1]
            _redirect(gemm, sides, key_a, side_a - side_a % 2, okb0, sides[key_b, osb])
            _redirect(gemm, sides, key_a, side_a - side_a % 2 + 1, okb1, sides[key_b, osb + 1])
            for src in (key_b, edge_id):
                g_val, g_next, g_clock, g_used, log_src, log_dst, n_log = _union(
                    src, key_a, g_val, g_next, g_head, g_tail, g_stamp, g_clock, g_used, log_src, log_dst, n_log
                )
            mask[key_b] = False
            removed[n_removed] = key_b
            removed_kind[n_removed] = KIND_MERGED
            n_removed += 1
            for k in range(2):
                _ve_remove(ve_head, ve_tail, node_edge, node_next, _find(parent, edges[key_b, k]), key_b)
            edges_count -= 1
        # merge_vertices(edge_id)
        va = _find(parent, edges[edge_id, 0])
        vb = _find(parent, edges[edge_id, 1])
        _ve_remove(ve_head, ve_tail, node_edge, node_next, va, edge_id)
        _ve_remove(ve_head, ve_tail, node_edge, node_next, vb, edge_id)
        for k in range(3):
            positions[va, k] = (positions[va, k] + positions[vb, k]) / 2
        vertex_mask[vb] = False
        parent[vb] = va
        if ve_head[vb] != -1:
            if ve_head[va] == -1:
                ve_head[va] = ve_head[vb]
            else:
                node_next[ve_tail[va]] = ve_head[vb]
            ve_tail[va] = ve_tail[vb]
        ve_head[vb] = -1
        ve_tail[vb] = -1
        mask[edge_id] = False
        removed[n_removed] = edge_id
        removed_kind[n_removed] = KIND_COLLAPSED
        n_removed += 1
        edges_count -= 1

    # ---- outputs
    for e in range(n_edges):
        edges[e, 0] = _find(parent, edges[e, 0])
        edges[e, 1] = _find(parent, edges[e, 1])
    out_indptr = np.zeros(n_verts + 1, dtype=np.int64)
    for v in range(n_verts):
        cnt = 0
        if vertex_mask[v]:
            node = ve_head[v]
            while node != -1:
                cnt += 1
                node = node_next[node]
        out_indptr[v + 1] = out_indptr[v] + cnt
    out_indices = np.empty(out_indptr[n_verts], dtype=np.int64)
    for v in range(n_verts):
        if vertex_mask[v]:
            k = out_indptr[v]
            node = ve_head[v]
            while node != -1:
                out_indices[k] = node_edge[node]
                k += 1
                node = node_next[node]

    grp_indptr = np.zeros(n_edges + 1, dtype=np.int64)
    for e in range(n_edges):
        cnt = 0
        if mask[e]:
            node = g_head[e]
            while node != -1:
                cnt += 1
                node = g_next[node]
        grp_indptr[e + 1] = grp_indptr[e] + cnt
    grp_indices = np.empty(grp_indptr[n_edges], dtype=np.int64)
    for e in range(n_edges):
        if mask[e]:
            k = grp_indptr[e]
            node = g_head[e]
            while node != -1:
                grp_indices[k] = g_val[node]
                k += 1
                node = g_next[node]

    # occurrences: number of time-ordered union paths leaving each edge (MeshCNN's column sums)
    paths = np.ones(n_edges, dtype=np.float64)
    for i in range(n_log - 1, -1, -1):
        paths[log_src[i]] += paths[log_dst[i]]
    return (status, edges_count, mask, out_indptr, out_indices, grp_indptr, grp_indices,
            paths.astype(np.float32), removed[:n_removed], removed_kind[:n_removed])


@njit(cache=True)
def compact(mask, edges, gemm, sides, ve_indices, grp_indptr, grp_indices):
    """Drop removed edges and renumber, as the original's ``clean`` does.

    Removed edges map to 0 in the per-vertex lists (the original's quirk, kept on purpose: later
    one-ring tests see those stale entries as edge 0). Groups come out with their members sorted.

    Returns:
        ``(kept (E',), edges (E', 2), gemm (E', 4), sides (E', 4), ve_indices, groups_indptr
        (E' + 1,), groups_indices, group_rows)`` with ``group_rows`` the row of each member.
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
            j = k - 1
            while j >= s and g_idx[j] > v:
                g_idx[j + 1] = g_idx[j]
                j -= 1
            g_idx[j + 1] = v
    return kept, new_edges, new_gemm, new_sides, new_ve, g_ptr, g_idx, g_rows
