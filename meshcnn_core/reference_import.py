"""Convert checkpoints of the original MeshCNN code into our self-describing format.

The original saves a bare ``state_dict`` (``latest_net.pth``) and writes its options to
``opt.txt`` and the input normalization to ``mean_std_cache.p`` (a pickle of numpy arrays). We
read the options as text, the statistics with a restricted unpickler that only rebuilds numpy
arrays, and the weights with ``torch.load(weights_only=True)``; module names are mapped to ours.
"""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path

import numpy as np
import torch

from .errors import CheckpointError
from .nn.classifier import ClassifierConfig
from .nn.segmenter import SegmenterConfig

__all__ = [
    "parse_opt_txt",
    "read_mean_std",
    "map_reference_state_dict",
    "config_from_opt",
    "read_reference_weights",
]


def parse_opt_txt(text: str) -> dict[str, str]:
    """``key: value`` lines of the original's ``opt.txt`` as a dict of strings."""
    opts: dict[str, str] = {}
    for line in text.splitlines():
        if ":" not in line or line.strip().startswith("-"):
            continue
        key, _, value = line.partition(":")
        opts[key.strip()] = value.strip()
    if not opts:
        raise CheckpointError("opt.txt holds no options (expected lines like 'ncf: [64, 128, 256, 256]')")
    return opts


def _int_list(value: str, key: str) -> tuple[int, ...]:
    nums = re.findall(r"-?\d+", value)
    if not nums:
        raise CheckpointError(f"opt.txt: option {key!r} has no integers: {value!r}")
    return tuple(int(n) for n in nums)


def config_from_opt(opts: dict[str, str], nclasses: int) -> ClassifierConfig | SegmenterConfig:
    """Build our config from the original's options."""
    try:
        arch = opts.get("arch", "mconvnet")
        ncf = _int_list(opts["ncf"], "ncf")
        pool_res = _int_list(opts["pool_res"], "pool_res")
        ninput = int(opts["ninput_edges"])
        resblocks = int(opts.get("resblocks", "0"))
        if arch == "mconvnet":
            return ClassifierConfig(
                nclasses=nclasses,
                ncf=ncf,
                pool_res=pool_res,
                ninput_edges=ninput,
                norm=opts.get("norm", "batch"),
                num_groups=int(opts.get("num_groups", "16")),
                resblocks=resblocks,
                fc_n=int(opts.get("fc_n", "100")),
            )
        if arch == "meshunet":
            return SegmenterConfig(
                nclasses=nclasses, ncf=ncf, pool_res=pool_res, ninput_edges=ninput, resblocks=resblocks
            )
    except KeyError as exc:
        raise CheckpointError(f"opt.txt lacks the option {exc.args[0]!r}") from None
    except ValueError as exc:
        raise CheckpointError(f"opt.txt: {exc}") from None
    raise CheckpointError(f"opt.txt: unknown arch {arch!r} (expected mconvnet or meshunet)")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("builtins", "int"),
        ("builtins", "float"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_mean_std(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std ``(5,)`` from the original's ``mean_std_cache.p`` (numpy arrays only)."""
    try:
        d = _NumpyOnlyUnpickler(io.BytesIO(data)).load()
        mean = np.asarray(d["mean"], dtype=np.float64).reshape(-1)
        std = np.asarray(d["std"], dtype=np.float64).reshape(-1)
    except Exception as exc:
        raise CheckpointError(f"mean_std_cache.p could not be read safely ({exc})") from None
    if mean.shape != std.shape or mean.size == 0:
        raise CheckpointError("mean_std_cache.p: mean and std must be vectors of the same length")
    return mean, std


_RULES = [
    # classifier
    (r"^conv(\d+)\.conv0\.", lambda m: f"blocks.{m[1]}.conv0."),
    (r"^conv(\d+)\.bn(\d+)\.", lambda m: f"blocks.{m[1]}.bns.{int(m[2]) - 1}."),
    (r"^conv(\d+)\.conv(\d+)\.", lambda m: f"blocks.{m[1]}.convs.{int(m[2]) - 1}."),
    (r"^norm(\d+)\.", lambda m: f"norms.{m[1]}."),
    # segmenter
    (r"^encoder\.convs\.(\d+)\.conv1\.", lambda m: f"down.{m[1]}.conv1."),
    (r"^encoder\.convs\.(\d+)\.conv2\.(\d+)\.", lambda m: f"down.{m[1]}.convs.{m[2]}."),
    (r"^decoder\.up_convs\.(\d+)\.(up_conv|conv1)\.", lambda m: f"up.{m[1]}.{m[2]}."),
    (r"^decoder\.up_convs\.(\d+)\.conv2\.(\d+)\.", lambda m: f"up.{m[1]}.convs.{m[2]}."),
    (r"^decoder\.final_conv\.(up_conv|conv1)\.", lambda m: f"final.{m[1]}."),
    (r"^decoder\.final_conv\.conv2\.(\d+)\.", lambda m: f"final.convs.{m[1]}."),
]


def map_reference_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the original's parameter names to ours (``module.`` prefixes dropped)."""
    out = {}
    for key, value in state.items():
        k = key[len("module.") :] if key.startswith("module.") else key
        for pattern, repl in _RULES:
            m = re.match(pattern, k)
            if m:
                k = repl(m) + k[m.end() :]
                break
        out[k] = value
    return out


def read_reference_weights(path: Path) -> dict[str, torch.Tensor]:
    """The original's bare state_dict, loaded without running pickled code."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path.name}: not a loadable weights file ({type(exc).__name__}); it may be truncated, or hold "
            "pickled code, which is refused"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path.name}: expected a state_dict of tensors (MeshCNN's latest_net.pth)")
    return state
