"""Where on a shape an edge lies, independent of pose: a normalized geodesic eccentricity per edge.

An edge's *eccentricity* is the mean geodesic distance (shortest paths along the mesh's edges, each
weighted by its length) from its two vertices to every vertex of the mesh, each vertex weighted by
its area (a third of its faces' areas, so an unevenly tessellated part does not count more). It is
rescaled per mesh to [0, 1]: 0 for the most central edge, 1 for the edge at the farthest tip (a
head, a leg, a tail, a finger). Bending a shape (the poses of one SHREC class) barely changes
distances along its surface, so the same part gets about the same value in every pose, where
Euclidean distances would not.

A mesh in several pieces: distances between pieces are infinite, so the measure is taken on the
largest piece (most vertex area) only; edges of the other pieces get nan and are left out.

:func:`region_bins` cuts the value into thirds of its range (:data:`REGION_BINS`: core, middle,
extremities); :func:`region_counts` counts edges per bin; :func:`region_stats` adds the counts of
many meshes up per class into the share of the last pooled stage's edges per bin against the input
share (an enrichment) and how consistent that is across a class's meshes.

Why thirds of the range and not quantiles: the value means "how far out, from the most central
edge to the farthest tip", the same on every mesh of a class. Quantile bins would put a fixed share
of every mesh (say its outer 25%) into "extremities" whether the shape has long limbs or none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, shortest_path

__all__ = [
    "REGION_BINS", "REGION_NAMES", "RegionStats", "geodesic_eccentricity", "region_bins", "region_counts",
    "region_bin_labels", "region_stats",
]

#: Cut points of the normalized eccentricity (0 = most central edge, 1 = farthest tip).
REGION_BINS = (0.0, 1 / 3, 2 / 3, 1.0)
#: Names of the bins, central to remote.
REGION_NAMES = ("core", "middle", "extremities")


def _vertex_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``(V,)`` a third of the area of each vertex's faces. Shapes: ``(V, 3)``, ``(F, 3)`` -> ``(V,)``."""
    area = np.zeros(len(vertices))
    if len(faces):
        a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]  # (F, 3) each
        n = np.cross(b - a, c - a)  # (F, 3)
        np.add.at(area, faces.reshape(-1), np.repeat(np.linalg.norm(n, axis=1) / 6.0, 3))  # (F,) / 2 / 3
    return area


def geodesic_eccentricity(vertices: np.ndarray, faces: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each edge's mean geodesic distance to the mesh, rescaled per mesh to [0, 1].

    Args:
        vertices: ``(V, 3)`` positions.
        faces: ``(F, 3)`` vertex ids (for the vertex areas; with no face area every vertex weighs 1).
        edges: ``(E, 2)`` vertex ids; the graph the distances run along.

    Returns:
        ``(E,)`` float64: 0 for the most central edge, 1 for the most remote one; nan for edges
        outside the largest piece. All zero when every edge of that piece is equally central.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    nv = len(v)
    out = np.full(len(e), np.nan)
    if nv == 0 or len(e) == 0:
        return out
    length = np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1)  # (E,)
    length = np.maximum(length, 1e-12 * max(float(length.max()), 1e-300))  # 0 would mean "no edge"
    graph = coo_matrix((length, (e[:, 0], e[:, 1])), shape=(nv, nv)).tocsr()  # (V, V)
    _, piece = connected_components(graph, directed=False)  # (V,)
    weight = _vertex_areas(v, f)  # (V,)
    if weight.sum() <= 0:
        weight = np.ones(nv)
    in_edges = np.zeros(nv, dtype=bool)
    in_edges[e.reshape(-1)] = True
    main = np.argmax(np.bincount(piece[in_edges], weights=weight[in_edges] + 1e-300))
    idx = np.flatnonzero(piece == main)  # (Vm,) vertices of the largest piece
    w = weight[idx] if weight[idx].sum() > 0 else np.ones(len(idx))
    dist = shortest_path(graph, method="D", directed=False, indices=idx)[:, idx]  # (Vm, Vm)
    ecc_v = np.full(nv, np.nan)
    ecc_v[idx] = dist @ (w / w.sum())  # (Vm,)
    on = piece[e[:, 0]] == main  # (E,) both ends share a piece
    ecc = 0.5 * (ecc_v[e[on, 0]] + ecc_v[e[on, 1]])
    span = ecc.max() - ecc.min()
    out[on] = (ecc - ecc.min()) / span if span > 0 else 0.0
    return out


