"""The explorer's service layer, without Streamlit: listings, inference, figures, comparison, exports, URL state."""

from __future__ import annotations

import json
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from meshcnn_core import CheckpointError, MeshError, load_mesh
from meshcnn_core.mesh.io import load_mesh_bytes
from meshcnn_core.recording import load_recording
from tests.app_fixtures import CLASSES, make_app_tree
from tests.meshes import tetrahedron
from viz_app import service as svc


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_app_tree(tmp_path_factory.mktemp("app"))


@pytest.fixture(scope="module")
def models(tree):
    ck = tree["checkpoints"]
    return {n: svc.open_model(ck / f"{n}.pt", device="cpu") for n in ("a_classifier", "b_classifier", "c_segmenter")}


@pytest.fixture(scope="module")
def recs(tree, models):
    ico = load_mesh(tree["samples"] / "ico_480.obj")
    return {n: svc.infer(m, ico).recording for n, m in models.items()}


# ---------------------------------------------------------------- listings


def test_list_models_and_cards(tree, tmp_path):
    entries = svc.list_models(tree["checkpoints"])
    assert [e.name for e in entries] == ["a_classifier", "b_classifier", "c_segmenter"]
    assert entries[0].key == "shipped:a_classifier.pt"
    assert "Random weights" in svc.model_card(entries[0])
    assert svc.model_card(entries[2]) is None
    assert svc.list_models(tmp_path / "missing") == []
    assert svc.default_model(entries).name == "a_classifier"
    assert svc.default_model([]) is None


def test_sample_meshes_and_default(tree, tmp_path):
    samples = svc.list_sample_meshes(tree["samples"])
    assert [m.name for m in samples] == ["big_1920", "ico_480", "torus_480"]
    assert svc.estimated_edges(samples[0]) == 1920
    assert svc.default_mesh(samples, 500).name == "ico_480"  # largest that fits, first on ties
    assert svc.default_mesh(samples, 100).name == "big_1920"  # nothing fits: the first
    assert svc.default_mesh([], 500) is None
    assert svc.list_sample_meshes(tmp_path / "missing") == []


def test_resolve_mesh_key_only_returns_listed_files(tree):
    samples = svc.list_sample_meshes(tree["samples"])
    assert svc.resolve_mesh_key("sample:ico_480.obj", samples, None).name == "ico_480"
    assert svc.resolve_mesh_key("sample:../../etc/passwd", samples, None) is None
    assert svc.resolve_mesh_key("data:/etc/passwd", samples, svc.list_dataset(tree["segdata"])) is None


def test_segmentation_dataset_listing_and_truth(tree, recs):
    listing = svc.list_dataset(tree["segdata"])
    assert listing.task == "segmentation"
    assert [m.key for m in listing.meshes][:2] == ["data:test/mtest0.obj", "data:test/mtest1.obj"]
    entry = next(m for m in listing.meshes if m.key == "data:train/mtrain0.obj")  # the ico of `recs`
    truth = svc.ground_truth(entry, ["1", "2", "3"], 480)
    assert truth.shape == (480,) and set(np.unique(truth)) == {0, 1, 2}
    assert svc.ground_truth(entry, ["1", "2", "3"], 481) is None  # wrong edge count: no truth
    assert svc.ground_truth(entry, ["a", "b", "c"], 480) is None  # labels the model does not know
    acc = svc.accuracy(recs["c_segmenter"], truth)
    assert 0.0 <= acc["edges"] <= 1.0 and 0.0 <= acc["area"] <= 1.0


def test_classification_dataset_listing_and_truth(tree, recs):
    listing = svc.list_dataset(tree["clsdata"])
    assert listing.task == "classification"
    assert [m.label for m in listing.meshes] == ["sphere", "torus"]
    assert svc.ground_truth(listing.meshes[1], CLASSES, 480) == 1
    acc = svc.accuracy(recs["a_classifier"], 0)
    assert acc["correct"] in (0.0, 1.0)
    assert svc.accuracy(recs["a_classifier"], None) is None


@pytest.mark.parametrize("root", ["", "/nonexistent/folder"])
def test_dataset_listing_never_raises(root):
    listing = svc.list_dataset(root)
    assert listing.meshes == () and listing.message


# ---------------------------------------------------------------- inference and fitting


