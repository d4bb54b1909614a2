"""MeshCNN's classification network (``mconvnet`` in the original).

Residual MeshConv blocks, norms and pools, then a global average and two fully connected layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..mesh.topology import MeshTopology
from .conv import ConvIndex, MeshConv, neighbour_index
from .pool import MeshPool
from .trace import NetOutput, Stage

__all__ = ["ClassifierConfig", "MeshResBlock", "MeshClassifier", "make_norm"]


@dataclass(frozen=True)
class ClassifierConfig:
    """Hyper-parameters of :class:`MeshClassifier` (MeshCNN's option names).

    Defaults are the SHREC-16 configuration of the paper.
    """

    nclasses: int = 30
    ncf: tuple[int, ...] = (64, 128, 256, 256)
    pool_res: tuple[int, ...] = (600, 450, 300, 180)
    ninput_edges: int = 750
    norm: str = "group"
    num_groups: int = 16
    resblocks: int = 1
    fc_n: int = 100
    input_nc: int = 5
    arch: str = field(default="mconvnet", init=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ncf", tuple(int(c) for c in self.ncf))
        object.__setattr__(self, "pool_res", tuple(int(p) for p in self.pool_res))
        if len(self.ncf) != len(self.pool_res):
            raise ValueError(f"ncf has {len(self.ncf)} entries but pool_res has {len(self.pool_res)}")
        if self.norm not in ("batch", "group", "none"):
            raise ValueError(f"norm must be batch, group or none, got {self.norm!r}")
        res = (self.ninput_edges, *self.pool_res)
        if any(b >= a for a, b in zip(res, res[1:])):
            raise ValueError(f"pool_res must decrease from ninput_edges: {res}")


class _NoNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def make_norm(kind: str, channels: int, num_groups: int) -> nn.Module:
    """The per-block norm of the classifier (MeshCNN's ``--norm``)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(num_groups=num_groups, num_channels=channels, affine=True)
    return _NoNorm()


class MeshResBlock(nn.Module):
    """A MeshConv followed by ``skips`` (ReLU, BatchNorm, MeshConv) with a residual sum.

    Shapes: ``(B, C_in, E)`` -> ``(B, C_out, E, 1)``.
    """

    def __init__(self, in_channels: int, out_channels: int, skips: int = 1) -> None:
        super().__init__()
        self.conv0 = MeshConv(in_channels, out_channels, bias=False)
        self.bns = nn.ModuleList(nn.BatchNorm2d(out_channels) for _ in range(skips))
        self.convs = nn.ModuleList(MeshConv(out_channels, out_channels, bias=False) for _ in range(skips))

    def forward(self, x: torch.Tensor, index: ConvIndex) -> torch.Tensor:
        x = self.conv0(x, index)  # (B, C, E, 1)
        x1 = x
        for bn, conv in zip(self.bns, self.convs):
            x = conv(bn(F.relu(x)), index)
        x = x + x1
        return F.relu(x)


class MeshClassifier(nn.Module):
    """Mesh classification network.

    Shapes:
        x: ``(B, 5, ninput_edges)`` normalized input features; topologies: B input topologies
        -> :class:`NetOutput` with logits ``(B, nclasses)``.
    """

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        k = (config.input_nc, *config.ncf)
        self.blocks = nn.ModuleList(
            MeshResBlock(k[i], k[i + 1], config.resblocks) for i in range(len(config.ncf))
        )
        self.norms = nn.ModuleList(make_norm(config.norm, c, config.num_groups) for c in config.ncf)
        self.pools = nn.ModuleList(MeshPool(t) for t in config.pool_res)
        self.gp = nn.AvgPool1d(config.pool_res[-1])
        self.fc1 = nn.Linear(config.ncf[-1], config.fc_n)
        self.fc2 = nn.Linear(config.fc_n, config.nclasses)

    def forward(self, x: torch.Tensor, topologies: Sequence[MeshTopology]) -> NetOutput:
        topos = list(topologies)
        stages: list[Stage] = []
        for block, norm, pool in zip(self.blocks, self.norms, self.pools):
            index = neighbour_index(topos, x.shape[-1], x.device)
            x = F.relu(norm(block(x, index))).squeeze(-1)  # (B, C, E)
            pooled, pooled_topos, records = pool(x, topos)  # (B, C, target)
            stages.append(Stage("pool" if stages else "input", x, topos, records))
            x, topos = pooled, pooled_topos
        stages.append(Stage("pool", x, topos, None))
        x = self.gp(x).view(-1, self.config.ncf[-1])  # (B, C)
        x = self.fc2(F.relu(self.fc1(x)))  # (B, nclasses)
        return NetOutput(x, stages)
