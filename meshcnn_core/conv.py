"""MeshConv: convolution over an edge and its four one-ring neighbours.

For edge features ``x_e`` and neighbours ``(a, b, c, d) = gemm[e]`` the layer applies a learned
``1 x 5`` kernel to the order-invariant stack ``(x_e, x_a + x_c, x_b + x_d, |x_a - x_c|,
|x_b - x_d|)`` (Hanocka et al. 2019, eq. 2). Missing neighbours (boundary) read zeros. As in the
original, padded edge slots (beyond a mesh's edge count) read edge 0 as themselves and as all four
neighbours; their outputs enter normalization statistics, so we keep that.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .topology import MeshTopology

__all__ = ["MeshConv", "neighbour_index"]

_INDEX_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _local_index(topo: MeshTopology, num_slots: int) -> np.ndarray:
    """``(num_slots, 5)`` int64: self then the 4 neighbours per slot; -1 = zero; padding -> edge 0."""
    per_topo = _INDEX_CACHE.setdefault(topo, {})
    idx = per_topo.get(num_slots)
    if idx is None:
        e = topo.num_edges
        idx = np.zeros((num_slots, 5), dtype=np.int64)
        idx[:e, 0] = np.arange(e)
        idx[:e, 1:] = topo.gemm
        per_topo[num_slots] = idx
    return idx


def neighbour_index(topologies: Sequence[MeshTopology], num_slots: int, device: torch.device) -> torch.Tensor:
    """Flat gather indices for a batch. Shapes: ``-> (B, num_slots, 5)`` into ``(1 + B * num_slots)``.

    Index 0 is a zero column; mesh ``b``'s edge ``j`` is ``1 + b * num_slots + j``.
    """
    out = np.empty((len(topologies), num_slots, 5), dtype=np.int64)
    for b, topo in enumerate(topologies):
        if topo.num_edges > num_slots:
            raise ValueError(f"mesh {b} has {topo.num_edges} edges but the features have {num_slots} slots")
        loc = _local_index(topo, num_slots)
        out[b] = np.where(loc >= 0, loc + 1 + b * num_slots, 0)
    return torch.from_numpy(out).to(device)


class MeshConv(nn.Module):
    """Edge convolution with MeshCNN's symmetric one-ring functions.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        bias: add a bias (the classifier's residual convs have none).

    Shapes:
        x: ``(B, C_in, E)`` or ``(B, C_in, E, 1)``; index: ``(B, E, 5)`` from
        :func:`neighbour_index` -> ``(B, C_out, E, 1)``.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=(1, 5), bias=bias)

    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.squeeze(-1)
        b, c, e = x.shape
        if c != self.in_channels:
            raise ValueError(f"MeshConv built with in_channels={self.in_channels}, but x has {c} channels")
        flat = torch.cat([x.new_zeros(c, 1), x.permute(1, 0, 2).reshape(c, b * e)], dim=1)  # (C, 1+B*E)
        f = flat[:, index].permute(1, 0, 2, 3)  # (B, C, E, 5)
        f = torch.stack(
            [
                f[..., 0],
                f[..., 1] + f[..., 3],
                f[..., 2] + f[..., 4],
                torch.abs(f[..., 1] - f[..., 3]),
                torch.abs(f[..., 2] - f[..., 4]),
            ],
            dim=3,
        )  # (B, C, E, 5)
        return self.conv(f)  # (B, C_out, E, 1)