def test_infer_records_every_stage(recs):
    rec = recs["a_classifier"]
    assert rec.task == "classification"
    assert [rec.stage(k).num_edges for k in range(rec.num_stages)] == [480, 399, 300]
    seg = recs["c_segmenter"]
    assert [seg.stage(k).kind for k in range(seg.num_stages)] == ["input", "pool", "pool", "unpool", "unpool"]


def test_infer_keeps_a_fitting_mesh_unchanged(tree, models):
    mesh = load_mesh(tree["samples"] / "torus_480.obj")
    v0, f0 = mesh.vertices.copy(), mesh.faces.copy()
    res = svc.infer(models["a_classifier"], mesh)
    assert res.actions == () and res.device == "cpu" and res.seconds > 0
    assert np.array_equal(res.recording.input_vertices, v0)
    assert np.array_equal(mesh.vertices, v0) and np.array_equal(mesh.faces, f0)


def test_infer_is_deterministic(tree, models):
    mesh = load_mesh(tree["samples"] / "ico_480.obj")
    a = svc.infer(models["c_segmenter"], mesh).recording.to_bytes()
    b = svc.infer(models["c_segmenter"], mesh).recording.to_bytes()
    assert a == b


def test_fit_mesh_simplifies_a_big_mesh(tree, models):
    big = load_mesh(tree["samples"] / "big_1920.obj")
    fit = svc.fit_mesh(big, [models["a_classifier"], models["c_segmenter"]])
    assert fit.actions and any("simplif" in a for a in fit.actions)
    res = svc.infer(models["a_classifier"], big, fitted=fit)
    assert 400 <= res.recording.stage(0).num_edges <= 500


def test_fit_mesh_refuses_a_too_small_mesh(models):
    with pytest.raises(MeshError):
        svc.fit_mesh(tetrahedron(), [models["a_classifier"]])


def test_model_limits_conflict(models):
    lo, hi = svc.model_limits([models["a_classifier"], models["c_segmenter"]])
    assert (lo, hi) == (400, 500)
    with pytest.raises(MeshError, match="cannot share"):
        svc.fit_mesh_to(tetrahedron(), 600, 500)


def test_result_cache_reuses_results(tree, models):
    cache = svc.ResultCache(maxsize=2)
    mesh = load_mesh(tree["samples"] / "ico_480.obj")
    a = cache.get_or_run("a", models["a_classifier"], mesh)
    assert cache.get_or_run("a", models["a_classifier"], mesh) is a
    cache.get_or_run("b", models["b_classifier"], mesh)
    cache.get_or_run("c", models["c_segmenter"], mesh)
    assert cache.get_or_run("a", models["a_classifier"], mesh) is not a  # evicted (LRU of 2)


# ---------------------------------------------------------------- uploads


def test_uploaded_mesh_name_is_never_a_path(tree, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = (tree["samples"] / "ico_480.obj").read_bytes()
    mesh = svc.read_uploaded_mesh(data, "../../etc/evil name.obj")
    assert mesh.name == "evil_name" and len(mesh.faces) == 320
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("data,name", [(b"", "a.obj"), (b"\x00\x01garbage" * 10, "a.ply"), (b"v 1 2 3\n", "a.obj"),
                                       (b"solid x", "a.exe")])
def test_bad_uploads_give_mesh_errors(data, name):
    with pytest.raises(MeshError):
        svc.read_uploaded_mesh(data, name)


def test_uploaded_checkpoint(tree):
    with pytest.raises(CheckpointError):
        svc.load_uploaded_model(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        svc.load_uploaded_model(b"")
    m = svc.load_uploaded_model((tree["checkpoints"] / "a_classifier.pt").read_bytes(), device="cpu")
    assert m.name == "uploaded model" and m.task == "classification"


# ---------------------------------------------------------------- figures


def test_line_arrays_layout():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0]], dtype=np.float64)
    e = np.array([[0, 1], [1, 2]])
    pts = svc.line_arrays(v, e)
    assert pts.dtype == np.float32 and pts.shape == (6, 3)
    assert np.array_equal(pts[[0, 1, 3, 4]], v[[0, 1, 1, 2]].astype(np.float32))
    assert np.isnan(pts[[2, 5]]).all()


