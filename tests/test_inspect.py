"""Edge provenance, collapse replay, the MeshConv explainer and the lesson summary, on tiny meshes.

The octahedron is small enough to follow by hand: every vertex has valence 4, so the first edge the
pooling pops has no boundary, no triplet and a valid one-ring: it collapses, and the other two edges
of each of its faces become one (``gemm[c, 1]`` merges into ``gemm[c, 0]``, ``gemm[c, 3]`` into
``gemm[c, 2]``), each absorbing the collapsed edge too.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from meshcnn_core import ClassifierConfig, SegmenterConfig, SkipReason, build_topology
from meshcnn_core.checkpoint import build_model, checkpoint_dict, load_model, save_checkpoint
from meshcnn_core.inference import prepare, record, run
from meshcnn_core.inspection.conv_explain import TERM_NAMES, explain_conv, first_conv
from meshcnn_core.inspection.lesson import default_lesson_edge, lesson_summary
from meshcnn_core.inspection.provenance import (
    edge_by_id,
    edge_fate,
    edge_midpoints,
    edge_origin,
    nearest_edge,
    pooling_stages,
    queue_order,
    queue_ranks,
)
from meshcnn_core.inspection.replay import has_skip_log, replay
from meshcnn_core.mesh.io import Mesh
from meshcnn_core.recording import Recording, load_recording

from .meshes import icosphere, octahedron

OCTA_CONFIG = ClassifierConfig(nclasses=2, ncf=(4, 4), pool_res=(9, 6), ninput_edges=12, num_groups=2, fc_n=4)
CLS_CONFIG = ClassifierConfig(nclasses=3, ncf=(8, 16), pool_res=(400, 300), ninput_edges=500, num_groups=4,
                              fc_n=16)
SEG_CONFIG = SegmenterConfig(nclasses=3, ncf=(8, 16, 16), pool_res=(400, 300), ninput_edges=500, resblocks=1)
MEAN = np.array([1.8, 1.2, 1.3, 0.8, 0.9])  # not 0/1: the explainer must apply the normalization
STD = np.array([0.1, 0.05, 0.07, 0.1, 0.12])


def _model(tmp_path, config, name, mean=None, std=None, seed=0):
    mean = np.zeros(5) if mean is None else mean
    std = np.ones(5) if std is None else std
    torch.manual_seed(seed)
    net = build_model(config)
    path = tmp_path / f"{name}.pt"
    names = [f"c{i}" for i in range(config.nclasses)]
    save_checkpoint(path, checkpoint_dict(net, config, names, mean, std))
    return load_model(path, device="cpu")


def _open_icosphere() -> Mesh:
    """A 480-edge icosphere with one face removed: 3 boundary edges."""
    m = icosphere(2, seed=1)
    return Mesh(m.vertices, m.faces[1:], "open_icosphere")


@pytest.fixture(scope="module")
def octa(tmp_path_factory):
    model = _model(tmp_path_factory.mktemp("octa"), OCTA_CONFIG, "octa")
    return model, record(model, octahedron())


@pytest.fixture(scope="module")
def seg(tmp_path_factory):
    model = _model(tmp_path_factory.mktemp("seg"), SEG_CONFIG, "seg", MEAN, STD, seed=3)
    return model, record(model, icosphere(2, seed=1))


def _without_skip_log(rec: Recording) -> Recording:
    """The same recording as a version-1 file would hold it (no skip log)."""
    keys = ("_skipped", "_skip_reason", "_skip_at")
    return Recording({k: v for k, v in rec.arrays.items() if not k.endswith(keys)})


# ---------------------------------------------------------------- provenance, by hand


def test_provenance_of_the_first_collapse_by_hand(octa):
    _, rec = octa
    topo, _, _ = build_topology(octahedron().vertices, octahedron().faces)
    st0 = rec.stage(0)
    c = int(st0.collapse_order[0])
    a0, b0, a1, b1 = (int(g) for g in topo.gemm[c])
    # the first pop collapses (nothing to skip on an octahedron): c has the lowest priority
    assert c == int(queue_order(st0)[0])
    assert st0.priority[c] == st0.priority.min()
    assert st0.removed_order.tolist() == [b0, b1, c]
    st1 = rec.stage(1)
    assert st1.edge_ids.tolist() == sorted(set(range(12)) - {b0, b1, c})
    row = {int(e): r for r, e in enumerate(st1.edge_ids)}
    # forward: the two absorbing edges hold {itself, its merged face neighbour, c}; the others only themselves
    assert edge_origin(rec, 1, row[a0]).members.tolist() == sorted({a0, b0, c})
    assert edge_origin(rec, 1, row[a1]).members.tolist() == sorted({a1, b1, c})
    for e, r in row.items():
        if e not in (a0, a1):
            assert edge_origin(rec, 1, r).members.tolist() == [e]
    mask = edge_origin(rec, 1, row[a0]).mask(12)
    assert mask.sum() == 3 and mask[[a0, b0, c]].all()
    # reverse: c is carried by both absorbers after the pooling; b0 by a0 only
    fate = edge_fate(rec, c)
    s0 = fate.stages[0]
    assert (s0.alive, s0.row, s0.rank, s0.queue_size) == (True, c, 0, 12)
    assert fate.stages[1].alive is False and fate.stages[1].rank is None
    assert fate.stages[1].edge_ids.tolist() == sorted([a0, a1])
    assert (fate.removed_at, fate.removed_how, fate.removed_step, fate.survived) == (0, "collapsed", 2, False)
    fate_b0 = edge_fate(rec, b0)
    assert fate_b0.stages[1].edge_ids.tolist() == [a0]
    assert (fate_b0.removed_at, fate_b0.removed_how, fate_b0.removed_step) == (0, "merged", 0)
    assert fate_b0.stages[0].rank == int(queue_ranks(st0)[b0])
    # an edge away from the collapse stays itself at stage 1, at its own row
    other = next(e for e in row if e not in (a0, a1))
    f_other = edge_fate(rec, other)
    assert f_other.stages[1].alive and f_other.stages[1].edge_ids.tolist() == [other]
    assert f_other.stages[1].row == row[other]


@pytest.mark.parametrize("which", ["octa", "seg"])
def test_provenance_directions_agree_at_every_stage(which, request):
    _, rec = request.getfixturevalue(which)
    e = rec.num_input_edges
    fates = [edge_fate(rec, i) for i in range(e)]
    pools = pooling_stages(rec)
    depth = rec.survival_depth()
    last_encoder = max(k for k in range(rec.num_stages) if rec.stage(k).kind != "unpool")
    for k in range(rec.num_stages):
        st = rec.stage(k)
        pairs_fwd = {(r, int(m)) for r in range(st.num_edges) for m in edge_origin(rec, k, r).members}
        pairs_rev = {(int(r), i) for i in range(e) for r in fates[i].stages[k].rows}
        assert pairs_fwd == pairs_rev
        for i in range(e):
            sc = fates[i].stages[k]
            expected = queue_ranks(st)[sc.rows] if k in pools else []
            assert sc.carrier_ranks.tolist() == list(expected)
        alive = {i for i in range(e) if fates[i].stages[k].alive}
        assert alive == set(st.edge_ids.tolist())
        for r, i in enumerate(st.edge_ids):
            sc = fates[int(i)].stages[k]
            assert sc.row == r and r in sc.rows  # an edge's group holds the edge itself
            if k in pools:
                assert sc.priority == pytest.approx(float(st.priority[r]))
                assert queue_order(st)[sc.rank] == r
    for i in range(e):
        assert fates[i].survived == (depth[i] == last_encoder)
        if fates[i].removed_at is not None:
            k = fates[i].removed_at
            assert fates[i].stages[k].alive and not fates[i].stages[k + 1].alive
    order = queue_order(rec.stage(0))
    assert (np.diff(rec.stage(0).priority[order].astype(np.float64)) >= 0).all()


def test_picking_by_point_and_by_id(octa):
    _, rec = octa
    for k in range(rec.num_stages):
        st = rec.stage(k)
        mids = edge_midpoints(rec, k)
        for r in range(st.num_edges):
            p = nearest_edge(rec, k, mids[r])
            assert (p.row, p.edge_id, p.distance) == (r, int(st.edge_ids[r]), 0.0)
        a, b = st.vertices[st.edges[2]]
        off = 0.75 * a + 0.25 * b
        assert nearest_edge(rec, k, off).row == 2
    far = nearest_edge(rec, 0, [10.0, 0.0, 0.0])  # nearest: an edge at vertex 0 = (1, 0, 0), 9 away
    assert far.distance == pytest.approx(9.0) and 0 in rec.stage(0).edges[far.row]
    for bad in ([1.0, 2.0], [np.nan, 0, 0], "abc"):
        with pytest.raises(ValueError, match="3 finite numbers|3 numbers"):
            nearest_edge(rec, 0, bad)
    c = int(rec.stage(0).collapse_order[0])
    assert edge_by_id(rec, 0, c).row == c
    with pytest.raises(ValueError, match=f"input edge {c} is not an edge at stage 1: it was collapsed"):
        edge_by_id(rec, 1, c)
    with pytest.raises(ValueError, match="run from 0 to 11"):
        edge_by_id(rec, 0, 12)
    with pytest.raises(ValueError, match="stage must be"):
        edge_origin(rec, 7, 0)


# ---------------------------------------------------------------- replay


def test_replay_of_the_octahedron(octa, tmp_path):
    _, rec = octa
    rec.save(tmp_path / "octa.npz")
    loaded = replay(load_recording(tmp_path / "octa.npz"), 1)
    assert [(e.kind, e.edge, e.reason, e.removed.tolist()) for e in loaded.events] == [
        (e.kind, e.edge, e.reason, e.removed.tolist()) for e in replay(rec, 1).events]
    topo, _, _ = build_topology(octahedron().vertices, octahedron().faces)
    rp = replay(rec, 0)
    c = int(rec.stage(0).collapse_order[0])
    a0, b0, a1, b1 = (int(g) for g in topo.gemm[c])
    assert (rp.edges_in, rp.edges_out, rp.target, rp.has_skips) == (12, 9, 9, True)
    assert len(rp.events) == 1
    ev = rp.events[0]
    assert (ev.kind, ev.edge, ev.rank, ev.edges_before, ev.edges_after) == ("collapse", c, 0, 12, 9)
    assert ev.merged.tolist() == [b0, b1] and ev.removed.tolist() == [b0, b1, c]
    assert sorted(ev.carried_by.tolist()) == sorted([a0, a1])
    status = rp.row_status(0)
    assert (status >= 0).sum() == 3 and status[c] == 0 and status[b0] == 1 and status[b1] == 1
    assert (rp.row_status(-1) == -1).all()
    # the second pooling ends 9 -> 6 whatever it does; its events chain the edge count
    rp1 = replay(rec, 1)
    counts = [rp1.edges_in] + [e.edges_after for e in rp1.events]
    assert counts[-1] == rp1.edges_out == 6
    assert all(e.edges_before == counts[i] for i, e in enumerate(rp1.events))
    with pytest.raises(ValueError, match="no pooling leaves stage 2"):
        replay(rec, 2)
    for key, bad in (("stage0_removed_kind", np.array([1, 0, 1], dtype=np.int8)),
                     ("stage0_removed_order", np.array([0, 1, 99])),
                     ("stage0_skip_reason", np.array([77], dtype=np.int8))):
        arrays = dict(rec.arrays)
        arrays[key] = bad
        if key == "stage0_skip_reason":
            arrays.update(stage0_skipped=np.array([0]), stage0_skip_at=np.array([0]))
        with pytest.raises(ValueError, match="not a valid pooling sequence"):
            replay(Recording(arrays), 0)


@pytest.mark.parametrize("stage", [0, 1])
def test_replay_order_is_the_queue_order(seg, stage):
    _, rec = seg
    assert has_skip_log(rec, stage)
    st = rec.stage(stage)
    rp = replay(rec, stage)
    pops = [e for e in rp.events if e.kind != "triplets"]
    assert [e.rank for e in pops] == list(range(len(pops)))  # every pop, in the queue's order
    assert [e.edge for e in pops] == [int(r) for r in st.edge_ids[queue_order(st)[: len(pops)]]]
    assert np.concatenate([e.removed for e in rp.events]).tolist() == st.removed_order.tolist()
    assert [e.edge for e in rp.collapses] == st.collapse_order.tolist()
    assert sum(e.kind == "skip" for e in rp.events) == len(st.skipped)
    removed_so_far: set[int] = set()
    for e in rp.events:
        if e.kind == "skip":
            assert (e.reason == SkipReason.REMOVED) == (e.edge in removed_so_far)
        else:
            assert e.edge not in removed_so_far
        removed_so_far.update(e.removed.tolist())
    row_of = {int(e): r for r, e in enumerate(st.edge_ids)}
    removed_rows = [row_of[int(e)] for e in st.removed_order]
    final = rp.row_status(len(rp.events) - 1)
    assert set(np.flatnonzero(final >= 0).tolist()) == set(removed_rows)
    assert final[removed_rows].tolist() == st.removed_kind.tolist()
    # without the skip log (a version-1 file): the same collapses and removals, no skips
    old = replay(_without_skip_log(rec), stage)
    assert not old.has_skips and all(e.kind != "skip" for e in old.events)
    assert [(e.edge, e.rank, e.skipped_before) for e in old.collapses] == [
        (e.edge, e.rank, e.skipped_before) for e in rp.collapses]
    assert np.concatenate([e.removed for e in old.events]).tolist() == st.removed_order.tolist()
    run_of_skips = 0
    for e in rp.events:  # skipped_before counts the skips since the previous collapse
        if e.kind == "collapse":
            assert e.skipped_before == run_of_skips
            run_of_skips = 0
        else:
            run_of_skips += 1


# ---------------------------------------------------------------- explainer


@pytest.mark.parametrize(
    "config, mesh", [(CLS_CONFIG, icosphere(2, seed=1)), (SEG_CONFIG, _open_icosphere())],
    ids=["classifier", "segmenter-open-mesh"],
)
def test_explainer_equals_the_networks_first_layer(tmp_path, config, mesh):
    model = _model(tmp_path, config, "m", MEAN, STD, seed=5)
    rec = record(model, mesh)
    _, conv = first_conv(model.net)
    seen = []
    hook = conv.register_forward_hook(lambda mod, inp, out: seen.append(out.detach().clone()))
    try:
        run(model, prepare(mesh))
    finally:
        hook.remove()
    y = seen[0][0, :, :, 0].numpy()  # (C_out, E_pad): the network's own first-layer output
    topo = prepare(mesh).topology
    boundary = np.flatnonzero(topo.boundary)
    edges = [0, 17, rec.num_input_edges - 1, *boundary[:2]]
    for e in edges:
        ex = explain_conv(model, rec, e, channel=3)
        np.testing.assert_allclose(ex.outputs, y[:, e], rtol=1e-5, atol=1e-6)
        assert ex.output == pytest.approx(float(y[3, e]), rel=1e-5, abs=1e-6)
        assert ex.output == pytest.approx(ex.bias + ex.contributions.sum())
        assert ex.neighbours.tolist() == topo.gemm[e].tolist()
        np.testing.assert_allclose(ex.raw[0], rec.input_features[:, e])
        np.testing.assert_allclose(ex.normalized[0], (rec.input_features[:, e] - MEAN) / STD, rtol=1e-6)
    if config is SEG_CONFIG:
        assert len(boundary) == 3
        ex = explain_conv(model, rec, int(boundary[0]))
        missing = np.flatnonzero(ex.neighbours < 0) + 1
        assert len(missing) == 2 and np.isnan(ex.raw[missing]).all() and (ex.normalized[missing] == 0).all()


def test_explainer_terms_and_geometry_by_hand(tmp_path, octa):
    model, rec = octa
    ex = explain_conv(model, rec, 5, channel=1)
    x = ex.normalized  # rows e, a, b, c, d
    np.testing.assert_array_equal(ex.terms, np.stack([x[0], x[1] + x[3], x[2] + x[4], abs(x[1] - x[3]),
                                                      abs(x[2] - x[4])]))
    assert len(TERM_NAMES) == 5
    w = first_conv(model.net)[1].conv.weight.detach().numpy()[1, :, 0, :]  # (C_in, 5)
    np.testing.assert_array_equal(ex.weights, w.T)
    g = ex.geometry  # a regular octahedron: every face equilateral, dihedral arccos(-1/3)
    assert g.dihedral == pytest.approx(np.arccos(-1 / 3))
    np.testing.assert_allclose(g.opposite_angles, [np.pi / 3] * 2)
    np.testing.assert_allclose(g.height_ratios, [np.sqrt(3) / 2] * 2)
    assert g.length == pytest.approx(np.sqrt(2))
    with pytest.raises(ValueError, match="output channels 0..3"):
        explain_conv(model, rec, 5, channel=4)
    with pytest.raises(ValueError, match="run from 0 to 11"):
        explain_conv(model, rec, -1)
    other = _model(tmp_path, CLS_CONFIG, "other")
    with pytest.raises(ValueError, match="different model configuration"):
        explain_conv(other, rec, 0)


# ---------------------------------------------------------------- lesson


def test_lesson_summary_carries_the_real_numbers(seg, octa):
    model, rec = seg
    edge = default_lesson_edge(rec)
    assert edge == int(rec.stage(0).collapse_order[0])
    text = lesson_summary(rec, model, channel=2)
    ex = explain_conv(model, rec, edge, channel=2)
    heads = ["## 1. Features", "## 2. Convolution", "## 3. Pooling", "## 4. Unpooling", "## 5. Result"]
    assert [text.index(h) for h in heads] == sorted(text.index(h) for h in heads)
    assert f"**{ex.output:.4g}**" in text
    assert f"Following edge {edge}." in text
    assert f"{rec.num_input_edges} edges" in text
    rp = replay(rec, 0)
    assert f"{rp.edges_in} -> {rp.edges_out} edges" in text and f"{len(rp.collapses)} collapses" in text
    first = rp.collapses[0]
    assert f"collapse edge {first.edge} (priority {first.priority:.4g}, queue rank {first.rank})" in text
    assert f"back to {rec.stage(rec.num_stages - 1).num_edges} edges" in text
    assert "None" not in text and "nan" not in text
    _, rec_c = octa
    text_c = lesson_summary(rec_c)
    assert "A classifier does not unpool" in text_c and "Pass the model" in text_c
    with pytest.raises(ValueError, match="run from 0 to 11"):
        lesson_summary(rec_c, edge=99)
