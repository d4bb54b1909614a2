"""The size a model expects: MeshCNN's edge features depend on how large a mesh is.

MeshCNN divides by ``norm + 0.1`` where it normalizes face normals and edge lengths (its
``fixed_division``), so its features are not scale-invariant: on a mesh a few units across, every
face normal is shortened and the dihedral angle reads about 90 degrees everywhere; on a mesh 30
units across, the features are the true angles and ratios. A model only knows the sizes of its
training meshes: SHREC-16 has a bounding-box diagonal of about 2, the COSEG vases about 37.
:class:`InputSize` holds the range of the training meshes' diagonals (stored in a checkpoint under
``"input_size"``) and :func:`fit_size` scales a mesh that lies well outside it to the training
meshes' median diagonal: a scale about the bounding-box center, which changes no angle or ratio,
only how MeshCNN's ``+ 0.1`` weighs them. Sizes are measured on the vertices the faces use.

A data set may come in separate sizes: 41 of the 381 human-body training meshes (the ``adobe``
ones) are 203-327 units across, the rest 1.6-2.5. Sorted training diagonals more than
:data:`GROUP_GAP` apart split into groups (:attr:`InputSize.groups`); a mesh is left as it is when
one group accepts it, else scaled to the median of the group nearest its size (on a log scale), so a
30-unit mesh goes to the adobe meshes' size and a 6-unit one to the others'.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import MeshError
from .io import Mesh, load_mesh

__all__ = [
    "InputSize", "TOLERANCE", "PLAUSIBLE", "GROUP_GAP", "MAX_GROUPS", "used_diagonal", "input_size_of",
    "input_size_of_files", "fit_size", "shared_size",
]

#: A mesh whose diagonal is within ``[low / TOLERANCE, high * TOLERANCE]`` is left as it is: data-set
#: meshes then go in unchanged (the app's numbers match ``evaluate``'s), and a 25% size change moves
#: MeshCNN's features far less than the 18x between a 2-unit sample and a 37-unit vase.
TOLERANCE = 1.25
#: Diagonals a checkpoint may state (anything else is a broken or hostile file, not a mesh size).
PLAUSIBLE = (1e-6, 1e6)
#: Sorted training diagonals farther apart than this factor start a new size group.
GROUP_GAP = 2.0
#: Most size groups a checkpoint may state.
MAX_GROUPS = 16
_KEYS = {"low", "median", "high", "meshes"}


@dataclass(frozen=True)
class InputSize:
    """Bounding-box diagonals of a model's training meshes.

    Attributes:
        low, median, high: the smallest, median and largest diagonal.
        meshes: how many meshes they were measured on.
        groups: when the diagonals fall apart into sizes more than :data:`GROUP_GAP` apart, one
            :class:`InputSize` per group (smallest first, without groups of their own); else empty.
    """

    low: float
    median: float
    high: float
    meshes: int
    groups: tuple[InputSize, ...] = ()

    def __post_init__(self) -> None:
        values = (self.low, self.median, self.high)
        lo, hi = PLAUSIBLE
        if not all(np.isfinite(values)) or not lo <= self.low <= self.median <= self.high <= hi:
            raise ValueError(f"need {lo:g} <= low <= median <= high <= {hi:g}, got {values}")
        if self.meshes < 1:
            raise ValueError(f"meshes must be at least 1, got {self.meshes}")
        g = self.groups
        if not g:
            return
        if not 2 <= len(g) <= MAX_GROUPS or any(x.groups for x in g):
            raise ValueError(f"groups must be 2 to {MAX_GROUPS} plain sizes, got {len(g)}")
        apart = all(a.high < b.low for a, b in zip(g, g[1:]))
        if not apart or g[0].low != self.low or g[-1].high != self.high:
            raise ValueError("groups must be apart, smallest first, and span low to high")

    def parts(self) -> tuple[InputSize, ...]:
        """The size groups, or this size alone."""
        return self.groups or (self,)

    def accepts(self, d: float) -> bool:
        """Whether a mesh of diagonal ``d`` is close enough to the training sizes to go in unscaled."""
        return any(g.low / TOLERANCE <= d <= g.high * TOLERANCE for g in self.parts())

    def nearest(self, d: float) -> InputSize:
        """The group whose range is nearest ``d`` on a log scale (this size when there are no groups)."""
        return min(self.parts(), key=lambda g: max(np.log(g.low / d), np.log(d / g.high), 0.0))

    def to_dict(self) -> dict:
        """The checkpoint form (plain floats and ints; ``groups`` only when there are some)."""
        out = {"low": self.low, "median": self.median, "high": self.high, "meshes": self.meshes}
        if self.groups:
            out["groups"] = [g.to_dict() for g in self.groups]
        return out

    @classmethod
    def from_dict(cls, raw: object, *, _nested: bool = False) -> InputSize | None:
        """Read the checkpoint form; None when absent.

        Raises:
            ValueError: present but malformed.
        """
        if raw is None and not _nested:
            return None
        allowed = _KEYS if _nested else _KEYS | {"groups"}
        if not isinstance(raw, dict) or not _KEYS <= set(raw) <= allowed:
            raise ValueError(f"input_size must hold low, median, high and meshes, got {raw!r}"[:200])
        floats = [raw[k] for k in ("low", "median", "high")]
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in floats):
            raise ValueError("input_size's low, median and high must be numbers")
        if type(raw["meshes"]) is not int:
            raise ValueError("input_size's meshes must be a whole number")
        groups = raw.get("groups", [])
        if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
            raise ValueError(f"input_size's groups must be a list of at most {MAX_GROUPS} sizes")
        parts = tuple(cls.from_dict(g, _nested=True) for g in groups)
        return cls(*(float(x) for x in floats), raw["meshes"], parts)


def used_diagonal(mesh: Mesh) -> float | None:
    """Bounding-box diagonal of the vertices the faces use; None if there are none, or flat, or not finite."""
    return _extent(mesh.vertices[np.unique(mesh.faces)]) if len(mesh.faces) else None  # no stray vertices


def _extent(points: np.ndarray) -> float | None:
    """Bounding-box diagonal of ``points`` ``(n, 3)``, n > 0; None when flat to a point or not finite."""
    d = float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))
    return d if np.isfinite(d) and d > 0 else None


def _plain(d: np.ndarray) -> InputSize:
    return InputSize(float(d.min()), float(np.median(d)), float(d.max()), int(len(d)))


def input_size_of(diagonals: Sequence[float]) -> InputSize:
    """The :class:`InputSize` of meshes with these bounding-box diagonals (grouped, see the module).

    Raises:
        ValueError: no diagonal, or one that is not a positive number.
    """
    d = np.sort(np.asarray(diagonals, dtype=np.float64).reshape(-1))
    if not len(d) or not np.isfinite(d).all() or (d <= 0).any():
        raise ValueError("need at least one positive, finite diagonal")
    cuts = np.flatnonzero(d[1:] > GROUP_GAP * d[:-1]) + 1  # where a gap starts a new group
    groups = tuple(_plain(g) for g in np.split(d, cuts)) if 0 < len(cuts) < MAX_GROUPS else ()
    return InputSize(float(d[0]), float(np.median(d)), float(d[-1]), int(len(d)), groups)


def input_size_of_files(paths: Iterable[str | os.PathLike]) -> InputSize:
    """The :class:`InputSize` of mesh files (e.g. a training split), read as MeshCNN reads them.

    Raises:
        MeshError: a file cannot be read.
        ValueError: no files.
    """
    sizes = [used_diagonal(load_mesh(p)) for p in paths]
    return input_size_of([d for d in sizes if d is not None])


def shared_size(sizes: Sequence[InputSize | None]) -> InputSize | None:
    """The sizes every model of a group accepts (None when no model says), for one shared mesh.

    The ranges (each model's groups) are intersected; each overlap's median is the mean of the two
    medians it comes from, clipped into it.

    Raises:
        MeshError: the models were trained on meshes of sizes that no mesh suits at once.
    """
    known = [s for s in sizes if s is not None]
    if not known:
        return None
    if len(known) == 1:
        return known[0]
    common = list(known[0].parts())
    for other in known[1:]:
        common = [
            InputSize(
                max(a.low, b.low),
                float(np.clip((a.median + b.median) / 2, max(a.low, b.low), min(a.high, b.high))),
                min(a.high, b.high),
                min(a.meshes, b.meshes),
            )
            for a in common
            for b in other.parts()
            if max(a.low, b.low) <= min(a.high, b.high)
        ]
        if not common:  # no training size in common: the models would each need another mesh
            raise MeshError(
                f"these models were trained on meshes of different sizes (bounding-box diagonals "
                f"{', '.join(f'{s.median:.3g}' for s in known)}), so no one mesh suits them all"
            )
    if len(common) == 1:
        return common[0]
    if len(common) > MAX_GROUPS:
        raise MeshError(
            f"these models' training sizes overlap in {len(common)} separate ranges, more than the "
            f"{MAX_GROUPS} a shared size may have: compare fewer models at once"
        )
    biggest = max(common, key=lambda g: g.meshes)
    return InputSize(common[0].low, biggest.median, common[-1].high, biggest.meshes, tuple(common))


def fit_size(mesh: Mesh, size: InputSize | None) -> tuple[Mesh, str | None]:
    """``mesh`` scaled to the nearest group's median when its diagonal is outside what ``size`` accepts.

    Returns the mesh (the same object when nothing changed; else with the sentence added to its
    ``notes``) and a sentence saying what was done, or None. The scale is about the bounding-box
    center, so the mesh stays where it was.
    """
    if size is None or not len(mesh.faces):
        return mesh, None
    used = mesh.vertices[np.unique(mesh.faces)]  # (V', 3): stray vertices do not count
    d = _extent(used)
    if d is None or size.accepts(d):  # nothing to measure (checked elsewhere), or close enough
        return mesh, None
    target = size.nearest(d)
    factor = target.median / d
    center = (used.min(axis=0) + used.max(axis=0)) / 2  # (3,)
    typical = "the typical size of the training meshes"
    if size.groups:
        ranges = ", ".join(f"{g.low:.3g}-{g.high:.3g}" for g in size.groups)
        typical = f"the typical size of the nearest of the training meshes' sizes ({ranges})"
    words = (
        f"scaled by {factor:.3g} to a bounding-box diagonal of {target.median:.3g}, {typical} "
        f"(it was {d:.3g}; MeshCNN's edge features depend on a mesh's size)"
    )
    scaled = Mesh((mesh.vertices - center) * factor + center, mesh.faces, mesh.name, (*mesh.notes, words))
    return scaled, words
