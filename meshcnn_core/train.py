"""Train a MeshCNN classifier or segmenter from a JSON config (MeshCNN's recipe).

Run::

    python -m meshcnn_core.train configs/shrec16.json            # runs/shrec16/
    python -m meshcnn_core.train configs/shrec16.json --resume   # continue exactly where it stopped
    python -m meshcnn_core.train configs/shrec16.json --epochs 5 # stop after epoch 5 (schedule unchanged)
    torchrun --nproc_per_node 2 -m meshcnn_core.train configs/shrec16.json   # DistributedDataParallel
    python -m meshcnn_core.train export runs/shrec16/best.pt checkpoints/shrec16_classifier.pt

Several processes (``torchrun``, DistributedDataParallel: gloo on CPU, NCCL on GPUs; see the
README for several machines) train the same run as one process would:

* ``batch_size`` is the *global* batch of one optimizer step; each of the ``W`` processes takes
  ``batch_size / W`` meshes (W must divide it). DDP averages the gradients of equal-sized shares,
  which is the gradient of the whole batch, so the learning rate and its schedule stay as
  configured and a run can be resumed with another world size. (The classifier's BatchNorm
  computes its statistics per process, over ``batch_size / W`` meshes.)
* The augmented copy each mesh uses in an epoch depends on ``(seed, epoch, mesh)`` only, not on the
  world size or rank. Each machine caches the copies its processes read in its own ``cache_dir``
  (processes sharing a folder write atomically).
* Only rank 0 evaluates, prints and writes checkpoints.

Batches are loaded and collated in a worker process (``workers``, default 1) while the step
runs; the batches are the same as with ``workers: 0``.

Every epoch appends ``{epoch, loss, train_acc, test_acc, lr, epoch_seconds, epoch_cpu_seconds}`` to
``<out_dir>/metrics.jsonl`` and saves ``last.pt`` (model, optimizer, scheduler, epoch, RNG state,
metrics) atomically; ``best.pt`` holds the best test accuracy so far. The learning rate follows
MeshCNN's "lambda" policy: constant for ``niter`` epochs, then linear decay over ``niter_decay``.

The config (all keys but ``data`` optional)::

    {"name": "shrec16", "data": "../shared/datasets/shrec_16", "out_dir": "runs/shrec16",
     "model": {"ncf": [...], "pool_res": [...], "ninput_edges": 750, ...},   # the network config
     "augment": {"scale_verts": false, "flip_edges": 0.2, "slide_verts": 0.2}, "num_aug": 20,
     "lr": 2e-4, "beta1": 0.9, "batch_size": 16, "niter": 100, "niter_decay": 100,
     "seed": 0, "threads": 1, "cache_dir": null, "workers": 1,
     "snapshot_epochs": [1, 10, 50]}   # also keep these epochs' weights, see below

``snapshot_epochs`` lists epochs whose weights are kept beside ``last.pt`` as
``snapshot_eNNN.pt``, in the shipped form (no optimizer state; opens in the app as it is), so
that a model can be compared with itself earlier in training.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from .checkpoint import build_model, checkpoint_dict, save_checkpoint
from .data.augment import AugmentConfig
from .data.datasets import (
    Batch,
    MeshDataset,
    check_labels,
    collate,
    compute_mean_std,
    default_cache_dir,
    scan_dataset,
)
from .device import pick_device
from .errors import MeshCNNError
from .mesh.size import input_size_of_files
from .nn.classifier import ClassifierConfig
from .nn.segmenter import SegmenterConfig

__all__ = [
    "TrainConfig",
    "load_config",
    "train",
    "export",
    "main",
    "seg_accuracy",
    "lr_lambda",
    "keep_freed_memory",
    "per_process_batch",
]


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved in the run folder and in every checkpoint)."""

    data: str
    name: str = "run"
    out_dir: str = ""
    model: dict = field(default_factory=dict)
    augment: dict = field(default_factory=dict)
    num_aug: int = 1
    keep_original: bool = True  # copy 0 unaugmented, as MeshCNN's cache ends up doing
    lr: float = 2e-4
    beta1: float = 0.9
    batch_size: int = 16
    niter: int = 100
    niter_decay: int = 100
    seed: int = 0
    threads: int = 0  # 0: all cores
    cache_dir: str | None = None
    device: str | None = None
    init_from: str | None = None  # warm start: weights + normalization of this checkpoint (fresh optimizer)
    workers: int = 1  # data-loading worker processes (0: load in the training process)
    snapshot_epochs: list[int] = field(default_factory=list)  # also save snapshot_eNNN.pt after these

    def __post_init__(self) -> None:
        snaps = self.snapshot_epochs
        numbers = isinstance(snaps, list) and all(type(e) is int for e in snaps)  # not bool, not float
        if not numbers:
            raise ValueError(f"snapshot_epochs must be a list of epoch numbers, got {snaps!r}")

    def check(self) -> None:
        """Raise ValueError naming a key whose value cannot work with the schedule (after overrides)."""
        snaps = self.snapshot_epochs
        bad = [e for e in snaps if not 1 <= e <= self.epochs]
        if bad:
            raise ValueError(
                f"snapshot_epochs {bad} outside the schedule: epochs run from 1 to {self.epochs} "
                f"(niter {self.niter} + niter_decay {self.niter_decay})"
            )

    @property
    def epochs(self) -> int:
        """The full schedule length."""
        return self.niter + self.niter_decay


