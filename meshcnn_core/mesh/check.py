"""Read-only diagnosis of a triangle mesh: what stands between it and a MeshCNN model.

:func:`check_mesh` counts the problems (NaN/inf vertices, zero-area and duplicate faces,
non-manifold edges and bow-tie vertices, open boundaries, inconsistent winding, separate pieces)
with vectorized numpy/scipy code that stays fast on meshes of millions of faces;
:func:`require_ready` turns them into one clear :class:`~meshcnn_core.errors.MeshError`. The
small edge-table helpers here are shared with :mod:`meshcnn_core.mesh.repair`, which fixes what it can.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..errors import MeshError
from .io import Mesh

__all__ = ["MeshCheck", "check_mesh", "require_ready", "require_size", "AREA_TOL"]

AREA_TOL = 1e-10  # relative to the squared diagonal (a face 1e-9 diagonals high on an edge of 0.1)


@dataclass(frozen=True)
class MeshCheck:
    """Read-only diagnosis of a triangle mesh (see :func:`check_mesh`).

    Attributes:
        num_vertices, num_faces, num_edges: sizes (``num_edges`` counts distinct undirected edges).
        boundary_edges: edges with one face (holes).
        nonmanifold_edges: edges with three or more faces.
        nonmanifold_vertices: bow-tie vertices, whose faces form several fans (counted only when no
            edge is non-manifold and no face repeats a corner).
        components: pieces of faces joined by shared edges.
        degenerate_faces: faces with zero or near-zero area (``AREA_TOL`` times the squared diagonal).
        duplicate_faces: faces with the same three corners as an earlier face, in any order.
        nonfinite_vertices: used vertices with NaN/inf coordinates; when non-zero, the other counts
            are not computed (left at 0).
        inconsistent_edges: two-face edges whose faces run along them in the same direction.
    """

    num_vertices: int
    num_faces: int
    num_edges: int
    boundary_edges: int
    nonmanifold_edges: int
    nonmanifold_vertices: int
    components: int
    degenerate_faces: int
    duplicate_faces: int
    nonfinite_vertices: int
    inconsistent_edges: int = 0

    @property
    def problems(self) -> list[str]:
        """One phrase per problem that MeshCNN cannot handle; empty when the mesh is fine."""
        out = []
        if self.nonfinite_vertices:
            out.append(f"{_plural(self.nonfinite_vertices, 'vertex', 'vertices')} with NaN or infinite coordinates")
        if self.degenerate_faces:
            out.append(f"{_plural(self.degenerate_faces, 'face')} with zero or near-zero area")
        if self.duplicate_faces:
            out.append(f"{_plural(self.duplicate_faces, 'duplicate face')}")
        if self.nonmanifold_edges:
            out.append(f"{_plural(self.nonmanifold_edges, 'edge')} with more than two faces (non-manifold)")
        if self.nonmanifold_vertices:
            out.append(f"{_plural(self.nonmanifold_vertices, 'non-manifold (bow-tie) vertex', 'non-manifold (bow-tie) vertices')}")
        if self.inconsistent_edges:
            out.append(f"the winding is inconsistent across {_plural(self.inconsistent_edges, 'edge')}")
        if self.boundary_edges:
            out.append(f"the mesh is open ({self.boundary_edges} boundary edges); MeshCNN needs a closed surface")
        if self.components > 1:
            out.append(f"the mesh has {self.components} separate pieces; MeshCNN needs one")
        return out


# ---------------------------------------------------------------- small pure helpers


def _diag(v: np.ndarray) -> float:
    if len(v) == 0:
        return 1.0
    d = float(np.linalg.norm(v.max(axis=0) - v.min(axis=0)))
    return d if d > 0 and np.isfinite(d) else 1.0


def _areas2(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Twice the triangle areas. Shapes: ``(V, 3), (F, 3) -> (F,)``."""
    return np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)


@dataclass(frozen=True)
class _Edges:
    """Undirected edges of a face list.

    Attributes:
        edges: ``(E, 2)`` sorted vertex ids.
        of_h: ``(3F,)`` edge of each half-edge (half-edge ``3 f + i`` runs ``f[i] -> f[i + 1]``).
        count: ``(E,)`` faces per edge.
        order: ``(3F,)`` half-edges sorted by edge (stable).
        pairs: ``(P, 2)`` the two half-edges of each edge with exactly two faces.
    """

    edges: np.ndarray
    of_h: np.ndarray
    count: np.ndarray
    order: np.ndarray
    pairs: np.ndarray


