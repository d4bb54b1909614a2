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
    rows = np.concatenate([r.groups_rows + i * e_pad for i, r in enumerate(records)])
    cols = np.concatenate([r.groups_indices + i * target for i, r in enumerate(records)])
    weights = np.concatenate([(np.float32(1.0) / r.occurrences[r.groups_indices]) for r in records])
    dev = x.device
    flat = x.permute(0, 2, 1).reshape(b * e_pad, c)  # (B*E_out_pad, C)
    src = flat.index_select(0, torch.from_numpy(rows).to(dev)) * torch.from_numpy(weights).to(
        dev, x.dtype
    ).unsqueeze(1)
    out = flat.new_zeros(b * target, c).index_add_(0, torch.from_numpy(cols).to(dev), src)  # (B*target, C)
    return out.view(b, target, c).permute(0, 2, 1)  # (B, C, target)


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
