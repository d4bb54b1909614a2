"""The attribution view, resolution and survival maps, data-set page and model diff, driven by AppTest."""

from __future__ import annotations

import json

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import meshcnn_core.analysis.survey_run as survey_mod
from meshcnn_core import load_mesh
from meshcnn_core.analysis.survey_run import model_fingerprint
from tests.app_fixtures import CLASSES, make_app_tree
from tests.test_app_pages import (
    APP,
    COMPARE,
    array,
    assert_clean,
    captions,
    charts,
    edge_colors,
    run_app,
    views,
)
from tests.test_explain_service import make_cls_dataset
from viz_app import colorings
from viz_app import dataset_service as dsvc
from viz_app import explain_cached as ecached
from viz_app import explain_service as esvc
from viz_app import service as svc

DATASET = "views/dataset.py"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("app")
    out = make_app_tree(root)
    out["cls3"] = make_cls_dataset(root / "cls3")
    return out


@pytest.fixture
def env(tree, monkeypatch, tmp_path):
    monkeypatch.setenv("MESHCNN_CHECKPOINTS", str(tree["checkpoints"]))
    monkeypatch.setenv("MESHCNN_SAMPLES", str(tree["samples"]))
    monkeypatch.setenv("MESHCNN_DATASET", str(tree["segdata"]))
    monkeypatch.setenv("MESHCNN_DEVICE", "cpu")
    monkeypatch.setenv("MESHCNN_CACHE", str(tmp_path / "cache"))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield tree
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def direct(tree):
    """The models and recordings on the default sample (ico_480 fits the tiny models unchanged)."""
    ck = tree["checkpoints"]
    mesh = load_mesh(tree["samples"] / "ico_480.obj")
    models = {n: svc.open_model(ck / f"{n}.pt", device="cpu") for n in ("a_classifier", "c_segmenter")}
    return mesh, models, {n: svc.infer(m, mesh).recording for n, m in models.items()}


def stage_colors(at: AppTest) -> np.ndarray:
    return edge_colors(views(at)["stage_view"]["figure"])


def verdicts(at: AppTest) -> list[str]:
    """The deletion check's verdict box (success, info or warning by how clear it is)."""
    boxes = list(at.success) + list(at.info) + list(at.warning)
    return [e.value for e in boxes if "Hiding the top" in e.value]


# ---------------------------------------------------------------- attribution in the stage browser


def test_attribution_view_with_its_deletion_check(env, direct):
    mesh, models, recs = direct
    model, rec = models["a_classifier"], recs["a_classifier"]
    at = run_app({"color": "attribution", "stage": "0"})
    assert_clean(at)
    assert at.selectbox(key="color").value == "attribution"
    assert at.sidebar.selectbox(key="attr_method").value == esvc.DEFAULT_METHOD == "integrated_gradients"
    predicted = int(rec.prediction)
    assert at.sidebar.selectbox(key="attr_target").value == predicted
    scores = esvc.attribution(model, mesh, "integrated_gradients", predicted)
    assert np.allclose(stage_colors(at), scores, atol=1e-6)  # float32 on the wire
    assert f"score of **{CLASSES[predicted]}**" in captions(at) and "integrated gradients" in captions(at)
    assert len(charts(at)) == 2  # the deletion curve and the prediction bars
    (text,) = verdicts(at)
    assert text.startswith(f"P({CLASSES[predicted]}) is ") and "Hiding the top 10% of the edges" in text
    assert any("Does this picture mean anything?" in m.value for m in at.markdown)

    at.select_slider(key="stage").set_value(2).run()  # a pooled stage: means over the merge groups
    assert_clean(at)
    assert np.allclose(stage_colors(at), colorings.input_values_at_stage(rec, scores, 2), atol=1e-6)
    assert "the mean over the input edges merged into it" in captions(at)

    at.sidebar.selectbox(key="attr_method").set_value("grad_input").run()
    assert_clean(at)
    want = esvc.attribution(model, mesh, "grad_input", predicted)
    assert np.allclose(stage_colors(at), colorings.input_values_at_stage(rec, want, 2), atol=1e-6)
    assert "gradient × input" in captions(at)

    other = next(i for i in range(3) if i != predicted)
    at.sidebar.selectbox(key="attr_target").set_value(other).run()
    assert_clean(at)
    assert f"score of **{CLASSES[other]}**" in captions(at) and verdicts(at)[0].startswith(
        f"P({CLASSES[other]})"
    )
    at.selectbox(key="color").set_value("activation").run()  # other colorings: no attribution controls
    assert_clean(at)
    assert "attr_method" not in [s.key for s in at.sidebar.selectbox] and len(charts(at)) == 1


def _count_attributions(monkeypatch) -> list:
    """Record the (method, target) of every attribution actually computed (not served from a cache)."""
    calls = []
    real = esvc.attribution

    def counted(*args):
        calls.append(args[2:])
        return real(*args)

    monkeypatch.setattr(esvc, "attribution", counted)
    return calls