@pytest.mark.parametrize("quantity", list(svc.QUANTITIES))
@pytest.mark.parametrize("model", ["a_classifier", "c_segmenter"])
def test_stage_figure_has_one_lines_trace_with_per_edge_colors(recs, quantity, model):
    rec = recs[model]
    for k in range(rec.num_stages):
        st = rec.stage(k)
        fig = svc.stage_figure(rec, k, quantity, channel=3)
        surface, lines = fig.data[0], fig.data[1]
        assert isinstance(surface, go.Mesh3d) and len(surface.i) == len(st.faces)
        assert isinstance(lines, go.Scatter3d) and lines.mode == "lines"
        assert len(lines.x) == 3 * st.num_edges and np.asarray(lines.x).dtype == np.float32
        color = np.asarray(lines.line.color)
        assert len(color) == 3 * st.num_edges
        assert np.array_equal(color[0::3], color[1::3]) and np.array_equal(color[0::3], color[2::3])
        col = svc.edge_coloring(rec, k, quantity, 3)
        assert col.cmin < col.cmax
        discrete = col.categories is not None
        assert bool(lines.line.showscale) == (not discrete)
        assert len(fig.data) == 2 + (len(col.categories) if discrete else 0)


def test_stage_figure_json_is_small(recs):
    fig = svc.stage_figure(recs["a_classifier"], 0, "activation")
    assert len(fig.to_json()) < 200_000  # typed arrays, not Python lists


def test_views_share_one_frame(recs):
    a = svc.stage_figure(recs["a_classifier"], 0).layout.scene
    b = svc.stage_figure(recs["b_classifier"], 2).layout.scene
    assert a.xaxis.range == b.xaxis.range and a.camera == b.camera
    z = svc.stage_figure(recs["a_classifier"], 2, fit_stage=True).layout.scene
    assert z.xaxis.range != a.xaxis.range or z.yaxis.range != a.yaxis.range


def test_label_coloring_is_discrete_for_segmentation(recs):
    rec = recs["c_segmenter"]
    col = svc.edge_coloring(rec, 0, "label")
    assert col.categories == ("1", "2", "3")
    assert np.array_equal(col.values, rec.prediction.astype(np.float32))
    with pytest.raises(ValueError, match="unknown quantity"):
        svc.edge_coloring(rec, 0, "bogus")


def test_channel_is_clamped(recs):
    rec = recs["a_classifier"]
    n = rec.stage(1).features.shape[0]
    col = svc.edge_coloring(rec, 1, "channel", 10_000)
    assert np.array_equal(col.values, rec.stage(1).features[n - 1])


def test_survival_figure(recs):
    rec = recs["c_segmenter"]
    fig = svc.survival_figure(rec)
    color = np.asarray(fig.data[1].line.color)[0::3]
    assert np.array_equal(color, rec.survival_depth().astype(np.float32))
    assert list(fig.data[1].line.colorbar.tickvals) == [0.0, 1.0, 2.0]


def test_stages_figure_has_a_frame_per_stage(recs):
    rec = recs["c_segmenter"]
    fig = svc.stages_figure(rec, "priority", active=2)
    assert len(fig.frames) == rec.num_stages
    assert fig.layout.sliders[0].active == 2 and len(fig.layout.sliders[0].steps) == rec.num_stages
    assert len(fig.data[1].x) == 3 * rec.stage(2).num_edges


def test_prediction_figure(recs):
    fig = svc.prediction_figure(recs["a_classifier"], top=2)
    assert len(fig.data[0].x) == 2 and set(fig.data[0].y) <= set(CLASSES)


# ---------------------------------------------------------------- comparison


def test_overlaps_of_a_model_with_itself_are_one(recs):
    rows = svc.stage_overlaps(recs["a_classifier"], recs["a_classifier"])
    assert [r.jaccard for r in rows] == [1.0, 1.0, 1.0]


def test_overlaps_between_models(recs):
    a, b = recs["a_classifier"], recs["b_classifier"]
    rows = svc.stage_overlaps(a, b)
    assert rows[0].jaccard == 1.0  # same input edges
    for r in rows:
        assert 0.0 <= r.jaccard <= 1.0
        status = svc.kept_status(a, b, r.stage)
        assert int((status == 3).sum()) == r.both
        assert int((status & 1).sum()) == r.kept_a == a.stage(r.stage).num_edges
        assert int((status >> 1).sum()) == r.kept_b
    seg = svc.stage_overlaps(a, recs["c_segmenter"])
    assert len(seg) == 3  # the segmenter's unpool stages are not compared


