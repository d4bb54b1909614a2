"""The compare page: its landing pair, an uploaded checkpoint among the models, and what each model keeps
of each ground-truth part; the catalog's pick-up of a sample's ``.eseg`` file.

AppTest on the tiny random checkpoints of :mod:`tests.app_fixtures` (the ``env`` fixture); the landing
is pointed at them with ``monkeypatch``. One test checks the shipped landing itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from meshcnn_core import load_mesh, load_model
from meshcnn_core.analysis.part_keep import part_keep
from meshcnn_core.mesh.io import write_obj
from tests.app_fixtures import seg_labels
from tests.meshes import icosphere
from viz_app import catalog
from viz_app import service as svc
from viz_app.catalog import (
    COMPARE_LANDING,
    VASE_PARTS,
    CompareLanding,
    Landing,
    ground_truth,
    list_sample_meshes,
    part_labels,
    segmenter_part_names,
)
from viz_app.colorings import QUANTITIES

APP = str(Path(__file__).resolve().parents[1] / "viz_app" / "app.py")
COMPARE = "views/compare.py"
A, B, C = "shipped:a_classifier.pt", "shipped:b_classifier.pt", "shipped:c_segmenter.pt"
UPLOAD = "upload:"
PAIR = CompareLanding(models=("b_classifier.pt", "c_segmenter.pt"), mesh="torus_480.obj", stage=1)


def open_compare(query: dict | None = None) -> AppTest:
    """The compare page as a fresh session's first page."""
    at = AppTest.from_file(APP, default_timeout=180)
    if query:
        at.query_params.update(query)
    at.switch_page(COMPARE).run()
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def view_keys(at: AppTest) -> list[str]:
    return [e.key for e in at.get("component_instance")]


def query(at: AppTest, key: str) -> str | None:
    v = at.query_params.get(key)
    return v[0] if isinstance(v, list) else v


def headings(at: AppTest) -> list[str]:
    """The model names above the views."""
    return [m.value[5:].replace("\u200b", "") for m in at.markdown if m.value.startswith("#### ")]


# ---------------------------------------------------------------- the landing pair


def test_fresh_visit_opens_on_the_landing_pair_mesh_and_stage(env, monkeypatch):
    monkeypatch.setattr(catalog, "COMPARE_LANDING", PAIR)
    at = open_compare()
    assert_clean(at)
    assert at.multiselect(key="compare_models").value == [B, C]
    assert at.selectbox(key="sample_mesh").value == "sample:torus_480.obj"
    assert at.select_slider(key="stage").value == 1
    assert query(at, "models") == f"{B},{C}" and query(at, "mesh") == "sample:torus_480.obj"


def test_landing_after_the_stage_browser_landing(env, monkeypatch):
    monkeypatch.setattr(catalog, "COMPARE_LANDING", PAIR)
    at = AppTest.from_file(APP, default_timeout=180).run()  # the stage browser, as the app opens
    assert at.selectbox(key="model").value == A
    assert at.selectbox(key="sample_mesh").value == "sample:ico_480.obj"
    at.switch_page(COMPARE).run()
    assert_clean(at)
    assert at.multiselect(key="compare_models").value == [B, C]  # the default browsed model stays behind
    assert at.select_slider(key="stage").value == 1
    # ico_480 is not the stage browser's landing mesh (cube_ring_750 is not in this tree): kept as chosen
    assert at.selectbox(key="sample_mesh").value == "sample:ico_480.obj"
    monkeypatch.setattr(catalog, "LANDING", Landing("a_classifier.pt", "ico_480.obj", 2, "activation"))
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page(COMPARE).run()
    assert at.selectbox(key="sample_mesh").value == "sample:torus_480.obj"  # the landing mesh replaces it


def test_a_model_picked_in_the_stage_browser_comes_along(env, monkeypatch):
    monkeypatch.setattr(catalog, "COMPARE_LANDING", CompareLanding(("b_classifier.pt",), "torus_480.obj", 1))
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.selectbox(key="model").set_value(C).run()
    at.switch_page(COMPARE).run()
    assert_clean(at)
    assert at.multiselect(key="compare_models").value == [C, B]  # filled with the landing's model first


