"""Each page of the explorer, driven by streamlit.testing.v1.AppTest on tiny random checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from meshcnn_core.mesh.io import write_obj
from tests.app_fixtures import make_app_tree
from tests.meshes import tetrahedron

APP = str(Path(__file__).resolve().parents[1] / "viz_app" / "app.py")
COMPARE = "views/compare.py"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_app_tree(tmp_path_factory.mktemp("app"))


@pytest.fixture
def env(tree, monkeypatch):
    """Point the app at the generated tree; clear Streamlit's caches around each test."""
    monkeypatch.setenv("MESHCNN_CHECKPOINTS", str(tree["checkpoints"]))
    monkeypatch.setenv("MESHCNN_SAMPLES", str(tree["samples"]))
    monkeypatch.setenv("MESHCNN_DATASET", str(tree["segdata"]))
    monkeypatch.setenv("MESHCNN_DEVICE", "cpu")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield tree
    st.cache_data.clear()
    st.cache_resource.clear()


def run_app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if query:
        at.query_params.update(query)
    at.run()
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def charts(at: AppTest) -> list:
    return at.get("plotly_chart")


# ---------------------------------------------------------------- stage browser


def test_explore_opens_on_a_result_without_clicks(env):
    at = run_app()
    assert_clean(at)
    assert at.title[0].value == "Stage browser"
    assert at.selectbox(key="model").value == "shipped:a_classifier.pt"
    assert at.selectbox(key="sample_mesh").value == "sample:ico_480.obj"
    assert [m.label for m in at.metric][:1] == ["Predicted class"]
    assert len(charts(at)) == 2  # prediction bars and the stage view (the other tabs are lazy)
    assert "Inference time" in at.sidebar.markdown[-1].value
    assert at.query_params["model"] == ["shipped:a_classifier.pt"] or at.query_params["model"] == "shipped:a_classifier.pt"


def test_stage_slider_and_colors(env):
    at = run_app()
    slider = at.select_slider(key="stage")
    assert slider.options == ["0", "1", "2"] or len(slider.options) == 3
    slider.set_value(2).run()
    assert_clean(at)
    assert str(at.query_params["stage"]).strip("[]'") == "2"
    assert any("pool 2 · 300 edges" in c.value for c in at.caption)
    for color in ("priority", "survival", "channel", "activation"):
        at.selectbox(key="color").set_value(color).run()
        assert_clean(at)
    at.selectbox(key="color").set_value("channel").run()
    at.number_input(key="channel").set_value(5).run()
    assert_clean(at)
    assert "channel" in at.query_params


@pytest.mark.parametrize("tab,expected", [("Survival map", "deepest pooling stage"), ("Export", "Downloads")])
def test_other_tabs(env, tab, expected):
    at = run_app()
    at.session_state["view_tab"] = tab
    at.run()
    assert_clean(at)
    assert any(expected in m.value for m in at.markdown)
    if tab == "Export":
        assert len(at.get("download_button")) == 6


def test_in_browser_slider_mode(env):
    at = run_app()
    at.toggle(key="in_browser").set_value(True).run()
    assert_clean(at)
    assert at.select_slider(key="stage").disabled
    at.toggle(key="fit_view").set_value(True).run()
    assert_clean(at)


def test_link_reopens_the_view(env):
    at = run_app({"model": "shipped:c_segmenter.pt", "mesh": "sample:torus_480.obj", "stage": "3",
                  "color": "label"})
    assert_clean(at)
    assert at.selectbox(key="model").value == "shipped:c_segmenter.pt"
    assert at.selectbox(key="sample_mesh").value == "sample:torus_480.obj"
    assert at.select_slider(key="stage").value == 3
    assert at.selectbox(key="color").value == "label"
    assert [m.label for m in at.metric][0] == "Parts found"


def test_a_hostile_link_falls_back_to_defaults(env):
    at = run_app({"model": "shipped:../../x.pt", "mesh": "sample:../../../etc/passwd", "stage": "99",
                  "color": "<b>"})
    assert_clean(at)
    assert at.selectbox(key="model").value == "shipped:a_classifier.pt"
    assert at.selectbox(key="sample_mesh").value == "sample:ico_480.obj"
    assert at.select_slider(key="stage").value == 2  # clamped to the last stage


