"""Training-step speed: step time, MeshConv GEMM FLOPs and rate, and where the rest of the time goes.

Run: ``python benchmarks/bench_train.py [--cases cls unet] [--steps 5] [--threads 1]``

A step is what training does per batch: zero_grad + forward + cross-entropy + backward + Adam, on
a batch already in memory (SHREC-16 classifier: 16 meshes of 750 edges; human-body U-Net: 12
meshes of 2280 slots; the meshes of ``../shared/datasets``, else generated tori). The table gives
the median step time, the GEMM FLOPs of a step (MeshConv's matrix products: forward, plus the
weight and input gradients), the achieved GEMM rate, and the share of the profiled step spent in
each part outside the GEMMs (forward and backward together; "gather" is MeshConv's symmetric
one-ring gather, "conv backward" its scatter of gradients back to the edges). "data loading" is
measured apart: loading and collating one batch from the augmentation cache, as a share of
step + loading (training prefetches it in a worker while the step runs).

Side by side: ``--compare NAME=DIR`` adds our code from another checkout (e.g. a ``git archive``
of HEAD), ``--original DIR`` adds the original MeshCNN (a checkout of ranahanocka/MeshCNN; numpy
>= 1.24 needs its ragged ``ve`` list saved as an object array; set ``H6_ORIG_CACHE`` to keep its
mesh cache outside the data set). Each runs in its own process and their steps are INTERLEAVED
(one step of each in turn, ``--rounds`` times) so that all see the same background load; the
table gives each one's median step time and the ratios.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
CASES = {
    "cls": dict(
        data="shrec_16",
        batch=16,
        model={
            "ncf": [64, 128, 256, 256],
            "pool_res": [600, 450, 300, 180],
            "ninput_edges": 750,
            "norm": "group",
            "num_groups": 16,
            "resblocks": 1,
            "fc_n": 100,
        },
    ),
    "unet": dict(
        data="human_seg",
        batch=12,
        model={
            "ncf": [32, 64, 128, 256],
            "pool_res": [1800, 1350, 600],
            "ninput_edges": 2280,
            "resblocks": 3,
        },
    ),
}
GEMM_OPS = {
    "aten::mm",
    "aten::addmm",
    "aten::bmm",
    "aten::baddbmm",
    "aten::mkldnn_convolution",
    "aten::_convolution",
    "aten::convolution",
    "aten::linear",
    "aten::matmul",
}
PARTS = (
    "gather",
    "conv backward",
    "pooling",
    "group averaging",
    "unpooling",
    "norms, activations, other",
    "optimizer",
)


# ---------------------------------------------------------------- our network, in-process


def _mesh_files(case: str) -> list[Path]:
    c = CASES[case]
    root = DATASETS / c["data"]
    files = sorted(root.glob("*/train/*.obj")) if case == "cls" else sorted((root / "train").glob("*.obj"))
    return [files[(i * 7) % len(files)] for i in range(c["batch"])]


def our_batch(case: str, cache_dir: Path):
    """``(net, optimizer, batch)`` for a case, with our code (whatever ``meshcnn_core`` imports)."""
    import torch

    from meshcnn_core.checkpoint import build_model
    from meshcnn_core.data.datasets import MeshDataset, collate, scan_dataset
    from meshcnn_core.train import model_config

    c = CASES[case]
    info = scan_dataset(DATASETS / c["data"])
    ds = MeshDataset(info, "train", cache_dir=cache_dir)
    pick = [ds.files.index(p) for p in _mesh_files(case)]
    samples = [ds[i] for i in pick]
    feats = np.concatenate([s.features for s in samples], axis=1)
    mean, std = feats.mean(1), feats.std(1)
    mcfg = model_config(info.task, info.nclasses, c["model"])
    torch.manual_seed(0)
    net = build_model(mcfg)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    return net, opt, collate(samples, mean, std, mcfg.ninput_edges), (ds, pick, mean, std, mcfg.ninput_edges)


def our_step(net, opt, batch) -> None:
    """One training step."""
    import torch.nn.functional as F

    opt.zero_grad(set_to_none=True)
    logits = net(batch.x, batch.topologies).logits
    F.cross_entropy(logits, batch.labels, ignore_index=-1).backward()
    opt.step()


def gemm_flops(net, batch) -> float:
    """MeshConv GEMM FLOPs of one training step: ``2 N K M`` forward, twice that backward (weights
    and inputs; the first conv's input needs no gradient)."""
    from meshcnn_core.nn.conv import MeshConv

    total = [0.0]

    def hook(mod, args, out):
        x = args[0]
        n = x.shape[0] * x.shape[2]
        f = 2.0 * n * 5 * mod.in_channels * mod.out_channels
        total[0] += f * (3 if x.requires_grad else 2)

    hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, MeshConv)]
    net(batch.x, batch.topologies)  # as in training: inputs need no gradient, parameters do
    for h in hooks:
        h.remove()
    return total[0]


