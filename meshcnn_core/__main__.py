"""Command line: ``python -m meshcnn_core {record,repair,import-reference,survey,ood-stats,input-size} ...``.

Errors in the user's files print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .errors import MeshCNNError, MeshError

__all__ = ["main", "console"]


def _cmd_record(args: argparse.Namespace) -> int:
    from .checkpoint import load_model
    from .inference import record
    from .mesh.check import check_mesh, require_size
    from .mesh.io import load_mesh
    from .mesh.repair import preflight_for_model
    from .mesh.size import fit_size

    model = load_model(args.model, device=args.device)
    mesh = load_mesh(args.mesh, triangulate=args.repair)
    if args.repair:
        fixed = preflight_for_model(mesh, model, fill_holes=args.fill_holes)
        for line in (*mesh.notes, *fixed.actions):
            print(f"repair: {line}")
        mesh = fixed.mesh
    else:
        # cheap size refusal only: everything the original code can process (open meshes, faces it
        # drops as non-manifold, inconsistent winding) is processed as it would be, for faithfulness;
        # only a mesh far from the training meshes' size is scaled (MeshCNN's features depend on it)
        require_size(mesh, max_edges=model.config.ninput_edges)
        mesh, scaled = fit_size(mesh, model.input_size)
        if scaled:
            print(f"size: {scaled}")
    t0 = time.perf_counter()
    try:
        rec = record(model, mesh)
    except MeshError as exc:
        problems = [] if args.repair else check_mesh(mesh).problems
        if not problems:
            raise
        raise MeshError(f"{exc}. Other problems: {'; '.join(problems)}") from None
    ms = (time.perf_counter() - t0) * 1000
    if args.out:
        rec.save(args.out)
    print(f"model {model.name} ({model.task}, {model.device.type}); mesh {mesh.name}: {ms:.0f} ms")
    if rec.task == "classification":
        p = rec.probabilities
        top = np.argsort(-p)[:3]
        print("prediction: " + ", ".join(f"{rec.class_names[i]} {p[i]:.1%}" for i in top))
        print(_ood_line(model, rec))
    else:
        counts = np.bincount(rec.prediction, minlength=len(rec.class_names))
        print(
            "predicted parts (edges): " + ", ".join(f"{n}: {c}" for n, c in zip(rec.class_names, counts) if c)
        )
        print(_ood_line(model, rec))
    for st in rec.stages():
        print(f"  stage {st.index} {st.kind:6s} {st.num_edges:7d} edges  {st.features.shape[0]:4d} channels")
    if args.out:
        print(f"recording written to {args.out}")
    return 0


def _ood_line(model, rec) -> str:
    from .analysis.ood import assess_recording

    found = assess_recording(model.ood, rec)
    if found is None and model.task != "classification":
        return "out-of-distribution score: made for classifiers only (see the ood-stats command)"
    if found is None:
        return (
            "out-of-distribution score: not stored in this checkpoint "
            "(add it with python -m meshcnn_core ood-stats)"
        )
    return found.words()


def _cmd_ood_stats(args: argparse.Namespace) -> int:
    from .analysis.ood_stats import write_ood_checkpoint

    def progress(done: int, total: int) -> None:
        print(f"\rood-stats: {done}/{total} meshes", end="", file=sys.stderr, flush=True)

    res = write_ood_checkpoint(args.model, args.data, args.out, progress=progress)
    print("", file=sys.stderr)
    print(res.words())
    return 0


def _cmd_input_size(args: argparse.Namespace) -> int:
    from .checkpoint import _read, model_from_checkpoint, save_checkpoint
    from .data.datasets import scan_dataset
    from .mesh.size import input_size_of_files

    src, dst = Path(args.model), Path(args.out)
    if dst.suffix.lower() != ".pt":
        raise ValueError(f"{dst}: name the new checkpoint *.pt")
    if dst.resolve() == src.resolve():
        raise ValueError(f"{dst}: write to a new file, not over the checkpoint read")
    ckpt = _read(src)
    model_from_checkpoint(ckpt, device="cpu", name=src.stem)  # refuse a broken checkpoint first
    files = scan_dataset(args.data).files["train"]
    if not files:
        raise ValueError(f"{args.data}: no meshes in its train split")
    size = input_size_of_files(files)
    save_checkpoint(dst, {**ckpt, "input_size": size.to_dict()})
    groups = ""
    if size.groups:
        groups = " in " + str(len(size.groups)) + " groups: " + ", ".join(
            f"{g.low:.3g} .. {g.high:.3g} ({g.meshes})" for g in size.groups
        )
    print(
        f"wrote {dst}: training meshes' bounding-box diagonals {size.low:.3g} .. {size.high:.3g} "
        f"(median {size.median:.3g}, {size.meshes} meshes){groups}; the weights are unchanged"
    )
    return 0


def _cmd_repair(args: argparse.Namespace) -> int:
    from .checkpoint import load_model
    from .mesh.io import load_mesh, write_obj
    from .mesh.repair import preflight, preflight_for_model

    if args.edges is not None and args.model:
        raise ValueError("pass --edges or --model, not both")
    out = Path(args.out)
    if out.suffix.lower() != ".obj":
        raise ValueError(f"{out}: the repaired mesh is written as OBJ; name it *.obj")
    mesh = load_mesh(args.mesh, triangulate=True)
    component = "refuse" if args.refuse_pieces else "largest"
    if args.model:
        fixed = preflight_for_model(
            mesh, load_model(args.model, device="cpu"), component=component, fill_holes=args.fill_holes
        )
    else:
        if args.edges is not None and args.edges < 6:
            raise ValueError("--edges must be at least 6 (the smallest closed mesh)")
        fixed = preflight(mesh, target_edges=args.edges, component=component, fill_holes=args.fill_holes)
    for line in (*mesh.notes, *fixed.actions):
        print(line)
    write_obj(out, fixed.mesh)
    print(
        f"wrote {out}: {len(fixed.mesh.vertices)} vertices, {len(fixed.mesh.faces)} faces, "
        f"{fixed.num_edges} edges"
    )
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
        raise CheckpointError(
            "the original's opt.txt is needed to know the architecture: pass --opt path/to/opt.txt"
        )
    if not args.mean_std or not Path(args.mean_std).is_file():
        raise CheckpointError(
            "the original's mean_std_cache.p is needed for input normalization: pass --mean-std"
        )
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
    meta = {
        "source": "imported from the original MeshCNN code",
        "weights": weights.name,
        "dataroot": opts.get("dataroot", ""),
        "name": opts.get("name", ""),
    }
    ckpt = checkpoint_dict(_StateOnly(state), config, names, mean, std, meta)
    model_from_checkpoint(ckpt, device="cpu", name=Path(args.out).stem)  # validates shapes and keys
    save_checkpoint(args.out, ckpt)
    print(
        f"wrote {args.out}: {config.arch}, {len(names)} classes, ncf {list(config.ncf)}, pool_res "
        f"{list(config.pool_res)}"
    )
    return 0


class _StateOnly:
    """Adapter so that checkpoint_dict can take a plain state_dict."""

    def __init__(self, state: dict) -> None:
        self._state = state

    def state_dict(self) -> dict:
        return self._state


def _cmd_survey(args: argparse.Namespace) -> int:
    import hashlib
    import json

    from .analysis.survey import report_regions_text, report_table_csv
    from .analysis.survey_run import survey
    from .checkpoint import load_model
    from .data.datasets import default_cache_dir

    model = load_model(args.model, device=args.device)
    cache = None
    if not args.no_cache:
        key = f"{Path(args.data).resolve()}|{args.split}|{Path(args.model).resolve()}"
        name = hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
        cache = Path(args.cache) if args.cache else default_cache_dir() / "survey" / f"{name}.jsonl"

    def progress(done: int, total: int, file: str) -> None:
        print(f"\rsurvey: {done}/{total} {file}"[:100].ljust(100), end="", file=sys.stderr, flush=True)

    report = survey(model, args.data, split=args.split, cache=cache, progress=progress)
    print(file=sys.stderr)
    Path(args.out).write_text(json.dumps(report.to_dict()) + "\n", encoding="utf-8")
    if args.csv:
        Path(args.csv).write_text(report_table_csv(report), encoding="utf-8")
    ok = len(report.meshes) - len(report.errors)
    print(
        f"wrote {args.out}: {ok} meshes, accuracy {100 * report.accuracy:.2f}%"
        + (f", {len(report.errors)} could not be run (listed in the report)" if report.errors else "")
    )
    print(report_regions_text(report), end="")
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: list[str] | None = None, prog: str = "python -m meshcnn_core") -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog=prog, description="MeshCNN Explorer core tools")
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="run a model on a mesh and record every pooling stage")
    r.add_argument("--model", required=True, help="checkpoint (.pt)")
    r.add_argument("--mesh", required=True, help="mesh file (.obj, .ply, .stl, .off)")
    r.add_argument("--out", help="recording to write (.npz)")
    r.add_argument("--device", default=None, help="cpu, cuda (default: cuda if available)")
    r.add_argument(
        "--repair",
        action="store_true",
        help="repair and simplify the mesh for the model first (prints what was done)",
    )
    r.add_argument(
        "--fill-holes",
        dest="fill_holes",
        action="store_true",
        help="with --repair: close open borders (MeshFix hole filling) instead of keeping them",
    )
    p = sub.add_parser("repair", help="repair a mesh and simplify it for a model (writes OBJ)")
    p.add_argument("--mesh", required=True, help="mesh file (.obj, .ply, .stl, .off, .glb)")
    p.add_argument("--out", required=True, help="repaired mesh to write (.obj)")
    p.add_argument("--edges", type=int, default=None, help="simplify to at most this many edges")
    p.add_argument("--model", help="checkpoint whose input size and first pooling target to fit")
    p.add_argument(
        "--refuse-pieces",
        dest="refuse_pieces",
        action="store_true",
        help="refuse meshes in several pieces instead of keeping the largest",
    )
    p.add_argument(
        "--fill-holes",
        dest="fill_holes",
        action="store_true",
        help="close open borders (MeshFix hole filling) instead of keeping them",
    )
    o = sub.add_parser("ood-stats", help="store out-of-distribution statistics in a new checkpoint")
    o.add_argument("--model", required=True, help="checkpoint (.pt) to read")
    o.add_argument("--data", required=True, help="its data set, in MeshCNN's layout (train and test splits)")
    o.add_argument("--out", required=True, help="new checkpoint to write (.pt; must differ from --model)")
    z = sub.add_parser(
        "input-size", help="store the size of a model's training meshes in a new checkpoint"
    )
    z.add_argument("--model", required=True, help="checkpoint (.pt) to read")
    z.add_argument("--data", required=True, help="its data set (MeshCNN layout; train split)")
    z.add_argument("--out", required=True, help="new checkpoint to write (.pt; must differ from --model)")
    i = sub.add_parser("import-reference", help="convert a checkpoint of the original MeshCNN code")
    i.add_argument("--weights", required=True, help="latest_net.pth (a bare state_dict)")
    i.add_argument("--opt", help="the run's opt.txt")
    i.add_argument("--mean-std", dest="mean_std", help="the data set's mean_std_cache.p")
    i.add_argument("--classes", help="text file with one class name per line (default: 0..N-1)")
    i.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    s = sub.add_parser("survey", help="run a model over a data-set folder: what it keeps, per class or part")
    s.add_argument("--model", required=True, help="checkpoint (.pt)")
    s.add_argument("--data", required=True, help="a data-set folder in MeshCNN's layout")
    s.add_argument("--out", required=True, help="report to write (.json)")
    s.add_argument("--split", default="test", choices=("train", "test"))
    s.add_argument("--csv", help="also write the per-class / per-part table as CSV")
    s.add_argument("--cache", help="per-mesh results file, to resume (default: in the user cache folder)")
    s.add_argument("--no-cache", dest="no_cache", action="store_true", help="do not read or write a cache")
    s.add_argument("--device", default=None, help="cpu, cuda (default: cuda if available)")
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        # torch warns about the pickle protocol of files it then refuses; the refusal is the message
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
        return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
    try:
        return {
            "record": _cmd_record,
            "repair": _cmd_repair,
            "import-reference": _cmd_import,
            "survey": _cmd_survey,
            "ood-stats": _cmd_ood_stats,
            "input-size": _cmd_input_size,
        }[args.cmd](args)
    except MeshError as exc:
        hint = "" if getattr(args, "repair", True) or "repair" in str(exc) else " (try record --repair)"
        print(f"error: {_one_line(exc)}{hint}", file=sys.stderr)
        return 2
    except MeshCNNError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except ValueError as exc:  # e.g. CUDA asked for but absent
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. the output folder does not exist or is not writable
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory; the input is too large", file=sys.stderr)
        return 2


def console() -> None:
    """The ``meshcnn`` console script (same as ``python -m meshcnn_core``)."""
    sys.exit(main(prog="meshcnn"))


if __name__ == "__main__":
    sys.exit(main())
