"""Faithfulness of the edge attributions: the deletion check on the SHREC-16 test split.

Run: ``python benchmarks/bench_explain.py [--data ../shared/datasets/shrec_16] [--limit N] [--threads 1]``

For every test mesh and every attribution variant, the top 10% of the input edges by
attribution are hidden (normalized features set to 0, the data set's mean) and the drop of the
predicted class's probability is compared with hiding a random 10% (mean over 5 random orders,
the same orders for every variant). Printed as a markdown table: the share of meshes where the
attribution's drop beats the random one, the mean drops, their ratio, whether the target
(>= 80% of meshes and >= 3x the random drop) is met, and the attribution time per mesh.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = [
    ("gradcam", "stage 0 (default)", dict(method="gradcam")),
    *[("gradcam", f"stage {k}", dict(method="gradcam", stage=k)) for k in (1, 2, 3, 4)],
    ("gradcam", "stage 0, one-ring smoothed", dict(method="gradcam", smooth=1)),
    ("grad_input", "positive (default)", dict(method="grad_input")),
    ("grad_input", "absolute", dict(method="grad_input", sign="absolute")),
    ("grad_input", "positive, one-ring smoothed", dict(method="grad_input", smooth=1)),
    ("integrated_gradients", "positive, 8 steps (default)", dict(method="integrated_gradients")),
    ("integrated_gradients", "absolute, 8 steps", dict(method="integrated_gradients", sign="absolute")),
]
FRACTION = 0.1
SEEDS = (0, 1, 2, 3, 4)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "shrec_16"))
    p.add_argument("--model", default=str(ROOT / "checkpoints" / "shrec16_classifier.pt"))
    p.add_argument("--limit", type=int, default=0, help="only the first N test meshes (0: all)")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()

    import torch

    from meshcnn_core.analysis.explain import deletion_curve, edge_attribution
    from meshcnn_core.checkpoint import load_model
    from meshcnn_core.data.datasets import scan_dataset
    from meshcnn_core.inference import prepare
    from meshcnn_core.mesh.io import load_mesh

    torch.set_num_threads(a.threads)
    if not Path(a.data).is_dir():
        print(f"no data set at {a.data}; nothing to measure")
        return 1
    model = load_model(a.model, device="cpu")
    info = scan_dataset(a.data)
    files = info.files["test"][: a.limit or None]
    labels = info.labels["test"][: len(files)]
    drops = np.zeros((len(files), len(VARIANTS)))
    rand = np.zeros(len(files))
    seconds = np.zeros(len(VARIANTS))
    correct = 0
    t_all = time.time()
    for i, path in enumerate(files):
        prep = prepare(load_mesh(path))
        zeros = np.zeros(prep.topology.num_edges)
        base = deletion_curve(model, prep, zeros, fractions=(0.0, FRACTION), seeds=SEEDS)
        rand[i] = base.drop(FRACTION)[1]
        correct += int(base.target == labels[i])
        for j, (_, _, kw) in enumerate(VARIANTS):
            t = time.time()
            scores = edge_attribution(model, prep, **kw)
            seconds[j] += time.time() - t
            curve = deletion_curve(model, prep, scores, fractions=(0.0, FRACTION), seeds=())
            drops[i, j] = curve.drop(FRACTION)[0]
        print(f"\r{i + 1}/{len(files)} {path.name}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    n = len(files)
    print(f"SHREC-16 test split: {n} meshes, {correct} predicted right ({100 * correct / n:.1f}%); "
          f"hide {FRACTION:.0%} of the input edges; random = mean of {len(SEEDS)} orders; "
          f"torch threads {a.threads}; total {time.time() - t_all:.0f} s\n")
    print("| method | variant | meshes where top beats random | mean drop, top 10% | mean drop, random 10% "
          "| ratio | target met | attribution s/mesh |")
    print("|---|---|---|---|---|---|---|---|")
    for j, (method, variant, _) in enumerate(VARIANTS):
        share = float(np.mean(drops[:, j] > rand))
        ratio = drops[:, j].mean() / rand.mean() if rand.mean() > 0 else float("nan")
        met = "yes" if share >= 0.8 and ratio >= 3 else "no"
        print(f"| {method} | {variant} | {100 * share:.1f}% | {drops[:, j].mean():.4f} | {rand.mean():.4f} "
              f"| {ratio:.2f}x | {met} | {seconds[j] / n:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
