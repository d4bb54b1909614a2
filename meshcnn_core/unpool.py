"""MeshUnpool: restore a pooled mesh's edges and spread features back over the recorded groups.

Each layer-input edge ``c`` receives the sum of the features of the surviving edges whose group
contains it, divided by MeshCNN's occurrence count for ``c`` (the number of times it was copied
into any group during pooling, removed edges' groups included): the original's weighting, kept so
that trained segmentation weights compute the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .pool import PoolRecord

__all__ = ["MeshUnpool", "unpool_features"]


def unpool_features(x: torch.Tensor, records: Sequence[PoolRecord], target: int) -> torch.Tensor:
    """Spread pooled features back to the layer input. Shapes: ``(B, C, E_out_pad) -> (B, C, target)``."""
    b, c, e_pad = x.shape
    rows, cols, weights = [], [], []
    for i, rec in enumerate(records):
        counts = np.diff(rec.groups_indptr)
        r = np.repeat(np.arange(len(counts)), counts)
        col = rec.groups_indices
        rows.append(r + i * e_pad)
        cols.append(col + i * target)
        weights.append((np.float32(1.0) / rec.occurrences[col]).astype(np.float32))
    rows_t = torch.from_numpy(np.concatenate(rows)).to(x.device)
    cols_t = torch.from_numpy(np.concatenate(cols)).to(x.device)
    w_t = torch.from_numpy(np.concatenate(weights)).to(device=x.device, dtype=x.dtype)
    flat = x.permute(1, 0, 2).reshape(c, b * e_pad)  # (C, B*E_out_pad)
    out = flat.new_zeros(c, b * target).index_add_(1, cols_t, flat[:, rows_t] * w_t)  # (C, B*target)
    return out.reshape(c, b, target).permute(1, 0, 2)  # (B, C, target)


class MeshUnpool(nn.Module):
    """Unpool to ``target`` edge slots using the pooling records of the matching MeshPool.

    Shapes: ``(B, C, E_out_pad) -> (B, C, target)``.
    """

    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = int(target)

    def forward(self, x: torch.Tensor, records: Sequence[PoolRecord]) -> torch.Tensor:
        if x.dim() == 4:
            x = x.squeeze(-1)
        return unpool_features(x, records, self.target)

    def extra_repr(self) -> str:
        return f"target={self.target}"
