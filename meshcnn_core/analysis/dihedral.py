"""The true dihedral angle of each edge (180 degrees = flat) and its bins, sharp to flat.

The surveys bin edges by this angle to say which geometry a model keeps. It is the angle between the
two faces on the mesh, not MeshCNN's first feature, which its ``+ 0.1`` in the normal's division
pulls towards 90 degrees on small meshes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DIHEDRAL_BINS_DEG", "dihedral_bin_labels", "dihedral_angles", "dihedral_bin_counts"]

#: Bin edges of the dihedral angle (degrees, 180 = flat), sharp to flat.
DIHEDRAL_BINS_DEG = (0.0, 120.0, 150.0, 165.0, 175.0, 180.0)


def dihedral_bin_labels() -> list[str]:
    """Names of the dihedral-angle bins, sharp to flat."""
    b = DIHEDRAL_BINS_DEG
    return [f"{b[i]:g}-{b[i + 1]:g} deg" for i in range(len(b) - 1)]


def dihedral_angles(vertices: np.ndarray, faces: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The angle between the two faces of each edge (pi = flat), from unit face normals.

    Faces are taken as oriented consistently; an edge with one face (a boundary) gets nan.

    Shapes: vertices ``(V, 3)``, faces ``(F, 3)``, edges ``(E, 2)`` -> ``(E,)`` float64 radians.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # (F, 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = n / np.linalg.norm(n, axis=1, keepdims=True)
    nv = len(v)
    pairs = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])  # (3F, 2)
    keys = pairs.min(1) * nv + pairs.max(1)  # (3F,)
    owner = np.tile(np.arange(len(f)), 3)  # (3F,)
    order = np.argsort(keys, kind="stable")
    keys, owner = keys[order], owner[order]
    e = np.asarray(edges, dtype=np.int64)
    want = e.min(1) * nv + e.max(1)  # (E,)
    first = np.searchsorted(keys, want)  # (E,)
    second = np.minimum(first + 1, len(keys) - 1)
    two = (second < len(keys)) & (keys[second] == want) & (second != first)
    f1, f2 = owner[np.minimum(first, len(keys) - 1)], owner[second]
    cos = np.clip(np.sum(n[f1] * n[f2], axis=1), -1.0, 1.0)
    return np.where(two, np.pi - np.arccos(cos), np.nan)


def dihedral_bin_counts(dihedral_rad: np.ndarray) -> np.ndarray:
    """``(B,)`` int64 edge counts per dihedral bin (nan left out); ``dihedral_rad`` ``(n,)``."""
    deg = np.degrees(np.asarray(dihedral_rad, dtype=np.float64))
    deg = deg[np.isfinite(deg)]
    idx = np.clip(np.searchsorted(DIHEDRAL_BINS_DEG, deg, side="right") - 1, 0, len(DIHEDRAL_BINS_DEG) - 2)
    return np.bincount(idx, minlength=len(DIHEDRAL_BINS_DEG) - 1).astype(np.int64)
