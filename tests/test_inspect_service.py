"""The inspect and teaching pages' plain modules: clicks, provenance, replay, explainer, lesson.

The octahedron is small enough to follow by hand (see tests/test_inspect.py): its first pooling collapses
the lowest-priority edge ``c``; in each face of ``c`` the edge ``gemm[c, 1]`` (``gemm[c, 3]``) is merged
into ``gemm[c, 0]`` (``gemm[c, 2]``), and both absorbers carry ``c`` afterwards.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from meshcnn_core import ClassifierConfig, SegmenterConfig, build_topology
from meshcnn_core.checkpoint import build_model, checkpoint_dict, load_model, save_checkpoint
from meshcnn_core.inference import record
from meshcnn_core.inspection.conv_explain import edge_geometry, explain_conv, first_conv, input_topology
from meshcnn_core.inspection.lesson import lesson_summary
from meshcnn_core.inspection.replay import replay
from meshcnn_core.nn.pool_events import RemovalKind
from meshcnn_core.recording import Recording
from viz_app import inspect_figures as figs
from viz_app import inspect_service as isvc
from viz_app import lesson_service as lsvc
from viz_app.catalog import MeshEntry, ModelEntry

from .meshes import icosphere, octahedron

OCTA = ClassifierConfig(nclasses=2, ncf=(4, 4), pool_res=(9, 6), ninput_edges=12, num_groups=2, fc_n=4)
SEG = SegmenterConfig(nclasses=3, ncf=(8, 16, 16), pool_res=(400, 300), ninput_edges=500, resblocks=1)
MEAN = np.array([1.8, 1.2, 1.3, 0.8, 0.9])
STD = np.array([0.1, 0.05, 0.07, 0.1, 0.12])


def _model(tmp_path, config, name, seed=0):
    torch.manual_seed(seed)
    net = build_model(config)
    path = tmp_path / f"{name}.pt"
    save_checkpoint(path, checkpoint_dict(net, config, [f"c{i}" for i in range(config.nclasses)], MEAN, STD))
    return load_model(path, device="cpu")


@pytest.fixture(scope="module")
def octa(tmp_path_factory):
    model = _model(tmp_path_factory.mktemp("octa"), OCTA, "octa")
    rec = record(model, octahedron())
    topo, _, _ = build_topology(octahedron().vertices, octahedron().faces)
    c = int(rec.stage(0).collapse_order[0])
    return model, rec, c, [int(g) for g in topo.gemm[c]]


@pytest.fixture(scope="module")
def seg(tmp_path_factory):
    model = _model(tmp_path_factory.mktemp("seg"), SEG, "seg", seed=3)
    return model, record(model, icosphere(2, seed=1))


# ---------------------------------------------------------------- clicks


def test_parse_click_accepts_only_well_formed_browser_data():
    c = isvc.parse_click({"id": "t:1", "trace": "edges", "customdata": 7, "x": 0.5, "y": 1, "z": -2.0})
    assert c == isvc.Click("t:1", "edges", 7, (0.5, 1.0, -2.0))
    assert isvc.parse_click({"id": "t:2", "trace": "midpoints", "customdata": [3.0]}).row == 3
    for bad in (None, "edges", [], {"trace": "edges"}, {"id": 5, "trace": "edges"}):
        assert isvc.parse_click(bad) is None
    odd = isvc.parse_click({"id": "t:3", "trace": "e", "customdata": True, "x": float("nan"), "y": 0, "z": 0})
    assert odd.row is None and odd.point is None  # a bool is no row, NaN no coordinate
    assert isvc.parse_click({"id": "t:4", "trace": "e", "customdata": 2.5}).row is None
    assert len(isvc.parse_click({"id": "x" * 500, "trace": "y" * 500}).id) == 80


def test_a_click_names_the_row_it_carries_else_the_nearest_edge(octa):
    _, rec, _, _ = octa
    st1 = rec.stage(1)
    for row in range(st1.num_edges):
        picked = isvc.pick_from_click(rec, 1, isvc.Click("a", "edges", row, None))
        assert (picked.row, picked.edge_id) == (row, int(st1.edge_ids[row]))
    mid = st1.vertices[st1.edges[4]].mean(axis=0)
    by_point = isvc.pick_from_click(rec, 1, isvc.Click("b", "surface", 99, tuple(mid)))  # 99: no such row
    assert by_point.row == 4 and by_point.distance == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="click an edge"):
        isvc.pick_from_click(rec, 1, isvc.Click("c", "edges", None, None))


def test_figure_traces_carry_the_rows_a_click_reports(octa):
    _, rec, c, _ = octa
    focus = isvc.edge_focus(rec, 1, c)
    fig = figs.stage_pick_figure(rec, focus)
    by_name = {t.name: t for t in fig.data}
    edges = by_name["edges"]
    st1 = rec.stage(1)
    assert list(edges.customdata) == [
        r for r in range(st1.num_edges) for _ in range(3)
    ]  # p0, p1, gap per edge
    assert list(by_name["midpoints"].customdata) == list(range(st1.num_edges))
    np.testing.assert_allclose(
        np.c_[by_name["midpoints"].x, by_name["midpoints"].y, by_name["midpoints"].z],
        st1.vertices[st1.edges].mean(axis=1),
        atol=1e-6,
    )
    assert set(figs.pickable_traces(fig)) >= {"edges", "midpoints"} and "surface" not in figs.pickable_traces(
        fig
    )
    carriers = by_name[f"carry input edge {c}"]
    assert sorted(set(carriers.customdata)) == sorted(focus.carrier_rows.tolist())


# ---------------------------------------------------------------- provenance


def test_edge_focus_by_hand(octa):
    _, rec, c, (a0, b0, a1, b1) = octa
    alive = isvc.edge_focus(rec, 0, c)
    assert alive.row == c and alive.origin.members.tolist() == [c]
    assert "its group holds only itself" in alive.sentence
    gone = isvc.edge_focus(rec, 1, c)
    assert gone.row is None and gone.origin is None
    assert sorted(gone.carrier_ids.tolist()) == sorted([a0, a1])
    assert gone.merged_into_carriers.tolist() == sorted({a0, b0, c, a1, b1})
    assert (
        f"Input edge {c} is not an edge of stage 1" in gone.sentence
        and "collapsed by pooling 1" in gone.sentence
    )
    absorber = isvc.edge_focus(rec, 1, a0)
    assert absorber.origin.members.tolist() == sorted([a0, b0, c])
    assert "3 input edges (itself included) have been merged into it" in absorber.sentence
    merged = isvc.edge_focus(rec, 1, b0)
    assert merged.carrier_ids.tolist() == [a0] and "merged into a face neighbour" in merged.sentence


def test_fate_rows_and_summary(octa):
    _, rec, c, (a0, _, a1, _) = octa
    fate = isvc.edge_focus(rec, 0, c).fate
    rows = isvc.fate_rows(rec, fate)
    assert len(rows) == rec.num_stages
    assert rows[0]["itself an edge"] == "yes" and rows[0]["next pooling's queue position"] == "1 of 12"
    assert rows[0]["priority"] == f"{float(rec.stage(0).priority[c]):.4g}"
    assert rows[1]["itself an edge"] == "no" and rows[1]["carried by"] == ", ".join(
        map(str, sorted([a0, a1]))
    )
    assert rows[-1]["next pooling's queue position"] == "(no pooling follows)"
    text = isvc.fate_summary(rec, fate)
    assert "collapsed by pooling 1 (stage 0 → 1), as removal 3 of that pooling" in text
    assert "number 1 of 12" in text


def test_id_list_shortens_long_lists():
    assert isvc.id_list([3, 1, 2]) == "3, 1, 2"
    assert isvc.id_list(range(20), 5) == "0, 1, 2, 3, 4, … (+15 more)"


# ---------------------------------------------------------------- replay


def test_replay_categories_and_words_by_hand(octa):
    _, rec, c, (a0, b0, a1, b1) = octa
    rp = replay(rec, 0)
    assert (isvc.replay_categories(rp, -1) == 0).all()
    cats = isvc.replay_categories(rp, 0)
    assert cats[c] == isvc.REPLAY_CATEGORIES.index("collapsed now")
    assert cats[b0] == cats[b1] == isvc.REPLAY_CATEGORIES.index("merged now")
    assert (np.delete(cats, [c, b0, b1]) == 0).all()
    text = isvc.event_sentence(rp.events[0])
    assert f"**Collapse edge {c}**: queue position 1" in text and "Edges: 12 → 9." in text
    assert f"edges {b0}, {b1} are merged" in text
    assert isvc.replay_summary(rp).startswith(
        "1 step: 1 collapse, 0 skipped pops, 0 triplet removals; 12 → 9 edges"
    )
    assert isvc.layer_label(rec, 0) == "pooling 1: stage 0 → 1 (12 → 9 edges)"


def test_replay_categories_follow_the_removal_log(seg):
    _, rec = seg
    for k in (0, 1):
        rp = replay(rec, k)
        st = rec.stage(k)
        row_of = {int(e): r for r, e in enumerate(st.edge_ids)}
        last = isvc.replay_categories(rp, len(rp.events) - 1)
        final = rp.events[-1]
        now = set(final.removed_rows.tolist()) | ({final.row} if final.row is not None else set())
        for e, kind in zip(st.removed_order.tolist(), st.removed_kind.tolist()):
            r = row_of[int(e)]
            if r not in now:  # earlier steps: "collapsed/merged/removed with a triplet earlier"
                assert last[r] == 1 + kind
        kept = set(range(st.num_edges)) - {row_of[int(e)] for e in st.removed_order} - now
        assert all(last[r] == 0 for r in kept)
        for ev in rp.events:
            cats = isvc.replay_categories(rp, ev.step)
            if ev.kind == "skip":
                assert cats[ev.row] == isvc.REPLAY_CATEGORIES.index("skipped now")
            n_t = len(ev.triplets)
            assert (cats[ev.removed_rows[:n_t]] == isvc.REPLAY_CATEGORIES.index("triplet now")).all()
        rows = isvc.replay_rows(rp)
        assert [r["step"] for r in rows] == list(range(1, len(rp.events) + 1))
        assert rows[-1]["edges after"] == rp.edges_out == rec.stage(k + 1).num_edges
        assert sum(r["what"] == "collapse" for r in rows) == len(st.collapse_order)
    assert RemovalKind.TRIPLET == 2  # the categories above rely on the codes 0, 1, 2


def test_replay_summary_says_when_skips_were_not_recorded(seg):
    _, rec = seg
    old = Recording(
        {k: v for k, v in rec.arrays.items() if not k.endswith(("_skipped", "_skip_reason", "_skip_at"))}
    )
    text = isvc.replay_summary(replay(old, 0))
    assert "format version 1" in text and "skipped pop" not in text
    assert "skipped pop" in isvc.replay_summary(replay(rec, 0))


# ---------------------------------------------------------------- explainer


def test_exact_features_match_the_one_edge_geometry(octa, seg):
    for rec in (octa[1], seg[1]):
        ex = isvc.exact_features(rec)
        topo = input_topology(rec)
        assert ex.shape == (5, rec.num_input_edges)
        for e in range(0, rec.num_input_edges, max(1, rec.num_input_edges // 25)):
            g = edge_geometry(topo, e)
            want = [g.dihedral, *sorted(g.opposite_angles), *sorted(g.height_ratios)]
            np.testing.assert_allclose(ex[:, e], want, rtol=1e-9, atol=1e-12)
    octa_ex = isvc.exact_features(octa[1])  # regular octahedron: every edge alike
    np.testing.assert_allclose(octa_ex[0], np.arccos(-1 / 3))
    np.testing.assert_allclose(octa_ex[1:3], np.pi / 3)
    np.testing.assert_allclose(octa_ex[3:], np.sqrt(3) / 2)


def test_network_check_equals_the_explainer(seg):
    model, rec = seg
    y = isvc.first_layer_outputs(model, rec)
    assert y.shape == (first_conv(model.net)[1].out_channels, rec.num_input_edges)
    for e in (0, 5, rec.num_input_edges - 1):
        np.testing.assert_allclose(y[:, e], explain_conv(model, rec, e).outputs, rtol=1e-5, atol=1e-6)


def test_explainer_tables_show_the_numbers(octa):
    model, rec, c, (a0, b0, a1, b1) = octa
    ex = explain_conv(model, rec, c, channel=1)
    feats = isvc.feature_table(ex)
    assert feats.count("\n") == 6 and f"({np.degrees(rec.input_features[0, c]):.1f}°)" in feats
    assert f"{np.arccos(-1 / 3):.4g} ({np.degrees(np.arccos(-1 / 3)):.1f}°)" in feats  # the exact dihedral
    reads = isvc.reads_table(ex)
    assert f"| a = {a0} |" in reads and f"| d = {b1} |" in reads
    terms = isvc.terms_table(ex)
    assert "\\|a - c\\|" in terms  # pipes inside a cell are escaped
    assert f"{ex.terms[1, 2]:.4g}" in terms
    contrib = isvc.contributions_table(ex)
    assert f"{ex.contributions[4].sum():.4g} |" in contrib
    assert isvc.markdown_table(["a|b"], [["x|y"]]) == "| a\\|b |\n|---|\n| x\\|y |"


# ---------------------------------------------------------------- figures


def test_edge_camera_looks_at_the_edge_from_outside(seg):
    _, rec = seg
    v = rec.input_vertices
    center = v.mean(axis=0)
    for e in (0, 100, 300):
        cam = figs.edge_camera(rec, e, distance=1.3)
        eye = np.array([cam["eye"][k] for k in "xyz"])
        assert np.linalg.norm(eye) == pytest.approx(1.3)
        mid = v[rec.input_edges[e]].mean(axis=0)
        assert np.dot(eye, mid - center) > 0  # the edge is on the side the camera looks from


def test_conv_figure_labels_the_one_ring(octa):
    model, rec, c, nbrs = octa
    fig = figs.conv_figure(rec, explain_conv(model, rec, c))
    labels = next(t for t in fig.data if t.name == "labels")
    assert list(labels.text) == ["<b>e</b>", "<b>a</b>", "<b>b</b>", "<b>c</b>", "<b>d</b>"]
    legend = [t.name for t in fig.data if t.showlegend]
    assert legend == [f"{x} = edge {i}" for x, i in zip("eabcd", [c, *nbrs])]


def test_replay_figure_legend_counts(seg):
    _, rec = seg
    rp = replay(rec, 0)
    step = len(rp.events) // 2
    fig = figs.replay_figure(rec, rp, step)
    cats = isvc.replay_categories(rp, step)
    shown = {t.name for t in fig.data if t.showlegend}
    want = {
        f"{n} ({int((cats == i).sum())})"
        for i, n in enumerate(isvc.REPLAY_CATEGORIES)
        if i and (cats == i).any()
    }
    assert shown == want


# ---------------------------------------------------------------- lesson


def test_lesson_sections_and_html(seg):
    model, rec = seg
    text = lesson_summary(rec, model)
    parts = lsvc.lesson_sections(text)
    assert list(parts) == ["title", "1", "2", "3", "4", "5"]
    assert parts["title"].startswith("# How MeshCNN reads") and parts["3"].startswith("## 3. Pooling")
    assert "\n\n".join(parts.values()).count("|") == text.count("|")
    page = lsvc.lesson_html(text, "Lesson <1>")
    assert page.startswith("<!doctype html>") and "<title>Lesson &lt;1&gt;</title>" in page
    n_tables = sum(line.startswith("|---") for line in text.splitlines())
    assert n_tables >= 3 and page.count("<table>") == n_tables and "<h2>3. Pooling" in page
    assert "<script" not in page and "http" not in page  # standalone: nothing runs, nothing is fetched
    hostile = lsvc.lesson_html("# x\n\n<script>alert(1)</script>\n", "x")
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile


def test_lesson_choices(tmp_path):
    from pathlib import Path

    def mesh(name):
        return MeshEntry(f"sample:{name}", Path(name).stem, tmp_path / name, "sample")

    samples = [mesh("ant_750.obj"), mesh("ant_1500.obj"), mesh("box_1500.obj"), mesh("odd.obj")]
    fits = lsvc.lesson_meshes(samples, 1050, 1500)
    assert [m.name for m in fits] == ["ant_1500", "box_1500"]
    assert lsvc.lesson_mesh(fits).name == "ant_1500" and lsvc.lesson_mesh([fits[1]]).name == "box_1500"
    models = [
        ModelEntry("shipped:a.pt", "a_classifier", tmp_path / "a.pt", None),
        ModelEntry("shipped:b.pt", "b_segmenter", tmp_path / "b.pt", None),
    ]
    assert lsvc.lesson_model(models).name == "b_segmenter"
    assert lsvc.lesson_model(models[:1]).name == "a_classifier" and lsvc.lesson_model([]) is None
    steps = lsvc.lesson_steps("segmentation")
    assert (
        len(steps) == 8
        and steps[6].name == "Unpooling"
        and lsvc.lesson_steps("classification")[6].name == "Result"
    )
