"""The engraved-cubes generator: closed 750-edge meshes, reproducible, with a truthful engraving mask."""

from __future__ import annotations

import json
from pathlib import Path

import manifold3d as m3d
import numpy as np
import pytest

from meshcnn_core.data.cubes import (
    _FACE_ROTATIONS,
    TARGET_EDGES,
    CubeParams,
    engrave_cube,
    engraving_mask,
    generate_cubes,
    load_engraving,
)
from meshcnn_core.data.datasets import scan_dataset
from meshcnn_core.data.icons import ICON_NAMES, icon, icon_contours
from meshcnn_core.mesh.check import check_mesh
from meshcnn_core.mesh.io import load_mesh
from meshcnn_core.mesh.topology import build_topology

CLASSES = ("heart", "letter_a", "ring")  # a plain outline, a letter with a hole, an annulus


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cubes") / "set"
    return generate_cubes(root, seed=3, train_per_class=2, test_per_class=1, classes=CLASSES)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _footprint_distance(points: np.ndarray, contours: list[np.ndarray]) -> np.ndarray:
    """Signed distance of 2D points to a polygon with holes (negative inside; even-odd rule).

    Shapes: ``(N, 2), [(K_i, 2)] -> (N,)``.
    """
    inside = np.zeros(len(points), dtype=bool)
    dist = np.full(len(points), np.inf)
    for c in contours:
        a, b = c, np.roll(c, -1, axis=0)  # (K, 2) segment ends
        px, py = points[:, 0:1], points[:, 1:2]
        crosses = ((a[:, 1] > py) != (b[:, 1] > py)) & (
            px < a[:, 0] + (py - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1] + 1e-300))
        inside ^= (crosses.sum(axis=1) % 2).astype(bool)
        ab = b - a
        t = np.clip(((points[:, None, :] - a) * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)  # (N, K)
        d = np.linalg.norm(points[:, None, :] - (a + t[..., None] * ab), axis=-1)
        dist = np.minimum(dist, d.min(axis=1))
    return np.where(inside, -dist, dist)


def test_icons_are_normalized_and_distinct():
    assert len(ICON_NAMES) >= 20
    signatures = []
    for name in ICON_NAMES:
        cs = icon(name)
        radius = max(np.linalg.norm(c, axis=1).max() for c in icon_contours(cs))
        assert radius == pytest.approx(1.0)
        assert cs.area() > 0.3  # a shape, not a sliver
        perimeter = sum(np.linalg.norm(np.roll(c, -1, 0) - c, axis=1).sum() for c in icon_contours(cs))
        signatures.append((round(cs.area(), 3), round(perimeter, 3)))
    assert len(set(signatures)) == len(signatures)  # no two icons are the same shape turned
    with pytest.raises(ValueError, match="unknown icon"):
        icon("teapot")


def test_mask_of_a_square_pit_counts_its_edges():
    # cube minus a square prism, unrefined: rim 4, walls 4 vertical + 4 diagonal + 4 bottom, floor 1 diagonal
    tool = m3d.CrossSection.square([0.4, 0.4], True).extrude(0.5).translate([0, 0, 0.45])
    mesh = (m3d.Manifold.cube([1, 1, 1], True) - tool).to_mesh()
    v = np.asarray(mesh.vert_properties, dtype=np.float64)[:, :3]
    f = np.asarray(mesh.tri_verts, dtype=np.int64)
    assert len(v) == 16
    mask = engraving_mask(v, f, 0.05)
    topo, _, _ = build_topology(v, f)
    assert mask.sum() == 17
    mid = v[topo.edges].mean(axis=1)
    assert (np.abs(mid[mask, :2]) <= 0.2 + 1e-6).all()  # every marked edge is within the pit's square
    assert not mask[np.abs(mid[:, :2]).max(axis=1) > 0.2 + 1e-6].any()


def test_layout_and_sizes(small_set):
    info = scan_dataset(small_set)
    assert info.task == "classification"
    assert info.class_names == sorted(CLASSES)  # the engraving/ folder is not a class
    assert len(info.files["train"]) == 6 and len(info.files["test"]) == 3
    for path in info.files["train"] + info.files["test"]:
        mesh = load_mesh(path)
        chk = check_mesh(mesh)
        assert chk.problems == [] and chk.boundary_edges == 0 and chk.components == 1
        assert TARGET_EDGES - 12 <= chk.num_edges <= TARGET_EDGES
        assert chk.num_vertices - chk.num_edges + chk.num_faces == 2  # a groove keeps the sphere's topology
        topo, kept, _ = build_topology(mesh.vertices, mesh.faces)
        assert len(kept) == len(mesh.faces)
        assert len(load_engraving(small_set, path.stem)) == topo.num_edges


def test_deterministic_from_the_seed(small_set, tmp_path):
    again = generate_cubes(tmp_path / "again", seed=3, train_per_class=2, test_per_class=1, classes=CLASSES)
    a, b = _files(small_set), _files(again)
    assert [p.relative_to(small_set) for p in a] == [p.relative_to(again) for p in b]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(a, b))
    other = generate_cubes(tmp_path / "other", seed=4, train_per_class=2, test_per_class=1, classes=CLASSES)
    name = "heart/train/heart_000.obj"
    assert (other / name).read_bytes() != (small_set / name).read_bytes()


