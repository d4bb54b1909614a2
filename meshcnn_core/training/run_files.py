"""What a run writes and reads back: checked checkpoints, RNG state, metrics, the shipped form."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import save_checkpoint
from ..nn.classifier import ClassifierConfig
from ..nn.segmenter import SegmenterConfig
from ..recording import label_values

__all__ = [
    "load_warm_start",
    "load_resume",
    "rng_state",
    "set_rng_state",
    "append_metrics",
    "tensorboard_writer",
    "SHIPPED_KEYS",
    "snapshot_path",
    "shipped_checkpoint",
    "export",
]


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
    """Raise a one-line ValueError unless checkpoint ``ck`` has the run's network config and classes.

    ``class_names`` are the data set's: a classifier's class folders, a segmenter's label values. A
    classifier's class names must equal them; a segmenter's label values must (its part names, if
    ``part_names`` gave it some, may be anything).
    """
    args = asdict(mcfg)
    args["ncf"], args["pool_res"] = list(args["ncf"]), list(args["pool_res"])
    if ck.get("model_args") != args:
        raise ValueError(
            f"{what}: {name} was trained with another network config "
            f"({ck.get('model_args')}); this run's is {args}"
        )
    theirs = [str(c) for c in ck.get("class_names", [])]
    if isinstance(mcfg, SegmenterConfig):
        theirs = label_values(ck.get("metadata") or {}, theirs, "segmentation")
    if theirs != [str(c) for c in class_names]:
        kind = "part label values" if isinstance(mcfg, SegmenterConfig) else "classes"
        raise ValueError(f"{what}: {name} has {kind} {theirs}, the data set {list(class_names)}")


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


def rename_parts(ck: dict, names: list[str]) -> dict:
    """``ck`` with its segmenter's parts renamed (one name per part, in order); the weights untouched.

    Raises:
        ValueError: not a segmenter, or not one name per part.
    """
    old = [str(c) for c in ck.get("class_names", [])]
    if ck.get("arch") != "meshunet":
        raise ValueError("part names are for segmenters; a classifier's classes are its class folders")
    names = [n.strip() for n in names]
    if len(names) != len(old) or not all(names) or len(set(names)) != len(names):
        raise ValueError(
            f"{len(names)} part names for a segmenter with {len(old)} parts ({', '.join(old)}): "
            "give one distinct, non-empty name per part, in order"
        )
    meta = dict(ck.get("metadata") or {})
    meta.setdefault("label_values", old)  # what the parts were called in the .eseg files
    return {**ck, "class_names": names, "metadata": meta}


def export(src: str | os.PathLike, dst: str | os.PathLike, part_names: list[str] | None = None) -> dict:
    """Write a shipped checkpoint (no optimizer/scheduler/RNG state) from a training checkpoint.

    ``src`` may also be a shipped checkpoint (then only ``part_names`` change). ``part_names``
    renames a segmenter's parts (see :func:`rename_parts`).
    """
    ck = _load_checkpoint(Path(src), "export")
    if "model" not in ck:
        raise ValueError(f"export: {src} is not a checkpoint (no weights)")
    if "metrics" not in ck:  # already shipped: keep its history and metadata as they are
        out = {k: ck[k] for k in SHIPPED_KEYS if k in ck}
    else:
        history = ck.get("metrics", [])
        last = Path(src).with_name("last.pt")  # the run's full history so far, when exporting best.pt
        if last.is_file() and last.resolve() != Path(src).resolve():
            history = _load_checkpoint(last, "export").get("metrics", history)
        out = shipped_checkpoint(ck, history, source=str(src))
    if part_names is not None:
        out = rename_parts(out, part_names)
    save_checkpoint(dst, out)
    return out