def test_a_link_wins_over_the_landing(env, monkeypatch):
    monkeypatch.setattr(catalog, "COMPARE_LANDING", PAIR)
    at = open_compare({"models": f"{A},{B}", "stage": "2", "mesh": "sample:ico_480.obj"})
    assert_clean(at)
    assert at.multiselect(key="compare_models").value == [A, B]
    assert at.select_slider(key="stage").value == 2
    assert at.selectbox(key="sample_mesh").value == "sample:ico_480.obj"
    at = open_compare({"stage": "2"})  # a link with a stage but no models: the landing pair at its stage
    assert at.multiselect(key="compare_models").value == [B, C] and at.select_slider(key="stage").value == 2


def test_missing_landing_files_fall_back(env, monkeypatch):
    monkeypatch.setattr(catalog, "COMPARE_LANDING", CompareLanding(("nope.pt",), "nope_480.obj", 1))
    at = open_compare()
    assert_clean(at)
    assert at.multiselect(key="compare_models").value == [A, B]  # the default model and the next one
    assert at.selectbox(key="sample_mesh").value == "sample:ico_480.obj"


def test_the_shipped_landing_pair_shares_its_input():
    """COMPARE_LANDING names shipped checkpoints that take the same mesh size, and a sample with labels."""
    models = [load_model(catalog.checkpoints_dir() / f) for f in COMPARE_LANDING.models]
    assert len(models) == 2 and models[0].config.ninput_edges == models[1].config.ninput_edges
    lo, hi = svc.model_limits(models)
    sample = catalog.samples_dir() / COMPARE_LANDING.mesh
    if not sample.is_file():
        pytest.skip(f"{sample.name} is not in {sample.parent} yet")
    entry = next(m for m in list_sample_meshes(sample.parent) if m.path == sample)
    assert entry.seg is not None
    fit = svc.fit_mesh_to(load_mesh(sample), lo, hi)
    assert not fit.actions  # the models run on the file as it is, so its .eseg applies
    rec = svc.infer(models[0], fit.mesh, fitted=fit).recording
    labels = part_labels(entry, rec.num_input_edges)
    assert labels is not None and set(labels.names.values()) == set(VASE_PARTS.values())
    assert 0 < COMPARE_LANDING.stage < rec.num_stages


# ---------------------------------------------------------------- an uploaded checkpoint


def _with_upload(monkeypatch) -> AppTest:
    landing = CompareLanding(("a_classifier.pt", "b_classifier.pt"), "ico_480.obj", 1)
    monkeypatch.setattr(catalog, "COMPARE_LANDING", landing)
    at = open_compare()
    at.multiselect(key="compare_models").select(UPLOAD).run()
    return at


def test_upload_option_asks_for_a_file_and_the_others_still_show(env, monkeypatch):
    at = _with_upload(monkeypatch)
    assert_clean(at)
    assert at.multiselect(key="compare_models").value == [A, B, UPLOAD]
    assert any("Upload a MeshCNN Explorer checkpoint" in i.value for i in at.info)
    assert view_keys(at) == ["cmp_view_0", "cmp_view_1", "kept_view"]
    assert query(at, "models") == f"{A},{B}"  # an upload cannot be in a link


def test_uploaded_checkpoint_is_compared(env, monkeypatch):
    at = _with_upload(monkeypatch)
    data = (env["checkpoints"] / "c_segmenter.pt").read_bytes()
    at.file_uploader(key="compare_upload").set_value(("../../snapshot_e003.pt", data, "application/x")).run()
    assert_clean(at)
    assert headings(at) == ["a_classifier", "b_classifier", "snapshot_e003 (uploaded)"]
    assert view_keys(at) == ["cmp_view_0", "cmp_view_1", "cmp_view_2", "kept_view"]
    at.selectbox(key="cmp_b").set_value(2).run()  # the upload as model B of the overlap table
    assert_clean(at)
    assert "kept by snapshot_e003 (uploaded)" in at.dataframe[0].value.columns
    link = {"models": query(at, "models"), "mesh": query(at, "mesh"), "stage": query(at, "stage")}
    assert link["models"] == f"{A},{B}"
    again = open_compare(link)  # the link still opens, without the upload
    assert_clean(again)
    assert again.multiselect(key="compare_models").value == [A, B]


