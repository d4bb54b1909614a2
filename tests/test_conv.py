"""MeshConv: the hand-written backward against plain autograd, symmetry, and the exact (conv2d) path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import meshcnn_core.nn.conv as conv_mod
from meshcnn_core.checkpoint import build_model
from meshcnn_core.mesh.io import Mesh
from meshcnn_core.mesh.topology import MeshTopology, build_topology
from meshcnn_core.nn.classifier import ClassifierConfig
from meshcnn_core.nn.conv import MeshConv, neighbour_index, set_exact_conv, symmetric_features
from meshcnn_core.nn.segmenter import SegmenterConfig

from .meshes import icosphere, octahedron, tetrahedron, torus


def _topo(mesh: Mesh) -> MeshTopology:
    return build_topology(np.array(mesh.vertices), np.array(mesh.faces))[0]


def _open_octahedron() -> MeshTopology:
    m = octahedron()
    return build_topology(np.array(m.vertices), np.array(m.faces)[1:])[0]  # one face off: 3 boundary edges


def _reference(x: torch.Tensor, topos: list[MeshTopology]) -> torch.Tensor:
    """The 5 terms written from the paper with plain autograd, one mesh and one slot kind at a time.

    Shapes: ``(B, C, S) -> (B*S, 5*C)`` (term-major, as :func:`symmetric_features`).
    """
    b, c, s = x.shape
    out = []
    for i, topo in enumerate(topos):
        e = topo.num_edges
        xi = torch.cat([x[i], x.new_zeros(c, 1)], dim=1)  # (C, S+1), column S = a missing neighbour
        nb = np.where(topo.gemm >= 0, topo.gemm, s)  # (E, 4)
        ring = [xi[:, torch.from_numpy(nb[:, k])] for k in range(4)]  # 4 x (C, E)
        real = torch.stack(
            [
                xi[:, :e],
                ring[0] + ring[2],
                ring[1] + ring[3],
                (ring[0] - ring[2]).abs(),
                (ring[1] - ring[3]).abs(),
            ]
        )  # (5, C, E)
        x0 = x[i, :, :1].expand(c, s - e)  # padded slots read edge 0 as themselves and all 4 neighbours
        pad = torch.stack([x0, x0 + x0, x0 + x0, (x0 - x0).abs(), (x0 - x0).abs()])  # (5, C, S-E)
        out.append(torch.cat([real, pad], dim=2).permute(2, 0, 1).reshape(s, 5 * c))
    return torch.cat(out)  # (B*S, 5C)


def _batches():
    sphere, tor = _topo(icosphere(1, jitter=0.04, seed=1)), _topo(torus(8, 5, jitter=0.04, seed=2))
    return {
        "tetrahedron": ([_topo(tetrahedron())], 6),
        "open octahedron, padded": ([_open_octahedron()], 15),
        "sphere + torus, padded": ([sphere, tor], 130),
    }


@pytest.mark.parametrize("name", list(_batches()))
def test_fast_features_and_gradient_match_plain_autograd(name):
    topos, slots = _batches()[name]
    torch.manual_seed(0)
    x = torch.randn(len(topos), 3, slots, dtype=torch.float64, requires_grad=True)
    index = neighbour_index(topos, slots, x.device)
    fast, ref = symmetric_features(x, index), _reference(x, topos)
    assert torch.equal(fast, ref)  # the same float operations: bit-identical
    w = torch.randn_like(fast)
    (g_fast,) = torch.autograd.grad((fast * w).sum(), x)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), x)
    assert torch.allclose(g_fast, g_ref, rtol=0, atol=1e-12)
    for i, topo in enumerate(topos):  # nothing reads a padded slot
        assert (g_fast[i, :, topo.num_edges :] == 0).all()


def test_padded_slots_and_boundaries_route_gradients_as_expected():
    topo = _open_octahedron()  # 12 edges, 3 on the boundary, padded with 3 slots
    e = topo.num_edges
    assert (topo.gemm < 0).any()
    x = torch.zeros(1, 1, e + 3, dtype=torch.float64, requires_grad=True)
    f = symmetric_features(x, neighbour_index([topo], e + 3, x.device))  # (E+3, 5)
    (g,) = torch.autograd.grad(f[:, 0].sum() + f[:, 1].sum(), x)  # d/dx of sum(x_e) + sum(x_a + x_c)
    expected = np.zeros(e + 3)
    expected[:e] = 1.0  # each real edge reads itself once
    expected[0] += 3 * 1.0 + 3 * 2.0  # 3 padded slots read edge 0 as themselves and as a and c
    for j in range(e):
        for k in (0, 2):
            if topo.gemm[j, k] >= 0:  # a boundary slot reads zeros: no gradient goes anywhere
                expected[topo.gemm[j, k]] += 1.0
    assert np.allclose(g.numpy().ravel(), expected)
    assert (g[0, 0, e:] == 0).all()


def test_fan_in_above_four_uses_the_overflow_path():
    # a hand-made "topology" where edge 0 is every edge's neighbour: fan-in 4 * 6 = 24 > 4
    e = 6
    gemm = np.zeros((e, 4), dtype=np.int64)
    gemm[0] = [1, 2, 3, 4]
    topo = MeshTopology(
        edges=np.zeros((e, 2)),
        gemm=gemm,
        sides=np.zeros((e, 4)),
        ve_indptr=np.zeros(1),
        ve_indices=np.zeros(0),
        positions=np.zeros((1, 3)),
        vertex_mask=np.ones(1, bool),
        edge_ids=np.arange(e),
    )
    index = neighbour_index([topo], 8, torch.device("cpu"))
    assert len(index.extra_src) > 0
    torch.manual_seed(1)
    x = torch.randn(1, 2, 8, dtype=torch.float64, requires_grad=True)
    fast, ref = symmetric_features(x, index), _reference(x, [topo])
    w = torch.randn_like(fast)
    assert torch.allclose(
        torch.autograd.grad((fast * w).sum(), x)[0], torch.autograd.grad((ref * w).sum(), x)[0]
    )


def test_real_sized_mesh_gradient_matches_plain_autograd():
    topos = [_topo(torus(30, 25, jitter=0.05, seed=s)) for s in (3, 4)]  # 2250 edges each, 2280 slots
    assert topos[0].num_edges == 2250
    torch.manual_seed(2)
    x = torch.randn(2, 16, 2280, requires_grad=True)
    fast = symmetric_features(x, neighbour_index(topos, 2280, x.device))
    ref = _reference(x, topos)
    assert torch.equal(fast, ref)
    w = torch.randn_like(fast)
    (g_fast,) = torch.autograd.grad((fast * w).sum(), x)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), x)
    assert torch.allclose(g_fast, g_ref, rtol=1e-5, atol=1e-5)


def test_swapping_the_two_faces_leaves_the_output_unchanged():
    topo = _topo(icosphere(1, jitter=0.04, seed=5))
    swapped = MeshTopology(
        edges=topo.edges,
        gemm=topo.gemm[:, [2, 3, 0, 1]],
        sides=topo.sides[:, [2, 3, 0, 1]],
        ve_indptr=topo.ve_indptr,
        ve_indices=topo.ve_indices,
        positions=topo.positions,
        vertex_mask=topo.vertex_mask,
        edge_ids=topo.edge_ids,
    )
    torch.manual_seed(3)
    conv = MeshConv(4, 6)
    x = torch.randn(1, 4, topo.num_edges)
    a = conv(x, neighbour_index([topo], topo.num_edges, x.device))
    b = conv(x, neighbour_index([swapped], topo.num_edges, x.device))
    assert torch.equal(a, b)
    # but it does see the ring: a different neighbour order (a <-> b) changes it
    other = MeshTopology(
        edges=topo.edges,
        gemm=topo.gemm[:, [1, 0, 2, 3]],
        sides=topo.sides[:, [1, 0, 2, 3]],
        ve_indptr=topo.ve_indptr,
        ve_indices=topo.ve_indices,
        positions=topo.positions,
        vertex_mask=topo.vertex_mask,
        edge_ids=topo.edge_ids,
    )
    assert not torch.allclose(a, conv(x, neighbour_index([other], topo.num_edges, x.device)))


def test_exact_path_is_the_original_conv2d_and_agrees_with_the_fast_path():
    topos = [_topo(icosphere(1, jitter=0.04, seed=6)), _topo(torus(8, 5, jitter=0.04, seed=7))]
    torch.manual_seed(4)
    conv = MeshConv(5, 8)
    x = torch.randn(2, 5, 130, requires_grad=True)
    index = neighbour_index(topos, 130, x.device)
    fast = conv(x, index)
    conv.exact = True
    exact = conv(x, index)
    original = F.conv2d(
        _reference(x, topos).view(2, 130, 5, 5).permute(0, 3, 1, 2), conv.conv.weight, conv.conv.bias
    )
    assert torch.equal(exact, original)  # the original's layout and call: bit-identical
    assert torch.allclose(fast, exact, rtol=1e-5, atol=1e-6)
    w = torch.randn_like(fast)
    g_fast = torch.autograd.grad((fast * w).sum(), [x, conv.conv.weight])
    g_exact = torch.autograd.grad((exact * w).sum(), [x, conv.conv.weight])
    for a, b in zip(g_fast, g_exact):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def _plain_features(x, index):
    """HEAD's MeshConv gather, left to autograd (zero-filled slices, scatter-add backward)."""
    b, c, e = x.shape
    rows = torch.cat([x.new_zeros(1, c), x.permute(0, 2, 1).reshape(b * e, c)])
    g = rows.index_select(0, index.gather).view(b * e, 5, c)
    return torch.cat([g[:, :1], g[:, 1:3] + g[:, 3:5], (g[:, 1:3] - g[:, 3:5]).abs()], dim=1).reshape(
        b * e, 5 * c
    )


