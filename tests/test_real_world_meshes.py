"""Meshes of the kinds users bring (issue 12): open with a large hole, non-manifold fans, thin wings,
4-face meshes, and shapes far from any training class. Each is made here, procedurally.

Every kind must go through ``preflight`` (as ``record --repair`` does) to a mesh the model takes,
within 2 % mean surface distance of the cleaned input, or be refused with one line.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from meshcnn_core.analysis.ood import OodScore, assess_recording
from meshcnn_core.checkpoint import load_model
from meshcnn_core.errors import MeshError
from meshcnn_core.inference import record
from meshcnn_core.mesh.actions import ActionKind
from meshcnn_core.mesh.check import check_mesh
from meshcnn_core.mesh.fidelity import point_triangle_distance, surface_distance
from meshcnn_core.mesh.io import Mesh, load_mesh
from meshcnn_core.mesh.repair import preflight
from meshcnn_core.mesh.simplify import subdivide_midpoint

from .meshes import icosphere, tetrahedron, torus

ROOT = Path(__file__).resolve().parents[1]
SHREC = ROOT / "checkpoints" / "shrec16_classifier.pt"
DATA = ROOT.parent / "shared" / "datasets" / "shrec_16"
LIMITS = {"target_edges": 750, "min_edges": 600}  # the SHREC classifier's


def _sphere_grid(n_u: int = 90, n_v: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """A bumpy UV sphere without its poles: open at both ends. Shapes: ``(V, 3), (F, 3)``."""
    u = 2 * np.pi * np.arange(n_u) / n_u
    t = np.linspace(0.15, np.pi - 0.15, n_v)
    r = 1 + 0.05 * np.sin(5 * u)[:, None] * np.sin(4 * t)[None]
    v = np.stack(
        [
            r * np.sin(t)[None] * np.cos(u)[:, None],
            r * np.sin(t)[None] * np.sin(u)[:, None],
            r * np.cos(t)[None] * np.ones((n_u, 1)),
        ],
        -1,
    ).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(n_u), np.arange(n_v - 1), indexing="ij")
    a, b = i * n_v + j, ((i + 1) % n_u) * n_v + j
    f = np.concatenate(
        [np.stack([a, b, b + 1], -1).reshape(-1, 3), np.stack([a, b + 1, a + 1], -1).reshape(-1, 3)]
    )
    return v, f


def open_large_hole() -> Mesh:
    """A bunny-like open mesh: a bumpy sphere with its poles and a big cap cut off, and a small cut."""
    v, f = _sphere_grid()
    cen = v[f].mean(axis=1)
    keep = (cen[:, 2] > -0.85) & ~((cen[:, 0] > 0.9) & (np.abs(cen[:, 1]) < 0.1))
    return Mesh(v, f[keep], "open_large_hole")


def nonmanifold_fan() -> Mesh:
    """Three sheets meeting at one line of edges, plus a closed sphere they hang off (a fan of 3+ faces)."""
    s = icosphere(3)
    v, f = [s.vertices], [s.faces]
    n = 12
    xs = np.linspace(-0.5, 0.5, n)
    spine = np.stack([xs, np.zeros(n), np.full(n, 1.6)], 1)
    off = len(s.vertices)
    v.append(spine)
    spine_ids = off + np.arange(n)
    off += n
    for ang in (0.0, 2.1, 4.2):
        rim = spine + 0.5 * np.array([0, np.cos(ang), np.sin(ang)])
        v.append(rim)
        rim_ids = off + np.arange(n)
        off += n
        a, b = spine_ids[:-1], spine_ids[1:]
        c, d = rim_ids[:-1], rim_ids[1:]
        f += [np.stack([a, b, d], 1), np.stack([a, d, c], 1)]
    return Mesh(np.concatenate(v), np.concatenate(f), "fan")


def thin_wing() -> Mesh:
    """A fine, closed, very thin wing (a flat box 2 x 1 x 0.02): decimation must keep its outline."""
    import trimesh

    box = trimesh.creation.box(extents=(2.0, 1.0, 0.02))
    v, f = np.asarray(box.vertices), np.asarray(box.faces)
    for _ in range(4):
        v, f = subdivide_midpoint(v, f)
    return Mesh(v, f, "wing")


def four_faces() -> Mesh:
    return Mesh(tetrahedron().vertices, tetrahedron().faces, "tetra")


@pytest.mark.parametrize(
    "make", [open_large_hole, nonmanifold_fan, thin_wing, four_faces], ids=lambda m: m.__name__
)
def test_kinds_go_in_within_two_percent(make):
    mesh = make()
    res = preflight(mesh, **LIMITS)
    chk = check_mesh(res.mesh)
    assert not chk.problems
    assert 600 <= res.num_edges <= 750
    assert res.fidelity is not None and res.fidelity.mean <= 0.02, res.actions
    fid = [a for a in res.steps if a.kind == ActionKind.FIDELITY]
    assert len(fid) == 1 and fid[0].words == res.fidelity.words()


def test_open_mesh_keeps_its_borders():
    mesh = open_large_hole()
    res = preflight(mesh, **LIMITS)
    kept = next(a for a in res.steps if a.kind == ActionKind.OPEN_BORDERS)
    assert kept.words.startswith(f"kept 3 open borders ({check_mesh(mesh).boundary_edges} boundary edges")
    assert check_mesh(res.mesh).boundary_edges > 0
    # the cut plane stays where it was: the lowest point does not move by more than 1% of the diagonal
    used = mesh.vertices[np.unique(mesh.faces)]
    assert abs(res.mesh.vertices[:, 2].min() - used[:, 2].min()) < 0.01 * np.linalg.norm(np.ptp(used, axis=0))


def test_fill_holes_closes_a_large_hole():
    res = preflight(open_large_hole(), fill_holes=True, **LIMITS)
    kinds = [a.kind for a in res.steps]
    assert ActionKind.HOLES_FILLED in kinds
    assert check_mesh(res.mesh).boundary_edges == 0
    assert res.mesh.vertices[:, 2].min() < -0.8  # the cap region got a patch, not a dent


def test_nonmanifold_fan_is_cut_and_listed():
    res = preflight(nonmanifold_fan(), **LIMITS)
    nm = next(a for a in res.steps if a.kind == ActionKind.NONMANIFOLD_EDGES)
    assert nm.count == 11 and "MeshFix" in nm.words and len(nm.where) == 3


def test_thin_wing_keeps_its_span():
    mesh = thin_wing()
    res = preflight(mesh, **LIMITS)
    span = np.ptp(res.mesh.vertices, axis=0)
    assert np.allclose(span, np.ptp(mesh.vertices, axis=0), rtol=0.02)


def test_shipped_airplane_keeps_its_wings():
    mesh = load_mesh(ROOT / "sample_meshes" / "airplane_2250.obj")
    res = preflight(mesh, target_edges=750)
    assert np.allclose(np.ptp(res.mesh.vertices, axis=0), np.ptp(mesh.vertices, axis=0), rtol=0.03)
    assert res.fidelity.mean < 0.005 and res.fidelity.hausdorff < 0.02


def test_four_faces_are_subdivided_then_simplified():
    res = preflight(four_faces(), **LIMITS)
    assert [a.kind for a in res.steps[:2]] == [ActionKind.SUBDIVIDE, ActionKind.SIMPLIFY]
    assert res.steps[0].count == 4  # 6 -> 24 -> 96 -> 384 -> 1536 edges
    assert res.fidelity.hausdorff < 1e-6


def test_subdivide_midpoint_keeps_the_surface():
    t = tetrahedron()
    v, f = subdivide_midpoint(t.vertices, t.faces)
    assert len(f) == 16 and len(v) == 4 + 6
    assert check_mesh(Mesh(v, f)).problems == [] and check_mesh(Mesh(v, f)).boundary_edges == 0
    assert surface_distance(t.vertices, t.faces, v, f).hausdorff < 1e-9


def test_point_triangle_distance_regions():
    a, b, c = np.array([[0.0, 0, 0]]), np.array([[1.0, 0, 0]]), np.array([[0.0, 1, 0]])
    pts = np.array([[0.2, 0.2, 0.5], [-1, -1, 0], [2, 0, 0], [0.5, -1, 0], [1, 1, 0], [-1, 0.5, 0]])
    want = [0.5, np.sqrt(2), 1.0, 1.0, np.sqrt(2) / 2, 1.0]
    got = point_triangle_distance(pts, *(np.repeat(x, len(pts), 0) for x in (a, b, c)))
    assert np.allclose(got, want)


def test_fidelity_of_a_scaled_sphere():
    s = icosphere(3, jitter=0.0)
    fid = surface_distance(s.vertices, s.faces, s.vertices * 1.1, s.faces)
    diag = np.linalg.norm(np.ptp(s.vertices, axis=0))
    # every point moves outward by 0.1 of the radius (the icosphere's chords lie up to ~1% inside)
    assert 0.09 / diag < fid.mean < 0.101 / diag and fid.hausdorff < 0.101 * 1.1 / diag


def test_fidelity_warns_above_two_percent():
    s = icosphere(3)
    far = surface_distance(s.vertices, s.faces, s.vertices * 1.3, s.faces)
    assert not far.ok and "WARNING" in far.words()
    assert surface_distance(s.vertices, s.faces, s.vertices, s.faces).ok


def test_nan_faces_dropped_with_the_reason():
    s = icosphere(3)
    v = s.vertices.copy()
    v[7] = np.nan
    res = preflight(Mesh(v, s.faces, "nan"), **LIMITS)
    assert res.steps[0].kind == ActionKind.NONFINITE
    assert "with NaN or infinite coordinates (their positions are unknown)" in res.actions[0]
    assert (
        check_mesh(Mesh(v, s.faces))
        .problems[0]
        .endswith("(repair drops the faces that use them, since their positions are unknown)")
    )


@pytest.mark.slow
def test_repair_of_100k_faces():
    big = torus(250, 200)  # 100,000 faces
    mesh = Mesh(big.vertices, big.faces, "big")
    assert len(mesh.faces) == 100_000
    t0 = time.perf_counter()
    res = preflight(mesh, **LIMITS)
    seconds = time.perf_counter() - t0
    assert 600 <= res.num_edges <= 750
    assert seconds < 120, seconds  # a hang guard; the 3 s goal is timed in benchmarks/bench_simplify.py


# ---------------------------------------------------------------- out of distribution


def _generated_shapes() -> list[Mesh]:
    """Shapes from outside SHREC-16's 30 classes (animals, people, tools): geometric solids."""
    import trimesh

    out = [icosphere(3, jitter=0.01, seed=1), torus(40, 16)]
    for extents in ((1, 1, 1), (2, 0.3, 0.3), (1, 1, 0.1)):
        b = trimesh.creation.box(extents=extents)
        out.append(Mesh(np.asarray(b.vertices), np.asarray(b.faces)))
    c = trimesh.creation.cylinder(radius=0.5, height=2.0, sections=24)
    out.append(Mesh(np.asarray(c.vertices), np.asarray(c.faces)))
    k = trimesh.creation.cone(radius=0.7, height=1.5, sections=24)
    out.append(Mesh(np.asarray(k.vertices), np.asarray(k.faces)))
    return out


