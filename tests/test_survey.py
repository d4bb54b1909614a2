"""The data-set survey: per-mesh summaries, their sums, the cache and the command line."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch

from meshcnn_core import ClassifierConfig, MeshCNNError, SegmenterConfig, build_topology, load_mesh
from meshcnn_core.__main__ import main
from meshcnn_core.analysis.dihedral import DIHEDRAL_BINS_DEG, dihedral_angles, dihedral_bin_counts
from meshcnn_core.analysis.regions import (
    REGION_NAMES,
    geodesic_eccentricity,
    region_bins,
    region_counts,
    region_stats,
)
from meshcnn_core.analysis.survey import (
    MeshSurvey,
    aggregate,
    report_regions_text,
    report_table_csv,
    summarize_recording,
)
from meshcnn_core.analysis.survey_run import CACHE_VERSION, survey
from meshcnn_core.checkpoint import build_model, checkpoint_dict, load_model, save_checkpoint
from meshcnn_core.inference import record
from meshcnn_core.mesh.io import write_obj
from meshcnn_core.recording import _STAGE_KEYS, Recording

from .meshes import icosphere

SMALL_CLS = ClassifierConfig(
    nclasses=2, ncf=(8, 16), pool_res=(400, 300), ninput_edges=480, norm="group", num_groups=4
)
SMALL_SEG = SegmenterConfig(nclasses=3, ncf=(8, 16, 16), pool_res=(400, 300), ninput_edges=480, resblocks=1)


def _model(tmp_path, config, name="m"):
    torch.manual_seed(0)
    path = tmp_path / f"{name}.pt"
    names = [f"c{i}" for i in range(config.nclasses)]
    save_checkpoint(path, checkpoint_dict(build_model(config), config, names, np.zeros(5), np.ones(5)))
    return path


def _cube():
    import trimesh

    box = trimesh.creation.box()
    v, f = np.asarray(box.vertices, dtype=np.float64), np.asarray(box.faces)
    topo, faces, _ = build_topology(v, f)
    return v, faces, topo.edges


def _fake(task, class_names, logits, edge_ids, kinds, geometry=None):
    e = len(edge_ids[0])
    v, f, edges = geometry if geometry is not None else (np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((e, 2)))
    logits = np.asarray(logits, dtype=np.float64)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    a = {
        "input_edges": np.asarray(edges, dtype=np.int64),
        "input_vertices": v,
        "input_faces": f,
        "logits": logits,
        "probabilities": p / p.sum(-1, keepdims=True),
        "num_stages": np.asarray(len(kinds)),
        "meta": np.asarray(json.dumps({"task": task, "class_names": class_names})),
    }
    for k, (ids, kind) in enumerate(zip(edge_ids, kinds)):
        for key in _STAGE_KEYS:
            a[f"stage{k}_{key}"] = np.zeros(0)
        a[f"stage{k}_kind"] = np.asarray(kind)
        a[f"stage{k}_edge_ids"] = np.asarray(ids, dtype=np.int64)
    return Recording(a)


# ---------------------------------------------------------------- per mesh, hand-checked


def test_dihedral_bins_sharp_to_flat():
    assert DIHEDRAL_BINS_DEG[0] == 0 and DIHEDRAL_BINS_DEG[-1] == 180
    counts = dihedral_bin_counts(np.radians([100.0, 130.0, 160.0, 170.0, 179.0, 180.0, 119.99]))
    assert counts.tolist() == [2, 1, 1, 1, 2]


def test_dihedral_angles_hand_checked():
    v = np.array([[0, 0, 0], [1, 0, 0], [0.5, 1, 0], [0.5, 0, 1], [0.5, -1, 0]], dtype=np.float64)
    edges = np.array([[0, 1], [1, 2], [0, 2]])
    # a hinge folded to a right angle, then laid flat; its other edges are boundaries
    right = dihedral_angles(v, np.array([[0, 1, 2], [1, 0, 3]]), edges)
    flat = dihedral_angles(v, np.array([[0, 1, 2], [1, 0, 4]]), edges)
    assert np.degrees(right[0]) == pytest.approx(90) and np.degrees(flat[0]) == pytest.approx(180)
    assert np.isnan(right[1:]).all()
    cv, cf, ce = _cube()
    deg = np.degrees(dihedral_angles(cv, cf, ce))
    diagonal = (cv[ce[:, 0]] != cv[ce[:, 1]]).sum(1) == 2  # face diagonals
    np.testing.assert_allclose(deg[diagonal], 180, atol=1e-9)
    np.testing.assert_allclose(deg[~diagonal], 90, atol=1e-9)
    assert diagonal.sum() == 6 and len(ce) == 18


def test_summarize_classification_recording():
    cv, cf, ce = _cube()
    diagonal = np.flatnonzero((cv[ce[:, 0]] != cv[ce[:, 1]]).sum(1) == 2)
    square = np.flatnonzero((cv[ce[:, 0]] != cv[ce[:, 1]]).sum(1) == 1)
    kept = sorted([diagonal[0], square[0], square[1]])
    rec = _fake(
        "classification",
        ["a", "b"],
        [0.1, 2.0],
        [list(range(18)), kept],
        ["input", "pool"],
        geometry=(cv, cf, ce),
    )
    s = summarize_recording(rec, 0, "a/test/x.obj")
    assert s.survival.tolist() == [1 if e in kept else 0 for e in range(18)]
    assert s.prediction == 1 and s.label == 0 and s.correct is False
    assert s.probability == pytest.approx(np.exp(2.0) / (np.exp(2.0) + np.exp(0.1)))
    assert s.dihedral_input.tolist() == [12, 0, 0, 0, 6]  # cube edges 90 deg, face diagonals flat
    assert s.dihedral_kept.tolist() == [2, 0, 0, 0, 1]
    assert MeshSurvey.from_dict(json.loads(json.dumps(s.to_dict()))).to_dict() == s.to_dict()


def test_summarize_segmentation_recording():
    pred = [0, 1, 1, 1, 0]
    rec = _fake(
        "segmentation",
        ["p0", "p1", "p2"],
        np.eye(3)[pred] * 3,
        [[0, 1, 2, 3, 4], [0, 2, 3], [3], [0, 2, 3], [0, 1, 2, 3, 4]],
        ["input", "pool", "pool", "unpool", "unpool"],
    )
    s = summarize_recording(rec, np.array([0, 0, 1, 1, 2]))
    assert s.survival.tolist() == [1, 0, 1, 2, 0]
    assert s.part_edges.tolist() == [2, 2, 1]
    assert s.part_kept.tolist() == [[2, 1, 0], [2, 2, 1], [1, 0, 0]]  # (part, stage)
    assert s.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    with pytest.raises(MeshCNNError, match="labels"):
        summarize_recording(rec, np.array([0, 0, 1]))
    with pytest.raises(MeshCNNError, match="labels"):
        summarize_recording(rec, np.array([0, 0, 1, 1, 3]))


# ---------------------------------------------------------------- where on the shape: geodesic regions


def _tube(n=6, rings=13, length=12.0, radius=0.5):
    """A closed tube along z (``rings`` rings of ``n`` vertices) capped by one apex vertex at each end."""
    z = np.linspace(0.0, length, rings)
    a = 2 * np.pi * np.arange(n) / n
    v = [[radius * np.cos(t), radius * np.sin(t), zz] for zz in z for t in a]
    v += [[0.0, 0.0, -radius], [0.0, 0.0, length + radius]]
    lo, hi = len(v) - 2, len(v) - 1
    idx = lambda r, k: r * n + k % n  # noqa: E731
    f = []
    for r in range(rings - 1):
        for k in range(n):
            f += [[idx(r, k), idx(r, k + 1), idx(r + 1, k + 1)]]
            f += [[idx(r, k), idx(r + 1, k + 1), idx(r + 1, k)]]
    for k in range(n):
        f += [[lo, idx(0, k + 1), idx(0, k)], [hi, idx(rings - 1, k), idx(rings - 1, k + 1)]]
    topo, faces, _ = build_topology(np.array(v, dtype=np.float64), np.array(f))
    return topo.positions, faces, topo.edges


def _strip(xs):
    """A flat strip of unit width along x, one quad (two triangles) between neighbouring ``xs``."""
    n = len(xs)
    v = np.array([[x, 0.0, 0.0] for x in xs] + [[x, 1.0, 0.0] for x in xs])
    f = np.array([t for i in range(n - 1) for t in ([i, i + 1, n + i + 1], [i, n + i + 1, n + i])])
    topo, faces, _ = build_topology(v, f)
    return topo.positions, faces, topo.edges


def test_eccentricity_of_a_path_hand_checked_and_pieces():
    # a path of 6 unit steps, no faces (every vertex weighs 1): vertex means 15/6, 11/6, 9/6, 9/6, ...
    v = np.array([[x, 0.0, 0.0] for x in range(6)] + [[0.0, 5.0, 0.0], [0.0, 6.0, 0.0]])
    path = np.array([[i, i + 1] for i in range(5)])
    ecc = geodesic_eccentricity(v[:6], np.zeros((0, 3), dtype=np.int64), path)
    np.testing.assert_allclose(ecc, [1.0, 0.25, 0.0, 0.25, 1.0])  # edge means 26/12, 20/12, 18/12, ...
    assert region_bins(ecc).tolist() == [2, 0, 0, 0, 2] and region_counts(ecc).tolist() == [3, 0, 2]
    # a second, smaller piece: infinitely far, so left out (nan); the main piece is unchanged
    two = geodesic_eccentricity(v, np.zeros((0, 3), dtype=np.int64), np.vstack([path, [[6, 7]]]))
    np.testing.assert_allclose(two[:5], ecc)
    assert np.isnan(two[5]) and region_counts(two).tolist() == [3, 0, 2]
    assert np.isnan(geodesic_eccentricity(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), path)).all()


def test_eccentricity_of_a_tube_tips_one_middle_zero():
    v, f, e = _tube()
    ecc = geodesic_eccentricity(v, f, e)
    mid_z = v[e].mean(1)[:, 2]  # (E,)
    apex = (e >= len(v) - 2).any(1)
    assert apex.sum() == 12 and np.isfinite(ecc).all()
    np.testing.assert_allclose(ecc[apex], 1.0, atol=1e-12)  # the two tips
    assert ecc[~apex].max() < 1.0
    assert ecc.min() == 0.0 and mid_z[np.argmin(ecc)] == pytest.approx(6.0)
    assert (ecc[np.abs(mid_z - 6.0) <= 0.5] < 0.02).all()  # the middle ring and its neighbours
    # the bins are ordered by distance from the middle: every core edge is nearer than every tip edge
    b, off = region_bins(ecc), np.abs(mid_z - 6.0)
    assert off[b == 0].max() < off[b == 1].min() + 1.0 and off[b == 0].max() < off[b == 2].min()
    # the tube is mirror-symmetric about z = 6: both halves get the same values; scale does not matter
    np.testing.assert_allclose(np.sort(ecc[mid_z < 6 - 1e-9]), np.sort(ecc[mid_z > 6 + 1e-9]), atol=1e-12)
    np.testing.assert_allclose(geodesic_eccentricity(3.7 * v, f, e), ecc, atol=1e-12)


def test_eccentricity_is_pose_invariant_and_weighs_area_not_vertices():
    xs = np.arange(13.0)
    v, f, e = _strip(xs)
    flat = geodesic_eccentricity(v, f, e)
    # fold the strip by 120 degrees along the rung at x = 8: every length and area stays
    bent = v.copy()
    far = v[:, 0] > 8.0
    t = np.radians(120)
    dx = v[far, 0] - 8.0
    bent[far, 0], bent[far, 2] = 8.0 + dx * np.cos(t), dx * np.sin(t)
    np.testing.assert_allclose(geodesic_eccentricity(bent, f, e), flat, atol=1e-9)
    euclid = lambda p: np.linalg.norm(p[:, None] - p[None], axis=-1).mean(1)  # noqa: E731
    assert np.abs(euclid(bent) - euclid(v)).max() > 0.5  # a Euclidean measure would move
    # half the strip tessellated twice as finely: the centre stays at the middle of the area (x = 6)
    fine = np.concatenate([np.linspace(0.0, 6.0, 25), np.linspace(6.5, 12.0, 12)])
    v2, f2, e2 = _strip(fine)
    ecc = geodesic_eccentricity(v2, f2, e2)
    assert abs(v2[e2[np.argmin(ecc)]].mean(0)[0] - 6.0) <= 0.5
    assert abs(v2[e2[np.argmax(ecc)]].mean(0)[0] - 6.0) >= 5.5  # a tip


def test_summarize_recording_regions_exact_enrichment():
    v, f, e = _tube()
    ecc = geodesic_eccentricity(v, f, e)
    b = region_bins(ecc)
    core, ext = np.flatnonzero(b == 0), np.flatnonzero(b == 2)
    m = len(ext) // 4
    kept = np.sort(np.concatenate([core, ext[:m]]))  # every central edge and a quarter of the tips
    rec = _fake("classification", ["a", "b"], [2.0, 0.1], [list(range(len(e))), kept], ["input", "pool"],
                geometry=(v, f, e))
    s = summarize_recording(rec, 0, "a/test/tube.obj")
    n_in = np.bincount(b, minlength=3)
    assert s.region_input.tolist() == n_in.tolist() and n_in.sum() == len(e)
    assert s.region_kept.tolist() == [len(core), 0, m] and m > 0
    r = aggregate("classification", ["a", "b"], [s])
    want = (m / (len(core) + m)) / (len(ext) / len(e))
    assert r.regions.enrichment[0, 2] == pytest.approx(want) and want < 1
    assert r.regions.enrichment[0, 1] == 0.0
    assert r.regions.enrichment[0, 0] == pytest.approx((len(core) / (len(core) + m)) / (len(core) / len(e)))
    assert r.regions.drop[0] == 1.0 and r.regions.meshes.tolist() == [1, 0]
    assert np.isnan(r.regions.std[0]) and np.isnan(r.regions.enrichment[1]).all()
    only_core = summarize_recording(
        _fake("classification", ["a", "b"], [2.0, 0.1], [list(range(len(e))), core], ["input", "pool"],
              geometry=(v, f, e)), 0)
    assert aggregate("classification", ["a", "b"], [only_core]).regions.enrichment[0, 2] == 0.0


def test_region_stats_hand_checked():
    # mesh A drops its tips (0x), mesh B doubles them (2x); class 1 one mesh; class 2 none
    labels = np.array([0, 0, 1])
    inputs = np.array([[6, 3, 3], [4, 2, 2], [5, 5, 0]])
    kept = np.array([[2, 1, 0], [0, 1, 1], [1, 1, 0]])
    r = region_stats(labels, inputs, kept, 3)
    np.testing.assert_allclose(r.input[0], [0.5, 0.25, 0.25])
    np.testing.assert_allclose(r.kept[0], [0.4, 0.4, 0.2])
    np.testing.assert_allclose(r.enrichment[0], [0.8, 1.6, 0.8])
    assert r.drop[0] == 0.5 and r.std[0] == pytest.approx(np.sqrt(2.0))
    assert r.meshes.tolist() == [2, 0, 0]  # class 1's mesh has no tip edges: no extremity ratio
    assert np.isnan(r.drop[1]) and np.isnan(r.enrichment[1, 2]) and r.enrichment[1, 0] == pytest.approx(1.0)
    assert np.isnan(r.input[2]).all() and np.isnan(r.drop[2])


def test_report_carries_the_region_table():
    def mesh(name, label, r_in, r_kept):
        z = np.zeros(3, dtype=np.int64)
        return MeshSurvey(name, label=label, prediction=label, probability=1.0, survival=z,
                          dihedral_input=np.ones(5, dtype=np.int64), dihedral_kept=np.ones(5, dtype=np.int64),
                          region_input=np.array(r_in), region_kept=np.array(r_kept))

    meshes = [mesh("a1", 0, [6, 3, 3], [2, 1, 0]), mesh("a2", 0, [4, 2, 2], [0, 1, 1]),
              MeshSurvey("old", label=1, prediction=1, probability=1.0, survival=np.zeros(3, dtype=np.int64),
                         dihedral_input=np.ones(5, dtype=np.int64), dihedral_kept=np.ones(5, dtype=np.int64))]
    r = aggregate("classification", ["ant", "man"], meshes)
    np.testing.assert_allclose(r.regions.enrichment[0], [0.8, 1.6, 0.8])
    assert np.isnan(r.regions.enrichment[1]).all() and r.class_counts.tolist() == [2, 1]  # no region counts
    d = json.loads(json.dumps(r.to_dict()))
    assert d["regions"]["names"] == list(REGION_NAMES) and d["regions"]["drop"] == [0.5, None]
    rows = list(csv.reader(io.StringIO(report_table_csv(r))))
    col = {name: i for i, name in enumerate(rows[0])}
    assert float(rows[1][col["enrichment extremities"]]) == pytest.approx(0.8)
    assert float(rows[1][col["last stage core"]]) == pytest.approx(0.4)
    assert float(rows[1][col["share of meshes whose extremities drop"]]) == pytest.approx(0.5)
    assert rows[2][col["enrichment core"]] == "" and len(rows[0]) == 3 + 10 + 9 + 2
    text = report_regions_text(r).splitlines()
    ant = next(line for line in text if line.startswith("ant")).split()
    assert ant == ["ant", "100", "50", "25", "25", "40", "40", "20", "0.80", "1.60", "0.80", "1/2", "1.41"]
    assert next(line for line in text if line.startswith("man")).split()[-2:] == ["-", "-"]
    assert report_regions_text(aggregate("segmentation", ["p"], [])) == ""


# ---------------------------------------------------------------- sums and table


def test_aggregate_classification_hand_checked():
    m = [
        MeshSurvey(
            "a1",
            label=0,
            prediction=0,
            probability=0.9,
            survival=np.zeros(3, dtype=np.int64),
            dihedral_input=np.array([1, 1, 0, 0, 2]),
            dihedral_kept=np.array([1, 0, 0, 0, 1]),
        ),
        MeshSurvey(
            "a2",
            label=0,
            prediction=1,
            probability=0.6,
            survival=np.zeros(3, dtype=np.int64),
            dihedral_input=np.array([0, 0, 0, 0, 4]),
            dihedral_kept=np.array([0, 0, 0, 0, 2]),
        ),
        MeshSurvey(
            "b1",
            label=1,
            prediction=1,
            probability=0.7,
            survival=np.zeros(3, dtype=np.int64),
            dihedral_input=np.array([0, 2, 0, 0, 2]),
            dihedral_kept=np.array([0, 1, 0, 0, 1]),
        ),
        MeshSurvey("bad", error="unreadable"),
    ]
    r = aggregate("classification", ["a", "b", "c"], m)
    assert r.confusion.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
    np.testing.assert_allclose(r.class_accuracy[:2], [0.5, 1.0])
    assert np.isnan(r.class_accuracy[2]) and r.class_counts.tolist() == [2, 1, 0]
    assert r.accuracy == pytest.approx(2 / 3)
    np.testing.assert_allclose(r.dihedral_input[0], [1 / 8, 1 / 8, 0, 0, 6 / 8])
    np.testing.assert_allclose(r.dihedral_kept[0], [1 / 4, 0, 0, 0, 3 / 4])
    np.testing.assert_allclose(r.dihedral_kept[1], [0, 0.5, 0, 0, 0.5])
    assert [e.file for e in r.errors] == ["bad"]
    d = json.loads(json.dumps(r.to_dict()))  # nan -> null, JSON-ready
    assert d["class_accuracy"][2] is None and d["accuracy"] == pytest.approx(2 / 3)
    rows = list(csv.reader(io.StringIO(report_table_csv(r))))
    assert rows[0][:3] == ["class", "meshes", "accuracy"] and len(rows) == 4
    assert rows[1][:3] == ["a", "2", "0.5000"] and rows[3][2] == ""
    assert float(rows[1][3 + 4]) == pytest.approx(0.75) and float(rows[1][3 + 5]) == pytest.approx(0.25)


def test_aggregate_segmentation_hand_checked():
    m = [
        MeshSurvey(
            "x",
            part_edges=np.array([2, 2]),
            part_kept=np.array([[2, 1], [2, 0]]),
            confusion=np.array([[2, 0], [1, 1]]),
            survival=np.zeros(4, dtype=np.int64),
        ),
        MeshSurvey(
            "y",
            part_edges=np.array([0, 4]),
            part_kept=np.array([[0, 0], [4, 3]]),
            confusion=np.array([[0, 0], [0, 4]]),
            survival=np.zeros(4, dtype=np.int64),
        ),
    ]
    r = aggregate("segmentation", ["p", "q"], m)
    np.testing.assert_allclose(r.part_survival, [[1.0, 0.5], [1.0, 0.5]])
    np.testing.assert_allclose(r.class_accuracy, [1.0, 5 / 6])
    assert r.accuracy == pytest.approx(7 / 8) and r.class_counts.tolist() == [2, 6]
    rows = list(csv.reader(io.StringIO(report_table_csv(r))))
    assert rows[0] == ["part", "edges", "accuracy", "kept at stage 0", "kept at stage 1"]
    assert rows[2] == ["q", "6", "0.8333", "1.0000", "0.5000"]


# ---------------------------------------------------------------- over a folder


def _classification_folder(root):
    for c, seeds in (("cone", (1, 2)), ("ball", (3, 4))):
        (root / c / "test").mkdir(parents=True)
        (root / c / "train").mkdir(parents=True)
        for s in seeds:
            write_obj(root / c / "test" / f"{c}{s}.obj", icosphere(2, seed=s))
    return root


def test_survey_classification_folder_with_cache_and_resume(tmp_path, monkeypatch):
    root = _classification_folder(tmp_path / "data")
    (root / "cone" / "test" / "broken.obj").write_text("v 0 0 0\nf 1 2 3\n")
    model = load_model(_model(tmp_path, SMALL_CLS), device="cpu")
    calls = []
    cache = tmp_path / "cache.jsonl"
    r = survey(model, root, cache=cache, progress=lambda d, t, f: calls.append((d, t, f)))
    assert [c[:2] for c in calls] == [(i, 5) for i in range(1, 6)]
    assert [m.file for m in r.meshes] == [
        "ball/test/ball3.obj",
        "ball/test/ball4.obj",
        "cone/test/broken.obj",
        "cone/test/cone1.obj",
        "cone/test/cone2.obj",
    ]
    assert [m.file for m in r.errors] == ["cone/test/broken.obj"]
    assert r.errors[0].error == "broken: a face refers to a vertex that does not exist"  # one line
    assert r.class_counts.tolist() == [2, 2] and r.confusion.sum() == 4
    first = r.meshes[0]
    rec = record(model, load_mesh(root / first.file))
    assert np.array_equal(first.survival, rec.survival_depth()) and first.prediction == int(rec.prediction)
    assert first.dihedral_input.sum() == 480 and first.dihedral_kept.sum() == rec.stage(2).num_edges
    assert first.region_input.sum() == 480 and first.region_kept.sum() == rec.stage(2).num_edges  # one piece
    ecc = geodesic_eccentricity(rec.input_vertices, rec.input_faces, rec.input_edges)
    assert first.region_kept.tolist() == region_counts(ecc[rec.stage(2).edge_ids]).tolist()
    # resume: every entry comes from the cache
    monkeypatch.setattr("meshcnn_core.analysis.survey_run.record", lambda *a: pytest.fail("recorded again"))
    again = survey(model, root, cache=cache)
    assert json.dumps(again.to_dict()) == json.dumps(r.to_dict())
    # a line cut short by an interruption: only that mesh is run again
    lines = cache.read_text().splitlines()
    cache.write_text("\n".join(lines[:-1] + [lines[-1][:20]]) + "\n")
    monkeypatch.undo()
    seen = []
    import meshcnn_core.analysis.survey_run as sv

    real = sv.record
    monkeypatch.setattr(
        "meshcnn_core.analysis.survey_run.record", lambda m, mesh: seen.append(mesh.name) or real(m, mesh)
    )
    third = survey(model, root, cache=cache)
    assert len(seen) == 1 and json.dumps(third.to_dict()) == json.dumps(r.to_dict())
    # another model does not reuse the cache
    other = load_model(_model(tmp_path, SMALL_CLS, name="other"), device="cpu")
    torch.nn.init.constant_(other.net.fc2.bias, 1.0)
    seen.clear()
    survey(other, root, cache=cache)
    assert len(seen) == 4


def test_survey_does_not_reuse_a_cache_from_before_the_region_counts(tmp_path, monkeypatch):
    root = _classification_folder(tmp_path / "data")
    model = load_model(_model(tmp_path, SMALL_CLS), device="cpu")
    cache = tmp_path / "cache.jsonl"
    r = survey(model, root, cache=cache)
    assert CACHE_VERSION >= 2 and np.isfinite(r.regions.enrichment).all()
    lines = [json.loads(line) for line in cache.read_text().splitlines()]
    lines[0]["cache_version"] = 1  # a cache written before the survey counted regions
    old = [{k: v for k, v in d.items() if not k.startswith("region")} for d in lines[1:]]
    cache.write_text("\n".join(json.dumps(d) for d in [lines[0], *old]) + "\n")
    import meshcnn_core.analysis.survey_run as sv

    seen, real = [], sv.record
    monkeypatch.setattr(sv, "record", lambda m, mesh: seen.append(mesh.name) or real(m, mesh))
    again = survey(model, root, cache=cache)
    assert len(seen) == 4 and json.dumps(again.to_dict()) == json.dumps(r.to_dict())


def test_survey_segmentation_folder(tmp_path):
    root = tmp_path / "seg_data"
    for d in ("train", "test", "seg"):
        (root / d).mkdir(parents=True)
    labels = {}
    for s in (5, 6):
        m = icosphere(2, seed=s)
        write_obj(root / "test" / f"m{s}.obj", m)
        lab = np.random.default_rng(s).integers(0, 3, 480) + 1  # label values 1..3
        np.savetxt(root / "seg" / f"m{s}.eseg", lab, fmt="%d")
        labels[f"test/m{s}.obj"] = lab - 1
    model = load_model(_model(tmp_path, SMALL_SEG), device="cpu")
    r = survey(model, root)
    assert r.task == "segmentation" and not r.errors
    assert r.class_counts.sum() == 960 and r.confusion.sum() == 960
    k = r.part_survival.shape[1]
    assert k == 3 and np.allclose(r.part_survival[:, 0], 1.0)
    assert (np.diff(r.part_survival, axis=1) <= 0).all()  # fewer edges survive deeper
    kept = np.zeros((3, 3))
    for m in r.meshes:
        for s in range(3):
            kept[:, s] += np.bincount(labels[m.file][m.survival >= s], minlength=3)
    np.testing.assert_allclose(r.part_survival, kept / r.class_counts[:, None])


def test_survey_rejects_a_model_that_does_not_fit(tmp_path):
    root = _classification_folder(tmp_path / "data")
    seg = load_model(_model(tmp_path, SMALL_SEG), device="cpu")
    with pytest.raises(MeshCNNError, match="segmentation model"):
        survey(seg, root)
    with pytest.raises(MeshCNNError, match="no such data-set folder"):
        survey(seg, tmp_path / "nowhere")


def test_survey_command_line(tmp_path, capsys):
    root = _classification_folder(tmp_path / "data")
    ckpt = _model(tmp_path, SMALL_CLS)
    out, table = tmp_path / "report.json", tmp_path / "table.csv"
    args = [
        "survey",
        "--model",
        str(ckpt),
        "--data",
        str(root),
        "--out",
        str(out),
        "--csv",
        str(table),
        "--cache",
        str(tmp_path / "c.jsonl"),
    ]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert report["task"] == "classification" and len(report["meshes"]) == 4
    assert table.read_text().startswith("class,meshes,accuracy")
    printed = capsys.readouterr().out
    assert "4 meshes" in printed and "geodesic eccentricity" in printed
    rows = {line.split()[0]: line.split() for line in printed.splitlines()[5:]}
    assert set(rows) == {"ball", "cone"} and all(len(r) == 13 for r in rows.values())
    assert len(table.read_text().splitlines()[0].split(",")) == 3 + 10 + 9 + 2
    assert main(["survey", "--model", str(ckpt), "--data", str(tmp_path / "none"), "--out", str(out)]) == 2
    assert "no such data-set folder" in capsys.readouterr().err


def test_page_region_table_and_left_out_edges():
    from viz_app import dataset_service as dsvc

    def mesh(name, label, r_in, r_kept, edges):
        return MeshSurvey(name, label=label, prediction=label, probability=1.0,
                          survival=np.zeros(edges, dtype=np.int64), dihedral_input=np.ones(5, dtype=np.int64),
                          dihedral_kept=np.ones(5, dtype=np.int64), region_input=np.array(r_in),
                          region_kept=np.array(r_kept))

    meshes = [mesh("a1", 0, [6, 3, 3], [2, 1, 0], 12), mesh("a2", 0, [4, 2, 2], [0, 1, 1], 11)]
    r = aggregate("classification", ["ant", "man"], meshes)
    table = dsvc.region_table(r)
    ratios = ["extremities kept/input", "middle kept/input", "core kept/input"]
    assert list(table.columns[:4]) == ["class", *ratios]
    assert list(table.columns[6:9]) == ["input core %", "input middle %", "input extremities %"]
    row = table.iloc[0]
    assert row["kept extremities %"] == 20.0 and row["extremities kept/input"] == 0.8
    assert row["middle kept/input"] == 1.6 and row["extremities drop in"] == "1 of 2"
    assert row["std of extremity ratio"] == pytest.approx(1.41)
    assert table.iloc[1]["extremities drop in"] == "–" and np.isnan(table.iloc[1]["core kept/input"])
    assert dsvc.region_left_out(r) == (3, 1)  # a2: 11 edges, 8 with a region
