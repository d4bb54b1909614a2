"""Reading triangle meshes from disk into a plain ``(vertices, faces)`` value.

OBJ files are parsed here, in file order, exactly as MeshCNN reads them (``v`` and ``f`` lines,
1-based and negative indices, ``f 1/2/3`` forms), so that edge numbering, and with it the
``.eseg`` label files of MeshCNN's data sets, line up. Other formats (PLY, STL, OFF, GLB) go
through trimesh.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import MeshError

__all__ = ["Mesh", "load_mesh", "parse_obj", "MESH_SUFFIXES", "MAX_MESH_BYTES"]

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".off", ".glb", ".gltf")
MAX_MESH_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh as read from a file.

    Attributes:
        vertices: ``(V, 3)`` float64 positions.
        faces: ``(F, 3)`` int64 vertex ids.
        name: a display name (the file's stem).
        notes: what was done to the file while reading it (for the user to see).
    """

    vertices: np.ndarray
    faces: np.ndarray
    name: str = "mesh"
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        v = np.ascontiguousarray(self.vertices, dtype=np.float64)
        f = np.ascontiguousarray(self.faces, dtype=np.int64)
        if v.ndim != 2 or v.shape[1] != 3:
            raise MeshError(f"vertices must have shape (V, 3), got {v.shape}")
        if f.ndim != 2 or f.shape[1] != 3:
            raise MeshError(f"faces must be triangles with shape (F, 3), got {f.shape}")
        v.setflags(write=False)
        f.setflags(write=False)
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "faces", f)

    def content_hash(self) -> str:
        """A hash of the vertex and face arrays (not of the name)."""
        h = hashlib.blake2b(digest_size=16)
        h.update(np.asarray(self.vertices.shape, dtype=np.int64).tobytes())
        h.update(self.vertices.tobytes())
        h.update(self.faces.tobytes())
        return h.hexdigest()


def parse_obj(text: str, name: str = "mesh") -> Mesh:
    """Parse OBJ text into a :class:`Mesh`, keeping vertex and face order.

    Polygons with more than three corners are refused here (MeshCNN refuses them too); the
    repair step triangulates them.
    """
    vertices: list[list[float]] = []
    faces: list[list[int]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if not parts:
            continue
        tag = parts[0]
        if tag == "v":
            if len(parts) < 4:
                raise MeshError(f"{name}: line {lineno}: a vertex needs 3 coordinates")
            try:
                vertices.append([float(parts[1]), float(parts[2]), float(parts[3])])
            except ValueError:
                raise MeshError(f"{name}: line {lineno}: vertex coordinates are not numbers") from None
        elif tag == "f":
            try:
                ids = [int(c.split("/")[0]) for c in parts[1:]]
            except ValueError:
                raise MeshError(f"{name}: line {lineno}: face indices are not integers") from None
            if len(ids) != 3:
                raise MeshError(
                    f"{name}: line {lineno}: a face with {len(ids)} corners; MeshCNN needs triangles "
                    "(repair the mesh to triangulate it)"
                )
            nv = len(vertices)
            faces.append([(i - 1) if i >= 0 else (nv + i) for i in ids])
    if not vertices or not faces:
        raise MeshError(f"{name}: no triangles found (the file holds {len(vertices)} vertices, {len(faces)} faces)")
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if (f < 0).any() or (f >= len(v)).any():
        raise MeshError(f"{name}: a face refers to a vertex that does not exist")
    return Mesh(v, f, name)


def _load_with_trimesh(data: bytes, suffix: str, name: str) -> Mesh:
    import trimesh

    try:
        loaded = trimesh.load(
            trimesh.util.wrap_as_stream(data), file_type=suffix.lstrip("."), process=True, force="mesh"
        )
    except Exception as exc:  # trimesh raises many types for broken files
        raise MeshError(f"{name}: could not be read as {suffix.upper().lstrip('.')} ({type(exc).__name__}: {exc})") from None
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64)
    vertices = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float64)
    if len(faces) == 0:
        raise MeshError(f"{name}: no triangles found in the file")
    return Mesh(vertices, faces, name)


def load_mesh_bytes(data: bytes, filename: str) -> Mesh:
    """Read a mesh from bytes; ``filename`` only chooses the format and the display name."""
    suffix = Path(filename).suffix.lower()
    name = Path(filename).stem or "mesh"
    if suffix not in MESH_SUFFIXES:
        raise MeshError(f"{filename}: unsupported file type; use one of {', '.join(MESH_SUFFIXES)}")
    if len(data) == 0:
        raise MeshError(f"{filename}: the file is empty")
    if len(data) > MAX_MESH_BYTES:
        raise MeshError(f"{filename}: the file is larger than {MAX_MESH_BYTES // 2**20} MiB")
    if suffix == ".obj":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("latin-1")
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any bytes
                raise MeshError(f"{filename}: not a text OBJ file") from None
        if "\x00" in text:
            raise MeshError(f"{filename}: not a text OBJ file (it holds binary data)")
        return parse_obj(text, name)
    return _load_with_trimesh(data, suffix, name)


def load_mesh(path: str | os.PathLike) -> Mesh:
    """Read a mesh file (.obj, .ply, .stl, .off, .glb).

    Raises:
        MeshError: the file is missing, unreadable, empty or holds no triangles.
    """
    p = Path(path)
    if not p.is_file():
        raise MeshError(f"{p}: no such mesh file")
    if p.stat().st_size > MAX_MESH_BYTES:
        raise MeshError(f"{p}: the file is larger than {MAX_MESH_BYTES // 2**20} MiB")
    return load_mesh_bytes(p.read_bytes(), p.name)


__all__.append("load_mesh_bytes")