def _labelled(fn, label: str):
    import torch

    def wrapper(*args, **kwargs):
        with torch.profiler.record_function(label):
            return fn(*args, **kwargs)

    return wrapper


def profile_parts(net, opt, batch) -> tuple[float, dict[str, float]]:
    """Profile one step. Returns ``(profiled seconds, {part: seconds})`` with ``"gemm"`` apart."""
    import torch

    import meshcnn_core.nn.classifier as cls_mod
    import meshcnn_core.nn.conv as conv_mod
    import meshcnn_core.nn.pool as pool_mod
    import meshcnn_core.nn.segmenter as seg_mod
    import meshcnn_core.nn.unpool as unpool_mod

    # python time inside a range (the pooling kernel, index building) counts for that range
    patches = [
        (conv_mod, "symmetric_features", "gather"),
        (cls_mod, "neighbour_index", "gather"),
        (seg_mod, "neighbour_index", "gather"),
        (pool_mod, "average_groups", "group averaging"),
        (unpool_mod, "unpool_features", "unpooling"),
    ]
    saved = [(m, name, getattr(m, name)) for m, name, _ in patches if hasattr(m, name)]
    for m, name, label in patches:
        if hasattr(m, name):
            setattr(m, name, _labelled(getattr(m, name), label))
    pool_hooks = []
    for mod in net.modules():
        if isinstance(mod, pool_mod.MeshPool):
            ctx: dict = {}
            pool_hooks.append(
                mod.register_forward_pre_hook(
                    lambda m, a, ctx=ctx: ctx.__setitem__(
                        "r", torch.profiler.record_function("pooling").__enter__()
                    )
                )
            )
            pool_hooks.append(
                mod.register_forward_hook(lambda m, a, o, ctx=ctx: ctx.pop("r").__exit__(None, None, None))
            )
    try:
        t0 = time.perf_counter()
        with (
            torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof,
            torch.profiler.record_function("step"),
        ):  # python time outside any op: "other"
            opt.zero_grad(set_to_none=True)
            logits = net(batch.x, batch.topologies).logits
            torch.nn.functional.cross_entropy(logits, batch.labels, ignore_index=-1).backward()
            with torch.profiler.record_function("optimizer"):
                opt.step()
        wall = time.perf_counter() - t0
    finally:
        for m, name, fn in saved:
            setattr(m, name, fn)
        for h in pool_hooks:
            h.remove()
    events = list(prof.events())
    labels = {"gather", "group averaging", "unpooling", "pooling", "optimizer"}

    def own_label(e) -> str | None:
        while e is not None:
            if e.name in labels:
                return e.name
            e = e.cpu_parent
        return None

    seq_label: dict[int, str] = {}
    for e in events:  # forward ops that created autograd nodes, by the range they ran in
        lab = own_label(e)
        if lab and e.sequence_nr >= 0:
            seq_label.setdefault(e.sequence_nr, lab)
    parts = dict.fromkeys(("gemm", *PARTS), 0.0)
    for e in events:
        if e.name in GEMM_OPS:
            parts["gemm"] += e.self_cpu_time_total / 1e6
            continue
        lab, a = own_label(e), e
        while lab is None and a is not None:  # backward: the node's forward range
            if a.name.startswith("autograd::engine::evaluate_function:"):
                if "_SymmetricGather" in a.name:
                    lab = "conv backward"
                else:
                    lab = seq_label.get(a.sequence_nr)
                break
            a = a.cpu_parent
        parts[lab or "norms, activations, other"] += e.self_cpu_time_total / 1e6
    return wall, parts


