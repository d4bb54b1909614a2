"""Write the generated vases to sample_meshes/, with their per-edge part labels.

Run from the repository root::

    python sample_meshes/make_vase.py            # writes sample_meshes/vase_*_1500.obj and .eseg
    python sample_meshes/make_vase.py --check    # only checks the files on disk

The vases are made by :func:`meshcnn_core.data.vase_shape.make_vase` from the default
:class:`~meshcnn_core.data.vase_shape.VaseParams` (two loop handles, or none), in the COSEG vases'
frame, so that the vase models (handle / neck classifiers, COSEG vase segmenter) can be shown on a
vase we may ship. Beside each ``vase_<name>_1500.obj``, ``vase_<name>_1500.eseg`` holds one part
label per edge in MeshCNN's edge order, in the format of COSEG's ``seg/*.eseg`` (one integer a
line: 1 neck, 2 handle, 3 body, 4 base).

The check reads each file back and checks that it is closed, manifold and in one piece with at
most 1500 edges; that ``preflight`` (the app's loading path) leaves it unchanged; that the mesh
made again by the current code has the same faces and, to the written digits, the same vertices;
and that the edges of the file as read back (:func:`meshcnn_core.mesh.topology.build_topology`)
are the generator's edges in the same order, so the ``.eseg`` lines belong to those edges. It then
prints what the shipped vase models say on it (not a pass/fail condition).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from meshcnn_core.data.vase_shape import MIN_EDGES, TARGET_EDGES, VaseParams, make_vase  # noqa: E402
from meshcnn_core.mesh.check import check_mesh  # noqa: E402
from meshcnn_core.mesh.io import Mesh, load_mesh, write_obj  # noqa: E402
from meshcnn_core.mesh.repair import preflight  # noqa: E402
from meshcnn_core.mesh.topology import build_topology  # noqa: E402

DIGITS = 8
#: file stem -> the parameters of the vase
VASES = {
    "vase_handle_neck_1500": VaseParams(handles=2),
    "vase_no_handle_1500": VaseParams(handles=0),
}
MODELS = ("vase_handle_classifier", "vase_neck_classifier", "coseg_vases_segmenter")


def _write(stem: str) -> None:
    vase = make_vase(VASES[stem], stem)
    header = [f"{stem}: a procedural vase (meshcnn_core.data.vase_shape, {VASES[stem].handles} handles), "
              "made by sample_meshes/make_vase.py (see README.md)"]
    path = HERE / f"{stem}.obj"
    write_obj(path, Mesh(vase.mesh.vertices, vase.mesh.faces, stem), digits=DIGITS, header=header)
    path.with_suffix(".eseg").write_text("\n".join(str(int(x)) for x in vase.labels) + "\n")


def check(stem: str) -> str:
    """Read a written vase back and check it (see the module docstring); returns a table row."""
    path = HERE / f"{stem}.obj"
    mesh = load_mesh(path)
    chk = check_mesh(mesh)
    if chk.problems or chk.boundary_edges or chk.components != 1 or chk.nonmanifold_vertices:
        raise SystemExit(f"{path.name}: {chk.problems or 'open, in pieces or with bow-ties'}")
    if not MIN_EDGES <= chk.num_edges <= TARGET_EDGES:
        raise SystemExit(f"{path.name}: {chk.num_edges} edges")
    if preflight(mesh, target_edges=TARGET_EDGES, min_edges=1200, measure=False).changed:
        raise SystemExit(f"{path.name}: preflight would change it")
    labels = np.loadtxt(path.with_suffix(".eseg"), dtype=np.int64).reshape(-1)
    topo, kept, _ = build_topology(mesh.vertices, mesh.faces)
    vase = make_vase(VASES[stem], stem)
    made, _, _ = build_topology(vase.mesh.vertices, vase.mesh.faces)
    if not (np.array_equal(mesh.faces, vase.mesh.faces) and len(kept) == len(mesh.faces)
            and np.allclose(mesh.vertices, vase.mesh.vertices, rtol=10.0 ** (1 - DIGITS), atol=0)):
        raise SystemExit(f"{path.name}: differs from the vase the current code makes; run without --check")
    if not (np.array_equal(topo.edges, made.edges) and np.array_equal(labels, vase.labels)):
        raise SystemExit(f"{path.name}: the .eseg labels are not in the edge order of the file as read back")
    counts = np.bincount(labels, minlength=5)[1:]
    genus = (2 - (chk.num_vertices - chk.num_edges + chk.num_faces)) // 2
    return (f"| `{path.name}` | {chk.num_vertices} | {chk.num_faces} | {chk.num_edges} | {genus} | "
            + " | ".join(str(int(c)) for c in counts) + f" | {path.stat().st_size // 1024} KB |")


def predictions(stem: str) -> str:
    """What the shipped vase models say on the file.

    Classifiers: the class and its probability; segmenter: the share of edges whose predicted part
    is the ``.eseg`` label.
    """
    from meshcnn_core.checkpoint import load_model
    from meshcnn_core.inference import record

    mesh = load_mesh(HERE / f"{stem}.obj")
    labels = np.loadtxt(HERE / f"{stem}.eseg", dtype=np.int64).reshape(-1)
    words = []
    for name in MODELS:
        model = load_model(ROOT / "checkpoints" / f"{name}.pt")
        rec = record(model, mesh)
        if model.task == "classification":
            k = int(rec.prediction)
            words.append(f"{name}: {model.class_names[k]} ({rec.probabilities[k]:.2f})")
        else:
            pred = np.asarray([int(model.class_names[k]) for k in rec.prediction])
            words.append(f"{name}: {np.mean(pred == labels):.1%} of edges right")
    return f"{stem}: " + "; ".join(words)


def main(argv: list[str] | None = None) -> int:
    """Command line: write and check the vases, or only check them."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="only check the files on disk")
    p.add_argument("--no-models", action="store_true", help="do not run the shipped models")
    a = p.parse_args(argv)
    print("| file | vertices | faces | edges | genus | neck | handle | body | base | size |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for stem in VASES:
        if not a.check:
            _write(stem)
        print(check(stem))
    if not a.no_models:
        for stem in VASES:
            print(predictions(stem))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
