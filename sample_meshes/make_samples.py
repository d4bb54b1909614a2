"""Make the sample meshes that the app opens by default, with the project's own code.

Run from the repository root::

    python sample_meshes/make_samples.py            # writes sample_meshes/*.obj and checks them
    python sample_meshes/make_samples.py --check    # only checks the files on disk

Sources: three procedural shapes (seeded, so the output is reproducible) and two meshes that
PyVista ships inside its package (``pyvista/examples/ant.ply`` and ``airplane.ply``; nothing is
downloaded). Every source goes through :func:`meshcnn_core.mesh.repair.preflight`, which cleans it and
simplifies it by quadric decimation to at most each shipped model's input size:

* 750 edges: SHREC-16 classifier (ninput_edges 750, first pooling target 600);
* 1500 edges: vase segmenter (ninput_edges 1500, first pooling target 1050);
* 2250 edges: human-body segmenter (ninput_edges 2280, first pooling target 1800).

Each file is then read back and checked: closed, manifold (no bow-ties either), one piece,
MeshCNN topology and features build, ``preflight`` leaves it unchanged, and a random-weight model
of the matching configuration pools it through every level.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from meshcnn_core.mesh.io import Mesh, load_mesh, write_obj  # noqa: E402
from meshcnn_core.mesh.repair import check_mesh, preflight  # noqa: E402

SIZES = (750, 1500, 2250)
DIGITS = 6


# ---------------------------------------------------------------- procedural sources


def _grid_torus_faces(n_u: int, n_v: int) -> np.ndarray:
    """Faces of an ``n_u x n_v`` grid wrapped in both directions (a torus)."""
    i, j = np.meshgrid(np.arange(n_u), np.arange(n_v), indexing="ij")
    a = i * n_v + j
    b = ((i + 1) % n_u) * n_v + j
    c = ((i + 1) % n_u) * n_v + (j + 1) % n_v
    d = i * n_v + (j + 1) % n_v
    return np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])


def torus_knot(seed: int = 1) -> Mesh:
    """A (2, 3) torus knot swept by a tube whose radius ripples along it."""
    rng = np.random.default_rng(seed)
    n_u, n_v, p, q = 480, 28, 2, 3
    t = 2 * np.pi * np.arange(n_u) / n_u
    r = 2 + np.cos(q * t)
    c = np.stack([r * np.cos(p * t), r * np.sin(p * t), -np.sin(q * t)], -1)  # (n_u, 3)
    tangent = np.roll(c, -1, 0) - np.roll(c, 1, 0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    n = np.cross(tangent, [0.0, 0.0, 1.0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    b = np.cross(tangent, n)
    w = 2 * np.pi * np.arange(n_v) / n_v
    rad = 0.45 * (1 + 0.2 * np.sin(7 * t)[:, None] + 0.08 * np.cos(3 * w)[None, :])
    rad *= 1 + 0.01 * rng.standard_normal(rad.shape)
    v = c[:, None, :] + rad[..., None] * (
        np.cos(w)[None, :, None] * n[:, None, :] + np.sin(w)[None, :, None] * b[:, None, :]
    )
    return Mesh(v.reshape(-1, 3), _grid_torus_faces(n_u, n_v), "torus_knot")


def bumpy_sphere(seed: int = 2) -> Mesh:
    """An icosphere displaced by a few smooth bumps and a little seeded noise."""
    import trimesh

    rng = np.random.default_rng(seed)
    s = trimesh.creation.icosphere(subdivisions=5)
    v = np.asarray(s.vertices)
    centers = rng.standard_normal((9, 3))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    heights = rng.uniform(0.15, 0.45, 9)
    bump = (heights * np.exp(-(((v @ centers.T) - 1) ** 2) / 0.02)).sum(axis=1)
    wave = 0.05 * np.sin(5 * v[:, 0]) * np.sin(4 * v[:, 1] + 1) * np.sin(3 * v[:, 2] + 2)
    r = 1 + bump + wave + 0.003 * rng.standard_normal(len(v))
    return Mesh(v * r[:, None], np.asarray(s.faces), "bumpy_sphere")


def twisted_box(seed: int = 3) -> Mesh:
    """A rounded 1 x 1 x 2 box twisted by 120 degrees about its long axis, slightly waisted."""
    import trimesh

    rng = np.random.default_rng(seed)
    box = trimesh.creation.box(extents=(1.0, 1.0, 2.0))
    v, f = trimesh.remesh.subdivide_to_size(box.vertices, box.faces, max_edge=0.06)
    v = np.asarray(v)
    # round the corners a little: pull each point towards a superellipsoid
    x, y, z = v.T
    norm = (np.abs(x / 0.5) ** 6 + np.abs(y / 0.5) ** 6 + np.abs(z / 1.0) ** 6) ** (1 / 6)
    v = v / norm[:, None]
    x, y, z = v.T
    ang = np.deg2rad(120) * (z + 1) / 2
    waist = 1 - 0.2 * np.cos(np.pi * z / 2)
    v = np.stack(
        [waist * (x * np.cos(ang) - y * np.sin(ang)), waist * (x * np.sin(ang) + y * np.cos(ang)), z], -1
    )
    v += 0.002 * rng.standard_normal(v.shape)
    return Mesh(v, np.asarray(f), "twisted_box")


# ---------------------------------------------------------------- PyVista's example meshes


def _pyvista_example(name: str) -> Path:
    import pyvista.examples

    path = Path(pyvista.examples.__file__).parent / name
    if not path.is_file():
        raise SystemExit(f"{path} is missing: this PyVista version does not ship {name}")
    return path


def _level_surface(values: np.ndarray, grid, level: float) -> Mesh:
    grid["level"] = values
    surf = grid.contour([level], scalars="level").triangulate().clean()
    faces = np.asarray(surf.faces).reshape(-1, 4)[:, 1:]
    return Mesh(np.asarray(surf.points, dtype=np.float64), faces)


def closed_shell(name: str, *, offset: float, bridge: float, resolution: int) -> Mesh:
    """A closed, single-piece version of a PyVista example mesh, by a morphological closing.

    The ant and the airplane come in several pieces (legs, wings), some of them open, some only
    nearly touching. On a grid of ``resolution`` points along the longest side (VTK via PyVista):

    1. dilate: the outer surface at distance ``bridge`` from the mesh (the zero level of
       ``|distance| - bridge``, by marching cubes) joins pieces closer than ``2 * bridge``;
    2. erode: the surface ``bridge - offset`` inside that one, i.e. at about ``offset`` from the
       original mesh, keeping the bridges.

    Distances are fractions of the bounding-box diagonal. :func:`preflight` then keeps the largest
    piece (the outer shell) and cleans it.
    """
    import pyvista as pv

    src = pv.read(_pyvista_example(name)).triangulate()
    lo, hi = np.asarray(src.bounds).reshape(3, 2).T
    diag = float(np.linalg.norm(hi - lo))
    lo, hi = lo - 2 * bridge * diag, hi + 2 * bridge * diag
    step = float((hi - lo).max()) / resolution
    dims = np.ceil((hi - lo) / step).astype(int) + 1
    grid = pv.ImageData(dimensions=dims, spacing=(step, step, step), origin=lo)
    dist = np.abs(grid.compute_implicit_distance(src)["implicit_distance"])
    dilated = preflight(_level_surface(dist, grid, bridge * diag)).mesh  # outer shell, outward normals
    shell = pv.PolyData(
        dilated.vertices, np.hstack([np.full((len(dilated.faces), 1), 3), dilated.faces]).ravel()
    )
    inside = grid.compute_implicit_distance(shell)["implicit_distance"]  # negative inside
    out = _level_surface(inside, grid, -(bridge - offset) * diag)
    return Mesh(out.vertices, out.faces, Path(name).stem)


# ---------------------------------------------------------------- making and checking


def _normalized(mesh: Mesh) -> Mesh:
    """Centered on the bounding-box center, scaled to a bounding-box diagonal of 2."""
    v = mesh.vertices
    lo, hi = v.min(axis=0), v.max(axis=0)
    return Mesh((v - (lo + hi) / 2) * (2 / np.linalg.norm(hi - lo)), mesh.faces, mesh.name)


SOURCES = {
    "torus_knot": (torus_knot, "procedural (2, 3) torus knot tube, seed 1"),
    "bumpy_sphere": (bumpy_sphere, "procedural icosphere with 9 Gaussian bumps, seed 2"),
    "twisted_box": (twisted_box, "procedural rounded box twisted 120 degrees, seed 3"),
    "ant": (
        lambda: closed_shell("ant.ply", offset=0.006, bridge=0.03, resolution=160),
        "PyVista examples/ant.ply",
    ),
    "airplane": (
        lambda: closed_shell("airplane.ply", offset=0.004, bridge=0.02, resolution=200),
        "PyVista examples/airplane.ply",
    ),
}


def _model_config(edges: int):
    from meshcnn_core import ClassifierConfig, SegmenterConfig

    if edges == 750:
        return ClassifierConfig(
            nclasses=3, ncf=(8, 8, 8, 8), pool_res=(600, 450, 300, 180), ninput_edges=750, num_groups=4
        )
    if edges == 1500:
        return SegmenterConfig(
            nclasses=3, ncf=(8, 8, 8, 8), pool_res=(1050, 600, 300), ninput_edges=1500, resblocks=1
        )
    return SegmenterConfig(
        nclasses=3, ncf=(8, 8, 8, 8), pool_res=(1800, 1350, 600), ninput_edges=2280, resblocks=1
    )


def check_file(path: Path, edges: int) -> str:
    """Check one sample file; returns a one-line summary, raises on any failure."""
    import torch

    from meshcnn_core.checkpoint import build_model, checkpoint_dict, model_from_checkpoint
    from meshcnn_core.inference import record
    from meshcnn_core.mesh.features import extract_features
    from meshcnn_core.mesh.topology import build_topology

    mesh = load_mesh(path)
    chk = check_mesh(mesh)
    assert not chk.problems and chk.nonmanifold_vertices == 0, f"{path.name}: {chk.problems}"
    cfg = _model_config(edges)
    assert cfg.pool_res[0] < chk.num_edges <= min(edges, cfg.ninput_edges), (
        f"{path.name}: {chk.num_edges} edges"
    )
    topo, kept, _ = build_topology(mesh.vertices, mesh.faces)
    assert len(kept) == len(mesh.faces) and topo.num_edges == chk.num_edges
    extract_features(topo)
    again = preflight(mesh, target_edges=edges, min_edges=cfg.pool_res[0])
    assert not again.changed, f"{path.name}: preflight would change it: {again.actions}"
    torch.manual_seed(0)
    net = build_model(cfg)
    model = model_from_checkpoint(
        checkpoint_dict(net, cfg, ["a", "b", "c"], np.zeros(5), np.ones(5)), device="cpu"
    )
    rec = record(model, mesh)
    stages = [st.num_edges for st in rec.stages()]
    chi = len(mesh.vertices) - chk.num_edges + len(mesh.faces)
    counts = f"{len(mesh.vertices)} V, {len(mesh.faces)} F, {chk.num_edges} E"
    return f"{path.name}: {counts}, genus {(2 - chi) // 2}; stages {stages}"


def make(names: list[str]) -> None:
    """Write ``<name>_<edges>.obj`` for each source in ``names`` and each size."""
    for name in names:
        make_source, provenance = SOURCES[name]
        source = _normalized(make_source())
        for edges in SIZES:
            res = preflight(source, target_edges=edges, min_edges=_model_config(edges).pool_res[0])
            out = HERE / f"{name}_{edges}.obj"
            header = [
                f"{name}_{edges}: {provenance}",
                "made by sample_meshes/make_samples.py (see README.md)",
            ]
            write_obj(out, Mesh(res.mesh.vertices, res.mesh.faces, out.stem), digits=DIGITS, header=header)
            print(f"wrote {out.name}: " + "; ".join(res.actions))


def main() -> int:
    """Command line: make (unless ``--check``), then check."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check the files on disk")
    ap.add_argument(
        "names", nargs="*", default=list(SOURCES), help=f"sources to make (default: all of {list(SOURCES)})"
    )
    args = ap.parse_args()
    if not args.check:
        make(args.names)
    for name in args.names:
        for edges in SIZES:
            print(check_file(HERE / f"{name}_{edges}.obj", edges))
    return 0


if __name__ == "__main__":
    sys.exit(main())
