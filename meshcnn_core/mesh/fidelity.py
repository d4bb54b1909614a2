"""How far a simplified (or repaired) mesh lies from the mesh it came from.

:func:`surface_distance` measures the two-sided distance between two triangle surfaces from
points sampled on each (area-weighted, seeded, plus every vertex), with exact point-to-triangle
distances (a k-d tree over face centroids finds the candidates; a bound by each face's radius
makes the search exact). Both numbers are given as a share of the first mesh's bounding-box
diagonal, so they read the same for any scale:

- ``hausdorff``: the largest distance from a sample on either surface to the other surface;
- ``mean``: the mean of the two one-sided mean distances (the mean surface distance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    "Fidelity",
    "surface_distance",
    "point_triangle_distance",
    "FIDELITY_WARN_MEAN",
    "FIDELITY_SAMPLES",
]

FIDELITY_WARN_MEAN = 0.02  # warn when the mean surface distance exceeds 2% of the diagonal
FIDELITY_SAMPLES = 2_000  # area-weighted samples per surface (plus its vertices, up to as many)


@dataclass(frozen=True)
class Fidelity:
    """Two-sided distance between a mesh and its simplification, as shares of the input's diagonal.

    Attributes:
        hausdorff: largest sampled distance in either direction.
        mean: mean surface distance (mean of the two one-sided means).
        samples: points sampled per surface.
    """

    hausdorff: float
    mean: float
    samples: int

    @property
    def ok(self) -> bool:
        """Whether the mean distance is within :data:`FIDELITY_WARN_MEAN`."""
        return self.mean <= FIDELITY_WARN_MEAN

    def words(self) -> str:
        """One sentence for the user, with a warning when the shape moved too far."""
        text = (
            f"fidelity: mean surface distance {self.mean:.2%} and Hausdorff distance {self.hausdorff:.2%} "
            "of the bounding-box diagonal"
        )
        if not self.ok:
            text += (
                f"; WARNING: more than {FIDELITY_WARN_MEAN:.0%}: the simplified mesh lost part of the "
                "shape, so the prediction may describe a different shape"
            )
        return text


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


def point_triangle_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Exact distance from each point to its triangle (Ericson, Real-Time Collision Detection 5.1.5).

    Shapes: ``p, a, b, c: (N, 3) -> (N,)``. Degenerate triangles give the distance to their nearest
    corner.
    """
    ab, ac, ap = b - a, c - a, p - a
    bp, cp = p - b, p - c
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        q = a + ab * (vb / denom)[:, None] + ac * (vc / denom)[:, None]  # inside the face
        bc_t = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        ac_t = d2 / (d2 - d6)
        ab_t = d1 / (d1 - d3)
    # Ericson's regions, the first that holds wins: apply them from the last to the first
    regions = [
        ((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), b + (c - b) * bc_t[:, None]),
        ((vb <= 0) & (d2 >= 0) & (d6 <= 0), a + ac * ac_t[:, None]),
        ((d6 >= 0) & (d5 <= d6), c),
        ((vc <= 0) & (d1 >= 0) & (d3 <= 0), a + ab * ab_t[:, None]),
        ((d3 >= 0) & (d4 <= d3), b),
        ((d1 <= 0) & (d2 <= 0), a),
    ]
    for cond, point in regions:
        q = np.where(cond[:, None], point, q)
    d = np.linalg.norm(p - q, axis=1)
    bad = ~np.isfinite(d)
    if bad.any():
        corners = np.stack([np.linalg.norm(p[bad] - x[bad], axis=1) for x in (a, b, c)], axis=1)
        d[bad] = corners.min(axis=1)
    return d