def test_generation_is_skipped_when_the_set_is_there(small_set):
    stamp = (small_set / "manifest.json").stat().st_mtime_ns
    generate_cubes(small_set, seed=3, train_per_class=2, test_per_class=1, classes=CLASSES)
    assert (small_set / "manifest.json").stat().st_mtime_ns == stamp


def test_mask_marks_the_icon_and_not_the_background(small_set):
    manifest = json.loads((small_set / "manifest.json").read_text())
    for entry in manifest["meshes"]:
        mesh = load_mesh(small_set / entry["file"])
        topo, _, _ = build_topology(mesh.vertices, mesh.faces)
        mask = load_engraving(small_set, Path(entry["file"]).stem)
        assert mask.sum() == entry["engraved_edges"] >= 20
        v = mesh.vertices @ _FACE_ROTATIONS[entry["face"]]  # back to the engraved +z face
        mid = v[topo.edges].mean(axis=1)
        cs = icon(entry["icon"]).scale([entry["scale"]] * 2).rotate(entry["angle"]).translate(entry["center"])
        sd = _footprint_distance(mid[:, :2], icon_contours(cs))
        on_face = (mid[:, 2] > 0.5 - entry["depth"] - 1e-6) & (np.abs(mid[:, :2]) < 0.5 - 1e-6).all(axis=1)
        assert (on_face[mask] & (sd[mask] < 0.01)).all()  # marked: on the engraved face, within the icon
        assert not mask[~on_face].any()  # nothing on the five other faces
        assert not mask[sd > 0.01].any()  # nothing on the flat background around the icon
        below = on_face & (mid[:, 2] < 0.5 - 1e-3 * entry["depth"])
        assert mask[below].all()  # walls and floor are all marked
        assert mask[on_face & (sd < -0.01)].all()  # over the icon's inside: the floor, all marked


def test_engrave_cube_puts_the_icon_on_the_chosen_face():
    p = CubeParams("star", face=1, center=(0.05, -0.02), scale=0.35, angle=20.0, depth=0.04, refine=0.15,
                   jitter_seed=1)
    cube = engrave_cube(p, "star")
    topo, _, _ = build_topology(cube.mesh.vertices, cube.mesh.faces)
    mid = cube.mesh.vertices[topo.edges].mean(axis=1)
    assert (mid[cube.engraving, 0] < -0.5 + 0.04 + 1e-6).all()  # face 1 is -x: the cut is near x = -0.5
    assert (mid[cube.engraving, 0] > -0.5 - 1e-9).all()


def test_the_shipped_landing_view_tells_the_story():
    """The app opens on the cubes classifier and a shipped cube: right class, engraving kept at that stage."""
    import meshcnn_core as mc
    from viz_app.catalog import LANDING, REPO_ROOT

    model = mc.load_model(REPO_ROOT / "checkpoints" / LANDING.model, device="cpu")
    mesh_path = REPO_ROOT / "sample_meshes" / LANDING.mesh
    rec = mc.record(model, mc.load_mesh(mesh_path))
    icon = mesh_path.stem.split("_")[1]  # cube_<icon>_750
    assert rec.class_names[int(rec.prediction)] == icon
    mask = np.loadtxt(mesh_path.with_suffix(".engraving")).astype(bool)
    kept = rec.stage(LANDING.stage).edge_ids
    assert mask[kept].mean() > 2 * mask.mean()  # the engraving stands out where the view opens
