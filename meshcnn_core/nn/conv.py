"""MeshConv: convolution over an edge and its four one-ring neighbours.

For edge features ``x_e`` and neighbours ``(a, b, c, d) = gemm[e]`` the layer applies a learned
``1 x 5`` kernel to the order-invariant stack ``(x_e, x_a + x_c, x_b + x_d, |x_a - x_c|,
|x_b - x_d|)`` (Hanocka et al. 2019, eq. 2). The weights keep the original's ``Conv2d`` shape
``(C_out, C_in, 1, 5)``. Missing neighbours (boundary) read zeros. As in the original, padded edge
slots (beyond a mesh's edge count) read edge 0 as themselves and as all four neighbours; their
outputs enter normalization statistics, so we keep that.

Two ways to run the same layer (a runtime switch, ``MeshConv.exact`` or :func:`set_exact_conv`,
not stored in checkpoints):

* fast (default): the 5 terms are built in one edge-major buffer, ``(B*E, 5*C_in)``, that is the
  input of one matrix multiply. Its backward is written by hand (:class:`_SymmetricGather`): it
  undoes the symmetric terms in place and sums each edge's gradient by *gathering* through a
  precomputed transposed index (each edge is read by itself and by its <= 4 neighbours) instead of
  autograd's zero-filled slices and scatter-add. Results agree with the original's ``conv2d`` to
  float rounding (~1e-7).
* exact: the same 5 terms (bit-identical) in the original's layout through ``conv2d``:
  bit-identical activations up to the first pooling, hence the same order among near-tied
  collapses there.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ..mesh.topology import MeshTopology

__all__ = ["MeshConv", "ConvIndex", "neighbour_index", "set_exact_conv", "symmetric_features"]

_INDEX_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_FAN_IN = 4  # a manifold edge is the neighbour of at most 4 edges: width of the transposed index


class _LocalIndex(NamedTuple):
    """One mesh's gather and transposed indices for ``S`` slots (cached per topology and ``S``)."""

    gather: np.ndarray  # (S, 5) self then the 4 neighbours; -1 = zero; padded slots -> edge 0
    incoming: np.ndarray  # (S, 4) positions ``n * 4 + k - 1`` of neighbour reads (n, k) of each edge; -1 none
    extra_pos: np.ndarray  # (X,) neighbour reads beyond 4 per edge (never on a manifold mesh)
    extra_dst: np.ndarray  # (X,) the edge each of them reads
    num_edges: int


class ConvIndex(NamedTuple):
    """Gather and scatter indices of MeshConv for one batch at one mesh resolution.

    Built by :func:`neighbour_index` once per resolution and shared by all convs there.

    Attributes:
        gather: ``(B * S * 5,)`` rows of the row table ``(1 + B * S, C)`` (row 0 = zeros) that
            each slot reads: mesh ``b``'s edge ``j`` is row ``1 + b * S + j``.
        incoming: ``(B * S, 4)`` for each slot, rows of the neighbour-gradient table
            ``(1 + B * S * 4, C)`` that read it (0 = none).
        extra_src: ``(X,)`` rows of that table beyond 4 per slot (non-manifold; usually empty).
        extra_dst: ``(X,)`` the slot each of them reads.
        pad_slots: ``(P,)`` padded slots (they read edge 0 of their mesh five times).
        pad_dst: ``(P,)`` the edge-0 slot of each.
        batch: ``B``.
        slots: ``S``.
    """

    gather: torch.Tensor
    incoming: torch.Tensor
    extra_src: torch.Tensor
    extra_dst: torch.Tensor
    pad_slots: torch.Tensor
    pad_dst: torch.Tensor
    batch: int
    slots: int