def test_overlaps_refuse_different_meshes(tree, models, recs):
    other = svc.infer(models["a_classifier"], load_mesh(tree["samples"] / "torus_480.obj")).recording
    assert not svc.same_input(recs["a_classifier"], other)
    with pytest.raises(ValueError, match="different meshes"):
        svc.stage_overlaps(recs["a_classifier"], other)


def test_kept_figure(recs):
    status = svc.kept_status(recs["a_classifier"], recs["b_classifier"], 2)
    fig = svc.kept_figure(status, recs["a_classifier"], ("A", "B"))
    assert [t.name for t in fig.data[2:]] == ["kept by neither", "kept by A only", "kept by B only", "kept by both"]


# ---------------------------------------------------------------- exports


def test_stage_mesh_obj_round_trips(recs):
    rec = recs["a_classifier"]
    st = rec.stage(2)
    mesh = load_mesh_bytes(svc.stage_mesh_obj(rec, 2), "stage.obj")
    assert mesh.faces.shape == st.faces.shape
    assert len(mesh.vertices) == len(np.unique(np.concatenate([st.faces.ravel(), st.edges.ravel()])))


def test_stage_mesh_ply_has_edges(recs):
    text = svc.stage_mesh_ply(recs["c_segmenter"], 1, "label").decode()
    head, body = text.split("end_header\n")
    assert f"element edge {recs['c_segmenter'].stage(1).num_edges}" in head
    assert f"element face {len(recs['c_segmenter'].stage(1).faces)}" in head
    assert len(body.strip().splitlines()) > 0


def test_recording_npz_round_trips(recs, tmp_path):
    rec = recs["c_segmenter"]
    p = tmp_path / "r.npz"
    p.write_bytes(svc.recording_npz(rec))
    back = load_recording(p)
    assert back.num_stages == rec.num_stages
    assert np.array_equal(back.stage(2).edge_ids, rec.stage(2).edge_ids)


def test_figure_html_is_standalone(recs):
    html = svc.figure_html(svc.stage_figure(recs["a_classifier"], 1), "title").decode()
    assert "<html>" in html[:100] and "plotly" in html.lower()
    assert not re.search(r"<script[^>]*src=[\"']?https?:", html)  # plotly.js inlined: works offline


def test_png_and_gif(recs):
    import imageio.v3 as iio

    png = svc.stage_png(recs["c_segmenter"], 1, "label", size=(320, 240))
    img = iio.imread(png)
    assert img.shape[:2] == (240, 320) and img[..., :3].astype(float).var() > 10
    gif = svc.collapse_gif(recs["a_classifier"], size=(200, 160))
    frames = iio.imread(gif, index=None)
    assert frames.shape[0] == 5  # stage 0, its collapses, stage 1, its collapses, stage 2


# ---------------------------------------------------------------- URL state


def test_query_state_round_trip():
    state = svc.ViewState(model="shipped:a.pt", mesh="sample:x.obj", stage=3, color="channel", channel=7)
    q = svc.encode_state(state)
    assert all(isinstance(v, str) for v in q.values())
    assert svc.decode_state(q) == state
    assert svc.decode_state({k: [v] for k, v in q.items()}) == state  # list values (multi-valued params)
    assert "channel" not in svc.encode_state(svc.ViewState(color="priority", channel=7))
    both = svc.ViewState(models=("shipped:a.pt", "shipped:b.pt"), stage=1)
    assert svc.encode_state(both)["models"] == "shipped:a.pt,shipped:b.pt"
    assert svc.decode_state(svc.encode_state(both)) == both
    json.dumps(q)


@pytest.mark.parametrize("params", [{}, {"stage": "-4", "color": "<script>"}, {"stage": "x", "channel": ""},
                                    {"model": "", "mesh": []}])
def test_query_state_garbage_falls_back(params):
    s = svc.decode_state(params)
    assert s.stage >= 0 and s.color in svc.QUANTITIES and s.channel >= 0
    assert s.model in (None,) and s.mesh in (None,)
