"""Reading triangle meshes from disk into a plain ``(vertices, faces)`` value.

OBJ files are parsed here, in file order, exactly as MeshCNN reads them (``v`` and ``f`` lines,
1-based and negative indices, ``f 1/2/3`` forms), so that edge numbering, and with it the
``.eseg`` label files of MeshCNN's data sets, line up. Other formats (PLY, STL, OFF, GLB) go
through trimesh.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MeshError

__all__ = [
    "Mesh", "load_mesh", "load_mesh_bytes", "parse_obj", "write_obj", "obj_text", "safe_name",
    "MESH_SUFFIXES", "MAX_MESH_BYTES",
]

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".off", ".glb", ".gltf")
MAX_MESH_BYTES = 200 * 1024 * 1024


def _frozen_copy(a, dtype) -> np.ndarray:
    """A C-contiguous read-only array of ``dtype`` that shares no writable memory with ``a``."""
    arr = np.asarray(a)
    if arr.dtype == dtype and arr.flags.c_contiguous and not arr.flags.writeable and arr.base is None:
        return arr
    out = np.array(arr, dtype=dtype, order="C", copy=True)
    out.setflags(write=False)
    return out


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
        # Our own read-only copies: the caller's arrays are never frozen or aliased (a read-only
        # contiguous array of the right dtype is already immutable and is kept as it is).
        v = _frozen_copy(self.vertices, np.float64)
        f = _frozen_copy(self.faces, np.int64)
        if v.ndim != 2 or v.shape[1] != 3:
            raise MeshError(f"vertices must have shape (V, 3), got {v.shape}")
        if f.ndim != 2 or f.shape[1] != 3:
            raise MeshError(f"faces must be triangles with shape (F, 3), got {f.shape}")
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "faces", f)

    def content_hash(self) -> str:
        """A hash of the vertex and face arrays (not of the name)."""
        h = hashlib.blake2b(digest_size=16)
        h.update(np.asarray(self.vertices.shape, dtype=np.int64).tobytes())
        h.update(self.vertices.tobytes())
        h.update(self.faces.tobytes())
        return h.hexdigest()


_SLASH = re.compile(r"/\S*")


def _all_three_tokens(lines: list[str]) -> bool:
    """Whether every line holds exactly three whitespace-separated tokens (vectorized)."""
    raw = np.frombuffer("\n".join(lines).encode("utf-8", "surrogatepass"), dtype=np.uint8)
    nl = raw == 10
    blank = (raw == 32) | (raw == 9) | (raw == 13) | nl
    prev_blank = np.concatenate([[True], blank[:-1]])
    starts = ~blank & prev_blank
    line_of = np.cumsum(nl)
    counts = np.bincount(line_of[starts], minlength=len(lines))
    return bool((counts == 3).all())


def _parse_obj_fast(text: str, name: str) -> Mesh | None:
    """Vectorized parse of the common case (``v x y z`` and triangle ``f`` lines, positive ids).

    Returns ``None`` whenever the file needs the line-by-line parser (polygons, relative ids,
    extra vertex columns, odd spacing, anything unparsable), which then also gives the errors.
    """
    vs: list[str] = []
    fs: list[str] = []
    for line in text.splitlines():
        head = line[:2]
        if head == "v ":
            vs.append(line[2:])
        elif head == "f ":
            fs.append(line[2:])
        elif head[:1] in ("v", "f", " ", "\t") and head not in ("vn", "vt", "vp"):
            return None
    if not vs or not fs:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            v = np.fromstring(" ".join(vs), dtype=np.float64, sep=" ")
            joined = " ".join(fs)
            if "/" in joined:
                joined = _SLASH.sub("", joined)
            f = np.fromstring(joined, dtype=np.int64, sep=" ")
        except ValueError:
            return None
    if v.size != 3 * len(vs) or f.size != 3 * len(fs) or (f <= 0).any():
        return None
    if not (_all_three_tokens(vs) and _all_three_tokens(fs)):
        return None
    f = f.reshape(-1, 3) - 1
    if f.max() >= len(vs):
        raise MeshError(f"{name}: a face refers to a vertex that does not exist")
    return Mesh(v.reshape(-1, 3), f, name)


def parse_obj(text: str, name: str = "mesh", *, triangulate: bool = False) -> Mesh:
    """Parse OBJ text into a :class:`Mesh`, keeping vertex and face order.

    Polygons with more than three corners are refused (MeshCNN refuses them too) unless
    ``triangulate`` is set: then each is split into a fan of triangles around its first corner
    (in place, so the triangles keep the polygon's position in the face order) and faces with
    fewer than three corners are skipped; both are noted in ``Mesh.notes``.
    """
    fast = _parse_obj_fast(text, name)
    if fast is not None:
        return fast
    vertices: list[list[float]] = []
    faces: list[list[int]] = []
    n_polygons = n_short = 0
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
            if len(ids) != 3 and not triangulate:
                raise MeshError(
                    f"{name}: line {lineno}: a face with {len(ids)} corners; MeshCNN needs triangles "
                    "(repair the mesh to triangulate it)"
                )
            nv = len(vertices)
            ids = [(i - 1) if i >= 0 else (nv + i) for i in ids]
            if len(ids) < 3:
                n_short += 1
                continue
            if len(ids) > 3:
                n_polygons += 1
            faces.extend([ids[0], ids[k], ids[k + 1]] for k in range(1, len(ids) - 1))
    if not vertices or not faces:
        raise MeshError(
            f"{name}: no triangles found (the file holds {len(vertices)} vertices, {len(faces)} faces)"
        )
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if (f < 0).any() or (f >= len(v)).any():
        raise MeshError(f"{name}: a face refers to a vertex that does not exist")
    notes = []
    if n_polygons:
        notes.append(f"triangulated {n_polygons} polygons with more than three corners (fans)")
    if n_short:
        notes.append(f"skipped {n_short} faces with fewer than three corners")
    return Mesh(v, f, name, tuple(notes))


def _load_with_trimesh(data: bytes, suffix: str, name: str) -> Mesh:
    import trimesh

    try:
        loaded = trimesh.load(
            trimesh.util.wrap_as_stream(data), file_type=suffix.lstrip("."), process=True, force="mesh"
        )
    except Exception as exc:  # trimesh raises many types for broken files
        kind = suffix.upper().lstrip(".")
        raise MeshError(f"{name}: could not be read as {kind} ({type(exc).__name__}: {exc})") from None
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64)
    vertices = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float64)
    if len(faces) == 0:
        raise MeshError(f"{name}: no triangles found in the file")
    return Mesh(vertices, faces, name)


def load_mesh_bytes(data: bytes, filename: str, *, triangulate: bool = False) -> Mesh:
    """Read a mesh from bytes; ``filename`` only chooses the format and the display name.

    ``triangulate`` makes OBJ polygons acceptable (see :func:`parse_obj`); other formats are
    always triangulated by trimesh.
    """
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
        return parse_obj(text, name, triangulate=triangulate)
    return _load_with_trimesh(data, suffix, name)


def load_mesh(path: str | os.PathLike, *, triangulate: bool = False) -> Mesh:
    """Read a mesh file (.obj, .ply, .stl, .off, .glb).

    Raises:
        MeshError: the file is missing, unreadable, empty or holds no triangles.
    """
    p = Path(path)
    if not p.is_file():
        raise MeshError(f"{p}: no such mesh file")
    if p.stat().st_size > MAX_MESH_BYTES:
        raise MeshError(f"{p}: the file is larger than {MAX_MESH_BYTES // 2**20} MiB")
    return load_mesh_bytes(p.read_bytes(), p.name, triangulate=triangulate)


def obj_text(vertices: np.ndarray, faces: np.ndarray, comments: list[str] | tuple[str, ...] = (), *,
             digits: int = 9) -> str:
    """OBJ text: ``#`` comment lines, then ``v`` and 1-based ``f`` lines in order (the one OBJ writer).

    Shapes: ``vertices (V, 3)``, ``faces (F, 3)``.
    """
    lines = [f"# {c}" for c in comments]
    fmt = f"v {{:.{digits}g}} {{:.{digits}g}} {{:.{digits}g}}"
    lines += [fmt.format(x, y, z) for x, y, z in np.asarray(vertices).tolist()]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(faces).tolist()]
    return "\n".join(lines) + "\n"


def write_obj(
    path: str | os.PathLike, mesh: Mesh, *, digits: int = 9, header: list[str] | None = None
) -> None:
    """Write a mesh as OBJ text (see :func:`obj_text`), atomically.

    Args:
        path: the ``.obj`` file to write.
        mesh: the mesh; its ``notes`` go in as comments.
        digits: significant digits of the coordinates.
        header: comment lines to write first (default: the mesh's name).
    """
    path = Path(path)
    comments = [*(header if header is not None else [mesh.name]), *mesh.notes]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(obj_text(mesh.vertices, mesh.faces, comments, digits=digits))
    tmp.replace(path)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(text: str, default: str = "mesh", max_len: int = 60) -> str:
    """``text`` reduced to letters, digits, ``_``, ``.`` and ``-`` (``default`` if none are left).

    The one sanitizer for display and download names: never a path (``../x`` becomes ``x``). Pass a
    file name's stem to drop its suffix.
    """
    return _UNSAFE.sub("_", str(text)).strip("._")[:max_len] or default