def _transposed(
    gather: np.ndarray, num_edges: int, num_slots: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each slot, the neighbour reads ``(n, k)`` (``k`` in 1..4, ``n`` a real edge) of it."""
    targets = gather[:num_edges, 1:].reshape(-1)  # (E*4,) position n*4 + k-1 reads edge targets[.]
    pos = np.flatnonzero(targets >= 0)
    tgt = targets[pos]
    order = np.argsort(tgt, kind="stable")
    pos, tgt = pos[order], tgt[order]
    rank = np.arange(len(tgt)) - np.searchsorted(tgt, tgt, side="left")
    incoming = np.full((num_slots, _FAN_IN), -1, dtype=np.int64)
    ok = rank < _FAN_IN
    incoming[tgt[ok], rank[ok]] = pos[ok]
    return incoming, pos[~ok], tgt[~ok]


def _local_index(topo: MeshTopology, num_slots: int) -> _LocalIndex:
    per_topo = _INDEX_CACHE.setdefault(topo, {})
    local = per_topo.get(num_slots)
    if local is None:
        e = topo.num_edges
        gather = np.zeros((num_slots, 5), dtype=np.int64)
        gather[:e, 0] = np.arange(e)
        gather[:e, 1:] = topo.gemm
        local = _LocalIndex(gather, *_transposed(gather, e, num_slots), e)
        per_topo[num_slots] = local
    return local


def neighbour_index(topologies: Sequence[MeshTopology], num_slots: int, device: torch.device) -> ConvIndex:
    """The :class:`ConvIndex` of a batch of meshes padded to ``num_slots`` edge slots.

    Raises:
        ValueError: a mesh has more edges than there are slots.
    """
    b_count, s = len(topologies), num_slots
    gather = np.empty((b_count, s, 5), dtype=np.int64)
    incoming = np.empty((b_count, s, _FAN_IN), dtype=np.int64)
    extra_src, extra_dst, pad_slots, pad_dst = [], [], [], []
    for b, topo in enumerate(topologies):
        if topo.num_edges > s:
            raise ValueError(f"mesh {b} has {topo.num_edges} edges but the features have {s} slots")
        loc = _local_index(topo, s)
        gather[b] = np.where(loc.gather >= 0, loc.gather + 1 + b * s, 0)
        incoming[b] = np.where(loc.incoming >= 0, loc.incoming + 1 + b * s * 4, 0)
        extra_src.append(loc.extra_pos + 1 + b * s * 4)
        extra_dst.append(loc.extra_dst + b * s)
        pad_slots.append(np.arange(loc.num_edges, s) + b * s)
        pad_dst.append(np.full(s - loc.num_edges, b * s, dtype=np.int64))

    def t(a) -> torch.Tensor:
        return torch.from_numpy(np.concatenate(a) if isinstance(a, list) else a.reshape(-1, *a.shape[2:])).to(
            device
        )

    return ConvIndex(
        t(gather).reshape(-1), t(incoming), t(extra_src), t(extra_dst), t(pad_slots), t(pad_dst), b_count, s
    )


class _SymmetricGather(torch.autograd.Function):
    """``x (B, C, S) -> f (B*S, 5*C)``: the 5 symmetric terms per slot, with a hand-written backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, index: ConvIndex) -> torch.Tensor:
        b, c, s = x.shape
        n = b * s
        rows = x.new_empty(1 + n, c)  # (1+B*S, C) edge-major, row 0 = missing neighbour
        rows[0] = 0
        rows[1:].view(b, s, c).copy_(x.transpose(1, 2))
        g = rows.index_select(0, index.gather).view(n, 5, c)  # (N, 5, C): e, a, b, c, d
        diff = g[:, 1:3] - g[:, 3:5]  # (N, 2, C): x_a - x_c, x_b - x_d
        g[:, 1:3] += g[:, 3:5]  # x_a + x_c, x_b + x_d
        torch.abs(diff, out=g[:, 3:5])
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(diff.sign_())  # d|u|/du, 0 at 0 as in autograd
        ctx.index = index
        ctx.shape = (b, c, s)
        return g.view(n, 5 * c)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        if not ctx.needs_input_grad[0]:
            return None, None
        (sign,) = ctx.saved_tensors
        index: ConvIndex = ctx.index
        b, c, s = ctx.shape
        n = b * s
        df = grad.contiguous().view(n, 5, c)  # (N, 5, C)
        u = df[:, 3:5] * sign  # (N, 2, C)
        table = grad.new_empty(1 + n * 4, c)  # (1+N*4, C) gradient of each neighbour read; row 0 = none
        table[0] = 0
        reads = table[1:].view(n, 4, c)
        torch.add(df[:, 1:3], u, out=reads[:, 0:2])  # reads of a, b
        torch.sub(df[:, 1:3], u, out=reads[:, 2:4])  # reads of c, d
        dx = table.index_select(0, index.incoming.reshape(-1)).view(n, _FAN_IN, c).sum(1)  # (N, C)
        dx += df[:, 0]  # each real slot reads itself once
        if len(index.pad_slots):  # padded slots read edge 0 of their mesh, nothing reads them
            pad = df[index.pad_slots, 0] + reads[index.pad_slots].sum(1)  # (P, C)
            dx.index_fill_(0, index.pad_slots, 0)
            dx.index_add_(0, index.pad_dst, pad)
        if len(index.extra_src):
            dx.index_add_(0, index.extra_dst, table.index_select(0, index.extra_src))
        return dx.view(b, s, c).transpose(1, 2), None  # (B, C, S)


