"""What the vase handle and neck classifiers keep, per part: MeshCNN's handle/neck pooling story, measured.

Run from the repository root::

    nice -n 10 python benchmarks/bench_vase_pair.py                  # COSEG test split + generated vases
    python benchmarks/bench_vase_pair.py --json out.json             # also the per-mesh numbers

MeshCNN's paper says that a network trained to tell whether a vase has a handle and one trained to
tell whether it has a neck pool the same vase differently. For every test mesh of MeshCNN's COSEG
vase segmentation set (part labels ``seg/<name>.eseg``: 1 neck, 2 handle, 3 body, 4 base) and for
the generated sample vases (``sample_meshes/vase_*_1500.obj`` with their ``.eseg``) and a few seeded
generated vases with two handles (:func:`meshcnn_core.data.vase_shape.draw_params`), both shipped
classifiers are recorded (:func:`meshcnn_core.inference.record`) and, per part and stage,
:func:`meshcnn_core.analysis.part_keep.part_keep` gives the share of the part's input edges that
are still edges of their own. Tables give the mean over meshes that have the part
(:func:`~meshcnn_core.analysis.part_keep.mean_part_keep`) for the handle model (H) and the neck
model (N), and H - N in percentage points. The story holds when H - N > 0 on the handle and < 0 on
the neck.

Control: the same network twice with random weights (seeds 0 and 1, the handle model's input
normalization), so that an H - N difference can be told apart from what two untrained networks
of this architecture differ by anyway. Also: the mean overlap (Jaccard index) of the two models'
kept edge sets per stage, and per stage on how many meshes H keeps more of the part than N.
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

from meshcnn_core.analysis.part_keep import PartKeep, mean_part_keep, part_keep  # noqa: E402
from meshcnn_core.checkpoint import LoadedModel, build_model, load_model  # noqa: E402
from meshcnn_core.data.eseg import read_eseg  # noqa: E402
from meshcnn_core.data.vase_shape import draw_params, make_vase  # noqa: E402
from meshcnn_core.inference import record  # noqa: E402
from meshcnn_core.mesh.io import Mesh, load_mesh  # noqa: E402

PARTS = np.array([1, 2, 3, 4])
PART_NAMES = ("neck", "handle", "body", "base")


def random_twin(model: LoadedModel, seed: int) -> LoadedModel:
    """The same network with fresh random weights (and the trained model's normalization)."""
    torch.manual_seed(seed)
    net = build_model(model.config).to(model.device).eval()
    return dataclasses.replace(model, net=net, name=f"random weights (seed {seed})")


def kept_sets(rec) -> list[np.ndarray]:
    """Input edge ids kept at each input or pooled stage."""
    return [st.edge_ids for st in rec.stages() if st.kind != "unpool"]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Overlap of two sets of edge ids (1 = the same edges)."""
    return len(np.intersect1d(a, b)) / max(len(np.union1d(a, b)), 1)


def overlap_beyond_chance(a: np.ndarray, b: np.ndarray, total: int) -> float:
    """Shared edges of two kept sets, 0 when as many as two random sets of these sizes share, 1 at most.

    ``(|a & b| - |a| |b| / total) / (min(|a|, |b|) - |a| |b| / total)``; the raw overlap falls with
    the set size anyway (two random sets of 420 of 1500 edges have a Jaccard index of 16%).
    """
    chance = len(a) * len(b) / total
    room = min(len(a), len(b)) - chance
    return (len(np.intersect1d(a, b)) - chance) / room if room > 0 else 1.0


@dataclasses.dataclass
class PairRow:
    """Both models (and the random pair) on one mesh."""

    name: str
    labels: np.ndarray
    h: PartKeep
    n: PartKeep
    overlap: list[float]
    beyond: list[float]
    h_pred: str
    h_prob: float
    n_pred: str
    n_prob: float
    ra: PartKeep | None = None
    rb: PartKeep | None = None


def measure(models: dict[str, LoadedModel], mesh: Mesh, labels: np.ndarray) -> PairRow:
    """Record both models (and the random pair, when given) on one mesh."""
    rh, rn = record(models["handle"], mesh), record(models["neck"], mesh)
    kh, kn = int(rh.prediction), int(rn.prediction)
    sets = list(zip(kept_sets(rh), kept_sets(rn)))
    row = PairRow(
        mesh.name, labels, part_keep(rh, labels), part_keep(rn, labels),
        [jaccard(a, b) for a, b in sets], [overlap_beyond_chance(a, b, len(labels)) for a, b in sets],
        models["handle"].class_names[kh], float(rh.probabilities[kh]),
        models["neck"].class_names[kn], float(rn.probabilities[kn]),
    )
    if "random_a" in models:
        row.ra = part_keep(record(models["random_a"], mesh), labels)
        row.rb = part_keep(record(models["random_b"], mesh), labels)
    return row


def _cell(h: float, n: float) -> str:
    if np.isnan(h):
        return "-"
    return f"{h:.0%} / {n:.0%} ({100 * (h - n):+.1f})"


def keep_table(rows: list[PairRow], title: str) -> list[str]:
    """Markdown: per stage, per part ``H / N (H - N in points)``, and the kept sets' overlap."""
    mh, cnt = mean_part_keep([r.h for r in rows], PARTS)
    mn, _ = mean_part_keep([r.n for r in rows], PARTS)
    edges = rows[0].h.stage_edges
    overlap = np.mean([r.overlap for r in rows], axis=0)
    beyond = np.mean([r.beyond for r in rows], axis=0)
    head = " | ".join(f"{p} ({c} meshes)" if len(rows) > 1 else f"{p}" for p, c in zip(PART_NAMES, cnt))
    out = [f"**{title}**: share of each part's input edges kept, handle model / neck model "
           "(H - N, points)", "", f"| stage | edges | {head} | overlap of the kept sets (beyond chance) |",
           "|---:|---:|" + "---:|" * len(PARTS) + "---:|"]
    for k in range(len(edges)):
        cells = " | ".join(_cell(mh[k, j], mn[k, j]) for j in range(len(PARTS)))
        out.append(f"| {k} | {edges[k]} | {cells} | {overlap[k]:.0%} ({beyond[k]:.0%}) |")
    return out


def random_table(rows: list[PairRow], title: str) -> list[str]:
    """Markdown: the same difference between two random-weight networks (the control)."""
    ma, cnt = mean_part_keep([r.ra for r in rows], PARTS)
    mb, _ = mean_part_keep([r.rb for r in rows], PARTS)
    out = [f"**Control on {title}: two random-weight networks of the same architecture** (seed 0 - seed 1, "
           "points)", "",
           "| stage | " + " | ".join(PART_NAMES) + " |", "|---:|" + "---:|" * len(PARTS)]
    for k in range(ma.shape[0]):
        d = 100 * (ma[k] - mb[k])  # (P,)
        cells = ("-" if np.isnan(x) else f"{x:+.1f}" for x in d)
        out.append(f"| {k} | " + " | ".join(cells) + " |")
    return out


def wins(rows: list[PairRow], part: int) -> list[str]:
    """Per stage, on how many meshes with ``part`` the handle model keeps more of it than the neck model."""
    sel = [r for r in rows if (r.h.parts == part).any()]
    if not sel:
        return []
    words = []
    for k in range(1, len(sel[0].h.stage_edges)):
        d = np.array([r.h.kept[k, np.flatnonzero(r.h.parts == part)[0]]
                      - r.n.kept[k, np.flatnonzero(r.n.parts == part)[0]] for r in sel])
        words.append(f"stage {k}: {np.sum(d > 0)}/{len(sel)} (less on {np.sum(d < 0)})")
    name = PART_NAMES[part - 1]
    return [f"- {name}: the handle model keeps more of it than the neck model on " + "; ".join(words)]


def accuracy_lines(rows: list[PairRow], models: dict[str, LoadedModel], data_root: Path) -> list[str]:
    """Test accuracy of both classifiers: from these recordings, and by ``evaluate`` on the derived sets."""
    from meshcnn_core.errors import MeshCNNError
    from meshcnn_core.evaluate import evaluate

    out = []
    for key, part, pred in (("handle", 2, "h_pred"), ("neck", 1, "n_pred")):
        truth = [key if (r.labels == part).any() else f"no_{key}" for r in rows]
        acc = np.mean([getattr(r, pred) == t for r, t in zip(rows, truth)])
        words = f"- {key} classifier: {acc:.2%} of {len(rows)} test meshes right (truth: the .eseg labels)"
        folder = data_root / f"vase_{key}"
        if folder.is_dir():
            try:
                res = evaluate(models[key], folder, split="test")
                words += f"; `evaluate` on {folder.name}: {res.accuracy:.2%} ({res.count} meshes)"
            except MeshCNNError as exc:
                words += f"; `evaluate` failed: {exc}"
        out.append(words)
    return out


def differ_most(rows: list[PairRow]) -> str:
    """The stage with the lowest mean overlap beyond chance, and the stages of the largest H - N per part."""
    beyond = np.mean([r.beyond for r in rows], axis=0)
    k = int(np.argmin(beyond[1:])) + 1
    mh, _ = mean_part_keep([r.h for r in rows], PARTS)
    mn, _ = mean_part_keep([r.n for r in rows], PARTS)
    d = np.nan_to_num(mh - mn)
    at = np.argmax(np.abs(d), axis=0)  # (P,) stage of the largest |H - N| per part
    parts = ", ".join(f"{name} at stage {at[j]} ({100 * d[at[j], j]:+.1f})"
                      for j, name in enumerate(PART_NAMES) if not np.isnan(mh[:, j]).all())
    return (f"lowest overlap beyond chance at stage {k} ({rows[0].h.stage_edges[k]} edges, {beyond[k]:.0%}); "
            f"largest |H - N| per part: {parts}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "coseg_vases"))
    p.add_argument("--derived", default=str(ROOT / "runs" / "data"),
                   help="folder with the derived sets vase_handle/, vase_neck/ (for evaluate)")
    p.add_argument("--split", default="test")
    p.add_argument("--handle-model", default=str(ROOT / "checkpoints" / "vase_handle_classifier.pt"))
    p.add_argument("--neck-model", default=str(ROOT / "checkpoints" / "vase_neck_classifier.pt"))
    p.add_argument("--vases", nargs="*",
                   default=sorted(str(x) for x in (ROOT / "sample_meshes").glob("vase_*.obj")),
                   help="generated vase files (each with a .eseg beside it)")
    p.add_argument("--seeds", type=int, default=8,
                   help="also this many seeded generated vases with two handles (vase_shape.draw_params)")
    p.add_argument("--no-random", action="store_true", help="skip the random-weight control")
    p.add_argument("--json", help="also write the per-mesh numbers here")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    models = {"handle": load_model(a.handle_model), "neck": load_model(a.neck_model)}
    if not a.no_random:
        models["random_a"] = random_twin(models["handle"], 0)
        models["random_b"] = random_twin(models["handle"], 1)
    data = Path(a.data)
    files = sorted((data / a.split).glob("*.obj"))
    if not files:
        print(f"error: no meshes in {data / a.split}", file=sys.stderr)
        return 2
    rows = [measure(models, load_mesh(f), read_eseg(data / "seg" / f"{f.stem}.eseg")) for f in files]
    print(f"COSEG vases, {a.split} split: {len(rows)} meshes; models {Path(a.handle_model).name} (H), "
          f"{Path(a.neck_model).name} (N)")
    print()
    print("\n".join(accuracy_lines(rows, models, Path(a.derived))))
    print()
    print("\n".join(keep_table(rows, f"COSEG {a.split} split, mean over the meshes with the part")))
    print()
    print("\n".join(wins(rows, 2) + wins(rows, 1)))
    if not a.no_random:
        print()
        print("\n".join(random_table(rows, f"the COSEG {a.split} split")))
    print(f"\nCOSEG {a.split}: " + differ_most(rows))
    generated = []
    for v in a.vases:
        path = Path(v)
        row = measure(models, load_mesh(path), read_eseg(path.with_suffix(".eseg")))
        generated.append(row)
        print()
        print("\n".join(keep_table([row], f"{path.name} (generated)")))
        print()
        print(f"H says {row.h_pred} ({row.h_prob:.2f}); N says {row.n_pred} ({row.n_prob:.2f}); "
              + differ_most([row]))
    seeded = []
    for seed in range(a.seeds):
        vase = make_vase(draw_params(seed, handles=2), f"seed{seed}")
        seeded.append(measure(models, vase.mesh, vase.labels))
    if seeded:
        print()
        print("\n".join(keep_table(seeded, f"{len(seeded)} seeded generated vases with two handles (seeds 0-"
                                             f"{len(seeded) - 1}), mean")))
        print()
        print("\n".join(wins(seeded, 2) + wins(seeded, 1)))
        said = [f"{r.name}: {r.h_pred} {r.h_prob:.2f}, {r.n_pred} {r.n_prob:.2f}" for r in seeded]
        print("\nseeded vases, what H and N say: " + "; ".join(said))
        print("seeded vases: " + differ_most(seeded))
        if not a.no_random:
            print()
            print("\n".join(random_table(seeded, "the seeded generated vases")))
            for row in generated:
                print()
                print("\n".join(random_table([row], row.name)))
    print(f"\n{time.time() - t0:.0f} s (1 torch thread)")
    if a.json:
        dump = [{"mesh": r.name, "h_pred": r.h_pred, "h_prob": r.h_prob, "n_pred": r.n_pred,
                 "n_prob": r.n_prob, "parts": r.h.parts.tolist(), "h_kept": r.h.kept.tolist(),
                 "n_kept": r.n.kept.tolist(), "overlap": r.overlap, "beyond_chance": r.beyond}
                for r in rows + generated + seeded]
        Path(a.json).write_text(json.dumps(dump, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
