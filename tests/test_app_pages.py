"""Each page of the explorer, driven by streamlit.testing.v1.AppTest on tiny random checkpoints."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

from meshcnn_core.mesh.io import write_obj
from tests.meshes import tetrahedron

APP = str(Path(__file__).resolve().parents[1] / "viz_app" / "app.py")
COMPARE = "views/compare.py"
EXPLORE = "views/explore.py"


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
    """The 2D Plotly charts (the prediction bars)."""
    return at.get("plotly_chart")


def views(at: AppTest) -> dict[str, dict]:
    """The 3D views (the mesh_view component) by key: the figure sent to the browser and the camera group."""
    out = {}
    for e in at.get("component_instance"):
        args = json.loads(e.proto.json_args)
        out[e.key] = {"figure": pio.from_json(args["figure"]), "group": args["group"]}
    return out


def array(v) -> np.ndarray:
    """A figure array as sent to the browser (typed arrays travel as base64 ``bdata``)."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).reshape(v.get("shape", -1))
    return np.asarray(v)


def edge_colors(fig) -> np.ndarray:
    """Per-edge color values of a mesh figure's edges trace."""
    return array(fig.data[1].line.color)[0::3]


def n_edges(fig) -> int:
    """Edges drawn by a mesh figure (three points per edge: p0, p1, a gap)."""
    return len(array(fig.data[1].x)) // 3


def query(at: AppTest, key: str) -> str | None:
    v = at.query_params.get(key)
    return v[0] if isinstance(v, list) else v


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


# ---------------------------------------------------------------- stage browser


def test_explore_opens_on_a_result_without_clicks(env):
    at = run_app()
    assert_clean(at)
    assert at.title[0].value == "Stage browser"
    assert at.selectbox(key="model").value == "shipped:a_classifier.pt"
    assert at.selectbox(key="sample_mesh").value == "sample:ico_480.obj"
    assert [m.label for m in at.metric][:1] == ["Predicted class"]
    assert len(charts(at)) == 1  # the prediction bars
    assert list(views(at)) == ["stage_view"]  # one 3D view (the other tabs are lazy)
    assert at.select_slider(key="stage").value == 2  # the landing stage (LANDING.stage, clamped)
    assert n_edges(views(at)["stage_view"]["figure"]) == 300  # pool 2 of the 480-edge mesh
    assert "Inference time" in at.sidebar.markdown[-1].value
    assert query(at, "model") == "shipped:a_classifier.pt" and query(at, "stage") == "2"
    # beside the prediction: whether it means anything (this tiny checkpoint stores no statistics)
    assert "No out-of-distribution statistics are stored in this checkpoint." in [c.value for c in at.caption]


def test_stage_slider_and_colors(env):
    at = run_app()
    slider = at.select_slider(key="stage")
    assert slider.options == ["input · 480 edges", "pool 1 · 399 edges", "pool 2 · 300 edges"]
    slider.set_value(1).run()
    assert_clean(at)
    assert query(at, "stage") == "1"
    assert "pool 1 · 399 edges" in captions(at)
    assert n_edges(views(at)["stage_view"]["figure"]) == 399
    for color in ("priority", "survival", "channel", "activation"):
        at.selectbox(key="color").set_value(color).run()
        assert_clean(at)
        assert query(at, "color") == color
    at.selectbox(key="color").set_value("channel").run()
    at.number_input(key="channel").set_value(5).run()
    assert_clean(at)
    assert (
        query(at, "channel") == "5"
        and "channel 5" in views(at)["stage_view"]["figure"].data[1].line.colorbar.title.text
    )


def test_priority_caption_is_true_at_every_stage(env):
    at = run_app({"stage": "0", "color": "priority"})
    assert "the next pooling tries the lowest-ranked (dark) edges first" in captions(at)
    at.select_slider(key="stage").set_value(2).run()  # the classifier's last stage: no pooling follows
    assert "no pooling follows this stage" in captions(at) and "first" not in captions(at).split("color:")[1]


def test_fixed_color_range_is_the_default_and_per_stage_is_an_option(env):
    at = run_app({"stage": "0"})
    assert at.toggle(key="fixed_scale").value
    assert "Color range: the same at every stage" in captions(at)
    ranges = []
    for k in (0, 1, 2):
        at.select_slider(key="stage").set_value(k).run()
        line = views(at)["stage_view"]["figure"].data[1].line
        ranges.append((line.cmin, line.cmax))
    assert len(set(ranges)) == 1
    at.toggle(key="fixed_scale").set_value(False).run()
    assert "Color range: this stage's own" in captions(at) and query(at, "scale") == "stage"
    own = []
    for k in (0, 1, 2):
        at.select_slider(key="stage").set_value(k).run()
        line = views(at)["stage_view"]["figure"].data[1].line
        own.append((line.cmin, line.cmax))
    assert len(set(own)) == 3
    at.selectbox(key="color").set_value("priority").run()
    assert at.toggle(key="fixed_scale").disabled and "Color range" not in captions(at)


