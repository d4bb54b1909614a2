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

A range cannot describe a data set of two sizes: 41 of the 381 human-body training meshes (the
``adobe`` ones) are 250-330 units across, the rest about 2, so that model's range 1.6-327 lets
every mesh in between go in unscaled.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import MeshError
from .io import Mesh, load_mesh

__all__ = [
    "InputSize", "TOLERANCE", "PLAUSIBLE", "used_diagonal", "input_size_of", "input_size_of_files",
    "fit_size", "shared_size",
]

#: A mesh whose diagonal is within ``[low / TOLERANCE, high * TOLERANCE]`` is left as it is: data-set
#: meshes then go in unchanged (the app's numbers match ``evaluate``'s), and a 25% size change moves
#: MeshCNN's features far less than the 18x between a 2-unit sample and a 37-unit vase.
TOLERANCE = 1.25
#: Diagonals a checkpoint may state (anything else is a broken or hostile file, not a mesh size).
PLAUSIBLE = (1e-6, 1e6)


@dataclass(frozen=True)
class InputSize:
    """Bounding-box diagonals of a model's training meshes.

    Attributes:
        low, median, high: the smallest, median and largest diagonal.
        meshes: how many meshes they were measured on.
    """

    low: float
    median: float
    high: float
    meshes: int

    def __post_init__(self) -> None:
        values = (self.low, self.median, self.high)
        lo, hi = PLAUSIBLE
        if not all(np.isfinite(values)) or not lo <= self.low <= self.median <= self.high <= hi:
            raise ValueError(f"need {lo:g} <= low <= median <= high <= {hi:g}, got {values}")
        if self.meshes < 1:
            raise ValueError(f"meshes must be at least 1, got {self.meshes}")

    def accepts(self, d: float) -> bool:
        """Whether a mesh of diagonal ``d`` is close enough to the training sizes to go in unscaled."""
        return self.low / TOLERANCE <= d <= self.high * TOLERANCE

    def to_dict(self) -> dict:
        """The checkpoint form (plain floats and an int)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: object) -> InputSize | None:
        """Read the checkpoint form; None when absent.

        Raises:
            ValueError: present but malformed.
        """
        if raw is None:
            return None
        if not isinstance(raw, dict) or set(raw) != {"low", "median", "high", "meshes"}:
            raise ValueError(f"input_size must hold low, median, high and meshes, got {raw!r}"[:200])
        floats = [raw[k] for k in ("low", "median", "high")]
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in floats):
            raise ValueError("input_size's low, median and high must be numbers")
        if type(raw["meshes"]) is not int:
            raise ValueError("input_size's meshes must be a whole number")
        return cls(*(float(x) for x in floats), raw["meshes"])


def used_diagonal(mesh: Mesh) -> float | None:
    """Bounding-box diagonal of the vertices the faces use; None if there are none, or flat, or not finite."""
    if not len(mesh.faces):
        return None
    used = mesh.vertices[np.unique(mesh.faces)]  # (V', 3): stray vertices do not count
    d = float(np.linalg.norm(used.max(axis=0) - used.min(axis=0)))
    return d if np.isfinite(d) and d > 0 else None


def input_size_of(diagonals: Sequence[float]) -> InputSize:
    """The :class:`InputSize` of meshes with these bounding-box diagonals.

    Raises:
        ValueError: no diagonal, or one that is not a positive number.
    """
    d = np.asarray(diagonals, dtype=np.float64).reshape(-1)
    if not len(d) or not np.isfinite(d).all() or (d <= 0).any():
        raise ValueError("need at least one positive, finite diagonal")
    return InputSize(float(d.min()), float(np.median(d)), float(d.max()), int(len(d)))


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

    The range is the intersection; its median the median of the models' medians, clipped into it.

    Raises:
        MeshError: the models were trained on meshes of sizes that no mesh suits at once.
    """
    known = [s for s in sizes if s is not None]
    if not known:
        return None
    low, high = max(s.low for s in known), min(s.high for s in known)
    if low > high:  # no training size in common: the models would each need another mesh
        raise MeshError(
            f"these models were trained on meshes of different sizes (bounding-box diagonals "
            f"{', '.join(f'{s.median:.3g}' for s in known)}), so no one mesh suits them all"
        )
    median = float(np.clip(np.median([s.median for s in known]), low, high))
    return InputSize(low, median, high, min(s.meshes for s in known))


def fit_size(mesh: Mesh, size: InputSize | None) -> tuple[Mesh, str | None]:
    """``mesh`` scaled to ``size.median`` when its diagonal is outside what ``size`` accepts.

    Returns the mesh (the same object when nothing changed; else with the sentence added to its
    ``notes``) and a sentence saying what was done, or None. The scale is about the bounding-box
    center, so the mesh stays where it was.
    """
    if size is None:
        return mesh, None
    d = used_diagonal(mesh)
    if d is None or size.accepts(d):  # nothing to measure (checked elsewhere), or close enough
        return mesh, None
    factor = size.median / d
    used = mesh.vertices[np.unique(mesh.faces)]  # (V', 3)
    center = (used.min(axis=0) + used.max(axis=0)) / 2  # (3,)
    words = (
        f"scaled by {factor:.3g} to a bounding-box diagonal of {size.median:.3g}, the typical size of the "
        f"training meshes (it was {d:.3g}; MeshCNN's edge features depend on a mesh's size)"
    )
    scaled = Mesh((mesh.vertices - center) * factor + center, mesh.faces, mesh.name, (*mesh.notes, words))
    return scaled, words
