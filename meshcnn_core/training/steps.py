"""One step's pieces: batches, the loss, MeshCNN's accuracies, and the allocator setting steps rely on."""

from __future__ import annotations

import ctypes
import functools

import torch
import torch.nn.functional as F

from ..data.datasets import Batch, MeshDataset, collate
from .config import TrainConfig

__all__ = ["make_loader", "keep_freed_memory", "loss_and_correct", "evaluate_split", "seg_accuracy"]


def seg_accuracy(logits: torch.Tensor, batch: Batch) -> tuple[float, float]:
    """MeshCNN's segmentation accuracy, summed over the batch's meshes.

    Returns ``(soft, hard)``: ``soft`` is MeshCNN's (the paper's) number, the area-weighted share
    of edges whose predicted class is one of the edge's soft labels; ``hard`` is the plain share of
    edges whose prediction equals the hard label. Divide by the number of meshes.

    Shapes: ``logits (B, C, N)``.
    """
    pred = logits.argmax(dim=1).cpu()  # (B, N)
    soft_sum = hard_sum = 0.0
    for b, areas in enumerate(batch.edge_areas):
        e = len(areas)
        ok_soft = batch.soft[b, torch.arange(e), pred[b, :e]].numpy() > 0  # (E,)
        soft_sum += float((ok_soft * areas).sum())
        hard_sum += float((pred[b, :e] == batch.labels[b, :e]).float().mean())
    return soft_sum, hard_sum


def make_loader(
    dataset: MeshDataset,
    cfg: TrainConfig,
    mean,
    std,
    ninput: int,
    *,
    shuffle: bool,
    sampler=None,
    epoch: int = 0,
    batch_size: int | None = None,
) -> torch.utils.data.DataLoader:
    """Batches of ``batch_size`` meshes (default ``cfg.batch_size``).

    ``cfg.workers`` worker processes load and collate the next batches while the step runs (0: in
    this process); the batches and their order do not depend on it.
    """
    g = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
    workers = max(0, int(cfg.workers))
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size or cfg.batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        generator=g,
        num_workers=workers,
        prefetch_factor=2 if workers else None,
        collate_fn=functools.partial(collate, mean=mean, std=std, ninput_edges=ninput),
    )


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the system.

    A training step allocates and frees tensors of tens of MB; by default glibc maps each one
    fresh (``mmap``) and unmaps it when freed, so every large tensor pays page faults again (a
    gather into a fresh buffer measured 5x slower than into a reused one). With mmap off and a
    high trim threshold the freed blocks stay in the heap: the process keeps its peak memory, and
    results are unchanged. Returns False (and does nothing) off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))


def loss_and_correct(net, batch: Batch, task: str, device) -> tuple[torch.Tensor, float, int]:
    """Forward one batch. Returns ``(loss, correct, count)`` for the train accuracy."""
    logits = net(batch.x.to(device), batch.topologies).logits
    labels = batch.labels.to(device)
    loss = F.cross_entropy(logits, labels, ignore_index=-1)
    pred = logits.argmax(dim=1)
    if task == "classification":
        return loss, float((pred == labels).sum()), len(labels)
    mask = labels != -1
    return loss, float((pred[mask] == labels[mask]).sum()), int(mask.sum())


@torch.no_grad()
def evaluate_split(net, loader, task: str, device) -> dict:
    """Test accuracy: per mesh (classification) or MeshCNN's soft, area-weighted (segmentation)."""
    net.eval()
    correct = hard = 0.0
    n = 0
    for batch in loader:
        logits = net(batch.x.to(device), batch.topologies).logits
        if task == "classification":
            correct += float((logits.argmax(1).cpu() == batch.labels).sum())
        else:
            s, h = seg_accuracy(logits, batch)
            correct += s
            hard += h
        n += len(batch.names)
    net.train()
    out = {"test_acc": correct / max(n, 1)}
    if task == "segmentation":
        out["test_acc_hard"] = hard / max(n, 1)
    return out
