"""MeshCNN's segmentation network (``meshunet`` in the original).

A U-Net of MeshConv blocks with pools on the way down and unpools plus skip connections on the
way up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..mesh.topology import MeshTopology
from .conv import ConvIndex, MeshConv, neighbour_index
from .pool import MeshPool
from .trace import NetOutput, Stage
from .unpool import MeshUnpool

__all__ = ["SegmenterConfig", "DownBlock", "UpBlock", "MeshSegmenter"]


@dataclass(frozen=True)
class SegmenterConfig:
    """Hyper-parameters of :class:`MeshSegmenter` (MeshCNN's option names).

    Defaults are the human-body segmentation configuration of the paper.
    """

    nclasses: int = 8
    ncf: tuple[int, ...] = (32, 64, 128, 256)
    pool_res: tuple[int, ...] = (1800, 1350, 600)
    ninput_edges: int = 2280
    resblocks: int = 3
    input_nc: int = 5
    arch: str = "meshunet"

    def __post_init__(self) -> None:
        object.__setattr__(self, "ncf", tuple(int(c) for c in self.ncf))
        object.__setattr__(self, "pool_res", tuple(int(p) for p in self.pool_res))
        if len(self.pool_res) != len(self.ncf) - 1:
            raise ValueError(
                f"a U-Net with {len(self.ncf)} levels (ncf) needs {len(self.ncf) - 1} pool_res entries, "
                f"got {len(self.pool_res)}"
            )
        res = (self.ninput_edges, *self.pool_res)
        if any(b >= a for a, b in zip(res, res[1:])):
            raise ValueError(f"pool_res must decrease from ninput_edges: {res}")


class _ConvStack(nn.Module):
    """conv1, then ``blocks`` residual MeshConvs, each followed by InstanceNorm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int, blocks: int) -> None:
        super().__init__()
        self.conv1 = MeshConv(in_channels, out_channels)
        self.convs = nn.ModuleList(MeshConv(out_channels, out_channels) for _ in range(blocks))
        self.norms = nn.ModuleList(nn.InstanceNorm2d(out_channels) for _ in range(blocks + 1))

    def run(self, x: torch.Tensor, index: ConvIndex) -> torch.Tensor:
        """Shapes: ``(B, C_in, E) -> (B, C_out, E)``."""
        x1 = F.relu(self.norms[0](self.conv1(x, index)))  # (B, C, E, 1)
        x2 = x1
        for conv, norm in zip(self.convs, self.norms[1:]):
            x2 = F.relu(norm(conv(x1, index)) + x1)
            x1 = x2
        return x2.squeeze(3)


class DownBlock(_ConvStack):
    """Encoder level: the conv stack (the segmenter pools its output, except at the bottom).

    Shapes: ``(B, C_in, E) -> (B, C_out, E)``.
    """

    def forward(self, x: torch.Tensor, index: ConvIndex) -> torch.Tensor:
        return self.run(x, index)


class UpBlock(_ConvStack):
    """Decoder level: up-conv on the pooled mesh, unpool, concatenate the skip, conv stack.

    Shapes: ``(B, C_in, E_small) -> (B, C_out, E_big)``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, blocks: int, unroll: int = 0, skip: bool = True
    ) -> None:
        super().__init__(2 * out_channels if skip else out_channels, out_channels, blocks)
        self.up_conv = MeshConv(in_channels, out_channels)
        self.unpool = MeshUnpool(unroll) if unroll else None
        self.skip = skip

    def forward(
        self, x: torch.Tensor, index_small: ConvIndex, records=None, skip_x=None, index_big=None
    ) -> torch.Tensor:
        x1 = self.up_conv(x, index_small).squeeze(3)  # (B, C_out, E_small)
        if self.unpool is not None:
            x1 = self.unpool(x1, records)  # (B, C_out, E_big)
        if self.skip:
            x1 = torch.cat((x1, skip_x), 1)  # (B, 2 C_out, E_big)
        return self.run(x1, index_big if index_big is not None else index_small)


class MeshSegmenter(nn.Module):
    """Mesh segmentation U-Net.

    Shapes:
        x: ``(B, 5, ninput_edges)``; topologies: B input topologies -> :class:`NetOutput` with
        logits ``(B, nclasses, ninput_edges)`` (padded slots included; slice ``[:, :, :E]``).
    """

    def __init__(self, config: SegmenterConfig) -> None:
        super().__init__()
        self.config = config
        pools = (config.ninput_edges, *config.pool_res)
        down = (config.input_nc, *config.ncf)
        up = (*config.ncf[::-1], config.nclasses)
        self.down = nn.ModuleList(
            DownBlock(down[i], down[i + 1], config.resblocks) for i in range(len(down) - 1)
        )
        self.pools = nn.ModuleList(MeshPool(t) for t in config.pool_res)  # after each down block but the last
        unrolls = list(pools[:-1])[::-1]
        self.up = nn.ModuleList(
            UpBlock(up[i], up[i + 1], config.resblocks, unrolls[i] if i < len(unrolls) else 0)
            for i in range(len(up) - 2)
        )
        self.final = UpBlock(up[-2], up[-1], config.resblocks, 0, skip=False)

    def forward(self, x: torch.Tensor, topologies: Sequence[MeshTopology]) -> NetOutput:
        topos = list(topologies)
        stages: list[Stage] = []
        skips: list[tuple[torch.Tensor, list, ConvIndex]] = []  # (features, records, index) per pool
        index = neighbour_index(topos, x.shape[-1], x.device)
        for level, block in enumerate(self.down):
            x = block(x, index)  # (B, C, E)
            if level == len(self.pools):  # the bottom
                stages.append(Stage("pool" if stages else "input", x, topos, None))
                continue
            pooled, pooled_topos, records = self.pools[level](x, topos)
            stages.append(Stage("pool" if stages else "input", x, topos, records))
            skips.append((x, records, index))
            x, topos = pooled, pooled_topos
            index = neighbour_index(topos, x.shape[-1], x.device)
        for block in self.up:
            skip_x, records, index_big = skips.pop()
            x = block(x, index, records, skip_x, index_big)  # (B, C, E_big)
            topos = [r.topology_in for r in records]
            index = index_big
            stages.append(Stage("unpool", x, topos, None))
        x = self.final(x, index)  # (B, nclasses, E)
        return NetOutput(x, stages)
