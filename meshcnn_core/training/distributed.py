"""Several processes under ``torchrun``: each one's share of the batch, the process group, sums."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = ["per_process_batch", "setup_distributed", "is_main", "all_reduce_sum"]


def per_process_batch(batch_size: int, world: int) -> int:
    """Each process's share of the global batch.

    Raises:
        ValueError: ``world`` does not divide ``batch_size``.
    """
    if batch_size % world:
        raise ValueError(
            f"the world size {world} does not divide batch_size {batch_size}: use a batch_size that "
            f"is a multiple of {world}, or another number of processes"
        )
    return batch_size // world


def setup_distributed() -> tuple[int, int]:
    """Init the process group under torchrun (WORLD_SIZE > 1). Returns ``(rank, world_size)``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def is_main(rank: int) -> bool:
    """Only rank 0 writes files and prints."""
    return rank == 0


def all_reduce_sum(values: list[float], world: int) -> list[float]:
    """Sum numbers over processes (identity on one process)."""
    if world <= 1:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()
