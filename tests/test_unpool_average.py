"""Group averaging (pooling's feature step) and unpooling, with values computed by hand."""

from __future__ import annotations

import numpy as np
import torch

from meshcnn_core import build_topology
from meshcnn_core.nn.pool import PoolRecord, average_groups, pool_topology
from meshcnn_core.nn.pool_events import RemovalKind
from meshcnn_core.nn.unpool import unpool_features

from .meshes import icosphere


def hand_record() -> PoolRecord:
    """5 layer-input edges pooled to 3: edge 0 absorbs 1, edge 2 stays alone, edge 4 absorbs 3.

    Edge 1 was also copied into a removed edge's group once during pooling, so MeshCNN's
    occurrence count for it is 2 (the others: 1).
    """
    indptr = np.array([0, 2, 3, 5])
    indices = np.array([0, 1, 2, 3, 4])
    rows = np.array([0, 0, 1, 2, 2])
    return PoolRecord(
        target=3,
        priority=np.zeros(5, np.float32),
        kept=np.array([0, 2, 4]),
        groups_indptr=indptr,
        groups_indices=indices,
        groups_rows=rows,
        occurrences=np.array([1, 2, 1, 1, 1], np.float32),
        removed=np.array([1, 3]),
        removed_kind=np.array([RemovalKind.COLLAPSED, RemovalKind.COLLAPSED], np.int8),
        topology_in=None,
        topology_out=None,
        skipped=np.empty(0, np.int64),
        skip_reason=np.empty(0, np.int8),
        skip_at=np.empty(0, np.int64),
    )


def test_average_groups_by_hand():
    x = torch.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 0.0, -2.0, 6.0, 8.0]]])  # (1, 2, 5)
    out = average_groups(x, [hand_record()], target=4)  # one padded slot
    expected = torch.tensor([[[1.5, 3.0, 4.5, 0.0], [5.0, -2.0, 7.0, 0.0]]])
    torch.testing.assert_close(out, expected)


def test_average_groups_batch_equals_one_by_one():
    rec = hand_record()
    x = torch.randn(2, 3, 6)  # (B, C, E_in_pad): a padded slot at the end
    both = average_groups(x, [rec, rec], target=4)
    for b in range(2):
        torch.testing.assert_close(both[b : b + 1], average_groups(x[b : b + 1], [rec], target=4))


def test_unpool_by_hand():
    x = torch.tensor([[[10.0, 20.0, 30.0, 99.0]]])  # (1, 1, 4): slot 3 is padding, never read
    out = unpool_features(x, [hand_record()], target=5)
    # edge 1 gets its survivor's value divided by its occurrence count 2
    torch.testing.assert_close(out, torch.tensor([[[10.0, 5.0, 20.0, 30.0, 30.0]]]))


def test_real_pooling_average_then_unpool_restores_constant_features():
    m = icosphere(2, seed=3)
    topo = build_topology(m.vertices, m.faces).topology
    e = topo.num_edges
    rng = np.random.default_rng(0)
    rec = pool_topology(topo, rng.random(e).astype(np.float32), e - 60)
    assert len(rec.kept) == e - 60
    # every layer-input edge lies in some surviving group (groups may overlap, as in MeshCNN), and no
    # more often than MeshCNN's occurrence count, which also counts copies into removed edges' groups
    appearances = np.bincount(rec.groups_indices, minlength=e)
    assert (appearances >= 1).all() and (appearances <= rec.occurrences).all()
    x = torch.full((1, 2, e), 3.0)
    pooled = average_groups(x, [rec], target=e - 60)
    torch.testing.assert_close(pooled, torch.full((1, 2, e - 60), 3.0))
    back = unpool_features(pooled, [rec], target=e)
    # each edge receives 3 from each group it is in, divided by its occurrence count
    np.testing.assert_allclose(back[0, 0].numpy(), 3.0 * appearances / rec.occurrences, rtol=1e-6)
