"""Engraved cubes: a generated MeshCNN classification set with a known answer per edge.

MeshCNN's "cubes" set (23 icons engraved into cubes) cannot be downloaded here, so this module
makes one. Each mesh is a unit cube (side 1, centred) with one icon of
:mod:`meshcnn_core.data.icons` cut a few hundredths deep into one of its faces, at a random
position, scale and in-plane rotation; then it is remeshed to 750 edges.

**How the engraving is made: a boolean difference** (``manifold3d``): the icon's polygons are
extruded into a prism and subtracted from the cube. We chose this over displacing a finely
triangulated face because the boolean gives the engraving exactly as designed (vertical walls, a
flat floor, sharp rims that follow the icon's outline, holes such as the inside of an A), and
manifold3d guarantees a closed, manifold result. A displaced grid would follow the outline only
to within a grid cell (jagged rims, sloped walls) unless the grid were triangulated around the
outline, which is the boolean again.

**Remeshing to 750 edges with varied triangulations.** The boolean's mesh is split into edges of
at most ``L`` (random per mesh, :data:`REFINE_RANGE`), the vertices inside each flat region are
jittered within their plane, and the result is simplified by quadric decimation
(:func:`meshcnn_core.mesh.simplify.decimate` with ``fast_simplification``, pinned so that the
triangulations do not change when the app's default simplifier does) to 747-750 edges (a closed
mesh's edge count moves in steps of 3), each pass cleaned and checked by
:func:`meshcnn_core.mesh.repair.preflight`. Decimation removes flat-region vertices first, so the
flat background ends in large, irregular triangles and the engraving keeps most of its detail.

**The known answer.** Beside each mesh, ``engraving/<stem>.engraving`` holds one 0/1 per edge in
MeshCNN's edge order (:func:`meshcnn_core.mesh.topology.build_topology` of the file as written):
1 for an edge on the engraving, i.e. whose midpoint lies below the engraved face (walls and
floor), or that is a rim edge (a sharp edge lying in the engraved face's plane inside the face).
``manifest.json`` records the generator version, the seed, a fingerprint of the remeshing code
(:func:`pipeline_fingerprint`) and every mesh's parameters (face, centre, scale, angle, depth,
refinement length).

Layout (MeshCNN's classification layout, readable by :func:`meshcnn_core.data.datasets.scan_dataset`)::

    DIR/<icon>/train/<icon>_<k>.obj, DIR/<icon>/test/<icon>_<k>.obj,
    DIR/engraving/<icon>_<k>.engraving, DIR/manifest.json

Run::

    python -m meshcnn_core.data.cubes --out runs/data/cubes     # 23 classes x (15 train + 5 test)
    python -m meshcnn_core.data.cubes --print-cache             # generate into the cache; print its path

Everything is deterministic from the seed: mesh ``k`` of a class uses its own generator seeded by
``(seed, class name, split, k)``, so the set does not depend on the order of generation. The
placements depend on the seed only; the triangulations also on the simplifier's code, which is
why a set's key includes :func:`pipeline_fingerprint`.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import shutil
import sys
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import manifold3d as m3d
import numpy as np

from ..errors import MeshCNNError
from ..mesh.io import Mesh, load_mesh, write_obj
from ..mesh.topology import build_topology
from .datasets import default_cache_dir
from .icons import ICON_NAMES, icon
from .to_size import decimate_to_edges

__all__ = [
    "GENERATOR_VERSION", "CubeParams", "EngravedCube", "engrave_cube", "engraving_mask", "generate_cubes",
    "cubes_dataset", "load_engraving", "make_cube", "pipeline_fingerprint", "main",
]

GENERATOR_VERSION = 1
TARGET_EDGES = 750
MIN_EDGES = 738  # a mesh that decimation leaves further below 750 is redrawn
REFINE_RANGE = (0.08, 0.2)  # edge length before decimation (cube side 1)
SCALE_RANGE = (0.26, 0.4)  # radius of the disc holding the icon (face half-width 0.5)
DEPTH_RANGE = (0.03, 0.05)
MARGIN = 0.05  # free band between the icon's disc and the face's border
DECIMATION = "fqms"  # fast_simplification, pinned: the shipped classifier was trained on its triangulations
_FACE_ROTATIONS = np.array([  # rotation taking +z to +x, -x, +y, -y, +z, -z
    [[0, 0, 1], [0, 1, 0], [-1, 0, 0]], [[0, 0, -1], [0, 1, 0], [1, 0, 0]],
    [[1, 0, 0], [0, 0, 1], [0, -1, 0]], [[1, 0, 0], [0, 0, -1], [0, 1, 0]],
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[1, 0, 0], [0, -1, 0], [0, 0, -1]],
], dtype=np.float64)
FACE_NAMES = ("+x", "-x", "+y", "-y", "+z", "-z")


@dataclass(frozen=True)
class CubeParams:
    """Where and how an icon is engraved.

    Attributes:
        icon: icon name (:data:`meshcnn_core.data.icons.ICON_NAMES`).
        face: index into :data:`FACE_NAMES` of the engraved cube face.
        center: ``(2,)`` centre of the icon in the face (before the face rotation: the +z face's x, y).
        scale: radius of the disc holding the icon.
        angle: in-plane rotation in degrees.
        depth: depth of the cut.
        refine: edge length of the refinement before decimation.
        jitter_seed: seed of the in-plane vertex jitter.
    """

    icon: str
    face: int
    center: tuple[float, float]
    scale: float
    angle: float
    depth: float
    refine: float
    jitter_seed: int


@dataclass(frozen=True)
class EngravedCube:
    """One generated mesh and its per-edge answer.

    Attributes:
        mesh: the closed manifold mesh (``E`` edges, at most :data:`TARGET_EDGES`).
        engraving: ``(E,)`` bool, edge on the engraving, in MeshCNN's edge order.
        params: how it was made.
    """

    mesh: Mesh
    engraving: np.ndarray
    params: CubeParams


def draw_params(name: str, rng: np.random.Generator) -> CubeParams:
    """Random placement of icon ``name`` (in the icon's disc, inside the face with a margin)."""
    scale = float(rng.uniform(*SCALE_RANGE))
    room = 0.5 - MARGIN - scale
    return CubeParams(
        icon=name, face=int(rng.integers(6)), center=tuple(float(c) for c in rng.uniform(-room, room, 2)),
        scale=scale, angle=float(rng.uniform(0, 360)), depth=float(rng.uniform(*DEPTH_RANGE)),
        refine=float(rng.uniform(*REFINE_RANGE)), jitter_seed=int(rng.integers(2**31)),
    )


def _boolean(p: CubeParams) -> m3d.Manifold:
    """The cube minus the extruded icon, engraved into +z."""
    cs = icon(p.icon).scale([p.scale, p.scale]).rotate(p.angle).translate(list(p.center))
    tool = cs.extrude(0.5).translate([0, 0, 0.5 - p.depth])
    return m3d.Manifold.cube([1, 1, 1], True) - tool


def _jitter_flat(v: np.ndarray, f: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Move vertices whose faces are all coplanar within that plane (no face may flip).

    Shapes: ``(V, 3), (F, 3) -> (V, 3)``.
    """
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    ref = np.zeros((len(v), 3))
    ref[f.reshape(-1)] = np.repeat(n, 3, axis=0)  # one face normal per vertex
    dev = np.zeros(len(v))
    np.maximum.at(dev, f.reshape(-1), 1 - np.einsum("ij,ij->i", np.repeat(n, 3, axis=0), ref[f.reshape(-1)]))
    flat = dev < 1e-9
    step = rng.uniform(-amount, amount, size=(len(v), 3))
    step -= np.einsum("ij,ij->i", step, ref)[:, None] * ref  # in the plane
    step[~flat] = 0
    out = v + step
    for _ in range(10):  # undo the moves around faces that flipped or nearly collapsed
        n2 = np.cross(out[f[:, 1]] - out[f[:, 0]], out[f[:, 2]] - out[f[:, 0]])
        bad = np.einsum("ij,ij->i", n2, n) <= 0.2 * np.linalg.norm(n2, axis=1).clip(1e-30) + 1e-12
        if not bad.any():
            break
        out[np.unique(f[bad])] = v[np.unique(f[bad])]
    return out


def engraving_mask(vertices: np.ndarray, faces: np.ndarray, depth: float) -> np.ndarray:
    """Edges on an engraving cut into the +z face of the unit cube, in MeshCNN's edge order.

    An edge is on the engraving when its midpoint lies below the +z face and inside it (walls,
    floor), or when it is a rim edge: a sharp edge (its two faces at more than 10 degrees) lying in
    the +z plane inside the face.

    Shapes: ``(V, 3), (F, 3) -> (E,)`` bool.
    """
    topo, kept, _ = build_topology(vertices, faces)
    v = topo.positions
    e = topo.edges
    mid = v[e].mean(axis=1)  # (E, 3)
    tol = 1e-3 * depth
    inside = (np.abs(mid[:, :2]) < 0.5 - 1e-6).all(axis=1)
    below = inside & (mid[:, 2] < 0.5 - tol) & (mid[:, 2] > 0.5 - depth - tol)
    on_top = (np.abs(v[e][:, :, 2] - 0.5) < tol).all(axis=1) & inside
    n = np.cross(v[kept[:, 1]] - v[kept[:, 0]], v[kept[:, 2]] - v[kept[:, 0]])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    # the two faces of each edge: gemm slot 0 and 2 belong to the first and second face
    fe = np.full((topo.num_edges, 2), -1)
    key = {tuple(sorted(p)): i for i, p in enumerate(e.tolist())}
    for fi, tri in enumerate(kept.tolist()):
        for a, b in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0])):
            k = key[(min(a, b), max(a, b))]
            fe[k, 0 if fe[k, 0] == -1 else 1] = fi
    cos = np.einsum("ij,ij->i", n[fe[:, 0]], n[fe[:, 1]])
    sharp = cos < np.cos(np.radians(10))
    return below | (on_top & sharp)


def engrave_cube(params: CubeParams, name: str = "cube") -> EngravedCube:
    """Make one engraved cube from ``params``.

    Raises:
        MeshCNNError: the remeshed cube does not reach :data:`MIN_EDGES` edges (draw other parameters).
    """
    m = _boolean(params).refine_to_length(params.refine).to_mesh()
    v = np.asarray(m.vert_properties, dtype=np.float64)[:, :3]
    f = np.asarray(m.tri_verts, dtype=np.int64)
    v = _jitter_flat(v, f, 0.3 * params.refine, np.random.default_rng(params.jitter_seed))
    v, f = decimate_to_edges(v, f, name, lo=MIN_EDGES, hi=TARGET_EDGES, method=DECIMATION, passes=8)
    mask = engraving_mask(v, f, params.depth)
    rot = _FACE_ROTATIONS[params.face]
    mesh = Mesh(v @ rot.T, f, name)
    return EngravedCube(mesh, mask, params)


def make_cube(name: str, seed: int, split: str, k: int) -> EngravedCube:
    """Mesh ``k`` of icon ``name`` in ``split``, deterministic from ``seed`` (redraws failed placements)."""
    tag = zlib.crc32(f"{name}/{split}".encode())
    rng = np.random.default_rng([seed, tag, k])
    for _ in range(8):
        try:
            return engrave_cube(draw_params(name, rng), f"{name}_{k:03d}")
        except MeshCNNError:
            continue
    raise MeshCNNError(f"{name}_{k:03d}: no placement gave a clean 750-edge mesh in 8 draws")


def load_engraving(root: str | os.PathLike, stem: str) -> np.ndarray:
    """The per-edge engraving mask of mesh ``stem`` of a generated set. Shapes: ``-> (E,)`` bool."""
    p = Path(root) / "engraving" / f"{stem}.engraving"
    if not p.is_file():
        raise MeshCNNError(f"{p}: no engraving mask (is {root} a generated cubes set?)")
    return np.loadtxt(p, dtype=np.int64).reshape(-1).astype(bool)


@functools.lru_cache(maxsize=1)
def pipeline_fingerprint() -> str:
    """A digest of one probe cube made by the current code (manifold3d, repair, decimation).

    The simplifier that :func:`engrave_cube` calls may change between versions of this project
    (or of ``fast_simplification``) and then gives other triangulations for the same parameters;
    the probe's digest is part of a set's key, so a cached set made by other code is never reused.
    """
    probe = engrave_cube(CubeParams("heart", 4, (0.02, -0.03), 0.33, 17.0, 0.04, 0.12, 7), "probe")
    h = hashlib.blake2b(digest_size=8)
    for a in (probe.mesh.vertices, probe.mesh.faces, probe.engraving):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _settings(seed: int, train: int, test: int, classes: tuple[str, ...]) -> dict:
    return {"generator_version": GENERATOR_VERSION, "pipeline": pipeline_fingerprint(), "seed": seed,
            "train_per_class": train, "test_per_class": test, "classes": list(classes)}


def _key(settings: dict) -> str:
    return hashlib.blake2b(json.dumps(settings, sort_keys=True).encode(), digest_size=6).hexdigest()


def generate_cubes(
    out: str | os.PathLike, *, seed: int = 0, train_per_class: int = 15, test_per_class: int = 5,
    classes: tuple[str, ...] = ICON_NAMES, progress: bool = False,
) -> Path:
    """Write the set to ``out`` (skipped when ``out`` already holds the same set). Returns ``out``.

    The set is written to a temporary sibling folder and renamed into place, so ``out`` never
    holds half a set.
    """
    out = Path(out)
    settings = _settings(int(seed), int(train_per_class), int(test_per_class), tuple(classes))
    man = out / "manifest.json"
    if man.is_file() and json.loads(man.read_text()).get("key") == _key(settings):
        return out
    unknown = sorted(set(classes) - set(ICON_NAMES))
    if unknown:
        raise ValueError(f"unknown icons {unknown}; known: {', '.join(ICON_NAMES)}")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "engraving").mkdir(parents=True)
    meshes = []
    t0 = time.time()
    for ci, name in enumerate(classes):
        for split, count in (("train", train_per_class), ("test", test_per_class)):
            (tmp / name / split).mkdir(parents=True, exist_ok=True)
            for k in range(count):
                kk = k if split == "train" else train_per_class + k
                cube = make_cube(name, int(seed), split, kk)
                path = tmp / name / split / f"{cube.mesh.name}.obj"
                header = [f"engraved cube, generator v{GENERATOR_VERSION}"]
                write_obj(path, cube.mesh, digits=8, header=header)
                back = load_mesh(path)
                topo, kept, _ = build_topology(back.vertices, back.faces)
                if topo.num_edges != len(cube.engraving) or len(kept) != len(back.faces):
                    raise MeshCNNError(f"{path.name}: the written mesh reads back with other edges")
                (tmp / "engraving" / f"{cube.mesh.name}.engraving").write_text(
                    "\n".join(str(int(b)) for b in cube.engraving) + "\n")
                meshes.append({"file": f"{name}/{split}/{cube.mesh.name}.obj", "split": split,
                               "edges": int(topo.num_edges), "engraved_edges": int(cube.engraving.sum()),
                               "face_name": FACE_NAMES[cube.params.face], **asdict(cube.params)})
        if progress:
            print(f"{ci + 1}/{len(classes)} {name} ({time.time() - t0:.0f} s)", flush=True)
    manifest = {**settings, "key": _key(settings), "meshes": meshes}  # no timings: the files are reproducible
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out)
    return out


def cubes_dataset(*, seed: int = 0, train_per_class: int = 15, test_per_class: int = 5,
                  classes: tuple[str, ...] = ICON_NAMES, cache_dir: str | os.PathLike | None = None) -> Path:
    """The generated set in the cache (``<cache>/cubes-<hash of the settings>``), made on first use."""
    settings = _settings(int(seed), int(train_per_class), int(test_per_class), tuple(classes))
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return generate_cubes(root / f"cubes-{_key(settings)}", seed=seed, train_per_class=train_per_class,
                          test_per_class=test_per_class, classes=classes)


def main(argv: list[str] | None = None) -> int:
    """Command line: write a generated cubes set."""
    p = argparse.ArgumentParser(prog="python -m meshcnn_core.data.cubes", description=__doc__.split("\n")[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--out", help="folder to write the set to")
    g.add_argument("--print-cache", action="store_true", help="generate into the cache and print its path")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train", type=int, default=15, help="training meshes per class")
    p.add_argument("--test", type=int, default=5, help="test meshes per class")
    p.add_argument("--classes", nargs="+", default=list(ICON_NAMES), help="icons (default: all)")
    a = p.parse_args(argv)
    t0 = time.time()
    try:
        kw = {"seed": a.seed, "train_per_class": a.train, "test_per_class": a.test,
              "classes": tuple(a.classes)}
        out = cubes_dataset(**kw) if a.print_cache else generate_cubes(a.out, progress=True, **kw)
    except (MeshCNNError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out if a.print_cache else f"wrote {out} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
