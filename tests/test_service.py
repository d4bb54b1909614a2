"""The explorer without Streamlit.

Listings, the service (models, meshes, results), colorings, figures, comparison, exports, URL state.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from meshcnn_core import CheckpointError, MeshError, load_mesh
from meshcnn_core.mesh.io import load_mesh_bytes
from meshcnn_core.recording import load_recording
from tests.app_fixtures import CLASSES
from tests.meshes import tetrahedron
from viz_app import catalog, colorings, comparison, exports, figures, state
from viz_app import service as svc
from viz_app.colorings import ColorChoice


@pytest.fixture(scope="module")
def models(tree):
    ck = tree["checkpoints"]
    return {
        n: svc.open_model(ck / f"{n}.pt", device="cpu")
        for n in ("a_classifier", "b_classifier", "c_segmenter")
    }


@pytest.fixture(scope="module")
def recs(tree, models):
    ico = load_mesh(tree["samples"] / "ico_480.obj")
    return {n: svc.infer(m, ico).recording for n, m in models.items()}


# ---------------------------------------------------------------- listings


def test_list_models_and_cards(tree, tmp_path):
    entries = catalog.list_models(tree["checkpoints"])
    assert [e.name for e in entries] == ["a_classifier", "b_classifier", "c_segmenter"]
    assert entries[0].key == "shipped:a_classifier.pt"
    assert "Random weights" in catalog.model_card(entries[0])
    assert catalog.model_card(entries[2]) is None
    assert catalog.list_models(tmp_path / "missing") == []
    assert catalog.default_model(entries).name == "a_classifier"
    assert catalog.default_model([]) is None


def test_sample_meshes_and_default(tree, tmp_path):
    samples = catalog.list_sample_meshes(tree["samples"])
    assert [m.name for m in samples] == ["big_1920", "ico_480", "torus_480"]
    assert catalog.estimated_edges(samples[0]) == 1920
    assert catalog.default_mesh(samples, 500).name == "ico_480"  # largest that fits, first on ties
    assert catalog.default_mesh(samples, 100).name == "big_1920"  # nothing fits: the first
    assert catalog.default_mesh([], 500) is None
    assert catalog.list_sample_meshes(tmp_path / "missing") == []


def test_landing_view_is_one_constant(tree):
    models = catalog.list_models(tree["checkpoints"])
    samples = catalog.list_sample_meshes(tree["samples"])
    landing = catalog.Landing(model="c_segmenter.pt", mesh="torus_480.obj", stage=1, color="label")
    assert catalog.default_model(models, landing).name == "c_segmenter"
    assert catalog.default_mesh(samples, 500, landing).name == "torus_480"
    assert catalog.default_mesh(samples, 400, landing).name == "big_1920"  # nothing fits: the first
    assert catalog.default_mesh(samples, None, landing).name == "big_1920"  # the largest beats the landing
    shipped = catalog.LANDING  # the shipped landing names shipped files
    assert (catalog.REPO_ROOT / "checkpoints" / shipped.model).is_file()
    assert (catalog.REPO_ROOT / "sample_meshes" / shipped.mesh).is_file()


def test_fitting_sample_picks_the_same_shape_at_a_size_that_fits(tmp_path):
    for name in ("ant_750", "ant_1500", "ant_2250", "cube_2250"):
        (tmp_path / f"{name}.obj").write_text("")
    samples = {m.name: m for m in catalog.list_sample_meshes(tmp_path)}
    listed = list(samples.values())
    assert catalog.fitting_sample(samples["ant_750"], listed, 1800, 2280).name == "ant_2250"
    assert (
        catalog.fitting_sample(samples["ant_2250"], listed, 600, 1600).name == "ant_1500"
    )  # the largest fit
    assert catalog.fitting_sample(samples["ant_750"], listed, 600, 750) is None  # already fits
    assert catalog.fitting_sample(samples["cube_2250"], listed, 600, 750) is None  # no other size


def test_resolve_mesh_key_only_returns_listed_files(tree):
    samples = catalog.list_sample_meshes(tree["samples"])
    assert catalog.resolve_mesh_key("sample:ico_480.obj", samples, None).name == "ico_480"
    assert catalog.resolve_mesh_key("sample:../../etc/passwd", samples, None) is None
    assert (
        catalog.resolve_mesh_key("data:/etc/passwd", samples, catalog.list_dataset(tree["segdata"])) is None
    )


def test_segmentation_dataset_listing_and_truth(tree, recs):
    listing = catalog.list_dataset(tree["segdata"])
    assert listing.task == "segmentation"
    assert [m.key for m in listing.meshes][:2] == ["data:test/mtest0.obj", "data:test/mtest1.obj"]
    entry = next(m for m in listing.meshes if m.key == "data:train/mtrain0.obj")  # the ico of `recs`
    truth = catalog.ground_truth(entry, ["1", "2", "3"], 480)
    assert truth.shape == (480,) and set(np.unique(truth)) == {0, 1, 2}
    assert catalog.ground_truth(entry, ["1", "2", "3"], 481) is None  # wrong edge count: no truth
    assert catalog.ground_truth(entry, ["a", "b", "c"], 480) is None  # labels the model does not know


def test_segmentation_accuracy_values(recs):
    rec = recs["c_segmenter"]
    pred = rec.prediction
    assert svc.accuracy(rec, pred) == svc.Accuracy(edges=1.0, area=1.0)
    assert svc.accuracy(rec, (pred + 1) % 3) == svc.Accuracy(edges=0.0, area=0.0)
    half = pred.copy()
    half[240:] = (pred[240:] + 1) % 3  # the first 240 of 480 edges right
    acc = svc.accuracy(rec, half)
    areas = rec.edge_areas.astype(np.float64)
    assert acc.edges == 0.5 and acc.correct is None
    assert acc.area == pytest.approx(areas[:240].sum() / areas.sum())
    assert svc.accuracy(rec, pred[:10]) is None  # truth of another mesh


def test_classification_dataset_listing_and_truth(tree, recs):
    listing = catalog.list_dataset(tree["clsdata"])
    assert listing.task == "classification"
    assert [m.label for m in listing.meshes] == ["sphere", "torus"]
    assert catalog.ground_truth(listing.meshes[1], CLASSES, 480) == 1
    rec = recs["a_classifier"]
    pred = int(rec.prediction)
    assert svc.accuracy(rec, pred) == svc.Accuracy(correct=True)
    assert svc.accuracy(rec, (pred + 1) % 3) == svc.Accuracy(correct=False)
    assert svc.accuracy(recs["a_classifier"], None) is None


@pytest.mark.parametrize("root", ["", "/nonexistent/folder"])
def test_dataset_listing_never_raises(root):
    listing = catalog.list_dataset(root)
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
    assert res.actions == fit.actions
    assert np.array_equal(res.recording.input_vertices, fit.mesh.vertices)  # ran on the fitted mesh
    assert np.array_equal(
        big.vertices, load_mesh(tree["samples"] / "big_1920.obj").vertices
    )  # input untouched


def test_fit_mesh_subdivides_a_too_small_mesh(models):
    fit = svc.fit_mesh(tetrahedron(), [models["a_classifier"]])  # 6 edges: subdivided, then simplified
    assert fit.actions[0].startswith("subdivided 4 times at the edge midpoints")
    lo, hi = svc.model_limits([models["a_classifier"]])
    assert lo <= len(fit.mesh.faces) * 3 // 2 <= hi


def test_model_limits_conflict(models):
    lo, hi = svc.model_limits([models["a_classifier"], models["c_segmenter"]])
    assert (lo, hi) == (400, 500)
    with pytest.raises(MeshError, match="cannot share"):
        svc.fit_mesh_to(tetrahedron(), 600, 500)


def test_default_device_follows_meshcnn_device(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("MESHCNN_DEVICE", "cpu")
    assert svc.default_device() == svc.DeviceChoice(("cpu", "cuda"), "cpu")
    monkeypatch.delenv("MESHCNN_DEVICE")
    assert svc.default_device() == svc.DeviceChoice(("cpu", "cuda"), "cuda")
    monkeypatch.setenv("MESHCNN_DEVICE", "cuda:1")
    assert svc.default_device() == svc.DeviceChoice(("cpu", "cuda", "cuda:1"), "cuda:1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("MESHCNN_DEVICE", "cuda")
    choice = svc.default_device()
    assert choice.options == ("cpu",) and choice.default == "cpu" and "not usable" in choice.note
    monkeypatch.setenv("MESHCNN_DEVICE", "bogus")
    assert svc.default_device().default == "cpu" and "bogus" in svc.default_device().note


def test_safe_name():
    assert svc.safe_name("../../etc/evil name") == "etc_evil_name"
    assert svc.safe_name("human_seg_segmenter_ant-2250.obj") == "human_seg_segmenter_ant-2250.obj"
    assert svc.safe_name("<>|", "fallback") == "fallback"
    assert len(svc.safe_name("x" * 200)) == 60


# ---------------------------------------------------------------- uploads


def test_uploaded_mesh_name_is_never_a_path(tree, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = (tree["samples"] / "ico_480.obj").read_bytes()
    mesh = svc.read_uploaded_mesh(data, "../../etc/evil name.obj")
    assert mesh.name == "evil_name" and len(mesh.faces) == 320
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "data,name",
    [(b"", "a.obj"), (b"\x00\x01garbage" * 10, "a.ply"), (b"v 1 2 3\n", "a.obj"), (b"solid x", "a.exe")],
)
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
    pts = figures.line_arrays(v, e)
    assert pts.dtype == np.float32 and pts.shape == (6, 3)
    assert np.array_equal(pts[[0, 1, 3, 4]], v[[0, 1, 1, 2]].astype(np.float32))
    assert np.isnan(pts[[2, 5]]).all()


@pytest.mark.parametrize("quantity", list(colorings.QUANTITIES))
@pytest.mark.parametrize("model", ["a_classifier", "c_segmenter"])
def test_stage_figure_has_one_lines_trace_with_per_edge_colors(recs, quantity, model):
    rec = recs[model]
    if quantity in ("truth", "wrong") and rec.task != "segmentation":
        return
    choice = ColorChoice(
        quantity,
        3,
        truth=(rec.prediction + 1) % 3 if quantity in ("truth", "wrong") else None,
        attribution=np.linspace(0, 1, rec.num_input_edges) if quantity == "attribution" else None,
    )
    for k in range(rec.num_stages):
        st = rec.stage(k)
        fig = figures.stage_figure(rec, k, choice)
        surface, lines = fig.data[0], fig.data[1]
        assert isinstance(surface, go.Mesh3d) and len(surface.i) == len(st.faces)
        assert isinstance(lines, go.Scatter3d) and lines.mode == "lines"
        assert len(lines.x) == 3 * st.num_edges and np.asarray(lines.x).dtype == np.float32
        color = np.asarray(lines.line.color)
        assert len(color) == 3 * st.num_edges
        assert np.array_equal(color[0::3], color[1::3]) and np.array_equal(color[0::3], color[2::3])
        col = colorings.edge_coloring(rec, k, choice)
        assert np.array_equal(color[0::3], col.values)
        assert (lines.line.cmin, lines.line.cmax) == (col.cmin, col.cmax) and col.cmin < col.cmax
        discrete = col.categories is not None
        assert bool(lines.line.showscale) == (not discrete)
        assert len(fig.data) == 2 + (len(col.categories) if discrete else 0)


def test_stage_figure_json_is_small(recs):
    fig = figures.stage_figure(recs["a_classifier"], 0)
    assert len(fig.to_json()) < 200_000  # typed arrays, not Python lists


def test_views_share_one_frame(recs):
    a = figures.stage_figure(recs["a_classifier"], 0).layout.scene
    b = figures.stage_figure(recs["b_classifier"], 2).layout.scene
    assert a.xaxis.range == b.xaxis.range and a.camera == b.camera
    z = figures.stage_figure(recs["a_classifier"], 2, fit_stage=True).layout.scene
    assert z.xaxis.range != a.xaxis.range or z.yaxis.range != a.yaxis.range


def test_label_coloring_is_discrete_for_segmentation(recs):
    rec = recs["c_segmenter"]
    col = colorings.edge_coloring(rec, 0, ColorChoice("label"))
    assert col.categories == ("1", "2", "3")
    assert np.array_equal(col.values, rec.prediction.astype(np.float32))
    with pytest.raises(ValueError, match="unknown quantity"):
        colorings.edge_coloring(rec, 0, ColorChoice("bogus"))


def test_truth_and_wrong_colorings(recs):
    rec = recs["c_segmenter"]
    truth = rec.prediction.copy()
    truth[:100] = (truth[:100] + 1) % 3  # the first 100 input edges are wrong
    for k in range(rec.num_stages):
        ids = rec.stage(k).edge_ids
        gt = colorings.edge_coloring(rec, k, ColorChoice("truth", truth=truth))
        assert gt.categories == ("1", "2", "3") and np.array_equal(gt.values, truth[ids])
        wrong = colorings.edge_coloring(rec, k, ColorChoice("wrong", truth=truth))
        assert wrong.categories == ("right", "wrong")
        assert np.array_equal(wrong.values, (ids < 100).astype(np.float32))
    with pytest.raises(ValueError, match="ground truth"):
        colorings.edge_coloring(rec, 0, ColorChoice("wrong"))
    assert colorings.quantities_for("segmentation", True)[4:7] == ["label", "truth", "wrong"]
    assert "truth" not in colorings.quantities_for("segmentation", False)
    assert "label" not in colorings.quantities_for("classification", False)


@pytest.mark.parametrize("quantity", ["activation", "channel"])
def test_fixed_color_range_spans_every_stage(recs, quantity):
    rec = recs["c_segmenter"]
    fixed = [colorings.edge_coloring(rec, k, ColorChoice(quantity, 2)) for k in range(rec.num_stages)]
    own = [
        colorings.edge_coloring(rec, k, ColorChoice(quantity, 2, fixed_scale=False))
        for k in range(rec.num_stages)
    ]
    assert len({(c.cmin, c.cmax) for c in fixed}) == 1 and all(c.fixed for c in fixed)
    assert all(c.fixed is False for c in own)
    assert len({(c.cmin, c.cmax) for c in own}) > 1  # random weights: the stages' ranges differ
    lo, hi = fixed[0].cmin, fixed[0].cmax
    for f, o in zip(fixed, own):
        assert np.array_equal(f.values, o.values)  # same values, only the range differs
        assert lo <= o.cmin and o.cmax <= hi  # every stage's own range lies inside the fixed one
    assert colorings.edge_coloring(rec, 0, ColorChoice("priority")).fixed is None


def test_channel_is_clamped(recs):
    rec = recs["a_classifier"]
    n = rec.stage(1).features.shape[0]
    col = colorings.edge_coloring(rec, 1, ColorChoice("channel", 10_000))
    assert np.array_equal(col.values, rec.stage(1).features[n - 1])


def test_survival_figure(recs):
    rec = recs["c_segmenter"]
    fig = figures.survival_figure(rec)
    color = np.asarray(fig.data[1].line.color)[0::3]
    assert np.array_equal(color, rec.survival_depth().astype(np.float32))
    assert list(fig.data[1].line.colorbar.tickvals) == [0.0, 1.0, 2.0]


def test_stages_figure_has_a_frame_per_stage(recs):
    rec = recs["c_segmenter"]
    fig = figures.stages_figure(rec, ColorChoice("priority"), active=2)
    assert len(fig.frames) == rec.num_stages
    assert fig.layout.sliders[0].active == 2 and len(fig.layout.sliders[0].steps) == rec.num_stages
    assert len(fig.data[1].x) == 3 * rec.stage(2).num_edges
    for k, frame in enumerate(fig.frames):
        assert len(frame.data[1].x) == 3 * rec.stage(k).num_edges
    labels = [s.label for s in fig.layout.sliders[0].steps]
    assert labels == ["input", "pool 1", "pool 2", "unpool 1", "unpool 2"]


def test_prediction_figure(recs):
    rec = recs["a_classifier"]
    fig = figures.prediction_figure(rec, top=2)
    p = rec.probabilities.reshape(-1)
    top = np.argsort(-p)[:2][::-1]  # drawn bottom-up: the most likely class last (on top)
    assert list(fig.data[0].y) == [CLASSES[i] for i in top]
    assert np.allclose(fig.data[0].x, 100 * p[top])
    assert list(fig.data[0].text) == [f"{100 * v:.1f}%" for v in p[top]]
    assert fig.data[0].cliponaxis is False  # the "%" is never cut off


# ---------------------------------------------------------------- comparison


def test_overlaps_of_a_model_with_itself_are_one(recs):
    rows = comparison.stage_overlaps(recs["a_classifier"], recs["a_classifier"])
    assert [r.jaccard for r in rows] == [1.0, 1.0, 1.0]


def test_overlaps_between_models(recs):
    a, b = recs["a_classifier"], recs["b_classifier"]
    rows = comparison.stage_overlaps(a, b)
    assert rows[0].jaccard == 1.0  # same input edges
    for r in rows:
        assert r.jaccard == r.both / (r.kept_a + r.kept_b - r.both)
        status = comparison.kept_status(a, b, r.stage)
        assert int((status == 3).sum()) == r.both
        assert int((status & 1).sum()) == r.kept_a == a.stage(r.stage).num_edges
        assert int((status >> 1).sum()) == r.kept_b
    seg = comparison.stage_overlaps(a, recs["c_segmenter"])
    assert len(seg) == 3  # the segmenter's unpool stages are not compared


def test_overlaps_refuse_different_meshes(tree, models, recs):
    other = svc.infer(models["a_classifier"], load_mesh(tree["samples"] / "torus_480.obj")).recording
    assert not comparison.same_input(recs["a_classifier"], other)
    with pytest.raises(ValueError, match="different meshes"):
        comparison.stage_overlaps(recs["a_classifier"], other)


def test_kept_figure(recs):
    status = comparison.kept_status(recs["a_classifier"], recs["b_classifier"], 2)
    fig = figures.kept_figure(status, recs["a_classifier"], ("A", "B"))
    assert [t.name for t in fig.data[2:]] == [
        "kept by neither",
        "kept by A only",
        "kept by B only",
        "kept by both",
    ]
    assert np.array_equal(np.asarray(fig.data[1].line.color)[0::3], status.astype(np.float32))


# ---------------------------------------------------------------- exports


def test_stage_mesh_obj_round_trips(recs):
    rec = recs["a_classifier"]
    st = rec.stage(2)
    mesh = load_mesh_bytes(exports.stage_mesh_obj(rec, 2), "stage.obj")
    assert mesh.faces.shape == st.faces.shape
    assert len(mesh.vertices) == len(np.unique(np.concatenate([st.faces.ravel(), st.edges.ravel()])))


def test_stage_mesh_ply_has_edges(recs):
    rec = recs["c_segmenter"]
    st = rec.stage(1)
    text = exports.stage_mesh_ply(rec, 1, ColorChoice("label")).decode()
    head, body = text.split("end_header\n")
    n_v = len(np.unique(np.concatenate([st.faces.ravel(), st.edges.ravel()])))
    assert f"element vertex {n_v}" in head and f"element face {len(st.faces)}" in head
    assert f"element edge {st.num_edges}" in head
    lines = body.strip().splitlines()
    assert len(lines) == n_v + len(st.faces) + st.num_edges
    edge_values = np.array([float(x.split()[2]) for x in lines[n_v + len(st.faces) :]])
    assert np.array_equal(edge_values, rec.prediction[st.edge_ids].astype(np.float64))


def test_recording_npz_round_trips(recs, tmp_path):
    rec = recs["c_segmenter"]
    p = tmp_path / "r.npz"
    p.write_bytes(exports.recording_npz(rec))
    back = load_recording(p)
    assert back.num_stages == rec.num_stages
    assert np.array_equal(back.stage(2).edge_ids, rec.stage(2).edge_ids)


def test_figure_html_is_standalone(recs):
    html = exports.figure_html(figures.stage_figure(recs["a_classifier"], 1), "title").decode()
    assert "<html>" in html[:100] and "plotly" in html.lower()
    assert not re.search(r"<script[^>]*src=[\"']?https?:", html)  # plotly.js inlined: works offline


def test_png_and_gif(recs):
    import imageio.v3 as iio

    png = exports.stage_png(recs["c_segmenter"], 1, ColorChoice("label"), size=(320, 240))
    img = iio.imread(png)
    assert img.shape[:2] == (240, 320) and img[..., :3].astype(float).var() > 10
    gif = exports.collapse_gif(recs["a_classifier"], size=(200, 160))
    frames = iio.imread(gif, index=None)
    assert frames.shape[0] == 5  # stage 0, its collapses, stage 1, its collapses, stage 2


# ---------------------------------------------------------------- URL state


def test_query_state_round_trip():
    view = state.ViewState(
        model="shipped:a.pt", mesh="sample:x.obj", stage=3, color="channel", channel=7, fixed_scale=False
    )
    q = state.encode_state(view)
    assert q == {
        "stage": "3",
        "color": "channel",
        "model": "shipped:a.pt",
        "mesh": "sample:x.obj",
        "channel": "7",
        "scale": "stage",
    }
    assert state.decode_state(q) == view
    assert state.decode_state({k: [v] for k, v in q.items()}) == view  # list values (multi-valued params)
    assert "channel" not in state.encode_state(state.ViewState(color="priority", channel=7))
    both = state.ViewState(models=("shipped:a.pt", "shipped:b.pt"), stage=1)
    assert state.encode_state(both)["models"] == "shipped:a.pt,shipped:b.pt"
    assert state.decode_state(state.encode_state(both)) == both
    data = state.ViewState(mesh="data:test/0014.obj", dataset="shrec_16")
    assert (
        state.encode_state(data)["dataset"] == "shrec_16"
        and state.decode_state(state.encode_state(data)) == data
    )
    assert "dataset" not in state.encode_state(state.ViewState(mesh="sample:x.obj", dataset="shrec_16"))
    json.dumps(q)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"stage": "-4", "color": "<script>"},
        {"stage": "x", "channel": ""},
        {"model": "", "mesh": [], "dataset": ""},
    ],
)
def test_query_state_garbage_falls_back(params):
    assert state.decode_state(params) == state.ViewState()


def test_query_state_dataset_name_is_only_text():
    assert state.decode_state({"dataset": "../../etc/<b>passwd</b>"}).dataset == "etcbpasswdb"
    assert state.decode_state({"dataset": "/"}).dataset is None


def test_inference_says_when_a_prediction_means_little():
    """The shipped SHREC classifier stores out-of-distribution statistics: an airplane is unlike its data."""
    root = Path(__file__).resolve().parents[1]
    model = svc.open_model(root / "checkpoints" / "shrec16_classifier.pt", device="cpu")
    res = svc.infer(model, load_mesh(root / "sample_meshes" / "airplane_750.obj"))
    assert res.ood is not None and res.ood.unusual and res.ood.percentile > 99
    words, warn = res.reliability(model.task)
    assert warn and words.startswith("Out-of-distribution score") and "says little" in words


def test_models_without_statistics_say_so(models, tree):
    mesh = load_mesh(tree["samples"] / "ico_480.obj")
    cls = svc.infer(models["a_classifier"], mesh)
    assert cls.ood is None
    assert cls.reliability("classification") == (
        "No out-of-distribution statistics are stored in this checkpoint.", False)
    assert "classifiers only" in cls.reliability("segmentation")[0]
