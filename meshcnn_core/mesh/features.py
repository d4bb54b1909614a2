"""MeshCNN's five input features per edge, numerically as the original computes them.

For edge ``e`` with end points ``a, b`` and opposite vertices ``c`` (first face) and ``d``
(second face), the features are

1. the dihedral angle between the two faces (``pi - arccos(n1 . n2)``),
2. 3. the two inner angles opposite the edge (at ``c`` and ``d``), sorted,
4. 5. the two height/base ratios of the faces, sorted.

The original divides by ``norm + 0.1`` in several places (its ``fixed_division``); we keep that,
since trained weights depend on it. All arithmetic is float64, like the original.
"""

from __future__ import annotations

import numpy as np

from ..errors import MeshError
from .topology import MeshTopology

__all__ = ["edge_points", "extract_features", "normalize_features", "pad_features"]

_EPS = 0.1


def edge_points(topo: MeshTopology) -> np.ndarray:
    """The four vertices around each edge in MeshCNN's order. Shapes: ``-> (E, 4)`` int64.

    Columns: the edge's two end points (ordered so that the first face walks from the first to
    the second), then the opposite vertex of the first and of the second face. A boundary edge
    uses its single face on both sides.
    """
    edges, gemm = topo.edges, topo.gemm
    g0 = np.where(gemm[:, 0] == -1, gemm[:, 2], gemm[:, 0])
    g1 = np.where(gemm[:, 0] == -1, gemm[:, 3], gemm[:, 1])
    g2 = np.where(gemm[:, 2] == -1, gemm[:, 0], gemm[:, 2])
    g3 = np.where(gemm[:, 2] == -1, gemm[:, 1], gemm[:, 3])
    ea, eb, ec, ed, ee = edges, edges[g0], edges[g1], edges[g2], edges[g3]

    def contains(pair: np.ndarray, v: np.ndarray) -> np.ndarray:
        return (pair[:, 0] == v) | (pair[:, 1] == v)

    first = contains(eb, ea[:, 1]).astype(np.int64)
    second = contains(ec, eb[:, 1]).astype(np.int64)
    third = contains(ee, ed[:, 1]).astype(np.int64)
    rows = np.arange(len(edges))
    return np.stack([ea[rows, first], ea[rows, 1 - first], eb[rows, second], ed[rows, third]], axis=1)


def _unit_by(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, ord=2, axis=1) + _EPS)[:, None]


def _normals(vs: np.ndarray, pts: np.ndarray, side: int) -> np.ndarray:
    s = side // 2
    a = vs[pts[:, s + 2]] - vs[pts[:, s]]
    b = vs[pts[:, 1 - s]] - vs[pts[:, s]]
    return _unit_by(np.cross(a, b))


def _opposite_angle(vs: np.ndarray, pts: np.ndarray, side: int) -> np.ndarray:
    s = side // 2
    a = _unit_by(vs[pts[:, s]] - vs[pts[:, s + 2]])
    b = _unit_by(vs[pts[:, 1 - s]] - vs[pts[:, s + 2]])
    return np.arccos(np.sum(a * b, axis=1).clip(-1, 1))


def _ratio(vs: np.ndarray, pts: np.ndarray, side: int) -> np.ndarray:
    s = side // 2
    p_a, p_b, p_o = vs[pts[:, s]], vs[pts[:, 1 - s]], vs[pts[:, s + 2]]
    base = np.linalg.norm(p_a - p_b, ord=2, axis=1)
    ab = p_b - p_a
    proj = np.sum(ab * (p_o - p_a), axis=1) / (np.linalg.norm(ab, ord=2, axis=1) + _EPS)
    foot = p_a + (proj / base)[:, None] * ab
    return np.linalg.norm(p_o - foot, ord=2, axis=1) / base


def extract_features(topo: MeshTopology) -> np.ndarray:
    """The 5 input features of every edge. Shapes: ``-> (5, E)`` float64.

    Raises:
        MeshError: an edge has zero length (the ratios are undefined).
    """
    vs = topo.positions
    pts = edge_points(topo)
    lengths = np.linalg.norm(vs[pts[:, 0]] - vs[pts[:, 1]], ord=2, axis=1)
    if (lengths == 0).any():
        raise MeshError(f"{int((lengths == 0).sum())} edges have zero length; merge duplicate vertices first")
    with np.errstate(divide="raise", invalid="raise"):
        try:
            dot = np.sum(_normals(vs, pts, 0) * _normals(vs, pts, 3), axis=1).clip(-1, 1)
            dihedral = np.pi - np.arccos(dot)
            angles = np.sort(np.stack([_opposite_angle(vs, pts, 0), _opposite_angle(vs, pts, 3)]), axis=0)
            ratios = np.sort(np.stack([_ratio(vs, pts, 0), _ratio(vs, pts, 3)]), axis=0)
        except FloatingPointError as exc:
            raise MeshError(f"edge features are undefined for this mesh ({exc}); repair the mesh") from None
    feats = np.concatenate([dihedral[None], angles, ratios], axis=0)
    if not np.isfinite(feats).all():
        raise MeshError("edge features are not finite for this mesh; repair the mesh")
    return feats


def pad_features(features: np.ndarray, num_edges: int) -> np.ndarray:
    """Zero-pad ``(C, E)`` features to ``(C, num_edges)`` (MeshCNN pads before normalizing)."""
    c, e = features.shape
    if e > num_edges:
        raise MeshError(
            f"the mesh has {e} edges, more than the model's {num_edges} input edges; simplify it first"
        )
    out = np.zeros((c, num_edges), dtype=features.dtype)
    out[:, :e] = features
    return out


def normalize_features(features: np.ndarray, mean: np.ndarray, std: np.ndarray, num_edges: int) -> np.ndarray:
    """Pad to ``num_edges`` then standardize, in float64, then cast: ``(5, E) -> (5, num_edges)`` float32.

    Padded columns therefore hold ``-mean / std``, as in the original.
    """
    padded = pad_features(features, num_edges)
    mean = np.asarray(mean, dtype=np.float64).reshape(-1, 1)
    std = np.asarray(std, dtype=np.float64).reshape(-1, 1)
    return ((padded - mean) / std).astype(np.float32)
