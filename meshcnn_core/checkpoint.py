"""Self-describing checkpoints: one file that rebuilds a working model on its own.

Format (a ``torch.save`` dict, loadable with ``weights_only=True``)::

    {
      "format": "meshcnn-explorer-checkpoint", "format_version": 1,
      "model_args": {...config fields...}, "arch": "mconvnet" | "meshunet",
      "model": state_dict, "class_names": [...], "mean": [5 floats], "std": [5 floats],
      "metadata": {...training facts: dataset, epochs, metrics, source...},
      "ood": {...optional out-of-distribution statistics, see meshcnn_core.analysis.ood...},
      "input_size": {"low", "median", "high", "meshes"}  # optional: training meshes' diagonals
      # training checkpoints only: "optimizer", "scheduler", "epoch", "metrics", "rng"
    }
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .analysis.ood import OodStats, stats_from_checkpoint
from .device import pick_device
from .errors import CheckpointError
from .mesh.size import InputSize
from .nn.classifier import ClassifierConfig, MeshClassifier
from .nn.segmenter import MeshSegmenter, SegmenterConfig
from .recording import label_values

__all__ = [
    "LoadedModel",
    "build_model",
    "save_checkpoint",
    "load_model",
    "checkpoint_dict",
    "FORMAT",
    "FORMAT_VERSION",
]

FORMAT = "meshcnn-explorer-checkpoint"
FORMAT_VERSION = 1
MAX_CHECKPOINT_BYTES = 1024 * 1024 * 1024


@dataclass
class LoadedModel:
    """A network ready for inference, with everything needed to feed it.

    Attributes:
        net: the network, in eval mode, on ``device``. Treat as read-only (it may be shared).
        config: its config.
        class_names: names of the output classes (or parts).
        mean, std: ``(5,)`` float64 input normalization.
        device: where ``net`` lives.
        metadata: training facts stored in the checkpoint.
        name: a display name.
        ood: out-of-distribution statistics (checkpoint key ``"ood"``, see :mod:`.ood`), if stored.
        input_size: the bounding-box diagonals of its training meshes (checkpoint key ``"input_size"``,
            see :mod:`meshcnn_core.mesh.size`), if stored: MeshCNN's features depend on a mesh's size.
    """

    net: torch.nn.Module
    config: ClassifierConfig | SegmenterConfig
    class_names: list[str]
    mean: np.ndarray
    std: np.ndarray
    device: torch.device
    metadata: dict[str, Any] = field(default_factory=dict)
    name: str = "model"
    ood: OodStats | None = None
    input_size: InputSize | None = None

    @property
    def task(self) -> str:
        """``"classification"`` or ``"segmentation"``."""
        return "classification" if isinstance(self.config, ClassifierConfig) else "segmentation"

    @property
    def label_values(self) -> list[str]:
        """The label value (as in ``.eseg`` files) of each output class, as strings.

        A segmenter whose parts were named (``part_names``) keeps its data set's label values in
        ``metadata["label_values"]``; otherwise its class names are the values. A classifier's are
        its class names.
        """
        return label_values(self.metadata, self.class_names, self.task)



def build_model(config: ClassifierConfig | SegmenterConfig) -> torch.nn.Module:
    """A freshly initialized network for a config (MeshCNN's init: N(0, 0.02) weights)."""
    net = MeshClassifier(config) if isinstance(config, ClassifierConfig) else MeshSegmenter(config)
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                torch.nn.init.zeros_(m.bias)
        elif isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.normal_(m.weight, 1.0, 0.02)
            torch.nn.init.zeros_(m.bias)
    return net


def _config_from_dict(arch: str, args: dict) -> ClassifierConfig | SegmenterConfig:
    cls = {"mconvnet": ClassifierConfig, "meshunet": SegmenterConfig}.get(arch)
    if cls is None:
        raise CheckpointError(f"unknown architecture {arch!r} (expected mconvnet or meshunet)")
    try:
        return cls(**args)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"the checkpoint's model_args do not describe a valid {arch}: {exc}") from None


def checkpoint_dict(
    net: torch.nn.Module,
    config: ClassifierConfig | SegmenterConfig,
    class_names: list[str],
    mean: np.ndarray,
    std: np.ndarray,
    metadata: dict | None = None,
    **extra: Any,
) -> dict:
    """The checkpoint dict for a network (``extra`` adds e.g. optimizer state for resuming)."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    args = asdict(config)
    args["ncf"] = list(args["ncf"])
    args["pool_res"] = list(args["pool_res"])
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": config.arch,
        "model_args": args,
        "model": state,
        "class_names": [str(c) for c in class_names],
        "mean": [float(v) for v in np.asarray(mean).reshape(-1)],
        "std": [float(v) for v in np.asarray(std).reshape(-1)],
        "metadata": dict(metadata or {}),
        **extra,
    }


def save_checkpoint(path: str | os.PathLike, ckpt: dict) -> None:
    """Write atomically (a crash mid-write never leaves a truncated checkpoint behind)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)


