"""What pooling keeps on the engraved cubes: the engraving's share of the edges, stage by stage.

Run from the repository root::

    python benchmarks/bench_story.py                                  # shipped model, generated test split
    python benchmarks/bench_story.py --model runs/cubes/best.pt --data runs/data/cubes
    python benchmarks/bench_story.py --no-attribution --json out.json

For every test mesh of a generated cubes set (:mod:`meshcnn_core.data.cubes`; the known per-edge
mask says which input edges lie on the engraving), the model's forward pass is recorded
(:func:`meshcnn_core.inference.record`) and, at each stage, the share of the stage's surviving
edges (their input edge ids) that lie on the engraving is compared with that share at the input.
The story holds when the last stage's share is clearly larger (enrichment > 1).

Controls: the same network with random weights (seeded; same input normalization), so that the
enrichment the trained model shows can be told apart from what MeshCNN's pooling does on this
geometry anyway. Attributions (when :mod:`meshcnn_core.analysis.explain` is there): the share of the
attribution mass that falls on engraving edges, and the share of engraving edges among the top-k
attributed edges (k = the number of engraving edges).

The table ends with the landing-view candidates: correctly classified cubes whose last stage has
the highest engraving share.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshcnn_core.checkpoint import LoadedModel, build_model, load_model  # noqa: E402
from meshcnn_core.data.cubes import cubes_dataset, load_engraving  # noqa: E402
from meshcnn_core.data.datasets import scan_dataset  # noqa: E402
from meshcnn_core.inference import prepare, record  # noqa: E402
from meshcnn_core.mesh.io import load_mesh  # noqa: E402


def random_twin(model: LoadedModel, seed: int = 0) -> LoadedModel:
    """The same network with fresh random weights (and the trained model's normalization)."""
    torch.manual_seed(seed)
    net = build_model(model.config).to(model.device).eval()
    return dataclasses.replace(model, net=net, name=f"{model.name} (random weights)")


def stage_shares(model: LoadedModel, mesh, mask: np.ndarray) -> tuple[list[int], list[float], int]:
    """Engraving share of the surviving edges per encoder stage, and the predicted class."""
    rec = record(model, mesh)
    sizes, shares = [], []
    for st in rec.stages():
        if st.kind == "unpool":
            continue
        sizes.append(st.num_edges)
        shares.append(float(mask[st.edge_ids].mean()))
    return sizes, shares, int(np.argmax(rec.probabilities))


def attribution_shares(model: LoadedModel, mesh, mask: np.ndarray, method: str) -> tuple[float, float]:
    """(attribution mass on the engraving, engraving share of the top-k attributed edges)."""
    from meshcnn_core.analysis.explain import edge_attribution

    a = edge_attribution(model, prepare(mesh), method=method)
    mass = float(a[mask].sum() / max(a.sum(), 1e-30))
    k = int(mask.sum())
    top = np.argsort(-a, kind="stable")[:k]
    return mass, float(mask[top].mean())


def _fmt(x: np.ndarray) -> str:
    return f"{x.mean():6.1%} ± {x.std():5.1%}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(ROOT / "checkpoints" / "cubes_classifier.pt"))
    p.add_argument("--data", help="a generated cubes set (default: the cached seed-0 set, made on first use)")
    p.add_argument("--split", default="test")
    p.add_argument("--no-attribution", action="store_true")
    p.add_argument("--method", default="integrated_gradients", help="meshcnn_core.analysis.explain method")
    p.add_argument("--limit", type=int, help="only this many meshes, evenly spaced over the split")
    p.add_argument("--json", help="also write the per-mesh numbers here")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    root = Path(a.data) if a.data else cubes_dataset()
    info = scan_dataset(root)
    model = load_model(a.model)
    twin = random_twin(model)
    files, labels = info.files[a.split], info.labels[a.split]
    if a.limit and a.limit < len(files):
        pick = np.linspace(0, len(files) - 1, a.limit).round().astype(int)
        files, labels = [files[i] for i in pick], [labels[i] for i in pick]
    rows = []
    do_attr = not a.no_attribution
    if do_attr:
        try:
            import meshcnn_core.analysis.explain  # noqa: F401
        except ImportError:
            do_attr = False
    for path, label in zip(files, labels):
        mesh = load_mesh(path)
        mask = load_engraving(root, path.stem)
        sizes, shares, pred = stage_shares(model, mesh, mask)
        _, twin_shares, _ = stage_shares(twin, mesh, mask)
        row = {"mesh": path.stem, "label": info.class_names[label], "pred": info.class_names[pred],
               "sizes": sizes, "shares": shares, "random_shares": twin_shares}
        if do_attr:
            row["attr_mass"], row["attr_topk"] = attribution_shares(model, mesh, mask, a.method)
        rows.append(row)
    shares = np.array([r["shares"] for r in rows])  # (meshes, stages)
    rnd = np.array([r["random_shares"] for r in rows])
    acc = np.mean([r["label"] == r["pred"] for r in rows])
    print(f"model {Path(a.model).name}, data {root} ({a.split}: {len(rows)} meshes), accuracy {acc:.1%}")
    print()
    print("| stage | edges | engraving share (trained) | enrichment | engraving share (random weights) "
          "| enrichment |")
    print("|---:|---:|---:|---:|---:|---:|")
    for k in range(shares.shape[1]):
        edges = int(np.median([r["sizes"][k] for r in rows]))
        print(f"| {k} | {edges} | {_fmt(shares[:, k])} | {(shares[:, k] / shares[:, 0]).mean():.2f}x | "
              f"{_fmt(rnd[:, k])} | {(rnd[:, k] / rnd[:, 0]).mean():.2f}x |")
    last = shares[:, -1] / shares[:, 0]
    print()
    print(f"last stage enriched (share > input share) on {np.mean(last > 1):.0%} of meshes; "
          f"on {np.mean(rnd[:, -1] > rnd[:, 0]):.0%} with random weights")
    if do_attr:
        mass = np.array([r["attr_mass"] for r in rows])
        topk = np.array([r["attr_topk"] for r in rows])
        print(f"attributions ({a.method}): mass on the engraving {_fmt(mass)} (engraving share of input "
              f"edges {_fmt(shares[:, 0])}); engraving share of the top-k edges {_fmt(topk)}")
    print()
    print("per class, last stage share / input share (trained):")
    for c in info.class_names:
        sel = [i for i, r in enumerate(rows) if r["label"] == c]
        if sel:
            print(f"  {c:10s} {shares[sel, 0].mean():6.1%} -> {shares[sel, -1].mean():6.1%}")
    ok = [i for i, r in enumerate(rows) if r["label"] == r["pred"]]
    best = sorted(ok, key=lambda i: -shares[i].max())[:5]
    print()
    print("landing-view candidates (correct, highest engraving share at some stage):")
    for i in best:
        k = int(np.argmax(shares[i]))
        print(f"  {rows[i]['mesh']:14s} stage {k} ({rows[i]['sizes'][k]} edges): {shares[i, k]:.1%} "
              f"engraving (input {shares[i, 0]:.1%})")
    print(f"\n{time.time() - t0:.0f} s (1 torch thread)")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
