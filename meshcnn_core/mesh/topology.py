"""Mesh topology: edges, their one-ring neighbours and sides, as an immutable value.

Built from ``(vertices, faces)`` by one pure function, :func:`build_topology`, with MeshCNN's
conventions so that edge ids, neighbour order and label files line up with the original code:

* faces with zero area are an error; a face that repeats an oriented edge of an earlier kept face
  is dropped (MeshCNN's ``remove_non_manifolds``), so no edge has more than two faces;
* edges are numbered in order of first appearance while walking the faces, each edge stored as
  ``(min vertex id, max vertex id)``;
* ``gemm[e, 0:2]`` are the other two edges of the first face of ``e`` (the next, then the previous
  edge of that face), ``gemm[e, 2:4]`` those of its second face, ``-1`` on a boundary;
* ``sides[e, i]`` is the slot in which neighbour ``gemm[e, i]`` lists ``e`` back, so that the
  invariant ``gemm[gemm[e, i], sides[e, i]] == e`` holds for every non-boundary slot.

The per-vertex edge lists (``ve``) are kept as CSR arrays; pooling needs them (with MeshCNN's
exact multiset semantics, stale entries included) to test one-ring validity.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..errors import MeshError

__all__ = [
    "MeshTopology",
    "BuiltTopology",
    "build_topology",
    "face_areas",
    "topology_faces",
    "check_gemm_invariant",
]


def _frozen(a: np.ndarray, dtype) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=dtype)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class MeshTopology:
    """The edge structure of a (possibly pooled) mesh. Immutable.

    Attributes:
        edges: ``(E, 2)`` int64 current vertex ids of each edge (MeshCNN keeps the first vertex
            of a collapsed edge, so after pooling the pair need not be sorted).
        gemm: ``(E, 4)`` int64 one-ring neighbour edges, ``-1`` on a boundary.
        sides: ``(E, 4)`` int64 slot of ``e`` in each neighbour's ``gemm`` row.
        ve_indptr: ``(V + 1,)`` int64 CSR offsets of the per-vertex edge lists.
        ve_indices: ``(nnz,)`` int64 edge ids listed per vertex (a multiset, as in MeshCNN).
        positions: ``(V, 3)`` float64 vertex positions (collapsed vertices move to midpoints).
        vertex_mask: ``(V,)`` bool, vertices still in the mesh.
        edge_ids: ``(E,)`` int64 input-edge id of each edge (its MeshCNN identity).
    """

    edges: np.ndarray
    gemm: np.ndarray
    sides: np.ndarray
    ve_indptr: np.ndarray
    ve_indices: np.ndarray
    positions: np.ndarray
    vertex_mask: np.ndarray
    edge_ids: np.ndarray

    def __post_init__(self) -> None:
        for name, dtype in (
            ("edges", np.int64),
            ("gemm", np.int64),
            ("sides", np.int64),
            ("ve_indptr", np.int64),
            ("ve_indices", np.int64),
            ("positions", np.float64),
            ("vertex_mask", np.bool_),
            ("edge_ids", np.int64),
        ):
            object.__setattr__(self, name, _frozen(getattr(self, name), dtype))

    @property
    def num_edges(self) -> int:
        """Number of edges ``E``."""
        return int(self.edges.shape[0])

    @property
    def num_vertices(self) -> int:
        """Number of live vertices."""
        return int(self.vertex_mask.sum())

    @property
    def boundary(self) -> np.ndarray:
        """``(E,)`` bool: edges with a single face."""
        return (self.gemm == -1).any(axis=1)


class BuiltTopology(NamedTuple):
    """What :func:`build_topology` returns (unpacks as ``topology, faces, edge_areas``).

    Attributes:
        topology: the input :class:`MeshTopology`.
        faces: ``(F', 3)`` int64 faces kept by MeshCNN's filter (repeated oriented edges dropped).
        edge_areas: ``(E,)`` MeshCNN's per-edge area weights (a third of each adjacent face's area,
            normalized to sum 1).
    """

    topology: MeshTopology
    faces: np.ndarray
    edge_areas: np.ndarray


def face_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Triangle areas as MeshCNN computes them. Shapes: ``(V, 3), (F, 3) -> (F,)``."""
    v = vertices
    n = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 1]])
    return np.sqrt((n**2).sum(axis=1)) * 0.5