NOT_OURS = (
    "not a MeshCNN Explorer checkpoint. Accepted: .pt files written by this program (training, "
    "ood-stats), or the original MeshCNN's weights converted with 'python -m meshcnn_core import-reference'"
)


def _load_failure(exc: BaseException) -> str:
    """What went wrong in a safe ``torch.load``, in our words (torch's text is never passed on)."""
    if "Unsupported global" in str(exc):
        return "it holds pickled Python objects besides tensors, refused because loading them could run code"
    return (
        "it could not be read safely (truncated or corrupt, not a PyTorch file, or holding pickled "
        "objects, which are refused)"
    )


def _read(path: Path, shown: str | None = None) -> dict:
    """The checkpoint dict of ``path``; messages name it ``shown`` (default: the file's name)."""
    label = shown or path.name
    if not path.is_file():
        raise CheckpointError(f"{shown or path}: no such checkpoint file")
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(
            f"{label}: larger than {MAX_CHECKPOINT_BYTES // 2**20} MiB; not a MeshCNN checkpoint"
        )
    if path.stat().st_size == 0:
        raise CheckpointError(f"{label}: the file is empty; {NOT_OURS}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types; its own text may advise unsafe loading: never shown
        raise CheckpointError(f"{label}: {_load_failure(exc)}; {NOT_OURS}") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{label}: it holds a {type(ckpt).__name__}, not a dict; {NOT_OURS}")
    if ckpt.get("format") != FORMAT:
        if all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            raise CheckpointError(
                f"{label}: a bare state_dict (an original MeshCNN checkpoint?); convert it with "
                "'python -m meshcnn_core import-reference --weights ... --opt opt.txt "
                "--mean-std mean_std_cache.p'"
            )
        raise CheckpointError(f"{label}: no format tag; {NOT_OURS}")
    if int(ckpt.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{label}: format version {ckpt.get('format_version')} is newer than this program"
        )
    for key in ("arch", "model_args", "model", "class_names", "mean", "std"):
        if key not in ckpt:
            raise CheckpointError(f"{label}: the checkpoint lacks {key!r}")
    return ckpt


def model_from_checkpoint(
    ckpt: dict, device: str | torch.device | None = None, name: str = "model"
) -> LoadedModel:
    """Rebuild a :class:`LoadedModel` from a checkpoint dict."""
    config = _config_from_dict(ckpt["arch"], dict(ckpt["model_args"]))
    net = build_model(config)
    try:
        net.load_state_dict(ckpt["model"], strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0][:300]
        raise CheckpointError(f"{name}: the weights do not fit the stored model config ({first})") from None
    class_names = [str(c) for c in ckpt["class_names"]]
    if len(class_names) != config.nclasses:
        raise CheckpointError(f"{name}: {len(class_names)} class names for {config.nclasses} classes")
    mean = np.asarray(ckpt["mean"], dtype=np.float64).reshape(-1)
    std = np.asarray(ckpt["std"], dtype=np.float64).reshape(-1)
    if mean.shape != (config.input_nc,) or std.shape != (config.input_nc,) or not (std > 0).all():
        raise CheckpointError(f"{name}: the input mean/std must be {config.input_nc} numbers, std > 0")
    try:
        ood = stats_from_checkpoint(ckpt.get("ood"))
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{name}: its out-of-distribution statistics are malformed ({exc})") from None
    try:
        size = InputSize.from_dict(ckpt.get("input_size"))
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise CheckpointError(f"{name}: its input_size entry is malformed ({exc})") from None
    dev = pick_device(device)
    net = net.to(dev).eval()
    meta = dict(ckpt.get("metadata") or {})
    return LoadedModel(net, config, class_names, mean, std, dev, meta, name, ood, size)


def load_model(
    path: str | os.PathLike, device: str | torch.device | None = None, *, shown: str | None = None
) -> LoadedModel:
    """Load a checkpoint file into a ready-to-use model.

    ``shown`` names the file in messages and is the model's name (default: the file's name / stem),
    e.g. ``"the uploaded checkpoint"`` for a file the app wrote to a temporary folder.

    Raises:
        CheckpointError: the file is missing, corrupt, untrusted, or of another format.
    """
    p = Path(path)
    return model_from_checkpoint(_read(p, shown), device, name=shown or p.stem)


__all__.append("model_from_checkpoint")
