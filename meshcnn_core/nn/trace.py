"""What a forward pass returns besides its output: the features and pooling records per stage."""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..mesh.topology import MeshTopology
from .pool import PoolRecord

__all__ = ["Stage", "NetOutput"]


class Stage(NamedTuple):
    """One stage of a forward pass (input, after a pooling, or after an unpooling).

    Attributes:
        kind: ``"input"``, ``"pool"`` or ``"unpool"``.
        features: ``(B, C, E_pad)`` activations living on this stage's edges.
        topologies: one per mesh of the batch.
        pool_records: the pooling that *leaves* this stage (one per mesh), or None.
    """

    kind: str
    features: torch.Tensor
    topologies: list[MeshTopology]
    pool_records: list[PoolRecord] | None


class NetOutput(NamedTuple):
    """A network's output and the stages it went through.

    Attributes:
        logits: classifier ``(B, classes)``; segmenter ``(B, classes, E_pad)``.
        stages: input, each pooled stage, then (segmenter) each unpooled stage.
    """

    logits: torch.Tensor
    stages: list[Stage]