NETS = {
    "classifier": ClassifierConfig(
        nclasses=3, ncf=(8, 16), pool_res=(100, 80), ninput_edges=130, num_groups=4, fc_n=16
    ),
    "segmenter": SegmenterConfig(nclasses=3, ncf=(8, 16), pool_res=(90,), ninput_edges=130, resblocks=1),
}


@pytest.mark.parametrize("name", list(NETS))
def test_networks_logits_and_gradients_match_the_plain_autograd_path(name, monkeypatch):
    topos = [_topo(icosphere(1, jitter=0.04, seed=8)), _topo(torus(8, 5, jitter=0.04, seed=9))]
    torch.manual_seed(5)
    net = build_model(NETS[name])
    x = torch.randn(2, 5, 130)
    labels = torch.tensor([0, 2]) if name == "classifier" else torch.randint(0, 3, (2, 130))

    def run():
        net.zero_grad(set_to_none=True)
        logits = net(x, topos).logits
        F.cross_entropy(logits, labels).backward()
        return logits.detach(), {k: p.grad.clone() for k, p in net.named_parameters()}

    fast_logits, fast_grads = run()
    monkeypatch.setattr(conv_mod, "symmetric_features", _plain_features)
    plain_logits, plain_grads = run()
    assert torch.equal(fast_logits, plain_logits)  # same forward arithmetic
    for k in fast_grads:
        assert torch.allclose(fast_grads[k], plain_grads[k], rtol=1e-4, atol=1e-6), k


def test_set_exact_conv_switches_every_conv_and_keeps_the_weights():
    net = build_model(NETS["segmenter"])
    state = {k: v.clone() for k, v in net.state_dict().items()}
    set_exact_conv(net)
    convs = [m for m in net.modules() if isinstance(m, MeshConv)]
    assert convs and all(m.exact for m in convs)
    assert set(net.state_dict()) == set(state)  # a runtime switch: nothing new in checkpoints
    set_exact_conv(net, False)
    assert not any(m.exact for m in convs)


def test_index_for_another_batch_is_refused():
    topo = _topo(tetrahedron())
    conv = MeshConv(2, 2)
    with pytest.raises(ValueError, match="index is for 1 meshes x 6 slots"):
        conv(torch.zeros(2, 2, 6), neighbour_index([topo], 6, torch.device("cpu")))
    with pytest.raises(ValueError, match="7 slots"):
        neighbour_index([_topo(octahedron())], 7, torch.device("cpu"))