def test_broken_upload_gives_one_error_and_the_others_still_show(env, monkeypatch):
    at = _with_upload(monkeypatch)
    at.file_uploader(key="compare_upload").set_value(("m.pt", b"\x80\x02garbage" * 30, "application/x")).run()
    assert not at.exception
    assert len(at.error) == 1 and "the uploaded checkpoint" in at.error[0].value  # not our temporary file
    assert headings(at) == ["a_classifier", "b_classifier"]
    assert view_keys(at) == ["cmp_view_0", "cmp_view_1", "kept_view"]
    assert len(at.dataframe) == 1  # the overlap table of the two that loaded


def test_broken_upload_beside_one_model_still_shows_that_model(env, monkeypatch):
    at = _with_upload(monkeypatch)
    at.multiselect(key="compare_models").set_value([B, UPLOAD]).run()
    at.file_uploader(key="compare_upload").set_value(("m.pt", b"", "application/octet-stream")).run()
    assert not at.exception
    assert len(at.error) == 1
    assert headings(at) == ["b_classifier"] and view_keys(at) == ["cmp_view_0"]


# ---------------------------------------------------------------- per ground-truth part


def _recording(checkpoint: Path, mesh_path: Path):
    model = load_model(checkpoint)
    fit = svc.fit_mesh_to(load_mesh(mesh_path), *svc.model_limits([model]))
    assert not fit.actions
    return svc.infer(model, fit.mesh, fitted=fit).recording


def _expected_rows(table, names: list[str], recs: list, labels: np.ndarray, part_names: dict) -> None:
    """Every cell of the page's part table against part_keep computed here."""
    tabs = [part_keep(r, labels) for r in recs]
    stages = [c for c in table.columns if c.startswith("pool")]
    assert stages == [f"pool {k}" for k in range(1, len(tabs[0].stage_edges))]
    assert len(table) == 2 * len(tabs[0].parts)
    for i, row in enumerate(table.itertuples(index=False)):
        j, m = divmod(i, 2)
        t = tabs[m]
        assert row.part == part_names[int(t.parts[j])] and row.model == names[m]
        assert table["input edges"].iloc[i] == int(t.part_edges[j])
        got = [table.iloc[i][c] for c in stages]
        np.testing.assert_allclose(got, 100 * t.kept[1:, j], atol=0.051)


def test_part_table_on_a_segmentation_data_set_mesh(env):
    at = open_compare()
    at.radio(key="mesh_source").set_value("Data set").run()
    at.selectbox(key="dataset_mesh").set_value("data:test/mtest0.obj").run()
    assert_clean(at)
    assert len(at.dataframe) == 2
    mesh = env["segdata"] / "test" / "mtest0.obj"
    labels = np.loadtxt(env["segdata"] / "seg" / "mtest0.eseg", dtype=np.int64)
    recs = [_recording(env["checkpoints"] / f, mesh) for f in ("a_classifier.pt", "b_classifier.pt")]
    names = {v: f"part {v}" for v in (1, 2, 3)}  # the folder is not a vase set: no vase part names
    _expected_rows(at.dataframe[1].value, ["a_classifier", "b_classifier"], recs, labels, names)
    assert any(m.value.startswith("**Per ground-truth part**") for m in at.markdown)


def test_part_table_for_a_vase_sample_names_the_parts(env, tmp_path, monkeypatch):
    samples = tmp_path / "samples"
    shutil.copytree(env["samples"], samples)
    shutil.copy(samples / "torus_480.obj", samples / "vase_480.obj")
    labels = seg_labels(load_mesh(samples / "vase_480.obj")) + 1  # 2..4: handle, body, base
    np.savetxt(samples / "vase_480.eseg", labels, fmt="%d")
    monkeypatch.setenv("MESHCNN_SAMPLES", str(samples))
    at = open_compare({"models": f"{A},{C}", "mesh": "sample:vase_480.obj"})
    assert_clean(at)
    files = ("a_classifier.pt", "c_segmenter.pt")
    recs = [_recording(env["checkpoints"] / f, samples / "vase_480.obj") for f in files]
    _expected_rows(at.dataframe[1].value, ["a_classifier", "c_segmenter"], recs, labels, VASE_PARTS)
    assert list(dict.fromkeys(at.dataframe[1].value["part"])) == ["handle", "body", "base"]