_LAST_TABLE = threading.local()  # per thread: (faces object, nv, table); steps that change nothing reuse it


def _edge_table(f: np.ndarray, nv: int) -> _Edges:
    last = getattr(_LAST_TABLE, "value", None)
    if last is not None and last[0] is f and last[1] == nv:
        return last[2]
    a = f.reshape(-1)
    b = f[:, [1, 2, 0]].reshape(-1)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo * np.int64(nv) + hi
    order = np.argsort(key, kind="stable")
    sk = key[order]
    new = np.empty(len(sk), dtype=bool)
    new[:1] = True
    new[1:] = sk[1:] != sk[:-1]
    starts = np.flatnonzero(new)
    uniq = sk[starts]
    count = np.diff(np.append(starts, len(sk)))
    of_h = np.empty(len(key), dtype=np.int64)
    of_h[order] = np.cumsum(new) - 1
    two = count[of_h[order]] == 2
    table = _Edges(np.stack([uniq // nv, uniq % nv], axis=1), of_h, count, order, order[two].reshape(-1, 2))
    _LAST_TABLE.value = (f, nv, table)
    return table


def _unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Like ``np.unique(a, axis=0, return_index, return_inverse)`` for int rows, but fast.

    Returns ``(first (U,), inverse (N,))``: the lowest row index of each distinct row, in sorted
    row order, and each row's group.
    """
    order = np.lexsort(a.T[::-1])
    sa = a[order]
    new = np.empty(len(a), dtype=bool)
    new[:1] = True
    new[1:] = (sa[1:] != sa[:-1]).any(axis=1)
    inverse = np.empty(len(a), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


def _compact(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop unreferenced vertices, keeping the order of the others."""
    used = np.zeros(len(v), dtype=bool)
    used[f.reshape(-1)] = True
    if used.all():
        return v, f
    new_id = np.cumsum(used) - 1
    return v[used], new_id[f]


def _where(v: np.ndarray, ids) -> str:
    pts = ", ".join("(" + ", ".join(f"{c:.4g}" for c in v[i]) + ")" for i in list(ids)[:3])
    return pts


def _face_components(f: np.ndarray, et: _Edges) -> tuple[int, np.ndarray]:
    """Components of faces joined by shared edges. Returns ``(n, labels (F,))``."""
    nf = len(f)
    order = et.order
    same = et.of_h[order[1:]] == et.of_h[order[:-1]]  # consecutive half-edges of one edge
    a, b = order[:-1][same] // 3, order[1:][same] // 3
    g = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(nf, nf))
    return connected_components(g, directed=False)


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def _fans(f: np.ndarray, et: _Edges) -> tuple[int, np.ndarray]:
    """Group face corners into fans: corners of one vertex joined across its two-face edges.

    Returns ``(n, labels (3F,))``; a vertex whose corners fall into several fans is a bow-tie.
    """
    nf = len(f)
    h = np.arange(3 * nf)
    start_v = f.reshape(-1)
    end_c = 3 * (h // 3) + (h % 3 + 1) % 3
    end_v = start_v[end_c]
    h1, h2 = et.pairs[:, 0], et.pairs[:, 1]
    # corner of h1's start vertex in h2's face, and of h1's end vertex
    same = start_v[h1] == start_v[h2]  # inconsistent winding: both half-edges run the same way
    c_start2 = np.where(same, h2, end_c[h2])
    c_end2 = np.where(same, end_c[h2], h2)
    rows = np.concatenate([h1, end_c[h1]])
    cols = np.concatenate([c_start2, c_end2])
    assert_ok = (start_v[rows] == start_v[cols]).all() and (end_v[h1] == start_v[c_end2]).all()
    if not assert_ok:  # pragma: no cover - an internal inconsistency, never expected
        raise MeshError("internal error while grouping vertex fans; please report this mesh")
    g = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(3 * nf, 3 * nf))
    return connected_components(g, directed=False)


# ---------------------------------------------------------------- diagnosis (read-only)


def check_mesh(mesh: Mesh) -> MeshCheck:
    """Count what stands between ``mesh`` and MeshCNN (vectorized; does not modify anything)."""
    try:
        return _check_mesh(mesh)
    finally:
        _LAST_TABLE.value = None  # do not keep a big mesh's tables alive


def _check_mesh(mesh: Mesh) -> MeshCheck:
    v, f = mesh.vertices, mesh.faces
    if len(f) == 0:
        raise MeshError(f"{mesh.name}: the mesh has no faces")
    if f.min() < 0 or f.max() >= len(v):
        raise MeshError(f"{mesh.name}: a face refers to a vertex id outside the vertex list")
    used = np.unique(f)
    nonfinite = int((~np.isfinite(v[used])).any(axis=1).sum())
    if nonfinite:
        return MeshCheck(len(v), len(f), 0, 0, 0, 0, 0, 0, 0, nonfinite)
    with np.errstate(invalid="ignore", over="ignore"):
        degenerate = int((_areas2(v, f) <= 2 * AREA_TOL * _diag(v[used]) ** 2).sum())
    dup = len(f) - len(_unique_rows(np.sort(f, axis=1))[0])
    et = _edge_table(f, len(v))
    boundary = int((et.count == 1).sum())
    nonmanifold = int((et.count > 2).sum())
    bowties = 0
    repeated = ((f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 2] == f[:, 0])).any()
    if nonmanifold == 0 and not repeated:
        _, lab = _fans(f, et)
        _, first_corner = np.unique(lab, return_index=True)
        bowties = int((np.bincount(f.reshape(-1)[first_corner]) > 1).sum())
    n_comp, _ = _face_components(f, et)
    inconsistent = int((f.reshape(-1)[et.pairs[:, 0]] == f.reshape(-1)[et.pairs[:, 1]]).sum())
    return MeshCheck(len(v), len(f), len(et.edges), boundary, nonmanifold, bowties, n_comp, degenerate, dup, 0,
                     inconsistent)


def require_size(mesh: Mesh, *, max_edges: int) -> None:
    """Refuse at once a mesh far too large for a model (before any topology is built)."""
    approx_edges = 3 * len(mesh.faces) // 2
    if approx_edges > 2 * max_edges + 1000:
        raise MeshError(
            f"{mesh.name}: the mesh has about {approx_edges} edges but the model takes at most {max_edges}; "
            "simplify it: repair it first (python -m meshcnn_core repair, or record --repair)"
        )


def require_ready(
    mesh: Mesh, *, max_edges: int | None = None, min_edges: int | None = None, allow_bowties: bool = True
) -> None:
    """Raise a :class:`MeshError` naming every problem that keeps ``mesh`` from a MeshCNN model.

    Cheap size checks come first, so a huge mesh is refused before any topology is built.
    Bow-tie vertices are allowed by default: MeshCNN's pooling copes with them, and some meshes
    of its data sets (human_seg) have them.
    """
    hint = "repair it first (python -m meshcnn_core repair, or record --repair)"
    approx_edges = 3 * len(mesh.faces) // 2
    if max_edges is not None and approx_edges > 2 * max_edges + 1000:
        raise MeshError(
            f"{mesh.name}: the mesh has about {approx_edges} edges but the model takes at most {max_edges}; "
            f"simplify it: {hint}"
        )
    chk = check_mesh(mesh)
    if allow_bowties:
        chk = replace(chk, nonmanifold_vertices=0)
    problems = chk.problems
    if problems:
        raise MeshError(f"{mesh.name}: " + "; ".join(problems) + f"; {hint}")
    if max_edges is not None and chk.num_edges > max_edges:
        raise MeshError(
            f"{mesh.name}: the mesh has {chk.num_edges} edges but the model takes at most {max_edges}; "
            f"simplify it: {hint}"
        )
    if min_edges is not None and chk.num_edges < min_edges:
        raise MeshError(
            f"{mesh.name}: the mesh has {chk.num_edges} edges, fewer than the model's first pooling target "
            f"{min_edges}; use a finer mesh (subdivide it in a modeling tool)"
        )
