"""Device choice: CUDA when available, else CPU, overridable by argument or ``MESHCNN_DEVICE``."""

from __future__ import annotations

import os

import torch

__all__ = ["pick_device"]


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on.

    Args:
        device: ``"cuda"``, ``"cuda:1"``, ``"cpu"``... or None for the ``MESHCNN_DEVICE``
            environment variable, else CUDA when available, else CPU.

    Raises:
        ValueError: CUDA was asked for but is not available.
    """
    choice = device if device is not None else os.environ.get("MESHCNN_DEVICE") or None
    if choice is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(choice)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {choice!r} asked for, but CUDA is not available on this machine; use 'cpu'")
    return dev