def test_no_part_table_without_labels_that_fit(env, tmp_path, monkeypatch):
    samples = tmp_path / "samples"
    shutil.copytree(env["samples"], samples)
    np.savetxt(samples / "torus_480.eseg", np.ones(479), fmt="%d")  # one row short
    np.savetxt(samples / "big_1920.eseg", np.ones(1920), fmt="%d")  # right, but the mesh gets simplified
    monkeypatch.setenv("MESHCNN_SAMPLES", str(samples))
    for mesh in ("sample:torus_480.obj", "sample:big_1920.obj", "sample:ico_480.obj"):
        at = open_compare({"models": f"{A},{B}", "mesh": mesh})
        assert_clean(at)
        assert len(at.dataframe) == 1, mesh  # the overlap table only
        assert not any("ground-truth part" in m.value for m in at.markdown)


# ---------------------------------------------------------------- the catalog's .eseg pick-up


def test_samples_pick_up_their_eseg(tmp_path):
    shutil.copy(Path(__file__).parent / "meshes.py", tmp_path / "not_a_mesh.py")
    mesh = icosphere(2, seed=1)
    write_obj(tmp_path / "vase_480.obj", mesh)
    write_obj(tmp_path / "ball_480.obj", mesh)
    labels = seg_labels(mesh)  # 1..3
    np.savetxt(tmp_path / "vase_480.eseg", labels, fmt="%d")
    by_name = {m.name: m for m in list_sample_meshes(tmp_path)}
    assert set(by_name) == {"vase_480", "ball_480"}
    assert by_name["vase_480"].seg == tmp_path / "vase_480.eseg" and by_name["ball_480"].seg is None
    vase = by_name["vase_480"]
    got = part_labels(vase, len(labels))
    assert got is not None and np.array_equal(got.values, labels)
    assert got.names == {1: "neck", 2: "handle", 3: "body"}
    # ground truth in a segmenter's classes ("1".."4" -> 0..3), never a classifier's
    truth = ground_truth(vase, ["1", "2", "3", "4"], len(labels), task="segmentation")
    assert np.array_equal(truth, labels - 1)
    assert ground_truth(vase, ["1", "2", "3", "4"], len(labels), task="classification") is None
    assert ground_truth(vase, ["handle", "no_handle"], len(labels)) is None
    assert ground_truth(by_name["ball_480"], ["1", "2", "3"], len(labels)) is None


def test_a_wrong_eseg_gives_no_ground_truth(tmp_path):
    write_obj(tmp_path / "vase_480.obj", icosphere(2, seed=1))  # 480 edges
    eseg = tmp_path / "vase_480.eseg"
    hostile = ("1e20\n" * 480, "2.7\n" * 480, "1\n" * 480 + " " * 100_000)  # huge value, fraction, huge file
    for text in ("1\n" * 479, "1\n" * 481, "neck\n" * 480, "", "1 2\n" * 480, "nan\n" * 480, *hostile):
        eseg.write_text(text)
        entry = list_sample_meshes(tmp_path)[0]
        assert entry.seg == eseg
        assert ground_truth(entry, ["1", "2"], 480, task="segmentation") is None, text[:8]
        assert part_labels(entry, 480) is None, text[:8]
    eseg.write_text("1\n" * 200 + "2\n" * 280)
    assert part_labels(entry, 480).names == {1: "neck", 2: "handle"}
    assert ground_truth(entry, ["1", "2"], 480, task="segmentation").tolist() == [0] * 200 + [1] * 280
    eseg.write_text("7\n" * 480)  # fits, but not a vase label: plain part names
    assert part_labels(entry, 480).names == {7: "part 7"}
    assert ground_truth(entry, ["1", "2"], 480, task="segmentation") is None  # a value the model lacks
    # a compared segmenter with named parts names the values it knows, and only when it knows them all
    assert part_labels(entry, 480, {7: "head", 8: "hand"}).names == {7: "head"}
    assert part_labels(entry, 480, {1: "head"}).names == {7: "part 7"}


def test_segmenter_part_names_come_from_a_segmenter_with_named_parts(env, tmp_path):
    from meshcnn_core.train import export

    ck = env["checkpoints"]
    export(ck / "c_segmenter.pt", tmp_path / "named.pt", part_names=["top", "middle", "bottom"])
    mesh = env["samples"] / "torus_480.obj"
    plain, named = (_recording(p, mesh) for p in (ck / "c_segmenter.pt", tmp_path / "named.pt"))
    classifier = _recording(ck / "a_classifier.pt", mesh)
    assert segmenter_part_names([classifier, plain]) == {}  # no names: "1".."3" are bare values
    assert segmenter_part_names([classifier, plain, named]) == {1: "top", 2: "middle", 3: "bottom"}


