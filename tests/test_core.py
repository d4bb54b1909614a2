"""Invariants of the core library on tiny hand-built meshes."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from meshcnn_core import ClassifierConfig, MeshError, SegmenterConfig, build_topology, load_mesh
from meshcnn_core.checkpoint import build_model, checkpoint_dict, load_model, save_checkpoint
from meshcnn_core.inference import prepare, record
from meshcnn_core.mesh.features import extract_features
from meshcnn_core.mesh.io import Mesh
from meshcnn_core.mesh.topology import check_gemm_invariant, topology_faces
from meshcnn_core.nn.pool import pool_topology
from meshcnn_core.recording import load_recording

from .meshes import icosphere, octahedron, tetrahedron, torus

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _model(tmp_path, config, name="m"):
    torch.manual_seed(0)
    net = build_model(config)
    path = tmp_path / f"{name}.pt"
    save_checkpoint(
        path, checkpoint_dict(net, config, [f"c{i}" for i in range(config.nclasses)], np.zeros(5), np.ones(5))
    )
    return load_model(path, device="cpu")


# ---------------------------------------------------------------- topology


@pytest.mark.parametrize(
    "mesh, n_edges", [(tetrahedron(), 6), (octahedron(), 12), (icosphere(1), 120), (torus(8, 6), 144)]
)
def test_topology_counts_and_reciprocity(mesh, n_edges):
    topo, faces, areas = build_topology(mesh.vertices, mesh.faces)
    assert topo.num_edges == n_edges
    assert check_gemm_invariant(topo)
    assert not topo.boundary.any()
    assert np.isclose(areas.sum(), 1.0)
    # every edge is (min, max) and edges are unique
    assert (topo.edges[:, 0] < topo.edges[:, 1]).all()
    assert len(np.unique(topo.edges, axis=0)) == n_edges


def test_edges_numbered_in_order_of_first_appearance():
    topo, _, _ = build_topology(tetrahedron().vertices, tetrahedron().faces)
    # faces [0,1,2], [0,3,1], ...: edges (0,1), (1,2), (0,2), then (0,3), (1,3), then (2,3)
    assert topo.edges.tolist() == [[0, 1], [1, 2], [0, 2], [0, 3], [1, 3], [2, 3]]
    # first face of edge 0 is [0,1,2]: next edge (1,2), previous edge (2,0)
    assert topo.gemm[0, :2].tolist() == [1, 2]


def test_open_sheet_has_boundary_edges():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0.1]], dtype=float)
    topo, _, _ = build_topology(v, np.array([[0, 1, 2], [1, 3, 2]]))
    assert topo.boundary.sum() == 4
    assert check_gemm_invariant(topo)


def test_topology_is_immutable_and_inputs_unmodified():
    m = icosphere(1)
    v0, f0 = m.vertices.copy(), m.faces.copy()
    topo, _, _ = build_topology(m.vertices, m.faces)
    with pytest.raises(ValueError):
        topo.gemm[0, 0] = 5
    assert np.array_equal(m.vertices, v0) and np.array_equal(m.faces, f0)
    raw = np.array(m.vertices)
    build_topology(raw, m.faces)
    assert raw.flags.writeable  # the caller's array is neither changed nor frozen


def test_mesh_copies_the_callers_arrays():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    f = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]], dtype=np.int64)
    m = Mesh(v, f, "tet")
    assert v.flags.writeable and f.flags.writeable  # still the caller's to change
    v[0, 0] = 9.0
    f[0, 0] = 3
    assert m.vertices[0, 0] == 0.0 and m.faces[0, 0] == 0  # the mesh kept its own values
    with pytest.raises(ValueError):
        m.vertices[1, 1] = 5.0  # and its arrays are read-only


@pytest.mark.parametrize(
    "vertices, faces, match",
    [
        (np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0.0]]), np.array([[0, 1, 2]]), "zero area"),
        (np.array([[0, 0, 0], [1, 0, np.nan], [0, 1, 0.0]]), np.array([[0, 1, 2]]), "NaN"),
        (np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0.0]]), np.array([[0, 1, 7]]), "vertex id"),
    ],
)
def test_bad_meshes_raise_mesh_error(vertices, faces, match):
    with pytest.raises(MeshError, match=match):
        build_topology(vertices, faces)


# ---------------------------------------------------------------- features


def _expected_equilateral(L: float, interior_dihedral_cos: float) -> np.ndarray:
    """Closed forms of MeshCNN's features (with its +0.1 in the divisions) for equilateral faces."""
    c = np.sqrt(3) / 2 * L * L  # |cross| = 2 * area
    s = (c / (c + 0.1)) ** 2
    dihedral = np.pi - np.arccos(np.clip(-interior_dihedral_cos * s, -1, 1))
    angle = np.arccos(0.5 * (L / (L + 0.1)) ** 2)
    h = np.sqrt(3) / 2 * L
    ratio = np.sqrt((0.05 * L / (L + 0.1)) ** 2 + h * h) / L
    return np.array([dihedral, angle, angle, ratio, ratio])