def load_config(path: str | os.PathLike, **overrides) -> TrainConfig:
    """Read a JSON config; ``overrides`` (not None) replace keys."""
    raw = json.loads(Path(path).read_text())
    raw.update({k: v for k, v in overrides.items() if v is not None})
    unknown = set(raw) - set(TrainConfig.__dataclass_fields__) - {"comment"}
    if unknown:
        raise ValueError(f"{path}: unknown config keys {sorted(unknown)}")
    raw.pop("comment", None)
    cfg = TrainConfig(**raw)
    if not cfg.out_dir:
        cfg.out_dir = f"runs/{cfg.name}"
    return cfg


def lr_lambda(niter: int, niter_decay: int):
    """MeshCNN's "lambda" policy (epoch_count 1): factor of the base lr after ``epoch`` steps."""
    return lambda epoch: 1.0 - max(0, epoch + 1 - niter) / float(niter_decay + 1)


# ---------------------------------------------------------------- distributed helpers


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


# ---------------------------------------------------------------- model, data, metrics


def model_config(task: str, nclasses: int, model: dict) -> ClassifierConfig | SegmenterConfig:
    """The network config for a task from the config's ``model`` section."""
    cls = ClassifierConfig if task == "classification" else SegmenterConfig
    return cls(nclasses=nclasses, **model)


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


def rng_state() -> dict:
    """Torch and numpy global RNG states as plain tensors/lists (weights_only-loadable)."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [int(k) for k in keys],
        "numpy_pos": int(pos),
        "numpy_gauss": [int(has_gauss), float(gauss)],
    }


def set_rng_state(state: dict) -> None:
    """Restore :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    has_gauss, gauss = state["numpy_gauss"]
    np.random.set_state(
        (
            "MT19937",
            np.asarray(state["numpy"], dtype=np.uint32),
            int(state["numpy_pos"]),
            int(has_gauss),
            float(gauss),
        )
    )


def append_metrics(path: Path, row: dict) -> None:
    """One JSON line per epoch."""
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def tensorboard_writer(out_dir: Path):
    """A SummaryWriter when TensorBoard is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:
        return None
    return SummaryWriter(str(out_dir / "tb"))


def _check_same_network(
    ck: dict, name: str, what: str, mcfg: ClassifierConfig | SegmenterConfig, class_names: list[str]
) -> None:
    """Raise a one-line ValueError unless checkpoint ``ck`` has the run's network config and classes."""
    args = asdict(mcfg)
    args["ncf"], args["pool_res"] = list(args["ncf"]), list(args["pool_res"])
    if ck.get("model_args") != args:
        raise ValueError(
            f"{what}: {name} was trained with another network config "
            f"({ck.get('model_args')}); this run's is {args}"
        )
    if [str(c) for c in ck.get("class_names", [])] != [str(c) for c in class_names]:
        raise ValueError(f"{what}: {name} has classes {ck.get('class_names')}, the data set {class_names}")


