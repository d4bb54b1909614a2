"""Decimating a generated mesh to a MeshCNN input size: closed, manifold, one piece, ``lo..hi`` edges.

The generators (:mod:`.cubes`, :mod:`.vase_shape`) build fine meshes with boolean operations and
then need them at exactly a model's input size, checked as the app would check them. The loop
here halves the face count (cleaning each pass), then aims a few passes at the target; each
generator pins its decimation ``method`` so that its triangulations do not follow the app's
default simplifier.
"""

from __future__ import annotations

import numpy as np

from ..errors import MeshCNNError
from ..mesh.io import Mesh
from ..mesh.repair import preflight
from ..mesh.simplify import decimate

__all__ = ["clean_closed", "decimate_to_edges"]


def clean_closed(v: np.ndarray, f: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`preflight` without resizing: the cleanup, and a closed, manifold, one-piece check.

    Shapes: ``(V, 3), (F, 3) -> (V', 3), (F', 3), edges``.

    Raises:
        MeshCNNError: the mesh is not sound (the message says why).
    """
    res = preflight(Mesh(v, f, name), component="refuse", measure=False)
    return res.mesh.vertices, res.mesh.faces, res.num_edges


def decimate_to_edges(
    v: np.ndarray, f: np.ndarray, name: str, *, lo: int, hi: int, method: str, passes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Quadric decimation of a closed mesh to ``lo..hi`` edges, each pass cleaned and checked.

    Halvings first while the mesh has over four times the target's faces, then up to ``passes``
    passes from the last halving whose face count is corrected by the edges each pass gave.

    Raises:
        MeshCNNError: no pass landed in ``lo..hi``.
    """
    goal = 2 * (hi // 3)  # faces of a closed genus-0 mesh with ``hi`` edges
    while len(f) > 4 * goal:
        v, f, _ = clean_closed(*decimate(v, f, len(f) // 2, method=method), name)
    count = goal
    for _ in range(passes):
        try:
            v2, f2, e = clean_closed(*decimate(v, f, count, method=method), name)
        except MeshCNNError:
            count -= 2
            continue
        if lo <= e <= hi:
            return v2, f2
        count += 2 * ((hi - e) // 3) if e < hi else -2 * -(-(e - hi) // 3)
    raise MeshCNNError(f"{name}: decimation did not land between {lo} and {hi} edges")