@pytest.mark.parametrize("L", [1.0, 3.0])
def test_features_of_regular_tetrahedron(L):
    m = tetrahedron(L)
    topo, _, _ = build_topology(m.vertices, m.faces)
    f = extract_features(topo)
    expected = _expected_equilateral(L, interior_dihedral_cos=1 / 3)  # interior dihedral arccos(1/3)
    assert f.shape == (5, 6)
    np.testing.assert_allclose(f, np.repeat(expected[:, None], 6, axis=1), rtol=1e-12, atol=1e-12)


def test_features_of_regular_octahedron():
    m = octahedron(1.0)
    topo, _, _ = build_topology(m.vertices, m.faces)
    f = extract_features(topo)
    expected = _expected_equilateral(np.sqrt(2), interior_dihedral_cos=-1 / 3)  # interior 109.47 deg
    np.testing.assert_allclose(f, np.repeat(expected[:, None], 12, axis=1), rtol=1e-12, atol=1e-12)
    # with a large scale the epsilon vanishes and the ideal angles appear
    big = octahedron(1e4)
    fb = extract_features(build_topology(big.vertices, big.faces)[0])
    np.testing.assert_allclose(fb[0], np.arccos(-1 / 3), atol=1e-6)
    np.testing.assert_allclose(fb[1:3], np.pi / 3, atol=1e-4)


# ---------------------------------------------------------------- pooling


def _euler(topo):
    faces = topology_faces(topo)
    used = np.unique(topo.edges)
    return len(used) - topo.num_edges + len(faces), faces


@pytest.mark.parametrize("mesh, chi", [(icosphere(2), 2), (torus(20, 10), 0)])
def test_pooling_keeps_a_closed_manifold(mesh, chi):
    topo, _, _ = build_topology(mesh.vertices, mesh.faces)
    rng = np.random.default_rng(1)
    for target in (int(topo.num_edges * 0.8), int(topo.num_edges * 0.6), int(topo.num_edges * 0.45)):
        rec = pool_topology(topo, rng.random(topo.num_edges).astype(np.float32), target)
        new = rec.topology_out
        assert target - 2 <= new.num_edges <= target
        assert check_gemm_invariant(new)
        assert not new.boundary.any()
        euler, faces = _euler(new)
        assert euler == chi
        assert 2 * new.num_edges == 3 * len(faces)  # every edge has exactly two faces
        # every layer-input edge ends up in some group; surviving edges contain themselves
        assert np.array_equal(np.unique(rec.groups_indices), np.arange(topo.num_edges))
        for r, e in enumerate(rec.kept[:50]):
            assert e in rec.groups_indices[rec.groups_indptr[r] : rec.groups_indptr[r + 1]]
        assert (rec.occurrences >= 1).all()
        # removed edges are exactly those not kept; collapses remove 3 edges each
        assert len(rec.removed) + new.num_edges == topo.num_edges
        assert set(rec.removed).isdisjoint(rec.kept)
        topo = new


def test_pooling_is_pure_and_repeatable():
    m = icosphere(2)
    topo, _, _ = build_topology(m.vertices, m.faces)
    before = {k: getattr(topo, k).copy() for k in ("edges", "gemm", "sides", "positions", "vertex_mask")}
    pr = np.random.default_rng(0).random(topo.num_edges).astype(np.float32)
    a = pool_topology(topo, pr, 300)
    b = pool_topology(topo, pr, 300)
    for k, v in before.items():
        assert np.array_equal(getattr(topo, k), v)
    assert np.array_equal(a.kept, b.kept) and np.array_equal(a.groups_indices, b.groups_indices)
    assert np.array_equal(a.topology_out.gemm, b.topology_out.gemm)


def test_pooling_ties_break_by_smaller_edge_id():
    m = icosphere(2)
    topo, _, _ = build_topology(m.vertices, m.faces)
    rec = pool_topology(topo, np.zeros(topo.num_edges, dtype=np.float32), topo.num_edges - 3)
    assert rec.collapsed.tolist() == [0]