def test_segmentation_data_set_shows_accuracy(env):
    at = run_app({"model": "shipped:c_segmenter.pt", "mesh": "data:test/mtest0.obj"})
    assert_clean(at)
    assert at.radio(key="mesh_source").value == "Data set"
    labels = [m.label for m in at.metric]
    assert "Accuracy vs ground truth" in labels


def test_classification_data_set_shows_ground_truth(env, monkeypatch):
    monkeypatch.setenv("MESHCNN_DATASET", str(env["clsdata"]))
    at = run_app({"mesh": "data:torus/test/torus0.obj"})
    assert_clean(at)
    assert any("Ground truth" in m.value for m in at.markdown)


def test_big_mesh_is_adapted_to_the_model(env):
    at = run_app({"mesh": "sample:big_1920.obj"})
    assert_clean(at)
    assert any("adapted" in i.value for i in at.info)


def test_unusable_mesh_shows_an_error_box_and_the_app_keeps_working(env, tmp_path, monkeypatch):
    samples = tmp_path / "s"
    samples.mkdir()
    write_obj(samples / "tetra.obj", tetrahedron())
    (samples / "broken.obj").write_text("this is not an obj file\n")
    monkeypatch.setenv("MESHCNN_SAMPLES", str(samples))
    at = run_app({"mesh": "sample:tetra.obj"})
    assert not at.exception
    assert at.error and "edges" in at.error[0].value
    at.selectbox(key="sample_mesh").set_value("sample:broken.obj").run()
    assert not at.exception and at.error
    at.radio(key="mesh_source").set_value("Data set").run()  # back to a good mesh
    assert_clean(at)
    assert len(charts(at)) >= 2


def test_no_shipped_model_says_so(env, tmp_path, monkeypatch):
    monkeypatch.setenv("MESHCNN_CHECKPOINTS", str(tmp_path / "empty"))
    at = run_app()
    assert not at.exception and not at.error
    assert any("No shipped model yet" in w.value for w in at.warning)
    at.switch_page(COMPARE).run()
    assert not at.exception
    assert any("at least two models" in w.value for w in at.warning)


def test_corrupt_checkpoint_shows_an_error_box(env, tmp_path, monkeypatch):
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "broken.pt").write_bytes(b"truncated")
    monkeypatch.setenv("MESHCNN_CHECKPOINTS", str(ck))
    at = run_app()
    assert not at.exception
    assert at.error and "broken" in at.error[0].value


def test_no_data_set_folder(env, monkeypatch):
    monkeypatch.setenv("MESHCNN_DATASET", "")
    at = run_app()
    at.radio(key="mesh_source").set_value("Data set").run()
    assert not at.exception and not at.error
    assert any("no data-set folder" in i.value for i in at.sidebar.info)


# ---------------------------------------------------------------- compare


def test_compare_page(env):
    at = run_app()
    at.switch_page(COMPARE).run()
    assert_clean(at)
    assert at.title[0].value == "Compare models"
    assert at.multiselect(key="compare_models").value == ["shipped:a_classifier.pt", "shipped:b_classifier.pt"]
    assert len(charts(at)) == 3  # two side by side + kept-by-A-not-B
    assert len(at.dataframe) == 1
    table = at.dataframe[0].value
    assert list(table["Jaccard"])[0] == 1.0 and len(table) == 3
    at.select_slider(key="compare_stage").set_value(2).run()
    assert_clean(at)
    at.selectbox(key="compare_color").set_value("priority").run()
    assert_clean(at)


def test_compare_three_models_with_a_segmenter(env):
    at = run_app()
    at.switch_page(COMPARE).run()
    at.multiselect(key="compare_models").select("shipped:c_segmenter.pt").run()
    assert_clean(at)
    assert len(charts(at)) == 4
    at.select_slider(key="compare_stage").set_value(4).run()  # beyond the classifiers' last stage
    assert_clean(at)
    assert any("(its last stage)" in m.value for m in at.markdown)


def test_compare_needs_two_models(env):
    at = run_app()
    at.switch_page(COMPARE).run()
    at.multiselect(key="compare_models").set_value(["shipped:a_classifier.pt"]).run()
    assert not at.exception
    assert any("at least two" in i.value for i in at.info)


