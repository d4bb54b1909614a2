"""Core speed and memory: feature extraction, forward, forward+record, pooling share, peak memory.

Run: ``python benchmarks/bench_core.py [--sizes 750 2250 10000 50000 200000] [--threads 2]``

Each (size, network) runs in its own subprocess so that peak memory (max RSS) is per case.
Meshes: a SHREC-16 / human_seg mesh for 750 / 2250 edges when ``../shared/datasets`` is there,
else generated; larger sizes are jittered tori of about that many edges. Networks: the
SHREC classifier config and the human-seg U-Net config, pool targets scaled to the mesh size.
The original MeshCNN's figures on this machine (from the issue) are printed for comparison.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"

# the original MeshCNN on this machine (torch 2.13 CPU, 2 threads, batch 1, eval forward), from issue 2
REFERENCE_MS = {("cls", 750): 40, ("unet", 2250): 190, ("unet", 10000): 1750, ("cls", 10000): 1750}
REFERENCE_TRAIN_S = {("cls", 750, 16): 1.2, ("unet", 2250, 12): 7.5}


def make_mesh(n_edges: int, seed: int = 0):
    import numpy as np

    from meshcnn_core.mesh.io import Mesh, load_mesh

    if n_edges == 750 and (DATASETS / "shrec_16").is_dir():
        return load_mesh(sorted((DATASETS / "shrec_16" / "ants" / "test").glob("*.obj"))[0])
    if n_edges == 2250 and (DATASETS / "human_seg").is_dir():
        return load_mesh(sorted((DATASETS / "human_seg" / "test").glob("*.obj"))[0])
    # a jittered torus: closed, manifold, irregular (no priority ties), 3 * a * b edges
    b = max(8, int(round(np.sqrt(n_edges / 3 / 1.7))))
    a = max(8, n_edges // (3 * b))
    rng = np.random.default_rng(seed)
    i, j = np.meshgrid(np.arange(a), np.arange(b), indexing="ij")
    u = 2 * np.pi * (i + 0.3 * rng.random(i.shape)) / a
    w = 2 * np.pi * (j + 0.3 * rng.random(j.shape)) / b
    r = 0.35 * (1 + 0.05 * rng.standard_normal(u.shape))
    v = np.stack(
        [(1 + r * np.cos(w)) * np.cos(u), (1 + r * np.cos(w)) * np.sin(u), r * np.sin(w)], -1
    ).reshape(-1, 3)
    ii, jj = i.ravel(), j.ravel()
    idx = lambda p, q: (p % a) * b + (q % b)  # noqa: E731
    f = np.concatenate(
        [
            np.stack([idx(ii, jj), idx(ii + 1, jj), idx(ii + 1, jj + 1)], 1),
            np.stack([idx(ii, jj), idx(ii + 1, jj + 1), idx(ii, jj + 1)], 1),
        ]
    )
    return Mesh(v, f, f"torus{3 * a * b}")


def scaled_config(kind: str, n_edges: int):
    from meshcnn_core import ClassifierConfig, SegmenterConfig

    if kind == "cls":
        pools = tuple(int(n_edges * r) for r in (600 / 750, 450 / 750, 300 / 750, 180 / 750))
        return ClassifierConfig(
            nclasses=30,
            ncf=(64, 128, 256, 256),
            pool_res=pools,
            ninput_edges=n_edges,
            norm="group",
            num_groups=16,
            resblocks=1,
        )
    pools = tuple(int(n_edges * r) for r in (1800 / 2250, 1350 / 2250, 600 / 2250))
    return SegmenterConfig(
        nclasses=8, ncf=(32, 64, 128, 256), pool_res=pools, ninput_edges=n_edges, resblocks=3
    )


class PoolTimer:
    """Accumulates time spent in MeshPool / MeshUnpool forward (pooling and its bookkeeping)."""

    def __init__(self) -> None:
        from meshcnn_core.nn.pool import MeshPool
        from meshcnn_core.nn.unpool import MeshUnpool

        self.total = 0.0
        for cls in (MeshPool, MeshUnpool):
            orig = cls.forward

            def timed(mod, *a, _orig=orig, **k):
                t = time.perf_counter()
                try:
                    return _orig(mod, *a, **k)
                finally:
                    self.total += time.perf_counter() - t

            cls.forward = timed


def run_case(kind: str, n_edges: int, threads: int, repeats: int) -> dict:
    import numpy as np
    import torch

    from meshcnn_core.checkpoint import build_model, checkpoint_dict, model_from_checkpoint
    from meshcnn_core.inference import prepare, record
    from meshcnn_core.mesh.features import extract_features, normalize_features
    from meshcnn_core.mesh.topology import _build

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    mesh = make_mesh(n_edges)
    t = time.perf_counter()
    topo, _, _ = _build(mesh.vertices, mesh.faces)  # uncached
    extract_features(topo)
    t_feat = time.perf_counter() - t
    prep = prepare(mesh)
    e = prep.topology.num_edges
    cfg = scaled_config(kind, e)
    net = build_model(cfg)
    model = model_from_checkpoint(
        checkpoint_dict(net, cfg, [str(i) for i in range(cfg.nclasses)], np.zeros(5), np.ones(5)), "cpu"
    )
    timer = PoolTimer()
    x = torch.from_numpy(normalize_features(prep.features, np.zeros(5), np.ones(5), e))[None]
    with torch.no_grad():
        model.net(x, [prep.topology])  # warm-up (numba, allocator)
    fwd, pool = [], []
    for _ in range(repeats):
        timer.total = 0.0
        t = time.perf_counter()
        with torch.no_grad():
            model.net(x, [prep.topology])
        fwd.append(time.perf_counter() - t)
        pool.append(timer.total)
    rec_t = []
    for _ in range(max(1, repeats // 2)):
        t = time.perf_counter()
        record(model, prep)
        rec_t.append(time.perf_counter() - t)
    i = int(np.argmin(fwd))
    return {
        "kind": kind,
        "edges": e,
        "feat_ms": t_feat * 1e3,
        "fwd_ms": min(fwd) * 1e3,
        "record_ms": min(rec_t) * 1e3,
        "pool_share": pool[i] / fwd[i],
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_train_case(kind: str, n_edges: int, batch: int, threads: int, repeats: int) -> dict:
    import numpy as np
    import torch

    from meshcnn_core.checkpoint import build_model
    from meshcnn_core.inference import prepare
    from meshcnn_core.mesh.features import normalize_features

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if kind == "cls" and (DATASETS / "shrec_16").is_dir():
        from meshcnn_core import load_mesh

        meshes = [load_mesh(p) for p in sorted((DATASETS / "shrec_16").glob("*/train/*.obj"))[:batch]]
    elif kind == "unet" and (DATASETS / "human_seg").is_dir():
        from meshcnn_core import load_mesh

        meshes = [load_mesh(p) for p in sorted((DATASETS / "human_seg" / "train").glob("*.obj"))[:batch]]
    else:
        meshes = [make_mesh(n_edges, seed=s) for s in range(batch)]
    preps = [prepare(m) for m in meshes]
    e = max(p.topology.num_edges for p in preps)
    cfg = (
        scaled_config(kind, 750 if kind == "cls" else 2280)
        if e <= (750 if kind == "cls" else 2280)
        else scaled_config(kind, e)
    )
    net = build_model(cfg).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.from_numpy(
        np.stack([normalize_features(p.features, np.zeros(5), np.ones(5), cfg.ninput_edges) for p in preps])
    )
    topos = [p.topology for p in preps]
    if kind == "cls":
        y = torch.randint(0, cfg.nclasses, (batch,))
    else:
        y = torch.randint(0, cfg.nclasses, (batch, cfg.ninput_edges))
    timer = PoolTimer()
    loss_fn = torch.nn.CrossEntropyLoss()
    times, pools = [], []
    for r in range(repeats + 1):
        timer.total = 0.0
        t = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(net(x, topos).logits, y)
        loss.backward()
        opt.step()
        if r:  # first step is warm-up
            times.append(time.perf_counter() - t)
            pools.append(timer.total)
    i = int(np.argmin(times))
    return {"kind": kind, "edges": e, "batch": batch, "step_s": min(times), "pool_share": pools[i] / times[i]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[750, 2250, 10000, 50000, 200000])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-train", action="store_true", help="skip the training-step table")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        spec = json.loads(args.case)
        fn = run_train_case if "batch" in spec else run_case
        print(json.dumps(fn(**spec, threads=args.threads, repeats=args.repeats)))
        return

    def sub(spec: dict) -> dict | None:
        reps = args.repeats if spec.get("n_edges", 0) <= 10000 else 2
        cmd = [
            sys.executable,
            __file__,
            "--case",
            json.dumps(spec),
            "--threads",
            str(args.threads),
            "--repeats",
            str(reps),
        ]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            print(
                f"  case {spec} failed: "
                f"{p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}"
            )
            return None
        return json.loads(p.stdout.strip().splitlines()[-1])

    print(
        f"torch threads: {args.threads}; times are the best of N runs (robust to other load on the machine); "
        "pool share = MeshPool+MeshUnpool time / forward time\n"
    )
    print(
        "| net | edges | features (ms) | forward (ms) | forward+record (ms) | pooling share | peak RSS (MB) "
        "| original (ms) | speed-up |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        for kind in ("cls", "unet"):
            r = sub({"kind": kind, "n_edges": n})
            if r is None:
                continue
            ref = REFERENCE_MS.get((kind, n))
            ref_s = f"{ref}" if ref else ("OOM" if n >= 50000 else "")
            speed = f"{ref / r['record_ms']:.1f}x" if ref else ""
            print(
                f"| {'SHREC cls' if kind == 'cls' else 'human U-Net'} | {r['edges']} | {r['feat_ms']:.1f} | "
                f"{r['fwd_ms']:.0f} | "
                f"{r['record_ms']:.0f} | {r['pool_share']:.1%} | {r['peak_mb']:.0f} | {ref_s} | {speed} |",
                flush=True,
            )
    if args.no_train:
        return
    print("\nTraining step (forward + backward + Adam)\n")
    print("| net | edges | batch | step (s) | pooling share | original (s) | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, n, b in (("cls", 750, 16), ("unet", 2250, 12)):
        r = sub({"kind": kind, "n_edges": n, "batch": b})
        if r is None:
            continue
        ref = REFERENCE_TRAIN_S[(kind, n, b)]
        print(
            f"| {'SHREC cls' if kind == 'cls' else 'human U-Net'} | {r['edges']} | {b} | {r['step_s']:.2f} | "
            f"{r['pool_share']:.1%} | {ref} | {ref / r['step_s']:.1f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
