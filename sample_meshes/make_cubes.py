"""Write a few engraved cubes of the generated test split to sample_meshes/, with their engraving masks.

Run from the repository root::

    python sample_meshes/make_cubes.py            # writes sample_meshes/cube_*_750.obj and .engraving
    python sample_meshes/make_cubes.py --check    # only checks the files on disk

Each cube is exactly the mesh of the seed-0 cubes set (``python -m meshcnn_core.data.cubes``,
:func:`meshcnn_core.data.cubes.make_cube` with seed 0, split ``test``) that the shipped cubes
classifier was tested on, so the app can open one and show what pooling keeps. Beside each
``cube_<icon>_750.obj``, ``cube_<icon>_750.engraving`` holds one 0/1 per edge in MeshCNN's edge
order: 1 for an edge on the engraving.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from meshcnn_core.data.cubes import GENERATOR_VERSION, TARGET_EDGES, make_cube  # noqa: E402
from meshcnn_core.mesh.check import check_mesh  # noqa: E402
from meshcnn_core.mesh.io import Mesh, load_mesh, write_obj  # noqa: E402
from meshcnn_core.mesh.topology import build_topology  # noqa: E402

SEED = 0
#: (icon, index in the data set) of the test-split cubes to ship; indices 15-19 are the test split
#: of the default set (15 train + 5 test per class).
CUBES = (("ring", 15), ("apple", 15), ("moon", 16), ("cloud", 16))


def _path(icon: str) -> Path:
    return HERE / f"cube_{icon}_{TARGET_EDGES}.obj"


def check(path: Path) -> str:
    """Read a written cube back and check it; returns a table row."""
    mesh = load_mesh(path)
    chk = check_mesh(mesh)
    if chk.problems or chk.boundary_edges or chk.components != 1:
        raise SystemExit(f"{path.name}: {chk.problems or 'open or in pieces'}")
    topo, kept, _ = build_topology(mesh.vertices, mesh.faces)
    mask = np.loadtxt(path.with_suffix(".engraving"), dtype=np.int64).reshape(-1)
    if len(kept) != len(mesh.faces) or len(mask) != topo.num_edges or topo.num_edges > TARGET_EDGES:
        raise SystemExit(f"{path.name}: {topo.num_edges} edges, {len(mask)} mask entries")
    return (f"| `{path.name}` | {len(mesh.vertices)} | {len(mesh.faces)} | {topo.num_edges} | "
            f"{int(mask.sum())} ({mask.mean():.0%}) | {path.stat().st_size // 1024} KB |")


def main(argv: list[str] | None = None) -> int:
    """Command line: write and check the cubes, or only check them."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="only check the files on disk")
    a = p.parse_args(argv)
    for icon, k in CUBES:
        path = _path(icon)
        if not a.check:
            cube = make_cube(icon, SEED, "test", k)
            header = [f"engraved cube {icon}_{k:03d} of the seed-{SEED} test split, cubes generator "
                      f"v{GENERATOR_VERSION} (python sample_meshes/make_cubes.py)"]
            write_obj(path, Mesh(cube.mesh.vertices, cube.mesh.faces, path.stem), digits=8, header=header)
            path.with_suffix(".engraving").write_text("\n".join(str(int(b)) for b in cube.engraving) + "\n")
        print(check(path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