def region_bin_labels() -> list[str]:
    """Names of the region bins with their ranges, central to remote (``"core 0.00-0.33"``, ...)."""
    b = REGION_BINS
    return [f"{n} {b[i]:.2f}-{b[i + 1]:.2f}" for i, n in enumerate(REGION_NAMES)]


def region_bins(eccentricity: np.ndarray) -> np.ndarray:
    """``(E,)`` int bin of each edge (0 = core .. 2 = extremities; -1 for nan)."""
    x = np.asarray(eccentricity, dtype=np.float64)
    idx = np.clip(np.searchsorted(REGION_BINS, x, side="right") - 1, 0, len(REGION_BINS) - 2)
    return np.where(np.isfinite(x), idx, -1)


def region_counts(eccentricity: np.ndarray) -> np.ndarray:
    """``(R,)`` int64 edges per region bin (nan left out)."""
    b = region_bins(eccentricity)
    return np.bincount(b[b >= 0], minlength=len(REGION_NAMES)).astype(np.int64)


@dataclass(frozen=True)
class RegionStats:
    """Per class, where on the shapes the last pooled stage's edges lie (see the module docstring).

    Attributes:
        input: ``(C, R)`` share of the class's input edges per region bin (counts over its meshes).
        kept: ``(C, R)`` the same for the edges the last pooled stage kept.
        enrichment: ``(C, R)`` ``kept / input``: above 1 a region is kept more than its share.
        drop: ``(C,)`` share of the class's meshes whose extremity share drops (own enrichment < 1).
        std: ``(C,)`` standard deviation over the class's meshes of their extremity enrichment.
        meshes: ``(C,)`` int meshes counted (those with extremity edges at the input).

    nan where a class has no mesh (``std``: fewer than two).
    """

    input: np.ndarray
    kept: np.ndarray
    enrichment: np.ndarray
    drop: np.ndarray
    std: np.ndarray
    meshes: np.ndarray


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.full(np.broadcast_shapes(num.shape, den.shape), np.nan), where=den > 0)


def region_stats(labels: np.ndarray, inputs: np.ndarray, kept: np.ndarray, nclasses: int) -> RegionStats:
    """Add per-mesh region counts up per class.

    Args:
        labels: ``(M,)`` class of each mesh.
        inputs: ``(M, R)`` input edges per region bin of each mesh.
        kept: ``(M, R)`` the last pooled stage's edges per region bin of each mesh.
        nclasses: ``C``.
    """
    r = len(REGION_NAMES)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    inputs = np.asarray(inputs, dtype=np.float64).reshape(-1, r)
    kept = np.asarray(kept, dtype=np.float64).reshape(-1, r)
    c_in = np.zeros((nclasses, r))
    c_kept = np.zeros((nclasses, r))
    np.add.at(c_in, labels, inputs)
    np.add.at(c_kept, labels, kept)
    share_in = _ratio(c_in, c_in.sum(1, keepdims=True))  # (C, R)
    share_kept = _ratio(c_kept, c_kept.sum(1, keepdims=True))  # (C, R)
    per_mesh = _ratio(_ratio(kept, kept.sum(1, keepdims=True)), _ratio(inputs, inputs.sum(1, keepdims=True)))
    ext = per_mesh[:, -1]  # (M,) each mesh's extremity enrichment
    drop, std, meshes = np.full(nclasses, np.nan), np.full(nclasses, np.nan), np.zeros(nclasses, np.int64)
    for c in range(nclasses):
        x = ext[(labels == c) & np.isfinite(ext)]
        meshes[c] = len(x)
        if len(x):
            drop[c] = float(np.mean(x < 1.0))
        if len(x) > 1:
            std[c] = float(np.std(x, ddof=1))
    return RegionStats(share_in, share_kept, _ratio(share_kept, share_in), drop, std, meshes)
