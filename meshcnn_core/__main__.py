"""Command line: ``python -m meshcnn_core {record,import-reference} ...``.

Errors in the user's files print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .errors import MeshCNNError

__all__ = ["main"]


def _cmd_record(args: argparse.Namespace) -> int:
    from .checkpoint import load_model
    from .inference import record
    from .mesh_io import load_mesh

    model = load_model(args.model, device=args.device)
    mesh = load_mesh(args.mesh)
    t0 = time.perf_counter()
    rec = record(model, mesh)
    ms = (time.perf_counter() - t0) * 1000
    if args.out:
        rec.save(args.out)
    print(f"model {model.name} ({model.task}, {model.device.type}); mesh {mesh.name}: {ms:.0f} ms")
    if rec.task == "classification":
        p = rec.probabilities
        top = np.argsort(-p)[:3]
        print("prediction: " + ", ".join(f"{rec.class_names[i]} {p[i]:.1%}" for i in top))
    else:
        counts = np.bincount(rec.prediction, minlength=len(rec.class_names))
        print("predicted parts (edges): " + ", ".join(f"{n}: {c}" for n, c in zip(rec.class_names, counts) if c))
    for st in rec.stages():
        print(f"  stage {st.index} {st.kind:6s} {st.num_edges:7d} edges  {st.features.shape[0]:4d} channels")
    if args.out:
        print(f"recording written to {args.out}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from .checkpoint import checkpoint_dict, model_from_checkpoint, save_checkpoint
    from .errors import CheckpointError
    from .reference_import import (
        config_from_opt,
        map_reference_state_dict,
        parse_opt_txt,
        read_mean_std,
        read_reference_weights,
    )

    weights = Path(args.weights)
    if not args.opt or not Path(args.opt).is_file():
        raise CheckpointError("the original's opt.txt is needed to know the architecture: pass --opt path/to/opt.txt")
    if not args.mean_std or not Path(args.mean_std).is_file():
        raise CheckpointError("the original's mean_std_cache.p is needed for input normalization: pass --mean-std")
    if not weights.is_file():
        raise CheckpointError(f"{weights}: no such weights file")
    opts = parse_opt_txt(Path(args.opt).read_text(errors="replace"))
    state = map_reference_state_dict(read_reference_weights(weights))
    mean, std = read_mean_std(Path(args.mean_std).read_bytes())
    if args.classes:
        names = [ln.strip() for ln in Path(args.classes).read_text().splitlines() if ln.strip()]
    else:
        key = "fc2.weight" if "fc2.weight" in state else None
        if key is None:
            finals = [k for k in state if k.startswith("final.") and k.endswith("conv.weight")]
            key = sorted(finals)[-1] if finals else None
        if key is None:
            raise CheckpointError("cannot tell the number of classes from the weights; pass --classes FILE")
        names = [str(i) for i in range(state[key].shape[0])]
    config = config_from_opt(opts, nclasses=len(names))
    meta = {"source": "imported from the original MeshCNN code", "weights": weights.name,
            "dataroot": opts.get("dataroot", ""), "name": opts.get("name", "")}
    ckpt = checkpoint_dict(_StateOnly(state), config, names, mean, std, meta)
    model_from_checkpoint(ckpt, device="cpu", name=Path(args.out).stem)  # validates shapes and keys
    save_checkpoint(args.out, ckpt)
    print(f"wrote {args.out}: {config.arch}, {len(names)} classes, ncf {list(config.ncf)}, pool_res {list(config.pool_res)}")
    return 0


class _StateOnly:
    """Adapter so that checkpoint_dict can take a plain state_dict."""

    def __init__(self, state: dict) -> None:
        self._state = state

    def state_dict(self) -> dict:
        return self._state


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m meshcnn_core", description="MeshCNN Explorer core tools")
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="run a model on a mesh and record every pooling stage")
    r.add_argument("--model", required=True, help="checkpoint (.pt)")
    r.add_argument("--mesh", required=True, help="mesh file (.obj, .ply, .stl, .off)")
    r.add_argument("--out", help="recording to write (.npz)")
    r.add_argument("--device", default=None, help="cpu, cuda (default: cuda if available)")
    i = sub.add_parser("import-reference", help="convert a checkpoint of the original MeshCNN code")
    i.add_argument("--weights", required=True, help="latest_net.pth (a bare state_dict)")
    i.add_argument("--opt", help="the run's opt.txt")
    i.add_argument("--mean-std", dest="mean_std", help="the data set's mean_std_cache.p")
    i.add_argument("--classes", help="text file with one class name per line (default: 0..N-1)")
    i.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    args = parser.parse_args(argv)
    try:
        return _cmd_record(args) if args.cmd == "record" else _cmd_import(args)
    except MeshCNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # e.g. CUDA asked for but absent
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