def run_ours(case: str, steps: int, cache_dir: Path) -> dict:
    """The table row of our code for one case."""
    import torch

    from meshcnn_core.data.datasets import collate

    _keep_freed_memory()
    net, opt, batch, (ds, pick, mean, std, ninput) = our_batch(case, cache_dir)
    our_step(net, opt, batch)  # warm-up (compilation, allocator)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        our_step(net, opt, batch)
        times.append(time.perf_counter() - t0)
    step = float(np.median(times))
    t0 = time.perf_counter()
    collate([ds[i] for i in pick], mean, std, ninput)
    load = time.perf_counter() - t0
    flops = gemm_flops(net, batch)
    wall, parts = profile_parts(net, opt, batch)
    total = sum(parts.values())
    gemm_s = parts["gemm"] / total * step  # the profiled share, scaled to the unprofiled step time
    return {
        "case": case,
        "threads": torch.get_num_threads(),
        "step_s": step,
        "gflop": flops / 1e9,
        "gemm_s": gemm_s,
        "gflops": flops / 1e9 / max(gemm_s, 1e-9),
        "shares": {k: v / total for k, v in parts.items()},
        "load_s": load,
        "load_share": load / (load + step),
    }


def print_table(rows: list[dict]) -> None:
    heads = [
        "case",
        "step s",
        "GEMM GFLOP",
        "GEMM s",
        "GFLOP/s",
        "GEMM %",
        *[f"{p} %" for p in PARTS],
        "data loading %",
    ]
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    for r in rows:
        cells = [
            r["case"],
            f"{r['step_s']:.3f}",
            f"{r['gflop']:.2f}",
            f"{r['gemm_s']:.3f}",
            f"{r['gflops']:.0f}",
            f"{100 * r['shares']['gemm']:.0f}",
            *[f"{100 * r['shares'][p]:.1f}" for p in PARTS],
            f"{100 * r['load_share']:.1f}",
        ]
        print("| " + " | ".join(cells) + " |")


# ---------------------------------------------------------------- side by side (worker processes)


def _keep_freed_memory() -> None:
    """What training does at start (when this checkout's ``train`` has it)."""
    import meshcnn_core.train as train_mod

    getattr(train_mod, "keep_freed_memory", lambda: None)()


def _worker_ours(case: str, cache_dir: Path):
    _keep_freed_memory()
    net, opt, batch, _ = our_batch(case, cache_dir)
    return lambda: None, lambda: our_step(net, opt, batch)


def _worker_original(case: str, root: Path):
    """The original MeshCNN's objects for the same meshes; a step gets fresh meshes (pooling mutates them)."""
    import torch

    sys.path.insert(0, str(root))
    from models import networks  # noqa: PLC0415  (the original's modules)
    from models.layers.mesh import Mesh  # noqa: PLC0415

    c = CASES[case]
    seg = case == "unet"
    m = c["model"]
    opt = argparse.Namespace(
        num_aug=1,
        norm=m.get("norm", "batch"),
        num_groups=m.get("num_groups", 16),
        pool_res=list(m["pool_res"]),
        fc_n=m.get("fc_n", 100),
        resblocks=m["resblocks"],
        dataset_mode="segmentation" if seg else "classification",
    )
    files = _mesh_files(case)
    meshes = [Mesh(file=str(f), opt=opt, hold_history=seg, export_folder="") for f in files]
    feats = [mesh.extract_features() for mesh in meshes]
    allf = np.concatenate(feats, axis=1)
    mean, std = allf.mean(1, keepdims=True), allf.std(1, keepdims=True)
    n = m["ninput_edges"]
    x = torch.from_numpy(
        np.stack([(np.pad(f, ((0, 0), (0, n - f.shape[1]))) - mean) / std for f in feats])
    ).float()
    if seg:
        from meshcnn_core.data.datasets import MeshDataset, scan_dataset

        info = scan_dataset(DATASETS / c["data"])
        ds = MeshDataset(info, "train")
        labels = torch.full((len(files), n), -1, dtype=torch.long)
        for b, f in enumerate(files):
            lab = ds[ds.files.index(f)].label
            labels[b, : len(lab)] = torch.from_numpy(lab)
        nclasses = info.nclasses
    else:
        labels = torch.arange(len(files)) % 30
        nclasses = 30
    torch.manual_seed(0)
    net = networks.define_classifier(
        5, list(m["ncf"]), n, nclasses, opt, [], "meshunet" if seg else "mconvnet", "normal", 0.02
    )
    net.train()
    adam = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.9, 0.999))
    crit = torch.nn.CrossEntropyLoss(ignore_index=-1) if seg else torch.nn.CrossEntropyLoss()
    state: dict = {}

    def prepare():
        state["meshes"] = np.array([copy.deepcopy(mesh) for mesh in meshes])
        state["x"] = x.clone().requires_grad_(True)  # as the original's set_input

    def step():
        adam.zero_grad()
        crit(net(state["x"], state["meshes"]), labels).backward()
        adam.step()

    return prepare, step


