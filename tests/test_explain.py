"""Survival and resolution maps, edge attributions and the deletion check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from meshcnn_core import ClassifierConfig, MeshClassifier, SegmenterConfig, load_mesh
from meshcnn_core.analysis.explain import (
    METHODS,
    deletion_curve,
    edge_attribution,
    gradcam_map,
    hide_edges,
    resolve_target,
    smooth_one_ring,
    spread_to_input,
    stage_membership,
)
from meshcnn_core.checkpoint import (
    build_model,
    checkpoint_dict,
    load_model,
    model_from_checkpoint,
    save_checkpoint,
)
from meshcnn_core.inference import model_input, prepare, record
from meshcnn_core.mesh.features import normalize_features
from meshcnn_core.mesh.io import Mesh
from meshcnn_core.recording import _STAGE_KEYS, Recording

from .meshes import icosphere, tetrahedron

ROOT = Path(__file__).resolve().parents[1]
SHREC = ROOT / "checkpoints" / "shrec16_classifier.pt"

SMALL_CLS = ClassifierConfig(nclasses=3, ncf=(8, 16, 16), pool_res=(400, 300, 200), ninput_edges=480,
                             norm="group", num_groups=4)
SMALL_SEG = SegmenterConfig(nclasses=3, ncf=(8, 16, 16), pool_res=(400, 300), ninput_edges=480, resblocks=1)


def _model(tmp_path, config, name="m", seed=0):
    torch.manual_seed(seed)
    net = build_model(config)
    path = tmp_path / f"{name}.pt"
    names = [f"c{i}" for i in range(config.nclasses)]
    save_checkpoint(path, checkpoint_dict(net, config, names, np.zeros(5), np.ones(5)))
    return load_model(path, device="cpu")


# ---------------------------------------------------------------- survival depth and resolution


def _fake_recording(edge_ids: list[list[int]], groups: list[list[list[int]]], kinds: list[str]) -> Recording:
    """A recording with only what survival/resolution read (other stage keys empty)."""
    e = len(edge_ids[0])
    a = {"input_edges": np.zeros((e, 2), dtype=np.int64), "num_stages": np.asarray(len(kinds)),
         "meta": np.asarray(json.dumps({"task": "classification", "class_names": []}))}
    for k, (ids, grp, kind) in enumerate(zip(edge_ids, groups, kinds)):
        for key in _STAGE_KEYS:
            a[f"stage{k}_{key}"] = np.zeros(0)
        a[f"stage{k}_kind"] = np.asarray(kind)
        a[f"stage{k}_edge_ids"] = np.asarray(ids, dtype=np.int64)
        a[f"stage{k}_groups_indptr"] = np.cumsum([0] + [len(g) for g in grp]).astype(np.int64)
        a[f"stage{k}_groups_indices"] = np.asarray([i for g in grp for i in g], dtype=np.int64)
    return Recording(a)


def test_survival_and_resolution_hand_checked():
    # 4 input edges; pooling 1 keeps edges 1 and 3, edge 2 (collapsed) is copied into both groups;
    # pooling 2 keeps edge 3 only; then an unpool stage (ignored by survival)
    rec = _fake_recording(
        edge_ids=[[0, 1, 2, 3], [1, 3], [3], [1, 3]],
        groups=[[[0], [1], [2], [3]], [[0, 1, 2], [2, 3]], [[0, 1, 2, 3]], [[0, 1, 2], [2, 3]]],
        kinds=["input", "pool", "pool", "unpool"],
    )
    assert rec.survival_depth().tolist() == [0, 1, 0, 2]
    np.testing.assert_allclose(rec.resolution(0), [1, 1, 1, 1])
    # edge 2 counts 1/2 in each group: sizes 2.5 and 1.5 (sum 4 = covered edges)
    np.testing.assert_allclose(rec.resolution(1), [2.5, 2.5, 2.0, 1.5])
    np.testing.assert_allclose(rec.resolution(2), [4, 4, 4, 4])
    np.testing.assert_allclose(rec.resolution(3), rec.resolution(1))
    with pytest.raises(IndexError):
        rec.resolution(4)


def test_resolution_of_uncovered_edge_is_zero():
    rec = _fake_recording(edge_ids=[[0, 1, 2], [0]], groups=[[[0], [1], [2]], [[0, 1]]],
                          kinds=["input", "pool"])
    np.testing.assert_allclose(rec.resolution(1), [2, 2, 0])


@pytest.mark.skipif(not SHREC.is_file(), reason="shipped classifier missing")
@pytest.mark.parametrize("name", ["airplane", "ant", "bumpy_sphere", "torus_knot", "twisted_box"])
def test_survival_map_on_shipped_samples_takes_every_stage(name):
    model = load_model(SHREC, device="cpu")
    rec = record(model, load_mesh(ROOT / "sample_meshes" / f"{name}_750.obj"))
    depth = rec.survival_depth()
    counts = [rec.stage(k).num_edges for k in range(rec.num_stages)]
    # every value 0..K occurs, each as often as the edges that pooling k removed
    expected = [a - b for a, b in zip(counts, counts[1:])] + [counts[-1]]
    assert np.bincount(depth, minlength=rec.num_stages).tolist() == expected
    assert set(depth.tolist()) == set(range(rec.num_stages))
    e = rec.num_input_edges
    for k in range(rec.num_stages):
        st = rec.stage(k)
        m = np.zeros((st.num_edges, e))
        for r in range(st.num_edges):
            m[r, st.group(r)] = 1
        held = m.sum(0)
        sizes = (m / np.maximum(held, 1)).sum(1)  # each shared input edge split evenly
        assert sizes.sum() == pytest.approx(st.covered_input_edges(e).sum())  # add up to the covered edges
        res = (m * sizes[:, None]).sum(0) / np.maximum(held, 1)
        np.testing.assert_allclose(rec.resolution(k), res)
        assert (rec.resolution(k)[held == 1] >= 1).all()


# ---------------------------------------------------------------- pure helpers


def test_gradcam_map_hand_checked():
    a = np.array([[1.0, 2.0], [3.0, 0.0]])  # (C=2, E=2)
    g = np.array([[1.0, 1.0], [-1.0, 0.0]])  # alpha = [1, -0.5]
    np.testing.assert_allclose(gradcam_map(a, g), [0.0, 2.0])  # relu([1 - 1.5, 2 - 0])


def test_spread_to_input_means_over_the_groups_holding_an_edge():
    groups = [[0, 1, 2], [2, 3]]
    m = sp.csr_matrix((np.ones(5), [0, 1, 2, 2, 3], [0, 3, 5]), shape=(2, 5))
    assert [m[r].indices.tolist() for r in range(2)] == groups
    np.testing.assert_allclose(spread_to_input(np.array([6.0, 2.0]), m), [6, 6, 4, 2, 0])


def test_smooth_one_ring_on_tetrahedron():
    prep = prepare(tetrahedron())
    v = np.zeros(6)
    v[0] = 1.0
    out = smooth_one_ring(v, prep.topology)
    nb = set(prep.topology.gemm[0].tolist())
    assert len(nb) == 4  # all edges but the opposite one
    for e in range(6):
        assert out[e] == pytest.approx(0.2 if e == 0 or e in nb else 0.0)
    assert out.sum() == pytest.approx(1.0)  # every tetrahedron edge has 4 neighbours: mass is kept
    assert v.tolist() == [1, 0, 0, 0, 0, 0]


def test_hide_edges_zeroes_only_the_chosen_columns():
    x = torch.arange(1, 31, dtype=torch.float32).view(1, 5, 6)
    y = hide_edges(x, np.array([1, 4]))
    assert (y[:, :, [1, 4]] == 0).all()
    assert torch.equal(y[:, :, [0, 2, 3, 5]], x[:, :, [0, 2, 3, 5]])
    assert x[0, 0, 1] == 2  # input left alone


def test_stage_membership_matches_the_recorded_groups(tmp_path):
    for cfg in (SMALL_CLS, SMALL_SEG):
        model = _model(tmp_path, cfg)
        mesh = icosphere(2, seed=3)
        rec = record(model, mesh)
        prep = prepare(mesh)
        with torch.no_grad():
            out = model.net(model_input(model, prep), [prep.topology])
        mem = stage_membership(out)
        assert len(mem) == rec.num_stages
        for k, m in enumerate(mem):
            st = rec.stage(k)
            m = m.tocsr()
            m.sort_indices()
            assert np.array_equal(m.indptr, st.groups_indptr) and np.array_equal(m.indices, st.groups_indices)


# ---------------------------------------------------------------- attribution


@pytest.mark.parametrize("cfg", [SMALL_CLS, SMALL_SEG], ids=["classifier", "segmenter"])
def test_attribution_shape_and_range_for_every_method(tmp_path, cfg):
    model = _model(tmp_path, cfg)
    mesh = icosphere(2, seed=4)
    v0 = mesh.vertices.copy()
    n_stages = record(model, mesh).num_stages
    for method in METHODS:
        a = edge_attribution(model, mesh, method=method, steps=4)
        assert a.shape == (480,) and a.dtype == np.float64
        assert np.isfinite(a).all() and (a >= 0).all() and a.max() > 0, method
    for k in range(n_stages):
        a = edge_attribution(model, mesh, method="gradcam", stage=k)
        assert a.shape == (480,) and np.isfinite(a).all() and (a >= 0).all()
    assert np.array_equal(mesh.vertices, v0)
    again = edge_attribution(model, mesh, method="grad_input")
    np.testing.assert_array_equal(again, edge_attribution(model, mesh, method="grad_input"))


def test_attribution_rejects_bad_arguments(tmp_path):
    model = _model(tmp_path, SMALL_CLS)
    mesh = icosphere(2, seed=4)
    with pytest.raises(ValueError, match="unknown attribution method"):
        edge_attribution(model, mesh, method="saliency")
    with pytest.raises(ValueError, match="gradcam only"):
        edge_attribution(model, mesh, method="grad_input", stage=1)
    with pytest.raises(ValueError, match="out of range"):
        edge_attribution(model, mesh, stage=9)
    with pytest.raises(ValueError, match="not a class"):
        edge_attribution(model, mesh, target=3)
    with pytest.raises(ValueError, match="sign"):
        edge_attribution(model, mesh, method="grad_input", sign="negative")


def test_grad_input_matches_finite_differences(tmp_path):
    # signed grad x input of edge e = d/dt f(edge e's features scaled by 1 + t) at t = 0
    model = _model(tmp_path, SMALL_CLS)
    prep = prepare(icosphere(2, seed=6))
    tgt = resolve_target(model, prep)
    a = edge_attribution(model, prep, method="grad_input", sign="absolute")
    x = model_input(model, prep).double()
    net = model.net.double()  # our own copy: float64 makes a small step exact enough

    def f(e: int, t: float) -> float:
        y = x.clone()
        y[:, :, e] *= 1 + t
        with torch.no_grad():
            return float(net(y, [prep.topology]).logits[0, tgt.index])

    h = 1e-4
    for e in np.argsort(-a)[:3]:
        fd = (f(e, h) - f(e, -h)) / (2 * h)
        assert abs(fd) == pytest.approx(a[e], rel=0.01)


def test_segmenter_target_is_the_part_predicted_most(tmp_path):
    model = _model(tmp_path, SMALL_SEG)
    mesh = icosphere(2, seed=4)
    pred = record(model, mesh).prediction
    tgt = resolve_target(model, mesh)
    counts = np.bincount(pred, minlength=3)
    assert tgt.index == counts.argmax() and np.array_equal(tgt.edges, pred == tgt.index)
    absent = [c for c in range(3) if counts[c] == 0]
    if absent:
        with pytest.raises(ValueError, match="no edge of this mesh is predicted"):
            edge_attribution(model, mesh, target=absent[0])


# ---------------------------------------------------------------- deletion check


def test_deletion_curve_values(tmp_path):
    model = _model(tmp_path, SMALL_CLS)
    prep = prepare(icosphere(2, seed=8))
    tgt = resolve_target(model, prep)
    x = model_input(model, prep)

    def prob(hidden: np.ndarray) -> float:
        y = x.clone()
        y[:, :, hidden] = 0
        with torch.no_grad():
            return float(torch.softmax(model.net(y, [prep.topology]).logits[0], 0)[tgt.index])

    # equal scores: ties go by edge id, so the "top" 48 edges are edges 0..47
    c = deletion_curve(model, prep, np.ones(480), fractions=(0.0, 0.1, 0.25), seeds=(3, 4))
    assert c.hidden.tolist() == [0, 48, 120] and c.target == tgt.index
    assert c.attributed[0] == pytest.approx(prob(np.zeros(0, dtype=np.int64)), abs=1e-6)
    assert c.attributed[1] == pytest.approx(prob(np.arange(48)), abs=1e-6)
    assert c.attributed[2] == pytest.approx(prob(np.arange(120)), abs=1e-6)
    assert c.random.shape == (2, 3) and (c.random[:, 0] == c.attributed[0]).all()
    assert c.random[1, 1] == pytest.approx(prob(np.random.default_rng(4).permutation(480)[:48]), abs=1e-6)
    drop, rnd = c.drop(0.1)
    assert drop == pytest.approx(c.attributed[0] - c.attributed[1])
    assert rnd == pytest.approx(c.attributed[0] - c.random[:, 1].mean())
    # a higher score comes first
    s = np.zeros(480)
    s[[400, 7]] = [2.0, 1.0]
    c2 = deletion_curve(model, prep, s, fractions=(0.0, 2 / 480), seeds=())
    assert c2.attributed[1] == pytest.approx(prob(np.array([400, 7])), abs=1e-6)
    with pytest.raises(ValueError, match="no point"):
        c.drop(0.3)
    with pytest.raises(ValueError, match="one per input edge"):
        deletion_curve(model, prep, np.ones(10))
    with pytest.raises(ValueError, match="fractions"):
        deletion_curve(model, prep, np.ones(480), fractions=(0.0, 1.5))


def test_deletion_curve_segmenter_uses_mean_part_probability(tmp_path):
    model = _model(tmp_path, SMALL_SEG)
    prep = prepare(icosphere(2, seed=4))
    tgt = resolve_target(model, prep)
    c = deletion_curve(model, prep, np.ones(480), fractions=(0.0,), seeds=())
    probs = record(model, prep).probabilities  # (E, classes)
    assert c.attributed[0] == pytest.approx(probs[tgt.edges, tgt.index].mean(), abs=1e-5)


# ---------------------------------------------------------------- a data set where the answer is known


def _bump_set(n: int, seed0: int, center: np.ndarray, base: Mesh) -> list[tuple[Mesh, int]]:
    """Jittered spheres; class 1 has a bump around ``center``, class 0 has none."""
    out = []
    d = np.linalg.norm(base.vertices - center, axis=1)
    for s in range(n):
        for label in (0, 1):
            rng = np.random.default_rng(seed0 + 2 * s + label)
            r = 1 + 0.03 * rng.standard_normal((len(base.vertices), 1))
            if label:
                r = r + 0.5 * np.exp(-((d / 0.4) ** 2))[:, None]
            out.append((Mesh(base.vertices * r, base.faces, f"s{s}_{label}"), label))
    return out


@pytest.mark.slow
def test_attribution_finds_the_bump_that_tells_the_classes_apart():
    import trimesh

    ico = trimesh.creation.icosphere(subdivisions=2)
    base = Mesh(np.asarray(ico.vertices), np.asarray(ico.faces))
    center = base.vertices[0]
    train = [(prepare(m), y) for m, y in _bump_set(16, 0, center, base)]
    test = [(prepare(m), y) for m, y in _bump_set(4, 1000, center, base) if y == 1]
    cfg = ClassifierConfig(nclasses=2, ncf=(8, 16), pool_res=(360, 240), ninput_edges=480, norm="group",
                           num_groups=4, fc_n=16)
    feats = np.stack([p.features for p, _ in train])
    mean, std = feats.mean((0, 2)), feats.std((0, 2))
    torch.manual_seed(0)
    net = MeshClassifier(cfg)
    x = torch.from_numpy(np.stack([normalize_features(p.features, mean, std, 480) for p, _ in train]))
    y = torch.tensor([label for _, label in train])
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(8):
        perm = torch.randperm(len(train), generator=gen)
        for i in range(0, len(train), 8):
            idx = perm[i : i + 8]
            logits = net(x[idx], [train[j][0].topology for j in idx.tolist()]).logits
            loss = torch.nn.functional.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model = model_from_checkpoint(checkpoint_dict(net, cfg, ["plain", "bump"], mean, std), device="cpu")
    for prep, _ in test:
        assert resolve_target(model, prep).index == 1  # it learned the bump
        mid = prep.topology.positions[prep.topology.edges].mean(1)
        region = np.linalg.norm(mid / np.linalg.norm(mid, axis=1, keepdims=True) - center, axis=1) < 0.6
        assert 0.05 < region.mean() < 0.15
        a = edge_attribution(model, prep, target=1, method="integrated_gradients")
        assert a[region].sum() / a.sum() > 0.5  # over half the mass on ~10% of the edges
        top = np.argsort(-a)[:48]
        assert region[top].mean() > 0.4