@pytest.mark.parametrize(
    "tab,expected",
    [("Survival map", "deepest pooled stage"), ("Resolution map", "stands for"), ("Export", "Downloads")],
)
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
    fig = views(at)["stage_view"]["figure"]
    assert len(fig.frames) == 3 and [s.label for s in fig.layout.sliders[0].steps] == [
        "input",
        "pool 1",
        "pool 2",
    ]
    assert (
        len({(f.data[1].line.cmin, f.data[1].line.cmax) for f in fig.frames}) == 1
    )  # fixed range in every frame
    at.toggle(key="fit_view").set_value(True).run()
    assert_clean(at)
    assert views(at)["stage_view"]["figure"].frames[2].layout.scene.xaxis.range is not None


def test_link_reopens_the_view(env):
    at = run_app(
        {"model": "shipped:c_segmenter.pt", "mesh": "sample:torus_480.obj", "stage": "3", "color": "label"}
    )
    assert_clean(at)
    assert at.selectbox(key="model").value == "shipped:c_segmenter.pt"
    assert at.selectbox(key="sample_mesh").value == "sample:torus_480.obj"
    assert at.select_slider(key="stage").value == 3
    assert at.selectbox(key="color").value == "label"
    assert [m.label for m in at.metric][0] == "Parts found"
    assert "color the edges by **Predicted label**" not in "".join(c.value for c in at.caption)


def test_a_hostile_link_falls_back_to_defaults(env):
    at = run_app(
        {"model": "shipped:../../x.pt", "mesh": "sample:../../../etc/passwd", "stage": "99", "color": "<b>"}
    )
    assert_clean(at)
    assert at.selectbox(key="model").value == "shipped:a_classifier.pt"
    assert at.selectbox(key="sample_mesh").value == "sample:ico_480.obj"
    assert at.select_slider(key="stage").value == 2  # clamped to the last stage


def test_segmentation_data_set_shows_accuracy(env):
    at = run_app({"model": "shipped:c_segmenter.pt", "mesh": "data:test/mtest0.obj", "color": "activation"})
    assert_clean(at)
    assert at.radio(key="mesh_source").value == "Data set"
    labels = [m.label for m in at.metric]
    assert "Accuracy vs ground truth" in labels
    assert "color the edges by **Predicted label**" in captions(at)
    assert at.selectbox(key="color").options[4:7] == ["Predicted label", "Ground-truth label", "Wrong edges"]
    truth = np.loadtxt(env["segdata"] / "seg" / "mtest0.eseg").astype(int) - 1  # class indices of "1".."3"
    at.selectbox(key="color").set_value("truth").run()
    at.select_slider(key="stage").set_value(0).run()
    assert_clean(at)
    assert np.array_equal(edge_colors(views(at)["stage_view"]["figure"]), truth)
    at.selectbox(key="color").set_value("label").run()
    pred = edge_colors(views(at)["stage_view"]["figure"])
    assert "Predicted label" not in captions(at)  # the hint disappears while that coloring is on
    at.selectbox(key="color").set_value("wrong").run()
    assert np.array_equal(edge_colors(views(at)["stage_view"]["figure"]), (pred != truth).astype(np.float32))
    accuracy = float(at.metric[1].value.rstrip("%"))
    assert accuracy == pytest.approx(100 * float(np.mean(pred == truth)), abs=0.05)


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
    at = run_app({"mesh": "sample:broken.obj"})
    assert not at.exception
    assert at.error and "broken" in at.error[0].value
    at.radio(key="mesh_source").set_value("Data set").run()  # back to a good mesh
    assert_clean(at)
    assert "stage_view" in views(at)


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
    assert at.multiselect(key="compare_models").value == [
        "shipped:a_classifier.pt",
        "shipped:b_classifier.pt",
    ]
    shown = views(at)
    assert list(shown) == ["cmp_view_0", "cmp_view_1", "kept_view"]  # two side by side + kept-by-A-not-B
    assert len({v["group"] for v in shown.values()}) == 1  # one camera for all three
    assert len(at.dataframe) == 1
    table = at.dataframe[0].value
    assert list(table["stage"]) == ["input", "pool 1", "pool 2"] and list(table["Jaccard"])[0] == 1.0
    at.select_slider(key="stage").set_value(2).run()
    assert_clean(at)
    assert [n_edges(views(at)[k]["figure"]) for k in ("cmp_view_0", "cmp_view_1")] == [300, 300]
    at.selectbox(key="color").set_value("priority").run()
    assert_clean(at)
    assert "turn one and the others follow" in captions(at)