def _load_checkpoint(path: Path, what: str) -> dict:
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a torch file, or not weights-only loadable
        raise ValueError(f"{what}: cannot read {path} as a checkpoint ({type(exc).__name__})") from None
    if not isinstance(ck, dict):
        raise ValueError(f"{what}: {path} is not a training checkpoint")
    return ck


def load_warm_start(path: str, mcfg: ClassifierConfig | SegmenterConfig, class_names: list[str]) -> dict:
    """The checkpoint a run starts from (``init_from``), checked against the run's network and classes."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"init_from: no such checkpoint {path}")
    ck = _load_checkpoint(p, "init_from")
    _check_same_network(ck, p.name, "init_from", mcfg, class_names)
    return ck


def load_resume(path: Path, mcfg: ClassifierConfig | SegmenterConfig, class_names: list[str]) -> dict:
    """The run's own ``last.pt``, checked against the run's network and classes (``--resume``)."""
    ck = _load_checkpoint(path, "resume")
    missing = [
        k for k in ("model", "optimizer", "scheduler", "epoch", "best", "metrics", "rng") if k not in ck
    ]
    if missing:
        raise ValueError(f"resume: {path} is not a training checkpoint (no {', '.join(missing)})")
    try:
        _check_same_network(ck, str(path), "resume", mcfg, class_names)
    except ValueError as exc:
        raise ValueError(
            f"{exc}; it belongs to another config: use another out_dir, or drop --resume"
        ) from None
    return ck


# ---------------------------------------------------------------- the training loop


def train(
    cfg: TrainConfig, *, resume: bool = False, stop_epoch: int | None = None, progress: bool = True
) -> dict:
    """Train (or resume) the run described by ``cfg``. Returns the last epoch's metrics."""
    local_batch = per_process_batch(
        cfg.batch_size, int(os.environ.get("WORLD_SIZE", "1"))
    )  # before any setup
    cfg.check()
    if not Path(cfg.data).is_dir():
        raise ValueError(
            f'the config\'s data set {cfg.data} does not exist (set "data" in the config, or --data)'
        )
    device = pick_device(cfg.device)
    if device.type == "cuda" and device.index is None:  # one GPU per process under torchrun
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    rank, world = setup_distributed()
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.set_num_threads(cfg.threads if cfg.threads > 0 else (os.cpu_count() or 1))
    keep_freed_memory()
    out_dir = Path(cfg.out_dir)
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()

    info = scan_dataset(cfg.data)
    mcfg = model_config(info.task, info.nclasses, cfg.model)
    aug = AugmentConfig(**cfg.augment)
    train_set = MeshDataset(
        info,
        "train",
        augment=aug,
        num_aug=cfg.num_aug,
        cache_dir=cache_dir,
        seed=cfg.seed,
        keep_original=cfg.keep_original,
    )
    test_set = MeshDataset(info, "test", cache_dir=cache_dir, seed=cfg.seed)
    if info.task == "segmentation":  # every label file against its mesh, before any training
        check_labels(train_set)
        check_labels(test_set)
    ck = None
    if resume and (out_dir / "last.pt").is_file():
        ck = load_resume(out_dir / "last.pt", mcfg, info.class_names)
    init = None
    if ck is None and cfg.init_from:
        init = load_warm_start(cfg.init_from, mcfg, info.class_names)
    if ck is not None:  # the run's own normalization
        mean, std = np.asarray(ck["mean"]), np.asarray(ck["std"])
    elif init is not None:  # the warm start's normalization: its weights expect it
        mean, std = np.asarray(init["mean"]), np.asarray(init["std"])
    else:
        mean, std = compute_mean_std(train_set, mcfg.ninput_edges)
    size = input_size_of_files(info.files["train"]).to_dict()  # MeshCNN's features depend on it

    net = build_model(mcfg).to(device)
    if init is not None:
        net.load_state_dict(init["model"])
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg.niter, cfg.niter_decay))
    start, best, history = 0, -math.inf, []
    # the warm start's own training curve, so the card can tell the whole story
    if ck is not None:
        init_history = (ck.get("metadata") or {}).get("init_history")
    else:
        init_history = list((init.get("metadata") or {}).get("history", [])) if init is not None else None
    if ck is not None:
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        set_rng_state(ck["rng"])
        start, best, history = int(ck["epoch"]), float(ck["best"]), list(ck["metrics"])
        factor = lr_lambda(cfg.niter, cfg.niter_decay)(sched.last_epoch)  # the schedule may have been changed
        for group, base in zip(opt.param_groups, sched.base_lrs):
            group["lr"] = base * factor
    model = net
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )

    if is_main(rank):
        out_dir.mkdir(parents=True, exist_ok=True)
        if resume:  # the checkpoint's history is authoritative (a stop may fall between the two writes)
            (out_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history))
        (out_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
        print(
            f"{info.task}: {len(train_set)} train / {len(test_set)} test meshes, {info.nclasses} classes; "
            f"epochs {start} -> {stop_epoch or cfg.epochs} of {cfg.epochs}; world {world} "
            f"(batch {cfg.batch_size} = {world} x {local_batch}); "
            f"threads {torch.get_num_threads()}; cache {cache_dir}",
            flush=True,
        )
        passed = [e for e in cfg.snapshot_epochs if e <= start and not snapshot_path(out_dir, e).is_file()]
        if passed:  # e.g. snapshot_epochs added to the config of a run already past them
            print(f"note: no snapshot for epochs {passed}: the run had passed them", flush=True)
    writer = tensorboard_writer(out_dir) if is_main(rank) else None
    test_loader = make_loader(test_set, cfg, mean, std, mcfg.ninput_edges, shuffle=False)
    end = min(stop_epoch or cfg.epochs, cfg.epochs)
    row: dict = history[-1] if history else {}
    for epoch in range(start, end):
        t0, c0 = time.time(), time.process_time()
        train_set.set_epoch(epoch)
        sampler = None
        if world > 1:
            sampler = torch.utils.data.distributed.DistributedSampler(
                train_set, world, rank, shuffle=True, seed=cfg.seed
            )
            sampler.set_epoch(epoch)
        loader = make_loader(
            train_set,
            cfg,
            mean,
            std,
            mcfg.ninput_edges,
            shuffle=True,
            sampler=sampler,
            epoch=epoch,
            batch_size=local_batch,
        )
        loss_sum = correct = count = 0.0
        steps = 0
        bar = loader
        if progress and is_main(rank):
            from tqdm import tqdm

            bar = tqdm(
                loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, mininterval=2.0, file=sys.stdout
            )
        model.train()
        for batch in bar:
            loss, c, k = loss_and_correct(model, batch, info.task, device)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            steps += 1
            correct += c
            count += k
        lr = opt.param_groups[0]["lr"]
        sched.step()
        loss_sum, steps, correct, count = all_reduce_sum([loss_sum, steps, correct, count], world)
        row = {
            "epoch": epoch + 1,
            "loss": loss_sum / max(steps, 1),
            "train_acc": correct / max(count, 1),
            "lr": lr,
        }
        if is_main(rank):
            row.update(evaluate_split(net, test_loader, info.task, device))
            row["epoch_seconds"] = round(time.time() - t0, 2)
            row["epoch_cpu_seconds"] = round(time.process_time() - c0, 2)  # this process's CPU time (rank 0)
            row["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            history.append(row)
            append_metrics(out_dir / "metrics.jsonl", row)
            if writer is not None:
                for k, v in row.items():
                    if isinstance(v, (int, float)) and k != "epoch":
                        writer.add_scalar(k, v, epoch + 1)
            meta = {
                "dataset": str(cfg.data),
                "task": info.task,
                "epochs_done": epoch + 1,
                "init_from": cfg.init_from,
                "init_history": init_history,
                "epochs_planned": cfg.epochs,
                "train_config": asdict(cfg),
                "last_metrics": row,
            }
            is_best = row["test_acc"] > best
            best = max(best, row["test_acc"])
            ck = checkpoint_dict(
                net,
                mcfg,
                info.class_names,
                mean,
                std,
                metadata=meta,
                optimizer=opt.state_dict(),
                scheduler=sched.state_dict(),
                epoch=epoch + 1,
                best=best,
                metrics=history,
                rng=rng_state(),
                input_size=size,
            )
            if epoch + 1 in cfg.snapshot_epochs:  # shipped form, before last.pt: a stop cannot skip it
                save_checkpoint(snapshot_path(out_dir, epoch + 1), shipped_checkpoint(ck, history))
            save_checkpoint(out_dir / "last.pt", ck)
            if is_best:
                save_checkpoint(out_dir / "best.pt", ck)
            print(
                " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
                flush=True,
            )
        if world > 1:
            dist.barrier()
    if writer is not None:
        writer.close()
    if world > 1:
        dist.destroy_process_group()
    return row


# ---------------------------------------------------------------- export


SHIPPED_KEYS = (
    "format",
    "format_version",
    "arch",
    "model_args",
    "model",
    "class_names",
    "mean",
    "std",
    "metadata",
    "ood",
    "input_size",
)


def snapshot_path(out_dir: str | os.PathLike, epoch: int) -> Path:
    """Where the snapshot of ``epoch`` (a ``snapshot_epochs`` entry) is saved in a run folder."""
    return Path(out_dir) / f"snapshot_e{epoch:03d}.pt"


def shipped_checkpoint(ck: dict, history: list[dict], source: str | None = None) -> dict:
    """A training checkpoint without optimizer/scheduler/RNG state, its history in the metadata."""
    out = {k: ck[k] for k in SHIPPED_KEYS if k in ck}
    meta = dict(out.get("metadata") or {})
    meta["best_test_acc"] = ck.get("best")
    meta["checkpoint_epoch"] = ck.get("epoch")
    meta["history"] = list(history)
    if source is not None:
        meta["exported_from"] = source
    out["metadata"] = meta
    return out


def export(src: str | os.PathLike, dst: str | os.PathLike) -> dict:
    """Write a shipped checkpoint (no optimizer/scheduler/RNG state) from a training checkpoint."""
    ck = torch.load(src, map_location="cpu", weights_only=True)
    history = ck.get("metrics", [])
    last = Path(src).with_name("last.pt")  # the run's full history so far, when exporting best.pt
    if last.is_file() and last.resolve() != Path(src).resolve():
        history = torch.load(last, map_location="cpu", weights_only=True).get("metrics", history)
    out = shipped_checkpoint(ck, history, source=str(src))
    save_checkpoint(dst, out)
    return out


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """Command line: train from a config, or ``export SRC DST``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "export":
        p = argparse.ArgumentParser(prog="python -m meshcnn_core.train export")
        p.add_argument("src")
        p.add_argument("dst")
        a = p.parse_args(argv[1:])
        try:
            export(a.src, a.dst)
        except (OSError, RuntimeError, KeyError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {a.dst}")
        return 0
    p = argparse.ArgumentParser(prog="python -m meshcnn_core.train", description=__doc__.split("\n")[0])
    p.add_argument("config")
    p.add_argument("--resume", action="store_true", help="continue from <out_dir>/last.pt")
    p.add_argument("--epochs", type=int, help="stop after this epoch (the lr schedule is unchanged)")
    p.add_argument("--niter", type=int, help="override the constant-lr epochs")
    p.add_argument("--niter-decay", type=int, help="override the decay epochs")
    p.add_argument("--data", help="override the data folder")
    p.add_argument("--out-dir", help="override the run folder")
    p.add_argument("--cache-dir", help="where augmented copies are cached")
    p.add_argument("--threads", type=int, help="torch threads (0: all cores)")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    try:
        cfg = load_config(
            a.config,
            niter=a.niter,
            niter_decay=a.niter_decay,
            data=a.data,
            out_dir=a.out_dir,
            cache_dir=a.cache_dir,
            threads=a.threads,
        )
        if a.resume and (Path(cfg.out_dir) / "config.json").is_file():
            saved = json.loads((Path(cfg.out_dir) / "config.json").read_text())
            for k in ("niter", "niter_decay"):  # resume keeps the run's schedule unless overridden
                if getattr(a, k) is None:
                    setattr(cfg, k, saved[k])
        train(cfg, resume=a.resume, stop_epoch=a.epochs, progress=not a.no_progress)
    except (MeshCNNError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