def worker_main(args) -> None:
    """Serve ``step`` lines on stdin: prepare (untimed), run one step, print its seconds."""
    import torch

    torch.set_num_threads(args.threads)
    if args.impl == "original":
        prepare, step = _worker_original(args.case, Path(args.root))
    else:
        prepare, step = _worker_ours(args.case, Path(args.cache_dir))
    prepare()
    step()  # warm-up
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "step":
            break
        prepare()
        t0 = time.perf_counter()
        step()
        print(f"{time.perf_counter() - t0:.6f}", flush=True)


def side_by_side(
    case: str, impls: list[tuple[str, str, str]], rounds: int, threads: int, cache_dir: Path
) -> dict:
    """Interleave steps of several implementations ``(name, kind, dir)``. Returns ``{name: [seconds]}``."""
    procs = {}
    for name, kind, root in impls:
        env = dict(
            os.environ,
            OMP_NUM_THREADS=str(threads),
            MKL_NUM_THREADS=str(threads),
            PYTHONPATH=root if kind == "ours" else str(ROOT),
        )  # the original's worker reads our labels
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--impl",
            kind,
            "--case",
            case,
            "--root",
            root,
            "--threads",
            str(threads),
            "--cache-dir",
            str(cache_dir),
        ]
        procs[name] = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=root if kind == "original" else None,
        )
    for name, p in procs.items():
        line = p.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"{name} worker failed to start ({line!r})")
    times: dict[str, list[float]] = {name: [] for name in procs}
    for _ in range(rounds):
        for name, p in procs.items():
            p.stdin.write("step\n")
            p.stdin.flush()
            times[name].append(float(p.stdout.readline()))
    for p in procs.values():
        p.stdin.close()
        p.wait()
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", nargs="+", default=["cls", "unet"], choices=list(CASES))
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cache-dir", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "meshcnn_bench_cache"))
    p.add_argument(
        "--compare", action="append", default=[], metavar="NAME=DIR", help="our code in another checkout"
    )
    p.add_argument("--original", help="a checkout of the original MeshCNN")
    p.add_argument("--rounds", type=int, default=5, help="interleaved steps per implementation")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--impl", help=argparse.SUPPRESS)
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--root", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker_main(args)
        return
    import torch

    sys.path.insert(0, str(ROOT))
    torch.set_num_threads(args.threads)
    if not DATASETS.is_dir():
        raise SystemExit(f"the data sets are not at {DATASETS}")
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} cores; load average "
        f"{os.getloadavg()[0]:.1f} (timings include any background load)"
    )
    rows = [run_ours(case, args.steps, Path(args.cache_dir)) for case in args.cases]
    print_table(rows)
    out = {"rows": rows}
    impls = [(name, "ours", str(Path(d).resolve())) for name, d in (c.split("=", 1) for c in args.compare)]
    if impls or args.original:
        impls = [("this checkout", "ours", str(ROOT)), *impls]
        if args.original:
            impls.append(("original MeshCNN", "original", str(Path(args.original).resolve())))
        print(f"\nside by side, interleaved ({args.rounds} steps each, {args.threads} torch thread(s) each):")
        out["side_by_side"] = {}
        for case in args.cases:
            times = side_by_side(case, impls, args.rounds, args.threads, Path(args.cache_dir))
            med = {k: float(np.median(v)) for k, v in times.items()}
            out["side_by_side"][case] = times
            base = med["this checkout"]
            print(
                f"{case}: "
                + "; ".join(f"{k} {v:.3f} s ({v / base:.2f}x this checkout's time)" for k, v in med.items())
            )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