def test_stage_browser_uses_a_samples_eseg_for_segmenters_only(env, tmp_path, monkeypatch):
    samples = tmp_path / "samples"
    shutil.copytree(env["samples"], samples)
    labels = seg_labels(load_mesh(samples / "torus_480.obj"))  # 1..3: the segmenter's classes "1".."3"
    np.savetxt(samples / "torus_480.eseg", labels, fmt="%d")
    monkeypatch.setenv("MESHCNN_SAMPLES", str(samples))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update({"model": C, "mesh": "sample:torus_480.obj", "color": "truth"})
    at.run()
    assert_clean(at)
    truth = {QUANTITIES["truth"], QUANTITIES["wrong"]}  # the options as the page labels them
    assert truth <= set(at.selectbox(key="color").options) and at.selectbox(key="color").value == "truth"
    rec = _recording(env["checkpoints"] / "c_segmenter.pt", samples / "torus_480.obj")
    acc = 100 * float((rec.prediction == labels - 1).mean())
    assert dict((m.label, m.value) for m in at.metric)["Accuracy vs ground truth"] == f"{acc:.1f}%"
    assert any("from the mesh's .eseg file" in c.value for c in at.caption)
    at.selectbox(key="model").set_value(A).run()  # a classifier: part labels are not its classes
    assert_clean(at)
    assert not truth & set(at.selectbox(key="color").options)


def test_a_segmenter_with_named_parts_finds_its_ground_truth_by_label_value(env, tmp_path, monkeypatch):
    from meshcnn_core.train import export

    samples, ckpts = tmp_path / "samples", tmp_path / "checkpoints"
    shutil.copytree(env["samples"], samples)
    ckpts.mkdir()
    export(env["checkpoints"] / "c_segmenter.pt", ckpts / "named.pt", part_names=["top", "middle", "bottom"])
    labels = seg_labels(load_mesh(samples / "torus_480.obj"))  # .eseg values 1..3
    np.savetxt(samples / "torus_480.eseg", labels, fmt="%d")
    monkeypatch.setenv("MESHCNN_SAMPLES", str(samples))
    monkeypatch.setenv("MESHCNN_CHECKPOINTS", str(ckpts))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update({"model": "shipped:named.pt", "mesh": "sample:torus_480.obj", "color": "truth"})
    at.run()
    assert_clean(at)
    rec = _recording(ckpts / "named.pt", samples / "torus_480.obj")
    assert rec.class_names == ["top", "middle", "bottom"] and rec.label_values == ["1", "2", "3"]
    acc = 100 * float((rec.prediction == labels - 1).mean())
    assert dict((m.label, m.value) for m in at.metric)["Accuracy vs ground truth"] == f"{acc:.1f}%"
    assert any(line.startswith("- top: ") for m in at.markdown for line in m.value.splitlines())


def test_the_shipped_compare_landing_tells_the_handle_story():
    """The compare page opens on the vase pair where the handle classifier keeps more of the handles."""
    import meshcnn_core as mc
    from meshcnn_core.data.eseg import read_eseg
    from meshcnn_core.data.vases import HANDLE_LABEL
    from viz_app.catalog import REPO_ROOT

    landing = COMPARE_LANDING
    mesh_path = REPO_ROOT / "sample_meshes" / landing.mesh
    labels = read_eseg(mesh_path.with_suffix(".eseg"))
    models = [mc.load_model(REPO_ROOT / "checkpoints" / m, device="cpu") for m in landing.models]
    recs = [mc.record(m, mc.load_mesh(mesh_path)) for m in models]
    assert recs[0].class_names[int(recs[0].prediction)] == "handle"
    assert recs[1].class_names[int(recs[1].prediction)] == "neck"
    kept = [part_keep(r, labels) for r in recs]
    col = list(kept[0].parts).index(HANDLE_LABEL)
    h, n = kept[0].kept[landing.stage, col], kept[1].kept[landing.stage, col]
    assert h > n + 0.2  # the handle classifier keeps clearly more of the handles where the page opens