def _drop_repeated_oriented_edges(faces: np.ndarray) -> np.ndarray:
    """Mask of faces kept by MeshCNN's ``remove_non_manifolds`` (areas checked before).

    A face is dropped when one of its oriented edges ``(f[i], f[i+1])`` already belongs to an
    earlier *kept* face. The common case (no oriented edge repeats at all) is decided vectorized.
    """
    nf = len(faces)
    a = faces.reshape(-1)
    b = faces[:, [1, 2, 0]].reshape(-1)
    key = a * (int(max(a.max(initial=0), b.max(initial=0))) + 1) + b
    _, counts = np.unique(key, return_counts=True)
    keep = np.ones(nf, dtype=bool)
    if (counts == 1).all():
        return keep
    seen: set[tuple[int, int]] = set()
    for fi in range(nf):
        f = faces[fi]
        cur = [(int(f[i]), int(f[(i + 1) % 3])) for i in range(3)]
        if any(c in seen for c in cur):
            keep[fi] = False
        else:
            seen.update(cur)
    return keep


def _build(vertices: np.ndarray, faces: np.ndarray) -> BuiltTopology:
    nv = len(vertices)
    if len(faces) == 0:
        raise MeshError("the mesh has no faces")
    if not np.isfinite(vertices).all():
        bad = int((~np.isfinite(vertices)).any(axis=1).sum())
        raise MeshError(f"{bad} vertices have NaN or infinite coordinates; fix or remove them")
    if faces.min() < 0 or faces.max() >= nv:
        raise MeshError("a face refers to a vertex id outside the vertex list")
    areas = face_areas(vertices, faces)
    zero = np.flatnonzero(areas == 0)
    if len(zero):
        raise MeshError(
            f"{len(zero)} faces have zero area (degenerate triangles, first is face {int(zero[0])}); "
            "repair the mesh to remove them"
        )
    keep = _drop_repeated_oriented_edges(faces)
    faces = faces[keep]
    areas = areas[keep]

    nf = len(faces)
    h_a = faces.reshape(-1)
    h_b = faces[:, [1, 2, 0]].reshape(-1)
    lo = np.minimum(h_a, h_b)
    hi = np.maximum(h_a, h_b)
    key = lo * nv + hi  # (3F,)
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    uniq_to_edge = np.empty(len(uniq), dtype=np.int64)
    uniq_to_edge[order] = np.arange(len(uniq))
    edge_of_h = uniq_to_edge[inverse.reshape(-1)]  # (3F,)
    ne = len(uniq)
    edges = np.stack([lo[first[order]], hi[first[order]]], axis=1)

    # rank of each half-edge among the faces of its edge, in face order
    by_edge = np.argsort(edge_of_h, kind="stable")
    counts = np.bincount(edge_of_h, minlength=ne)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    occ = np.empty(3 * nf, dtype=np.int64)
    occ[by_edge] = np.arange(3 * nf) - np.repeat(starts, counts)
    if counts.max() > 2:  # cannot happen after the oriented-edge filter; kept as a guard
        raise MeshError(f"{int((counts > 2).sum())} edges have more than two faces (non-manifold)")

    h = np.arange(3 * nf)
    f_of_h = h // 3
    nxt = 3 * f_of_h + (h % 3 + 1) % 3
    prv = 3 * f_of_h + (h % 3 + 2) % 3
    gemm = np.full((ne, 4), -1, dtype=np.int64)
    sides = np.full((ne, 4), -1, dtype=np.int64)
    gemm[edge_of_h, 2 * occ] = edge_of_h[nxt]
    gemm[edge_of_h, 2 * occ + 1] = edge_of_h[prv]
    sides[edge_of_h, 2 * occ] = 2 * occ[nxt] + 1
    sides[edge_of_h, 2 * occ + 1] = 2 * occ[prv]

    edge_area = np.bincount(edge_of_h, weights=np.repeat(areas / 3, 3), minlength=ne) / areas.sum()

    ends = edges.reshape(-1)
    ve_order = np.argsort(ends, kind="stable")
    ve_indices = np.arange(ne).repeat(2)[ve_order]
    ve_indptr = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=nv))])
    topo = MeshTopology(
        edges=edges,
        gemm=gemm,
        sides=sides,
        ve_indptr=ve_indptr,
        ve_indices=ve_indices,
        positions=vertices,
        vertex_mask=np.ones(nv, dtype=bool),
        edge_ids=np.arange(ne),
    )
    return BuiltTopology(topo, faces, edge_area)


