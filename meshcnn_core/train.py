"""Train a MeshCNN classifier or segmenter from a JSON config (MeshCNN's recipe).

Run::

    python -m meshcnn_core.train configs/shrec16.json            # runs/shrec16/
    python -m meshcnn_core.train configs/shrec16.json --resume   # continue exactly where it stopped
    python -m meshcnn_core.train configs/shrec16.json --epochs 5 # stop after epoch 5 (schedule unchanged)
    torchrun --nproc_per_node 2 -m meshcnn_core.train configs/shrec16.json   # DistributedDataParallel
    python -m meshcnn_core.train export runs/shrec16/best.pt checkpoints/shrec16_classifier.pt
    python -m meshcnn_core.train export runs/coseg_vases/best.pt OUT.pt --part-names neck,handle,body,base

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
     "snapshot_epochs": [1, 10, 50],   # also keep these epochs' weights, see below
     "part_names": ["neck", "handle", "body", "base"]}   # segmentation: names of the label values 1, 2, ...

``snapshot_epochs`` lists epochs whose weights are kept beside ``last.pt`` as
``snapshot_eNNN.pt``, in the shipped form (no optimizer state; opens in the app as it is), so
that a model can be compared with itself earlier in training.

``part_names`` (segmentation only) names the label values ``1, 2, ...`` in order; the checkpoints
store the names, so the app, ``record`` and ``evaluate`` show "head" rather than "1". A warm start
or resume needs a segmenter with as many parts, whatever they are called.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

from .errors import MeshCNNError
from .training.config import TrainConfig, load_config, lr_lambda, model_config
from .training.distributed import per_process_batch
from .training.loop import train
from .training.run_files import export, load_warm_start, shipped_checkpoint, snapshot_path
from .training.steps import keep_freed_memory, make_loader, seg_accuracy

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
    "make_loader",
    "model_config",
    "load_warm_start",
    "shipped_checkpoint",
    "snapshot_path",
]


def main(argv: list[str] | None = None) -> int:
    """Command line: train from a config, or ``export SRC DST``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "export":
        p = argparse.ArgumentParser(prog="python -m meshcnn_core.train export")
        p.add_argument("src")
        p.add_argument("dst")
        p.add_argument(
            "--part-names",
            help="a segmenter's part names, comma-separated, in the order of its label values "
            "(e.g. neck,handle,body,base); SRC may then also be a shipped checkpoint",
        )
        a = p.parse_args(argv[1:])
        names = a.part_names.split(",") if a.part_names is not None else None
        try:
            export(a.src, a.dst, part_names=names)
        except (OSError, RuntimeError, KeyError, ValueError, pickle.UnpicklingError) as exc:
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