def test_one_backward_pass_per_model_mesh_method_and_target_for_all_sessions(env, monkeypatch):
    calls = _count_attributions(monkeypatch)
    first = run_app({"color": "attribution"})
    second = run_app({"color": "attribution"})  # another session, the same view
    assert_clean(first) and assert_clean(second)
    assert len(calls) == 1
    np.testing.assert_array_equal(stage_colors(first), stage_colors(second))
    first.select_slider(key="stage").set_value(1).run()  # changing the stage needs no backward pass
    assert len(calls) == 1
    second.sidebar.selectbox(key="attr_method").set_value("gradcam").run()  # a new method: one more
    first.sidebar.selectbox(key="attr_method").set_value("gradcam").run()
    assert_clean(first)
    assert calls == [("integrated_gradients", calls[0][1]), ("gradcam", calls[0][1])]


def test_a_replaced_checkpoint_gets_new_attributions(env, monkeypatch, tmp_path):
    import os
    import shutil

    folder = tmp_path / "checkpoints"
    shutil.copytree(env["checkpoints"], folder)
    monkeypatch.setenv("MESHCNN_CHECKPOINTS", str(folder))
    calls = _count_attributions(monkeypatch)
    assert_clean(run_app({"color": "attribution"}))
    assert len(calls) == 1
    for f in folder.glob("*.pt"):  # a retrained model saved over the file: a new modification time
        os.utime(f, (f.stat().st_atime, f.stat().st_mtime + 10))
    assert_clean(run_app({"color": "attribution"}))
    assert len(calls) == 2  # computed again for the new file, not served from the old weights' entry


def test_attribution_for_a_segmenter_explains_a_part(env, direct):
    _, _, recs = direct
    rec = recs["c_segmenter"]
    at = run_app({"model": "shipped:c_segmenter.pt", "color": "attribution", "stage": "0"})
    assert_clean(at)
    target = at.sidebar.selectbox(key="attr_target")
    assert target.label == "Explain the part"
    counts = np.bincount(rec.prediction, minlength=3)
    assert target.value == int(np.argmax(counts))
    assert target.options[0] == f"part {rec.class_names[target.value]} ({counts[target.value]} edges)"
    assert "over the edges predicted as it" in captions(at)
    assert "its mean over the edges predicted as that part" in verdicts(at)[0]


def test_attribution_target_follows_a_new_mesh(env):
    at = run_app({"color": "attribution"})
    options = at.sidebar.selectbox(key="attr_target").options
    at.sidebar.selectbox(key="attr_target").set_value(CLASSES.index(options[-1].split(" (")[0])).run()
    at.selectbox(key="sample_mesh").set_value("sample:torus_480.obj").run()  # another mesh: its prediction
    assert_clean(at)
    assert "(predicted, " in at.sidebar.selectbox(key="attr_target").options[0]
    assert at.sidebar.selectbox(key="attr_target").value == CLASSES.index(
        at.sidebar.selectbox(key="attr_target").options[0].split(" (")[0]
    )


# ---------------------------------------------------------------- survival and resolution maps


def test_survival_and_resolution_maps(env, direct):
    _, _, recs = direct
    rec = recs["a_classifier"]
    at = run_app()
    at.session_state["view_tab"] = "Survival map"
    at.run()
    assert_clean(at)
    surv = edge_colors(views(at)["survival_view"]["figure"])
    assert np.array_equal(surv, rec.survival_depth()) and len(np.unique(surv)) == 3  # not one color
    at.session_state["view_tab"] = "Resolution map"
    at.run()
    assert_clean(at)
    slider = at.select_slider(key="resolution_stage")
    assert (
        slider.options == ["pool 1 · 399 edges", "pool 2 · 300 edges"] and slider.value == 2
    )  # the landing stage
    assert np.allclose(
        2.0 ** edge_colors(views(at)["resolution_view"]["figure"]), rec.resolution(2), rtol=1e-5
    )
    slider.set_value(1).run()
    assert_clean(at)
    assert np.allclose(
        2.0 ** edge_colors(views(at)["resolution_view"]["figure"]), rec.resolution(1), rtol=1e-5
    )
    assert "stands for" in "".join(m.value for m in at.markdown) and "1/m" in captions(at)


# ---------------------------------------------------------------- the data-set page


def open_dataset(at_query: dict | None = None) -> AppTest:
    at = run_app(at_query)
    at.switch_page(DATASET).run()
    return at