# ---------------------------------------------------------------- uploads


def test_upload_a_mesh(env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    at = run_app()
    at.radio(key="mesh_source").set_value("Upload").run()
    assert not at.exception and not at.error
    data = (env["samples"] / "torus_480.obj").read_bytes()
    at.file_uploader(key="upload_mesh").set_value(("../../evil name.obj", data, "text/plain")).run()
    assert_clean(at)
    assert any("evil_name" in c.value for c in at.caption)
    assert "mesh" not in at.query_params  # an upload cannot be shared by link
    assert list(tmp_path.iterdir()) == []  # nothing written where the app runs


def test_upload_garbage_mesh_shows_an_error_box(env):
    at = run_app()
    at.radio(key="mesh_source").set_value("Upload").run()
    at.file_uploader(key="upload_mesh").set_value(("x.ply", b"\x00garbage" * 20, "application/octet-stream")).run()
    assert not at.exception
    assert at.error


def test_upload_a_checkpoint(env):
    at = run_app()
    at.selectbox(key="model").set_value("upload:").run()
    assert not at.exception and not at.error
    at.file_uploader(key="upload_model").set_value(("m.pt", b"not a checkpoint", "application/octet-stream")).run()
    assert not at.exception and at.error and "could not be loaded" in at.error[0].value
    data = (env["checkpoints"] / "c_segmenter.pt").read_bytes()
    at.file_uploader(key="upload_model").set_value(("m.pt", data, "application/octet-stream")).run()
    assert_clean(at)
    assert [m.label for m in at.metric][0] == "Parts found"
    assert "model" not in at.query_params


def test_compare_link_reopens_the_view(env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"models": "shipped:b_classifier.pt,shipped:c_segmenter.pt", "stage": "2",
                            "color": "label", "mesh": "sample:torus_480.obj"})
    at.switch_page(COMPARE).run()
    assert_clean(at)
    assert at.title[0].value == "Compare models"
    assert at.multiselect(key="compare_models").value == ["shipped:b_classifier.pt", "shipped:c_segmenter.pt"]
    assert at.select_slider(key="compare_stage").value == 2
    assert at.selectbox(key="compare_color").value == "activation"  # "label" is not offered here
    assert at.selectbox(key="sample_mesh").value == "sample:torus_480.obj"
    assert at.query_params["models"] in ("shipped:b_classifier.pt,shipped:c_segmenter.pt",
                                         ["shipped:b_classifier.pt,shipped:c_segmenter.pt"])


def test_no_sample_meshes_says_so(env, tmp_path, monkeypatch):
    monkeypatch.setenv("MESHCNN_SAMPLES", str(tmp_path / "none"))
    at = run_app()
    assert not at.exception and not at.error
    assert any("No sample meshes" in w.value for w in at.sidebar.warning)


def test_compare_suggests_a_finer_sample_when_a_model_needs_it(env, tmp_path, monkeypatch):
    import shutil

    from meshcnn_core import SegmenterConfig
    from tests.app_fixtures import make_checkpoint

    ck = tmp_path / "ck"
    ck.mkdir()
    shutil.copy(env["checkpoints"] / "a_classifier.pt", ck / "a_classifier.pt")
    big = SegmenterConfig(nclasses=3, ncf=(8, 16, 16), pool_res=(1500, 1200), ninput_edges=2000, resblocks=1)
    make_checkpoint(ck / "d_big_segmenter.pt", big, ["1", "2", "3"], 4)
    samples = tmp_path / "s"
    samples.mkdir()
    shutil.copy(env["samples"] / "big_1920.obj", samples / "ball_1920.obj")
    shutil.copy(env["samples"] / "ico_480.obj", samples / "ball_480.obj")
    monkeypatch.setenv("MESHCNN_CHECKPOINTS", str(ck))
    monkeypatch.setenv("MESHCNN_SAMPLES", str(samples))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"mesh": "sample:ball_480.obj"})
    at.switch_page(COMPARE).run()
    assert not at.exception
    assert at.error  # the big segmenter cannot take 480 edges: an error box in its column
    at.button(key="use_bigger").click().run()
    assert_clean(at)
    assert at.selectbox(key="sample_mesh").value == "sample:ball_1920.obj"
    assert len(charts(at)) == 2
