"""What a repair step did, as data: :class:`RepairAction` (kind, count, where, words).

Every step of :mod:`meshcnn_core.mesh.cleanup`, :mod:`meshcnn_core.mesh.simplify` and
:mod:`meshcnn_core.mesh.repair` returns one (or ``None`` when it changed nothing); the messages a
user reads are the actions' ``words``, and summaries are built from their ``kind`` and ``count``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

import numpy as np

__all__ = ["ActionKind", "RepairAction", "StepResult", "action"]


class ActionKind(str, Enum):
    """The kinds of repair action, one per step (the value is a stable machine-readable name)."""

    UNUSED_VERTICES = "unused_vertices"
    NONFINITE = "nonfinite"
    MERGE_VERTICES = "merge_vertices"
    REPEATED_CORNER = "repeated_corner"
    DEGENERATE = "degenerate"
    DUPLICATE_FACES = "duplicate_faces"
    NONMANIFOLD_EDGES = "nonmanifold_edges"
    BOWTIES = "bowties"
    COMPONENTS = "components"
    ORIENTATION = "orientation"
    OPEN_BORDERS = "open_borders"
    HOLES_FILLED = "holes_filled"
    OUTWARD = "outward"
    SUBDIVIDE = "subdivide"
    SIMPLIFY = "simplify"
    AFTER_SIMPLIFY = "after_simplify"
    FIDELITY = "fidelity"
    SUMMARY = "summary"


@dataclass(frozen=True)
class RepairAction:
    """One thing a repair step did (or checked).

    Attributes:
        kind: which step.
        count: how many items it changed (faces, vertices, edges, pieces, holes: see ``words``).
        words: the sentence shown to the user.
        where: up to three ``(x, y, z)`` points near where it happened (may be empty).
    """

    kind: ActionKind
    count: int
    words: str
    where: tuple[tuple[float, float, float], ...] = ()


def action(kind: ActionKind, count: int, words: str, where: np.ndarray | None = None) -> RepairAction:
    """A :class:`RepairAction`; ``where`` is ``(K, 3)`` points, of which the first three are kept."""
    pts = (
        ()
        if where is None
        else tuple(tuple(float(c) for c in p) for p in np.asarray(where).reshape(-1, 3)[:3])
    )
    return RepairAction(kind, int(count), words, pts)


class StepResult(NamedTuple):
    """A step's output: the new arrays and what it did (``None``: nothing changed).

    Shapes: ``vertices (V, 3)``, ``faces (F, 3)``.
    """

    vertices: np.ndarray
    faces: np.ndarray
    action: RepairAction | None
