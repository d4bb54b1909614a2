"""The undirected edge table of a face list, and the small pure helpers that checks and repair share.

Everything here is a pure function of ``(vertices, faces)`` arrays: no caches, no state. Half-edge
``3 f + i`` runs from ``faces[f, i]`` to ``faces[f, (i + 1) % 3]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

__all__ = [
    "EdgeTable",
    "edge_table",
    "unique_rows",
    "compact",
    "diagonal",
    "double_areas",
    "face_components",
    "vertex_fans",
    "plural",
    "points_text",
    "estimate_edges",
]


@dataclass(frozen=True)
class EdgeTable:
    """Undirected edges of a face list.

    Attributes:
        edges: ``(E, 2)`` sorted vertex ids, in increasing ``(lo, hi)`` order.
        of_h: ``(3F,)`` edge of each half-edge.
        count: ``(E,)`` faces per edge (1: boundary, 2: manifold, 3+: non-manifold).
        order: ``(3F,)`` half-edges sorted by edge (stable).
        pairs: ``(P, 2)`` the two half-edges of each edge with exactly two faces.
    """

    edges: np.ndarray
    of_h: np.ndarray
    count: np.ndarray
    order: np.ndarray
    pairs: np.ndarray

    @property
    def num_boundary(self) -> int:
        """Edges with one face."""
        return int((self.count == 1).sum())

    @property
    def num_nonmanifold(self) -> int:
        """Edges with three or more faces."""
        return int((self.count > 2).sum())


def edge_table(f: np.ndarray, nv: int) -> EdgeTable:
    """The :class:`EdgeTable` of faces ``f`` ``(F, 3)`` over ``nv`` vertices (vectorized, O(F log F))."""
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
    return EdgeTable(np.stack([uniq // nv, uniq % nv], axis=1), of_h, count, order, order[two].reshape(-1, 2))


def estimate_edges(num_faces: int) -> int:
    """Edges of a closed triangle mesh with ``num_faces`` faces (``3 F / 2``), known without any topology.

    The one place this estimate lives: size checks use it to refuse huge meshes before building anything.
    """
    return 3 * int(num_faces) // 2


def unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def compact(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop unreferenced vertices, keeping the order of the others (the inputs when none is unused)."""
    used = np.zeros(len(v), dtype=bool)
    used[f.reshape(-1)] = True
    if used.all():
        return v, f
    new_id = np.cumsum(used) - 1
    return v[used], new_id[f]


def diagonal(v: np.ndarray) -> float:
    """Bounding-box diagonal of ``v`` ``(V, 3)``; 1.0 when empty, flat to a point, or not finite."""
    if len(v) == 0:
        return 1.0
    d = float(np.linalg.norm(v.max(axis=0) - v.min(axis=0)))
    return d if d > 0 and np.isfinite(d) else 1.0


def double_areas(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Twice the triangle areas. Shapes: ``(V, 3), (F, 3) -> (F,)``."""
    return np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)


def face_components(f: np.ndarray, et: EdgeTable) -> tuple[int, np.ndarray]:
    """Pieces of faces joined by shared edges. Returns ``(n, labels (F,))``."""
    nf = len(f)
    order = et.order
    same = et.of_h[order[1:]] == et.of_h[order[:-1]]  # consecutive half-edges of one edge
    a, b = order[:-1][same] // 3, order[1:][same] // 3
    g = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(nf, nf))
    return connected_components(g, directed=False)


def vertex_fans(f: np.ndarray, et: EdgeTable) -> tuple[int, np.ndarray]:
    """Group face corners into fans: corners of one vertex joined across its two-face edges.

    Returns ``(n, labels (3F,))``; a vertex whose corners fall into several fans is a bow-tie.
    """
    nf = len(f)
    h = np.arange(3 * nf)
    start_v = f.reshape(-1)
    end_c = 3 * (h // 3) + (h % 3 + 1) % 3
    h1, h2 = et.pairs[:, 0], et.pairs[:, 1]
    same = start_v[h1] == start_v[h2]  # inconsistent winding: both half-edges run the same way
    c_start2 = np.where(same, h2, end_c[h2])
    c_end2 = np.where(same, end_c[h2], h2)
    rows = np.concatenate([h1, end_c[h1]])
    cols = np.concatenate([c_start2, c_end2])
    g = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(3 * nf, 3 * nf))
    return connected_components(g, directed=False)


def plural(n: int, word: str, words: str | None = None) -> str:
    """``"1 face"``, ``"2 faces"``; ``words`` for irregular plurals."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def points_text(points: Iterable) -> str:
    """Up to three points as ``"(x, y, z), ..."`` with 4 significant digits."""
    return ", ".join("(" + ", ".join(f"{c:.4g}" for c in p) + ")" for p in list(points)[:3])