def symmetric_features(x: torch.Tensor, index: ConvIndex) -> torch.Tensor:
    """MeshConv's input: ``(x_e, x_a + x_c, x_b + x_d, |x_a - x_c|, |x_b - x_d|)`` per slot.

    Shapes: ``x (B, C, S) -> (B*S, 5*C)``, row ``b * S + j`` = mesh ``b``'s slot ``j``, the 5
    terms term-major (``[term * C + channel]``).
    """
    return _SymmetricGather.apply(x, index)


class MeshConv(nn.Module):
    """Edge convolution with MeshCNN's symmetric one-ring functions.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        bias: add a bias (the classifier's residual convs have none).
        exact: run the original's ``conv2d`` layout (see the module docstring); a runtime switch
            (the attribute ``exact``), not part of the weights.

    Shapes:
        x: ``(B, C_in, E)`` or ``(B, C_in, E, 1)``; index: from :func:`neighbour_index`
        -> ``(B, C_out, E, 1)``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, bias: bool = True, *, exact: bool = False
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.exact = bool(exact)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=(1, 5), bias=bias)

    def forward(self, x: torch.Tensor, index: ConvIndex) -> torch.Tensor:
        if x.dim() == 4:
            x = x.squeeze(-1)
        b, c, e = x.shape
        if c != self.in_channels:
            raise ValueError(f"MeshConv built with in_channels={self.in_channels}, but x has {c} channels")
        if (index.batch, index.slots) != (b, e):
            raise ValueError(f"the index is for {index.batch} meshes x {index.slots} slots, x has {b} x {e}")
        f = symmetric_features(x, index)  # (B*E, 5*C)
        if self.exact:  # the original's layout and conv2d call, for bit-identical results
            f = f.view(b, e, 5, c).permute(0, 3, 1, 2).contiguous()  # (B, C, E, 5)
            return self.conv(f)  # (B, C_out, E, 1)
        # the 1x5 kernel as one matrix product: (B*E, 5C) @ (5C, C_out)
        w = self.conv.weight.squeeze(2).transpose(1, 2).reshape(self.out_channels, 5 * c)  # (C_out, 5C)
        out = (
            torch.addmm(self.conv.bias, f, w.t()) if self.conv.bias is not None else f @ w.t()
        )  # (B*E, C_out)
        return out.view(b, e, self.out_channels).permute(0, 2, 1).unsqueeze(-1)  # (B, C_out, E, 1)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, bias={self.conv.bias is not None}, exact={self.exact}"
        )


def set_exact_conv(module: nn.Module, exact: bool = True) -> nn.Module:
    """Switch every :class:`MeshConv` in ``module`` to the exact (``conv2d``) or fast path. Returns it."""
    for m in module.modules():
        if isinstance(m, MeshConv):
            m.exact = bool(exact)
    return module
