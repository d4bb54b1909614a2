"""Reading MeshCNN's per-edge part labels: ``seg/<mesh>.eseg``, one whole number per edge.

The rows are in MeshCNN's edge order. Data sets, samples, the app and the benchmarks all read them here.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import MeshError

__all__ = ["read_eseg", "mesh_labels", "ESEG_ROW_BYTES"]

#: Bytes per row an ``.eseg`` file may take (``"1\n"`` is 2; MeshCNN writes small whole numbers).
ESEG_ROW_BYTES = 32


def read_eseg(path: str | os.PathLike, num_edges: int | None = None, *, mesh: str = "the mesh") -> np.ndarray:
    """``(E,)`` int64 label values of an ``.eseg`` file.

    Args:
        path: the file.
        num_edges: the mesh's edge count, when known: the file must have as many rows, and a file
            far larger than that needs is not read at all.
        mesh: how messages name the mesh (``"test/t1.obj"``).

    Raises:
        MeshError: unreadable, not whole numbers of a sane size, or not ``num_edges`` rows.
    """
    path = Path(path)
    try:
        too_big = num_edges is not None and path.stat().st_size > ESEG_ROW_BYTES * max(num_edges, 1)
    except OSError as exc:
        raise MeshError(f"{path.name}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if too_big:
        raise MeshError(f"{path.name}: far too large for {num_edges} labels, one per edge")
    try:
        with warnings.catch_warnings():  # an empty file: no rows (a length mismatch below), not a warning
            warnings.simplefilter("ignore", UserWarning)
            values = np.loadtxt(path, dtype=np.float64, ndmin=1).reshape(-1)
    except OSError as exc:
        raise MeshError(f"{path.name}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    except ValueError:
        raise MeshError(f"{path.name}: not a list of numbers, one label per edge") from None
    sane = np.isfinite(values).all() and (np.abs(values) <= 2**31 - 1).all()
    if not sane or (values != np.round(values)).any():
        raise MeshError(f"{path.name}: labels must be whole numbers, one per edge")
    if num_edges is not None and len(values) != num_edges:
        raise MeshError(
            f"{path.name} has {len(values)} labels but {mesh} has {num_edges} edges: the label file does "
            "not match the mesh (one label per edge, in MeshCNN's order)"
        )
    return values.astype(np.int64)


def mesh_labels(
    root: str | os.PathLike, mesh_path: str | os.PathLike, num_edges: int | None = None
) -> np.ndarray:
    """The labels of a data set's mesh: ``root/seg/<stem>.eseg`` (see :func:`read_eseg`).

    Raises:
        MeshError: no such file, or :func:`read_eseg`'s.
    """
    mesh_path = Path(mesh_path)
    seg = Path(root) / "seg" / f"{mesh_path.stem}.eseg"
    if not seg.is_file():
        raise MeshError(f"{mesh_path.name}: no label file seg/{seg.name}")
    return read_eseg(seg, num_edges, mesh=f"{mesh_path.parent.name}/{mesh_path.name}")
