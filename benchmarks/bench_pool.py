"""Pooling-kernel speed: the compiled collapse loop now against a baseline revision, interleaved.

Run: ``python benchmarks/bench_pool.py [--baseline-rev d01cd41] [--meshes 10] [--rounds 9] [--compile-time]``

Inputs are the pooling layers of real forward passes: each shipped checkpoint on the first
``--meshes`` meshes of its test split when ``../shared/datasets`` is there, else jittered tori
(750, 1500, 2280 edges) with seeded random priorities and the checkpoints' pool targets. Every
layer's ``(queue order, target, topology)`` is collected once, then both kernels run on exactly
those inputs.

The baseline is ``meshcnn_core/nn/pool_kernel.py`` at ``--baseline-rev`` (default ``d01cd41``,
the kernel before issue 14's split into named steps), extracted with ``git show`` and imported
as a separate module; its older API (in-place arrays, 10-tuple) is adapted. One round times the
baseline then the current kernel over all layers (A, B, A, B, ...: a load change hits both);
the table gives the best round of each, in CPU seconds of this process (``time.process_time``:
on a loaded machine wall time mostly measures waiting for a core). Both timings include copying
the input arrays (the current kernel copies inside, the old caller copied outside) and
``compact`` (fused into ``pool_edges`` now, a separate call in the baseline).
``--compile-time`` also measures each kernel's cold numba compile in a subprocess with an empty
cache directory.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"
KERNEL = "meshcnn_core/nn/pool_kernel.py"
CASES = [  # checkpoint, data set, pool targets, input edges
    ("shrec16_classifier.pt", "shrec_16", (600, 450, 300, 180), 750),
    ("coseg_vases_segmenter.pt", "coseg_vases", (1050, 600, 300), 1500),
    ("human_seg_segmenter.pt", "human_seg", (1800, 1350, 600), 2280),
]


def load_baseline(rev: str):
    """The kernel module at git revision ``rev``, or None when git or the revision is unavailable."""
    try:
        cmd = ["git", "show", f"{rev}:{KERNEL}"]
        src = subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    folder = Path(tempfile.gettempdir()) / "meshcnn_bench_pool" / rev  # kept: numba caches next to the file
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"pool_kernel_{rev}.py"
    if not path.is_file() or path.read_bytes() != src:
        path.write_bytes(src)
    spec = importlib.util.spec_from_file_location(f"pool_kernel_{rev}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # numba's cache finds the module's globals by name
    spec.loader.exec_module(mod)
    return mod


def run_kernel(mod, order, target, t):
    """One pooling with kernel module ``mod`` (either API), including ``compact``."""
    if hasattr(mod, "pool_edges"):
        return mod.pool_edges(order, target, t.edges, t.gemm, t.sides, t.ve_indptr, t.ve_indices,
                              t.positions, t.vertex_mask)
    ed, gm, sd = t.edges.copy(), t.gemm.copy(), t.sides.copy()
    out = mod.collapse_edges(order, target, ed, gm, sd, t.ve_indptr, t.ve_indices, t.positions.copy(),
                             t.vertex_mask.copy())
    _, _, mask, _, ve_idx, g_ptr, g_idx = out[:7]
    return mod.compact(mask, ed, gm, sd, ve_idx, g_ptr, g_idx)


def collect_layers(n_meshes: int) -> dict[str, list[tuple]]:
    """``{case: [(order, target, topology), ...]}`` for every pooling layer of the forward passes."""
    from meshcnn_core.checkpoint import load_model
    from meshcnn_core.data.datasets import scan_dataset
    from meshcnn_core.inference import prepare, run
    from meshcnn_core.mesh.io import load_mesh
    from meshcnn_core.nn.pool import pool_topology

    out: dict[str, list[tuple]] = {}
    for ckpt, ds, targets, n_in in CASES:
        layers = []
        if (DATASETS / ds).is_dir():
            model = load_model(ROOT / "checkpoints" / ckpt, device="cpu")
            for p in scan_dataset(DATASETS / ds).files["test"][:n_meshes]:
                for st in run(model, prepare(load_mesh(p))).stages:
                    for rec in st.pool_records or ():
                        layers.append((_order(rec.priority), rec.target, rec.topology_in))
            out[f"{ds} ({len(layers) // len(targets)} meshes)"] = layers
        else:
            sys.path.insert(0, str(ROOT / "benchmarks"))
            from bench_core import make_mesh

            from meshcnn_core.mesh.topology import build_topology

            rng = np.random.default_rng(0)
            for i in range(n_meshes):
                m = make_mesh(n_in + 3 * i, seed=i)
                topo = build_topology(m.vertices, m.faces).topology
                for tgt in targets:
                    pr = rng.random(topo.num_edges).astype(np.float32)
                    layers.append((_order(pr), tgt, topo))
                    topo = pool_topology(topo, pr, tgt).topology_out
            out[f"tori ~{n_in} edges ({n_meshes})"] = layers
    return out


def _order(priority: np.ndarray) -> np.ndarray:
    return np.lexsort((np.arange(len(priority)), priority.astype(np.float64)))


def time_interleaved(mods: dict, layers: list[tuple], rounds: int) -> dict[str, float]:
    """Best-of-``rounds`` CPU seconds per kernel over all ``layers``, kernels alternating in a round."""
    best = {name: float("inf") for name in mods}
    for mod in mods.values():  # warm up (compile or load the cache)
        run_kernel(mod, *layers[0])
    for _ in range(rounds):
        for name, mod in mods.items():
            t0 = time.process_time()
            for order, target, topo in layers:
                run_kernel(mod, order, target, topo)
            best[name] = min(best[name], time.process_time() - t0)
    return best


_COMPILE_SNIPPET = """
import sys, time, importlib.util
import numpy as np
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
from bench_pool import load_baseline, run_kernel, _order
from meshcnn_core.mesh.topology import build_topology
from bench_core import make_mesh
mod = load_baseline({rev!r}) if {rev!r} else __import__("meshcnn_core.nn.pool_kernel", fromlist=["x"])
m = make_mesh(750)
t = build_topology(m.vertices, m.faces).topology
o = _order(np.random.default_rng(0).random(t.num_edges).astype(np.float32))
t0 = time.process_time(); run_kernel(mod, o, 600, t); print(time.process_time() - t0)
"""


def compile_seconds(rev: str | None) -> float:
    """CPU seconds of a kernel's cold compile + first call (fresh interpreter, empty numba cache)."""
    with tempfile.TemporaryDirectory() as cache:
        code = _COMPILE_SNIPPET.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), rev=rev or "")
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cmd = [sys.executable, "-c", code]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-rev", default="d01cd41")
    ap.add_argument("--meshes", type=int, default=10, help="meshes per data set")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--compile-time", action="store_true")
    args = ap.parse_args()

    from meshcnn_core.nn import pool_kernel

    mods = {}
    base = load_baseline(args.baseline_rev)
    if base is None:
        print(f"baseline {args.baseline_rev} unavailable (no git checkout?): timing the current kernel only")
    else:
        mods[f"baseline {args.baseline_rev}"] = base
    mods["current"] = pool_kernel
    cases = collect_layers(args.meshes)
    print(f"best of {args.rounds} interleaved rounds, kernel + compact, CPU ms per input set (all layers)")
    names = list(mods)
    head = f"{'inputs':<28}{'layers':>7}" + "".join(f"{n:>20}" for n in names)
    print(head + (f"{'current/baseline':>18}" if base is not None else ""))
    totals = dict.fromkeys(names, 0.0)
    for label, layers in cases.items():
        best = time_interleaved(mods, layers, args.rounds)
        row = f"{label:<28}{len(layers):>7}" + "".join(f"{1e3 * best[n]:>20.2f}" for n in names)
        if base is not None:
            row += f"{best['current'] / best[names[0]]:>18.3f}"
        print(row)
        for n in names:
            totals[n] += best[n]
    n_layers = sum(map(len, cases.values()))
    row = f"{'total':<28}{n_layers:>7}" + "".join(f"{1e3 * totals[n]:>20.2f}" for n in names)
    print(row + (f"{totals['current'] / totals[names[0]]:>18.3f}" if base is not None else ""))
    if args.compile_time:
        revs = ([args.baseline_rev] if base is not None else []) + [None]
        for rev in revs:
            print(f"cold compile + first call, {rev or 'current'}: {compile_seconds(rev):.1f} CPU s")


if __name__ == "__main__":
    main()