def test_pooling_below_target_and_too_small_raise():
    m = icosphere(1)
    topo, _, _ = build_topology(m.vertices, m.faces)
    with pytest.raises(MeshError, match="fewer than the pooling target"):
        pool_topology(topo, np.zeros(topo.num_edges, dtype=np.float32), topo.num_edges + 1)
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0.1]], dtype=float)
    sheet, _, _ = build_topology(v, np.array([[0, 1, 2], [1, 3, 2]]))
    with pytest.raises(MeshError, match="boundar"):
        pool_topology(sheet, np.zeros(5, dtype=np.float32), 2)


# ---------------------------------------------------------------- networks and recordings

SMALL_CLS = ClassifierConfig(
    nclasses=4, ncf=(8, 16, 16), pool_res=(400, 300, 200), ninput_edges=480, norm="group", num_groups=4
)
SMALL_SEG = SegmenterConfig(nclasses=3, ncf=(8, 16, 16), pool_res=(400, 300), ninput_edges=480, resblocks=1)


def test_classifier_prediction_invariant_to_order_and_rigid_motion(tmp_path):
    model = _model(tmp_path, SMALL_CLS)
    m = icosphere(2, seed=3)
    base = record(model, m).logits
    # Not bit-exact: as in the original, padded slots (a pooling may stop 1-2 edges under its
    # target) read edge 0, and which edge is edge 0 depends on the face order.
    tol = 0.02 * np.abs(base).max()
    rng = np.random.default_rng(0)
    # vertex and face order
    perm_v = rng.permutation(len(m.vertices))
    inv = np.argsort(perm_v)
    faces = inv[m.faces][rng.permutation(len(m.faces))]
    np.testing.assert_allclose(record(model, Mesh(m.vertices[perm_v], faces)).logits, base, atol=tol)
    # rotation, translation
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    q *= np.sign(np.linalg.det(q))
    moved = Mesh(m.vertices @ q.T + np.array([3.0, -2.0, 5.0]), m.faces)
    np.testing.assert_allclose(record(model, moved).logits, base, atol=1e-6)


def test_uniform_scale_changes_features_only_through_the_originals_epsilon(tmp_path):
    # MeshCNN divides by (norm + 0.1): at large scales the features, hence predictions, are scale invariant
    model = _model(tmp_path, SMALL_CLS)
    m = icosphere(2, seed=3)
    big = record(model, Mesh(m.vertices * 1e4, m.faces)).logits
    bigger = record(model, Mesh(m.vertices * 3e4, m.faces)).logits
    np.testing.assert_allclose(big, bigger, atol=1e-4)


def test_record_stages_and_roundtrip(tmp_path):
    model = _model(tmp_path, SMALL_CLS)
    m = icosphere(2, seed=5)
    v0 = m.vertices.copy()
    rec = record(model, m)
    assert np.array_equal(m.vertices, v0)
    assert rec.num_stages == 4
    counts = [rec.stage(k).num_edges for k in range(4)]
    assert counts[0] == 480 and all(t - 2 <= c <= t for c, t in zip(counts[1:], (400, 300, 200)))
    for k in range(1, 4):
        st, prev = rec.stage(k), rec.stage(k - 1)
        assert set(st.edge_ids) <= set(prev.edge_ids)  # survivors keep their input ids
        assert st.features.shape == (SMALL_CLS.ncf[min(k, 2)], st.num_edges)
        assert len(prev.removed_order) == prev.num_edges - st.num_edges
        assert st.covered_input_edges(480).all()
    assert rec.survival_depth().max() == 3
    p = tmp_path / "r.npz"
    rec.save(p)
    again = load_recording(p)
    assert again.arrays.keys() == rec.arrays.keys()
    for k, v in rec.arrays.items():
        assert np.array_equal(np.asarray(v), np.asarray(again.arrays[k])), k
    rec2 = record(model, m)
    p2 = tmp_path / "r2.npz"
    rec2.save(p2)
    assert p.read_bytes() == p2.read_bytes()


def test_segmenter_records_unpool_stages(tmp_path):
    model = _model(tmp_path, SMALL_SEG)
    rec = record(model, icosphere(2, seed=7))
    kinds = [rec.stage(k).kind for k in range(rec.num_stages)]
    assert kinds == ["input", "pool", "pool", "unpool", "unpool"]
    assert rec.logits.shape == (480, 3)
    assert np.array_equal(rec.stage(4).edge_ids, rec.stage(0).edge_ids)
    assert np.array_equal(rec.stage(3).edge_ids, rec.stage(1).edge_ids)
    np.testing.assert_allclose(rec.probabilities.sum(1), 1, atol=1e-5)


