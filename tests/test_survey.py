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
from meshcnn_core.analysis.survey import (
    DIHEDRAL_BINS_DEG,
    MeshSurvey,
    _bin_counts,
    aggregate,
    dihedral_angles,
    report_table_csv,
    summarize_recording,
    survey,
)
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
    counts = _bin_counts(np.radians([100.0, 130.0, 160.0, 170.0, 179.0, 180.0, 119.99]))
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
    # resume: every entry comes from the cache
    monkeypatch.setattr("meshcnn_core.analysis.survey.record", lambda *a: pytest.fail("recorded again"))
    again = survey(model, root, cache=cache)
    assert json.dumps(again.to_dict()) == json.dumps(r.to_dict())
    # a line cut short by an interruption: only that mesh is run again
    lines = cache.read_text().splitlines()
    cache.write_text("\n".join(lines[:-1] + [lines[-1][:20]]) + "\n")
    monkeypatch.undo()
    seen = []
    import meshcnn_core.analysis.survey as sv

    real = sv.record
    monkeypatch.setattr(
        "meshcnn_core.analysis.survey.record", lambda m, mesh: seen.append(mesh.name) or real(m, mesh)
    )
    third = survey(model, root, cache=cache)
    assert len(seen) == 1 and json.dumps(third.to_dict()) == json.dumps(r.to_dict())
    # another model does not reuse the cache
    other = load_model(_model(tmp_path, SMALL_CLS, name="other"), device="cpu")
    torch.nn.init.constant_(other.net.fc2.bias, 1.0)
    seen.clear()
    survey(other, root, cache=cache)
    assert len(seen) == 4


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
    assert "4 meshes" in capsys.readouterr().out
    assert main(["survey", "--model", str(ckpt), "--data", str(tmp_path / "none"), "--out", str(out)]) == 2
    assert "no such data-set folder" in capsys.readouterr().err