def _shrec():
    model = load_model(SHREC, device="cpu")
    if model.ood is None:
        pytest.skip("the shipped classifier has no out-of-distribution statistics")
    return model


def _score(model, mesh: Mesh) -> OodScore:
    fitted = preflight(mesh, target_edges=model.config.ninput_edges, min_edges=model.config.pool_res[0])
    return assess_recording(model.ood, record(model, fitted.mesh))


def test_generated_shapes_score_high():
    model = _shrec()
    scores = [_score(model, m) for m in _generated_shapes()]
    unusual = sum(s.unusual for s in scores)
    assert unusual >= 0.75 * len(scores), [round(s.distance, 1) for s in scores]
    assert "unlike the training data" in next(s for s in scores if s.unusual).words()


@pytest.mark.dataset
def test_test_split_scores_low():
    if not DATA.is_dir():
        pytest.skip("../shared/datasets is absent")
    model = _shrec()
    paths = sorted(DATA.glob("*/test/*.obj"))[::6]  # 20 of the 120 test meshes
    scores = [assess_recording(model.ood, record(model, load_mesh(p))) for p in paths]
    assert sum(not s.unusual for s in scores) >= 0.9 * len(scores)
    # the stored test scores are the ones we compute now
    for s in scores[:5]:
        assert np.isclose(model.ood.test_scores, s.distance, rtol=1e-4).any()
    assert max(s.distance for s in scores) < min(_score(model, m).distance for m in _generated_shapes()[:2])


def test_ood_line_in_cli(tmp_path, capsys):
    from meshcnn_core.__main__ import main

    _shrec()
    rc = main(
        [
            "record",
            "--model",
            str(SHREC),
            "--mesh",
            str(ROOT / "sample_meshes" / "twisted_box_750.obj"),
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "out-of-distribution score" in out


def test_refusals_stay_one_line():
    with pytest.raises(MeshError) as exc:
        preflight(Mesh(np.zeros((3, 3)), [[0, 1, 2]], "flat"), **LIMITS)
    assert "\n" not in str(exc.value) and "zero area" in str(exc.value)