def test_compare_three_models_with_a_segmenter(env):
    at = run_app()
    at.switch_page(COMPARE).run()
    at.multiselect(key="compare_models").select("shipped:c_segmenter.pt").run()
    assert_clean(at)
    assert len(views(at)) == 4
    at.select_slider(key="stage").set_value(4).run()  # beyond the classifiers' last stage
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
    at.switch_page(COMPARE).run()  # the uploaded mesh carries over
    assert_clean(at)
    assert "evil name.obj" in at.sidebar.caption[-1].value and "Mesh **evil_name**" in captions(at)


def test_upload_garbage_mesh_shows_an_error_box(env):
    at = run_app()
    at.radio(key="mesh_source").set_value("Upload").run()
    at.file_uploader(key="upload_mesh").set_value(
        ("x.ply", b"\x00garbage" * 20, "application/octet-stream")
    ).run()
    assert not at.exception
    assert at.error


def test_upload_a_checkpoint(env):
    at = run_app()
    at.selectbox(key="model").set_value("upload:").run()
    assert not at.exception and not at.error
    at.file_uploader(key="upload_model").set_value(
        ("m.pt", b"not a checkpoint", "application/octet-stream")
    ).run()
    assert not at.exception and at.error and "the uploaded checkpoint" in at.error[0].value
    data = (env["checkpoints"] / "c_segmenter.pt").read_bytes()
    at.file_uploader(key="upload_model").set_value(("m.pt", data, "application/octet-stream")).run()
    assert_clean(at)
    assert [m.label for m in at.metric][0] == "Parts found"
    assert "model" not in at.query_params


def test_compare_link_reopens_the_view(env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(
        {
            "models": "shipped:b_classifier.pt,shipped:c_segmenter.pt",
            "stage": "2",
            "color": "label",
            "mesh": "sample:torus_480.obj",
        }
    )
    at.switch_page(COMPARE).run()
    assert_clean(at)
    assert at.title[0].value == "Compare models"
    assert at.multiselect(key="compare_models").value == ["shipped:b_classifier.pt", "shipped:c_segmenter.pt"]
    assert at.select_slider(key="stage").value == 2
    assert at.selectbox(key="color").value == "label"
    assert at.selectbox(key="sample_mesh").value == "sample:torus_480.obj"
    assert query(at, "models") == "shipped:b_classifier.pt,shipped:c_segmenter.pt"


def test_no_sample_meshes_says_so(env, tmp_path, monkeypatch):
    monkeypatch.setenv("MESHCNN_SAMPLES", str(tmp_path / "none"))
    at = run_app()
    assert not at.exception and not at.error
    assert any("No sample meshes" in w.value for w in at.sidebar.warning)


def _big_segmenter_tree(env, tmp_path):
    """A classifier and a segmenter that needs 1500..2000 edges; samples ball_480 and ball_1920."""
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
    return ck, samples


def test_compare_suggests_a_finer_sample_when_a_model_needs_it(env, tmp_path, monkeypatch):
    ck, samples = _big_segmenter_tree(env, tmp_path)
    monkeypatch.setenv("MESHCNN_CHECKPOINTS", str(ck))
    monkeypatch.setenv("MESHCNN_SAMPLES", str(samples))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"mesh": "sample:ball_480.obj"})
    at.switch_page(COMPARE).run()
    assert not at.exception
    assert any("ball_480 has 480 edges" in w.value and "ball_1920" in w.value for w in at.warning)
    at.button(key="use_fitting").click().run()
    assert_clean(at)
    assert at.selectbox(key="sample_mesh").value == "sample:ball_1920.obj"
    assert len(views(at)) == 2