_CACHE: OrderedDict[str, BuiltTopology] = OrderedDict()
_CACHE_SIZE = 512


def build_topology(vertices: np.ndarray, faces: np.ndarray) -> BuiltTopology:
    """Build the MeshCNN edge topology of a triangle mesh. Pure; cached by content hash.

    Args:
        vertices: ``(V, 3)`` float positions.
        faces: ``(F, 3)`` int vertex ids.

    Returns:
        a :class:`BuiltTopology` ``(topology, faces (F', 3), edge_areas (E,))``.

    Raises:
        MeshError: NaN/inf coordinates, bad vertex ids, zero-area faces, no faces.
    """
    v = np.array(
        vertices, dtype=np.float64, order="C", copy=True
    )  # own copies: callers' arrays stay writable
    f = np.array(faces, dtype=np.int64, order="C", copy=True)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise MeshError(f"expected vertices (V, 3) and triangle faces (F, 3), got {v.shape} and {f.shape}")
    h = hashlib.blake2b(digest_size=16)
    for a in (v, f):
        h.update(np.asarray(a.shape, dtype=np.int64).tobytes())
        h.update(a.tobytes())
    key = h.hexdigest()
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    result = _build(v, f)
    for arr in result[1:]:
        arr.setflags(write=False)
    _CACHE[key] = result
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


def topology_faces(topo: MeshTopology) -> np.ndarray:
    """The triangles of a (pooled) topology, recovered from the gemm face cycles.

    Shapes: ``-> (F, 3)`` int64 vertex ids, each face once, oriented as its first edge walks it.
    """
    e = np.arange(topo.num_edges)
    tris = []
    for s in (0, 2):
        ok = topo.gemm[:, s] != -1
        a = e[ok]
        b = topo.gemm[ok, s]
        c = topo.gemm[ok, s + 1]
        tris.append(np.stack([a, b, c], axis=1))
    t = np.concatenate(tris) if tris else np.zeros((0, 3), dtype=np.int64)
    if len(t) == 0:
        return np.zeros((0, 3), dtype=np.int64)
    _, idx = np.unique(np.sort(t, axis=1), axis=0, return_index=True)
    t = t[np.sort(idx)]
    ea = topo.edges[t[:, 0]]
    eb = topo.edges[t[:, 1]]
    # the vertex of edge b that is not on edge a
    third = np.where((eb[:, 0] == ea[:, 0]) | (eb[:, 0] == ea[:, 1]), eb[:, 1], eb[:, 0])
    # order: shared(a, b) is the corner after edge a; walk a's other vertex -> shared -> third
    shared = np.where((eb[:, 0] == ea[:, 0]) | (eb[:, 0] == ea[:, 1]), eb[:, 0], eb[:, 1])
    first = np.where(ea[:, 0] == shared, ea[:, 1], ea[:, 0])
    return np.stack([first, shared, third], axis=1)


def check_gemm_invariant(topo: MeshTopology) -> bool:
    """True when ``gemm[gemm[e, i], sides[e, i]] == e`` for every non-boundary slot."""
    e, i = np.nonzero(topo.gemm != -1)
    return bool((topo.gemm[topo.gemm[e, i], topo.sides[e, i]] == e).all())
