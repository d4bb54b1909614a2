"""MeshConv: convolution over an edge and its four one-ring neighbours.

For edge features ``x_e`` and neighbours ``(a, b, c, d) = gemm[e]`` the layer applies a learned
``1 x 5`` kernel to the order-invariant stack ``(x_e, x_a + x_c, x_b + x_d, |x_a - x_c|,
|x_b - x_d|)`` (Hanocka et al. 2019, eq. 2). The weights keep the original's ``Conv2d`` shape
``(C_out, C_in, 1, 5)``, but the product runs as one matrix multiply on an edge-major gather,
2-3x faster than the original's gather + ``conv2d`` (results agree to float rounding, ~1e-7).
Set ``MESHCNN_EXACT_CONV=1`` to run the original's ``conv2d`` path instead: bit-identical
activations up to the first pooling, hence also the same order among near-tied collapses there. Missing neighbours (boundary) read zeros. As in the
original, padded edge slots (beyond a mesh's edge count) read edge 0 as themselves and as all four
neighbours; their outputs enter normalization statistics, so we keep that.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..mesh.topology import MeshTopology

__all__ = ["MeshConv", "neighbour_index"]

_INDEX_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
EXACT_CONV = os.environ.get("MESHCNN_EXACT_CONV", "") not in ("", "0")


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
    """Flat gather indices for a batch. Shapes: ``-> (B, num_slots, 5)`` into ``(1 + B * num_slots)`` rows.

    Row 0 is zeros; mesh ``b``'s edge ``j`` is ``1 + b * num_slots + j``.
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
        # gather in edge-major ("rows") layout: each neighbour is one contiguous row of C values
        rows = x.new_empty(1 + b * e, c)
        rows[0] = 0
        rows[1:].view(b, e, c).copy_(x.permute(0, 2, 1))  # (1+B*E, C), row 0 = missing neighbour
        g = rows.index_select(0, index.reshape(-1)).view(b * e, 5, c)  # (B*E, 5, C)
        f = torch.cat([g[:, :1], g[:, 1:3] + g[:, 3:5], (g[:, 1:3] - g[:, 3:5]).abs()], dim=1)  # (B*E, 5, C)
        if EXACT_CONV:  # the original's layout and conv2d call, for bit-identical results
            f = f.view(b, e, 5, c).permute(0, 3, 1, 2).contiguous()  # (B, C, E, 5)
            return self.conv(f)  # (B, C_out, E, 1)
        # the 1x5 kernel as one matrix product: (B*E, 5C) @ (5C, C_out)
        w = self.conv.weight.squeeze(2).transpose(1, 2).reshape(self.out_channels, 5 * c)  # (C_out, 5C)
        f = f.reshape(b * e, 5 * c)
        out = torch.addmm(self.conv.bias, f, w.t()) if self.conv.bias is not None else f @ w.t()  # (B*E, C_out)
        return out.view(b, e, self.out_channels).permute(0, 2, 1).unsqueeze(-1)  # (B, C_out, E, 1)
