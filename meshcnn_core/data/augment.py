"""MeshCNN's training augmentations, as pure functions on ``(vertices, faces)`` arrays.

Three augmentations, as described in the MeshCNN paper (Hanocka et al. 2019, Sec. 5):

* **anisotropic scaling**: each axis is multiplied by a factor drawn from ``N(1, 0.1)``;
* **edge flips**: a fraction of the edges whose dihedral angle exceeds 2.7 rad (nearly flat) are
  flipped to the other diagonal of their two triangles. Flips that would create an edge that
  already exists, a zero-area triangle, or a fold (the two new triangles facing opposite ways)
  are skipped. The edge count is unchanged, but the edge order is not, so flips are for
  classification only;
* **vertex slides**: a fraction of the vertices whose incident edges all have a dihedral angle
  above 2.65 rad slide 20-50% of the way towards a random neighbour. Connectivity is unchanged
  (per-edge labels stay valid). A slide that would make an incident triangle degenerate or turn
  it over is undone.

Every function returns new arrays and leaves its inputs untouched; randomness comes only from
the ``numpy.random.Generator`` passed in, so a seeded generator gives the same copy every time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..mesh.features import edge_points
from ..mesh.topology import build_topology

__all__ = ["AugmentConfig", "augment", "flip_edges", "scale_vertices", "slide_vertices", "AUGMENT_VERSION"]

# bump when the output of these functions changes: it is part of every cache key
AUGMENT_VERSION = 1
FLIP_MIN_DIHEDRAL = 2.7
SLIDE_MIN_DIHEDRAL = 2.65


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations to apply (MeshCNN's ``--scale_verts --flip_edges --slide_verts``).

    Attributes:
        scale_verts: anisotropic scaling on or off.
        flip_edges: fraction of all edges to flip (0 = off).
        slide_verts: fraction of all vertices to slide (0 = off).
    """

    scale_verts: bool = False
    flip_edges: float = 0.0
    slide_verts: float = 0.0

    def __post_init__(self) -> None:
        for name in ("flip_edges", "slide_verts"):
            v = float(getattr(self, name))
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1], got {v}")
            object.__setattr__(self, name, v)
        object.__setattr__(self, "scale_verts", bool(self.scale_verts))

    @property
    def active(self) -> bool:
        """True when at least one augmentation is on."""
        return self.scale_verts or self.flip_edges > 0 or self.slide_verts > 0

    def as_dict(self) -> dict:
        """Plain dict (for cache keys and configs)."""
        return asdict(self)


def scale_vertices(vertices: np.ndarray, rng: np.random.Generator, sigma: float = 0.1) -> np.ndarray:
    """Scale each axis by its own factor ``~ N(1, sigma)``. Shapes: ``(V, 3) -> (V, 3)``."""
    factors = rng.normal(1.0, sigma, size=3)
    return np.asarray(vertices, dtype=np.float64) * factors[None, :]


def _normal(vs: list, tri: tuple[int, int, int]) -> tuple[float, float, float]:
    """Unnormalized normal of a triangle (length = twice its area); plain floats for speed."""
    (ax, ay, az), (bx, by, bz), (cx, cy, cz) = vs[tri[0]], vs[tri[1]], vs[tri[2]]
    ux, uy, uz, wx, wy, wz = bx - ax, by - ay, bz - az, cx - ax, cy - ay, cz - az
    return (uy * wz - uz * wy, uz * wx - ux * wz, ux * wy - uy * wx)


def _dot(n1: tuple, n2: tuple) -> float:
    return n1[0] * n2[0] + n1[1] * n2[1] + n1[2] * n2[2]


def _dihedral(n1: tuple, n2: tuple) -> float:
    """MeshCNN's dihedral angle: pi for a flat pair of faces, small for a sharp fold."""
    l1, l2 = math.sqrt(_dot(n1, n1)), math.sqrt(_dot(n2, n2))
    if l1 == 0 or l2 == 0:
        return 0.0
    return math.pi - math.acos(max(-1.0, min(1.0, _dot(n1, n2) / (l1 * l2))))


def _third(face: list[int], a: int, b: int) -> int:
    return int(next(v for v in face if v != a and v != b))


def flip_edges(
    vertices: np.ndarray, faces: np.ndarray, fraction: float, rng: np.random.Generator,
    *, min_dihedral: float = FLIP_MIN_DIHEDRAL,
) -> np.ndarray:
    """Flip up to ``int(fraction * E)`` nearly flat interior edges. Shapes: ``(F, 3) -> (F, 3)``.

    Edges are visited in random order; an edge is flipped when it has exactly two faces, its
    current dihedral angle exceeds ``min_dihedral``, the new diagonal is not already an edge and
    both new triangles have non-zero area and face the same way. Orientation is kept.
    """
    vs = np.asarray(vertices, dtype=np.float64)
    pts = [tuple(p) for p in vs.tolist()]
    faces = np.array(faces, dtype=np.int64, copy=True)
    edge_faces: dict[tuple[int, int], list[int]] = {}
    for fi, f in enumerate(faces):
        for i in range(3):
            a, b = int(f[i]), int(f[(i + 1) % 3])
            edge_faces.setdefault((min(a, b), max(a, b)), []).append(fi)
    keys = list(edge_faces)
    target = int(fraction * len(keys))
    tol = (1e-12 * max(float(np.ptp(vs, axis=0).max()) ** 2, 1e-300)) ** 2  # on squared normal lengths
    flipped = 0
    for k in rng.permutation(len(keys)):
        if flipped >= target:
            break
        a, b = keys[k]
        fs = edge_faces.get((a, b))
        if fs is None or len(fs) != 2:
            continue
        f1, f2 = fs
        # orient: f1 walks a -> b (third vertex c), f2 walks b -> a (third vertex d)
        r1, r2 = faces[f1].tolist(), faces[f2].tolist()
        if r1[(r1.index(a) + 1) % 3] != b:
            f1, f2, r1, r2 = f2, f1, r2, r1
        c, d = _third(r1, a, b), _third(r2, a, b)
        if c == d or (min(c, d), max(c, d)) in edge_faces:
            continue
        if _dihedral(_normal(pts, r1), _normal(pts, r2)) <= min_dihedral:
            continue
        n1, n2 = _normal(pts, (a, d, c)), _normal(pts, (d, b, c))
        if _dot(n1, n1) <= tol or _dot(n2, n2) <= tol or _dot(n1, n2) <= 0:
            continue
        faces[f1] = (a, d, c)
        faces[f2] = (d, b, c)
        del edge_faces[(a, b)]
        edge_faces[(min(c, d), max(c, d))] = [f1, f2]
        ad = edge_faces[(min(a, d), max(a, d))]
        ad[ad.index(f2)] = f1
        bc = edge_faces[(min(b, c), max(b, c))]
        bc[bc.index(f1)] = f2
        flipped += 1
    return faces