def test_training_step_backpropagates_through_pool_and_unpool(tmp_path):
    torch.manual_seed(0)
    net = build_model(SMALL_SEG)
    preps = [prepare(icosphere(2, seed=s)) for s in (1, 2)]
    from meshcnn_core.mesh.features import normalize_features

    x = torch.from_numpy(
        np.stack([normalize_features(p.features, np.zeros(5), np.ones(5), 480) for p in preps])
    )
    out = net(x, [p.topology for p in preps])
    loss = out.logits.square().mean()
    loss.backward()
    assert all(
        p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters() if p.requires_grad
    )


def test_model_too_small_mesh_is_a_mesh_error(tmp_path):
    model = _model(tmp_path, SMALL_CLS)
    with pytest.raises(MeshError, match="fewer than the model's first pooling target"):
        record(model, icosphere(1))


# ---------------------------------------------------------------- reference checkpoints


def _reference_names(state):
    """Our parameter names -> the original code's (the inverse of the importer's mapping)."""
    import re

    out = {}
    for k, v in state.items():
        k2 = re.sub(r"^blocks\.(\d+)\.conv0\.", r"conv\1.conv0.", k)
        k2 = re.sub(r"^blocks\.(\d+)\.bns\.(\d+)\.", lambda m: f"conv{m[1]}.bn{int(m[2]) + 1}.", k2)
        k2 = re.sub(r"^blocks\.(\d+)\.convs\.(\d+)\.", lambda m: f"conv{m[1]}.conv{int(m[2]) + 1}.", k2)
        k2 = re.sub(r"^norms\.(\d+)\.", r"norm\1.", k2)
        out[k2] = v
    return out


def test_import_reference_checkpoint(tmp_path):
    from meshcnn_core.__main__ import main

    torch.manual_seed(1)
    net = build_model(SMALL_CLS)
    torch.save(_reference_names(net.state_dict()), tmp_path / "latest_net.pth")
    (tmp_path / "opt.txt").write_text(
        "------------ Options -------------\narch: mconvnet\nncf: [8, 16, 16]\npool_res: [400, 300, 200]\n"
        "ninput_edges: 480\nnorm: group\nnum_groups: 4\nresblocks: 1\nfc_n: 100\n-------------- End "
        "----------------\n"
    )
    mean, std = np.arange(5.0)[:, None] * 0.1, np.ones((5, 1)) * 2
    with open(tmp_path / "mean_std_cache.p", "wb") as fh:
        pickle.dump({"mean": mean, "std": std, "ninput_channels": 5}, fh)
    (tmp_path / "classes.txt").write_text("a\nb\nc\nd\n")
    out = tmp_path / "imported.pt"
    rc = main(
        [
            "import-reference",
            "--weights",
            str(tmp_path / "latest_net.pth"),
            "--opt",
            str(tmp_path / "opt.txt"),
            "--mean-std",
            str(tmp_path / "mean_std_cache.p"),
            "--classes",
            str(tmp_path / "classes.txt"),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    model = load_model(out)
    assert model.class_names == ["a", "b", "c", "d"]
    np.testing.assert_allclose(model.mean, mean.ravel())
    ours = _model(tmp_path, SMALL_CLS)
    ours.net.load_state_dict(net.state_dict())
    ours.mean, ours.std = mean.ravel(), std.ravel()
    m = icosphere(2, seed=11)
    np.testing.assert_array_equal(record(model, m).logits, record(ours, m).logits)
    # without opt.txt: a one-line error, exit code 2
    rc = main(
        [
            "import-reference",
            "--weights",
            str(tmp_path / "latest_net.pth"),
            "--mean-std",
            str(tmp_path / "mean_std_cache.p"),
            "--out",
            str(out),
        ]
    )
    assert rc == 2


# ---------------------------------------------------------------- real data


@pytest.mark.dataset
@pytest.mark.skipif(not (DATASETS / "human_seg").is_dir(), reason="../shared/datasets/human_seg not present")
def test_human_seg_labels_line_up_with_edges():
    mesh_path = sorted((DATASETS / "human_seg" / "test").glob("*.obj"))[0]
    labels = np.loadtxt(DATASETS / "human_seg" / "seg" / (mesh_path.stem + ".eseg"))
    m = load_mesh(mesh_path)
    topo, _, _ = build_topology(m.vertices, m.faces)
    assert len(labels) == topo.num_edges
    # parts are contiguous: neighbouring edges almost always share a label (random order: ~1/8)
    agree = (labels[topo.gemm] == labels[:, None]).mean()
    assert agree > 0.9
    shuffled = np.random.default_rng(0).permutation(labels)
    assert (shuffled[topo.gemm] == shuffled[:, None]).mean() < 0.5
