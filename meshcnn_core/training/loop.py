"""The training loop: one run from its config (or from its ``last.pt``) to its last epoch."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ..checkpoint import build_model, checkpoint_dict, save_checkpoint
from ..data.augment import AugmentConfig
from ..data.datasets import MeshDataset, check_labels, compute_mean_std, default_cache_dir, scan_dataset
from ..device import pick_device
from ..mesh.size import input_size_of_files
from .config import TrainConfig, lr_lambda, model_config, run_names
from .distributed import all_reduce_sum, is_main, per_process_batch, setup_distributed
from .run_files import (
    append_metrics,
    load_resume,
    load_warm_start,
    rng_state,
    set_rng_state,
    shipped_checkpoint,
    snapshot_path,
    tensorboard_writer,
)
from .steps import evaluate_split, keep_freed_memory, loss_and_correct, make_loader

__all__ = ["train"]


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
    class_names = run_names(cfg, info.task, info.class_names)
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
            if info.task == "segmentation":  # the .eseg values behind the (possibly named) parts
                meta["label_values"] = list(info.class_names)
            is_best = row["test_acc"] > best
            best = max(best, row["test_acc"])
            ck = checkpoint_dict(
                net,
                mcfg,
                class_names,
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