def edge_dihedrals(topo) -> np.ndarray:
    """True dihedral angle of every edge (unit normals; pi = flat). Shapes: ``-> (E,)``.

    MeshCNN measures it with its ``fixed_division`` (normals divided by ``|n| + 0.1``), which
    makes the angle depend on the mesh's scale (small triangles all look like pi/2); we use the
    scale-free angle that the thresholds 2.65 / 2.7 rad are meant for.
    """
    vs = topo.positions
    pts = edge_points(topo)  # (E, 4): a, b, c (first face), d (second face)
    n1 = np.cross(vs[pts[:, 2]] - vs[pts[:, 0]], vs[pts[:, 1]] - vs[pts[:, 0]])
    n2 = np.cross(vs[pts[:, 3]] - vs[pts[:, 1]], vs[pts[:, 0]] - vs[pts[:, 1]])
    l1 = np.linalg.norm(n1, axis=1)
    l2 = np.linalg.norm(n2, axis=1)
    ok = (l1 > 0) & (l2 > 0)
    cos = np.zeros(len(pts))
    cos[ok] = np.einsum("ij,ij->i", n1[ok], n2[ok]) / (l1[ok] * l2[ok])
    out = np.pi - np.arccos(np.clip(cos, -1.0, 1.0))
    out[~ok] = 0.0
    return out


def _vertex_faces(faces: np.ndarray, nv: int) -> list[np.ndarray]:
    order = np.argsort(faces.reshape(-1), kind="stable")
    counts = np.bincount(faces.reshape(-1), minlength=nv)
    split = np.split(order // 3, np.cumsum(counts)[:-1])
    return split


def slide_vertices(
    vertices: np.ndarray, faces: np.ndarray, fraction: float, rng: np.random.Generator,
    *, min_dihedral: float = SLIDE_MIN_DIHEDRAL,
) -> np.ndarray:
    """Slide up to ``int(fraction * V)`` vertices in flat regions. Shapes: ``(V, 3) -> (V, 3)``.

    Dihedral angles are measured once, on the input (as in MeshCNN). A vertex qualifies when all
    its incident edges are flatter than ``min_dihedral``; it moves ``u ~ U(0.2, 0.5)`` of the way
    to a random neighbour. Slides that would degenerate or turn over an incident face are undone.
    """
    vs = np.array(vertices, dtype=np.float64, copy=True)
    topo, kept, _ = build_topology(vs.copy(), faces)  # build_topology freezes the array it is given
    dihedral = edge_dihedrals(topo)  # (E,)
    nv = len(vs)
    vfaces = _vertex_faces(kept, nv)
    target = int(fraction * nv)
    moved = 0
    for vi in rng.permutation(nv):
        if moved >= target:
            break
        eids = topo.ve_indices[topo.ve_indptr[vi]:topo.ve_indptr[vi + 1]]
        if len(eids) == 0 or dihedral[eids].min() <= min_dihedral:
            continue
        edge = topo.edges[eids[rng.integers(len(eids))]]
        other = int(edge[1] if edge[0] == vi else edge[0])
        old = vs[vi].copy()
        tris = kept[vfaces[vi]]
        before = np.cross(vs[tris[:, 1]] - vs[tris[:, 0]], vs[tris[:, 2]] - vs[tris[:, 0]])
        vs[vi] = old + rng.uniform(0.2, 0.5) * (vs[other] - old)
        after = np.cross(vs[tris[:, 1]] - vs[tris[:, 0]], vs[tris[:, 2]] - vs[tris[:, 0]])
        ok = (np.einsum("ij,ij->i", before, after) > 0).all() and (np.linalg.norm(after, axis=1) > 0).all()
        if not ok:
            vs[vi] = old
            continue
        moved += 1
    return vs


def augment(
    vertices: np.ndarray, faces: np.ndarray, config: AugmentConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One augmented copy, in MeshCNN's order: scale, flip, then slide.

    Shapes: ``(V, 3), (F, 3) -> (V, 3), (F, 3)`` (same counts; faces may be re-wired by flips).
    """
    vs = np.asarray(vertices, dtype=np.float64)
    fs = np.asarray(faces, dtype=np.int64)
    if config.scale_verts:
        vs = scale_vertices(vs, rng)
    if config.flip_edges > 0:
        fs = flip_edges(vs, fs, config.flip_edges, rng)
    if config.slide_verts > 0:
        vs = slide_vertices(vs, fs, config.slide_verts, rng)
    return vs, fs