def test_choosing_a_bigger_model_switches_to_a_sample_it_takes(env, tmp_path, monkeypatch):
    ck, samples = _big_segmenter_tree(env, tmp_path)
    monkeypatch.setenv("MESHCNN_CHECKPOINTS", str(ck))
    monkeypatch.setenv("MESHCNN_SAMPLES", str(samples))
    at = run_app({"mesh": "sample:ball_480.obj"})
    assert_clean(at)
    at.selectbox(key="model").set_value("shipped:d_big_segmenter.pt").run()
    assert_clean(at)
    assert at.selectbox(key="sample_mesh").value == "sample:ball_1920.obj"
    assert any("Switched the sample mesh to **ball_1920**" in i.value for i in at.info)
    at.selectbox(key="sample_mesh").set_value(
        "sample:ball_480.obj"
    ).run()  # chosen by hand: offered, not forced
    assert at.selectbox(key="sample_mesh").value == "sample:ball_480.obj"
    assert any("ball_1920" in w.value for w in at.warning)
    at.button(key="use_fitting").click().run()
    assert_clean(at)
    assert at.selectbox(key="sample_mesh").value == "sample:ball_1920.obj"


def test_model_stage_color_and_scale_carry_over_between_pages(env):
    at = run_app()
    at.selectbox(key="model").set_value("shipped:c_segmenter.pt").run()
    at.select_slider(key="stage").set_value(3).run()
    at.selectbox(key="color").set_value("activation").run()
    at.toggle(key="fixed_scale").set_value(False).run()
    at.selectbox(key="color").set_value("survival").run()
    at.switch_page(COMPARE).run()
    assert_clean(at)
    assert at.multiselect(key="compare_models").value[0] == "shipped:c_segmenter.pt"
    assert at.select_slider(key="stage").value == 3 and at.selectbox(key="color").value == "survival"
    assert not at.toggle(key="fixed_scale").value
    at.select_slider(key="stage").set_value(1).run()
    at.switch_page(EXPLORE).run()
    assert_clean(at)
    assert at.selectbox(key="model").value == "shipped:c_segmenter.pt"
    assert at.select_slider(key="stage").value == 1 and at.selectbox(key="color").value == "survival"
    at.switch_page(COMPARE).run()
    at.multiselect(key="compare_models").set_value(
        ["shipped:b_classifier.pt", "shipped:a_classifier.pt"]
    ).run()
    at.switch_page(EXPLORE).run()  # the browsed model is no longer compared: the first compared one
    assert at.selectbox(key="model").value == "shipped:b_classifier.pt"


def test_link_to_a_data_set_mesh_without_the_data_set_says_how(env, monkeypatch):
    monkeypatch.setenv("MESHCNN_DATASET", "")
    at = run_app({"model": "shipped:c_segmenter.pt", "mesh": "data:test/mtest0.obj", "dataset": "segdata"})
    assert_clean(at)
    note = at.warning[0].value
    assert "test/mtest0.obj" in note and "**segdata**" in note and "no data-set folder is set" in note
    assert at.radio(key="mesh_source").value == "Sample meshes" and "stage_view" in views(
        at
    )  # not an empty page
    at.radio(key="mesh_source").set_value("Data set").run()
    at.text_input(key="dataset_root").input(str(env["segdata"])).run()
    assert_clean(at)
    assert at.selectbox(key="dataset_mesh").value == "data:test/mtest0.obj"  # the link's mesh
    assert not at.warning and query(at, "dataset") == "segdata"


def test_sidebar_device_follows_meshcnn_device(env, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    at = run_app()  # MESHCNN_DEVICE=cpu (the env fixture)
    assert_clean(at)
    assert at.selectbox(key="device").options == ["cpu", "cuda"] and at.selectbox(key="device").value == "cpu"
    assert "Device in use:** cpu" in at.sidebar.markdown[-1].value


def test_compare_models_trained_at_different_sizes_run_on_their_own_versions(env, tmp_path, monkeypatch):
    """Models whose training meshes differ in size: each gets its own scaled mesh, steps said per model."""
    import torch

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    ck = torch.load(env["checkpoints"] / "a_classifier.pt", weights_only=True)
    sizes = {"small": (1.0, 1.5, 2.0), "big": (30.0, 36.0, 44.0)}
    for name, (lo, mid, hi) in sizes.items():
        size = {"low": lo, "median": mid, "high": hi, "meshes": 5}
        torch.save({**ck, "input_size": size}, folder / f"{name}.pt")
    monkeypatch.setenv("MESHCNN_CHECKPOINTS", str(folder))
    at = run_app({"models": "shipped:big.pt,shipped:small.pt", "mesh": "sample:ico_480.obj"})
    at.switch_page(COMPARE).run()
    assert_clean(at)
    assert "trained on meshes of very different physical sizes" in captions(at)
    steps = [e for e in at.expander if "by model" in e.label]
    assert len(steps) == 1
    text = "\n".join(m.value for m in steps[0].markdown)
    assert "big: scaled by" in text and "to a bounding-box diagonal of 36" in text
    assert any("different versions of the mesh" in i.value for i in at.info)  # no overlap across versions