def test_dataset_page_classifier(env, monkeypatch, direct):
    monkeypatch.setenv("MESHCNN_DATASET", str(env["cls3"]))
    at = open_dataset()
    assert_clean(at)
    assert at.title[0].value == "What a model keeps across a data set"
    assert any("holds **4** meshes" in m.value for m in at.markdown)
    assert "differ from the data set's" in captions(at)  # folders sorted: blob, sphere, torus
    at.button(key="survey_run").click().run()
    assert_clean(at)
    report = survey_mod.survey(direct[1]["a_classifier"], env["cls3"])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accuracy"] == f"{100 * report.accuracy:.1f}%" and metrics["Meshes surveyed"] == "4 of 4"
    table = at.dataframe[0].value
    assert list(table["class"]) == ["blob", "sphere", "torus"] and list(table["meshes"]) == [2, 1, 1]
    assert [b.label for b in at.get("download_button")] == ["Table (CSV)", "Full report (JSON)"]
    wrong = [m for m in report.meshes if not m.correct]
    gallery = {k: v for k, v in views(at).items() if k.startswith("gallery_")}
    assert len(gallery) == len(wrong)  # all classes: the misclassified meshes
    for i, m in enumerate(wrong):
        assert np.array_equal(edge_colors(gallery[f"gallery_{i}"]["figure"]), m.survival)
    at.selectbox(key="survey_class").set_value(0).run()  # blob: its two meshes
    assert_clean(at)
    assert len([k for k in views(at) if k.startswith("gallery_")]) == 2
    shares = at.get("plotly_chart")
    assert len(shares) == 2  # the dihedral bars and the confusion matrix
    bars = json.loads(shares[0].proto.spec)["data"]
    assert np.allclose(array(bars[0]["y"]), 100 * report.dihedral_input[0])


def test_dataset_page_segmenter(env):
    at = open_dataset({"model": "shipped:c_segmenter.pt"})
    assert_clean(at)
    at.button(key="survey_run").click().run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert list(table["part"]) == ["1", "2", "3"] and list(table["kept at input %"]) == [100.0] * 3
    assert sum(table["edges"]) == 2 * 480
    assert any("At the last pooled stage (pool 2)" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 2  # part survival and the confusion matrix


def test_dataset_page_resumes_from_its_cache(env, monkeypatch):
    at = open_dataset({"model": "shipped:c_segmenter.pt"})
    at.button(key="survey_run").click().run()
    assert_clean(at)
    st.cache_resource.clear()  # the finished report is forgotten (a restarted server) ...

    def no_forward(*args, **kwargs):
        raise AssertionError("the survey ran a mesh again")

    monkeypatch.setattr(survey_mod, "record", no_forward)  # ... but its cache file remains
    again = open_dataset({"model": "shipped:c_segmenter.pt"})
    again.button(key="survey_run").click().run()
    assert_clean(again)
    assert {m.label: m.value for m in again.metric}["Meshes surveyed"] == "2 of 2"


def test_dataset_page_waits_for_another_session(env, tree):
    model = svc.open_model(tree["checkpoints"] / "c_segmenter.pt", device="cpu")
    check = dsvc.check_dataset(model, dsvc.scan(tree["segdata"]))
    key = dsvc.survey_key(model_fingerprint(model), check)
    at = open_dataset({"model": "shipped:c_segmenter.pt"})
    assert ecached.survey_store().begin(key, 2)  # another session claims the survey
    ecached.survey_store().update(key, 1, 2)
    at.run()
    assert_clean(at)
    assert any("Another session is running this survey (1 of 2 meshes done)" in i.value for i in at.info)
    ecached.survey_store().finish(key, None)


@pytest.mark.parametrize(
    "dataset,model,expected",
    [
        ("", None, "no data-set folder set"),
        ("clsdata", None, "has 2 classes, but a_classifier has 3"),
        ("segdata", None, "is a segmentation data set, but a_classifier is a classification model"),
    ],
)
def test_dataset_page_says_why_it_cannot_run(env, monkeypatch, dataset, model, expected):
    monkeypatch.setenv("MESHCNN_DATASET", str(env[dataset]) if dataset else "")
    at = open_dataset()
    assert_clean(at)
    assert any(expected in e.value for e in list(at.info) + list(at.warning))
    assert not at.get("button") or "survey_run" not in [b.key for b in at.button]


# ---------------------------------------------------------------- model diff on the compare page


def test_compare_page_shows_the_model_diff(env):
    at = run_app()
    at.switch_page(COMPARE).run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert "rank corr." in table.columns
    rho = list(table["rank corr."])
    assert rho[2] == "–" and all(-1 <= float(v) <= 1 for v in rho[:2])  # no pooling leaves the last stage
    assert any("The collapse sequences" in m.value for m in at.markdown)
    at.selectbox(key="cmp_b").set_value(0).run()  # a model against itself
    assert_clean(at)
    assert list(at.dataframe[0].value["rank corr."]) == ["1.000", "1.000", "–"]
    assert any("collapse the same edges in the same order" in m.value for m in at.markdown)


def test_app_lists_the_dataset_page():
    assert 'url_path="dataset"' in open(APP, encoding="utf-8").read()