def _sample(v: np.ndarray, f: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` area-weighted points on the surface plus up to ``n`` of its vertices. Shapes: ``-> (M, 3)``."""
    tri = v[f]  # (F, 3, 3)
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    total = area.sum()
    p = area / total if total > 0 else np.full(len(f), 1.0 / len(f))
    fi = np.minimum(np.searchsorted(np.cumsum(p), rng.random(n) * np.sum(p)), len(f) - 1)
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    w = np.stack([1 - s, s * (1 - r2), s * r2], axis=1)  # (n, 3) barycentric, uniform on the triangle
    pts = np.einsum("nk,nkd->nd", w, tri[fi])
    used = np.flatnonzero(np.bincount(f.reshape(-1), minlength=len(v)))
    if len(used) > n:
        used = rng.choice(used, size=n, replace=False)
    return np.concatenate([pts, v[used]])


def _templates(level: int) -> np.ndarray:
    """Barycentric corners of the ``4**level`` midpoint sub-triangles of a triangle.

    Shapes: ``-> (T, 3, 3)``.
    """
    tri = np.eye(3)[None]  # (1, 3 corners, 3 weights)
    for _ in range(level):
        a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
        ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
        tri = np.concatenate([np.stack(t, 1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
    return tri


def _small_triangles(tri: np.ndarray, diag: float) -> np.ndarray:
    """The same surface as ``tri`` ``(F, 3, 3)``, with large faces split so that the search stays local."""
    radius = np.linalg.norm(tri - tri.mean(axis=1, keepdims=True), axis=2).max(axis=1)
    r0 = max(float(np.percentile(radius, 75)), diag / 50.0, 1e-12)
    level = np.clip(np.ceil(np.log2(np.maximum(radius / r0, 1.0))), 0, 5).astype(np.int64)
    parts = [tri[level == 0]]
    for lv in range(1, int(level.max()) + 1):
        sel = tri[level == lv]
        if len(sel):
            parts.append(np.einsum("tkw,fwd->ftkd", _templates(lv), sel).reshape(-1, 3, 3))
    return np.concatenate(parts)


def _distance_to_surface(pts: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Exact distance from each point to the triangles ``tri`` ``(F, 3, 3)``. Shapes: ``(N, 3) -> (N,)``."""
    cen = tri.mean(axis=1)  # (F, 3)
    radius = float(np.linalg.norm(tri - cen[:, None], axis=2).max())
    tree = cKDTree(cen)
    k = min(8, len(tri))
    _, near = tree.query(pts, k=k)
    near = near.reshape(len(pts), k)
    rows = np.repeat(np.arange(len(pts)), k)
    d = point_triangle_distance(pts[rows], *(tri[near.reshape(-1), i] for i in range(3))).reshape(-1, k)
    best = d.min(axis=1)
    # any face that could be nearer has its centroid within best + radius: check those too
    cand = tree.query_ball_point(pts, best + radius, return_sorted=False)
    counts = np.fromiter((len(c) for c in cand), dtype=np.int64, count=len(pts))
    more = np.flatnonzero(counts > k)
    for chunk in np.array_split(more, max(1, int(counts[more].sum()) // 2_000_000 + 1)):
        if len(chunk) == 0:
            continue
        faces = np.concatenate([np.asarray(cand[i], dtype=np.int64) for i in chunk])
        rows = np.repeat(chunk, counts[chunk])
        dd = point_triangle_distance(pts[rows], *(tri[faces, i] for i in range(3)))
        starts = np.concatenate([[0], np.cumsum(counts[chunk])[:-1]])
        best[chunk] = np.minimum(best[chunk], np.minimum.reduceat(dd, starts))
    return best


def surface_distance(
    v_a: np.ndarray,
    f_a: np.ndarray,
    v_b: np.ndarray,
    f_b: np.ndarray,
    *,
    samples: int = FIDELITY_SAMPLES,
    seed: int = 0,
) -> Fidelity:
    """Two-sided Hausdorff and mean surface distance of surface B from surface A.

    Args:
        v_a: ``(V, 3)`` vertices of the reference (input) mesh; its diagonal is the unit.
        f_a: ``(F, 3)`` its faces.
        v_b: ``(V', 3)`` vertices of the other (simplified) mesh.
        f_b: ``(F', 3)`` its faces.
        samples: area-weighted points sampled on each surface (its vertices are added).
        seed: the sampling seed (the result is deterministic).

    Returns:
        A :class:`Fidelity` whose distances are shares of A's bounding-box diagonal.
    """
    v_a, v_b = np.asarray(v_a, np.float64), np.asarray(v_b, np.float64)
    f_a, f_b = np.asarray(f_a, np.int64), np.asarray(f_b, np.int64)
    used = v_a[np.bincount(f_a.reshape(-1), minlength=len(v_a)) > 0]
    diag = float(np.linalg.norm(used.max(axis=0) - used.min(axis=0))) or 1.0
    rng = np.random.default_rng(seed)
    a_to_b = _distance_to_surface(_sample(v_a, f_a, samples, rng), _small_triangles(v_b[f_b], diag))
    b_to_a = _distance_to_surface(_sample(v_b, f_b, samples, rng), _small_triangles(v_a[f_a], diag))
    haus = max(float(a_to_b.max()), float(b_to_a.max()))
    mean = 0.5 * (float(a_to_b.mean()) + float(b_to_a.mean()))
    return Fidelity(haus / diag, mean / diag, samples)
