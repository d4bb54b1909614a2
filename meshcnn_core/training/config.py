"""A training run's config: the JSON file's keys as a typed dataclass, and MeshCNN's lr schedule."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..nn.classifier import ClassifierConfig
from ..nn.segmenter import SegmenterConfig

__all__ = ["TrainConfig", "load_config", "lr_lambda", "model_config", "run_names"]


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
    part_names: list[str] | None = None  # segmentation: a name per label value, in order (see run_names)

    def __post_init__(self) -> None:
        snaps = self.snapshot_epochs
        numbers = isinstance(snaps, list) and all(type(e) is int for e in snaps)  # not bool, not float
        if not numbers:
            raise ValueError(f"snapshot_epochs must be a list of epoch numbers, got {snaps!r}")
        names = self.part_names
        if names is not None and not (
            isinstance(names, list) and names and all(isinstance(n, str) and n.strip() for n in names)
        ):
            raise ValueError(f"part_names must be a list of non-empty names, one per label value: {names!r}")
        if names is not None and len({n.strip() for n in names}) != len(names):
            raise ValueError(f"part_names must be distinct, got {names!r}")

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


def run_names(cfg: TrainConfig, task: str, data_names: list[str]) -> list[str]:
    """The class names a run stores in its checkpoints.

    A classifier's classes are the data set's class folders. A segmenter's "classes" are label values
    (``1``, ``2``, ...); ``part_names`` names them, in the order of the values, for everything that
    shows a prediction.

    Raises:
        ValueError: ``part_names`` on a classification data set, or not one name per label value.
    """
    if cfg.part_names is None:
        return list(data_names)
    if task != "segmentation":
        raise ValueError(
            "part_names names a segmentation data set's label values; a classifier's classes are its "
            "class folders: drop part_names from the config"
        )
    if len(cfg.part_names) != len(data_names):
        raise ValueError(
            f"part_names has {len(cfg.part_names)} names but the data set has {len(data_names)} label "
            f"values ({', '.join(data_names)}): give one name per label value, in order"
        )
    return [n.strip() for n in cfg.part_names]


def lr_lambda(niter: int, niter_decay: int):
    """MeshCNN's "lambda" policy (epoch_count 1): factor of the base lr after ``epoch`` steps."""
    return lambda epoch: 1.0 - max(0, epoch + 1 - niter) / float(niter_decay + 1)


def model_config(task: str, nclasses: int, model: dict) -> ClassifierConfig | SegmenterConfig:
    """The network config for a task from the config's ``model`` section."""
    cls = ClassifierConfig if task == "classification" else SegmenterConfig
    return cls(nclasses=nclasses, **model)
