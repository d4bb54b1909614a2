"""Write a model card (Markdown) beside a shipped checkpoint, from facts the checkpoint holds.

Run::

    python -m meshcnn_core.model_card checkpoints/shrec16_classifier.pt --config configs/shrec16.json \
        --paper 98.6 --note "..."

The card states: the data set and split, the network config, the training schedule (epochs
done vs planned), the wall time and machine, the test accuracy measured now by
:mod:`meshcnn_core.evaluate`, the paper's number, the commands that reproduce it, and notes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .checkpoint import load_model
from .data.datasets import scan_dataset
from .evaluate import evaluate, format_result

__all__ = ["write_card", "main"]

MACHINE = "2-core CPU, no GPU (torch CPU build)"


def _classes_text(model) -> str:
    """``30 classes: a, b, ...``, or for a segmenter with named parts ``4 parts (...): 1 neck, ...``."""
    names, values = model.class_names, model.label_values
    if model.task == "segmentation" and names != values:
        pairs = ", ".join(f"{v} {n}" for v, n in zip(values, names))
        return f"{len(names)} parts (label value and name): {pairs}"
    return f"{len(names)} classes: {', '.join(names)}"


def _curve(history: list[dict], every: int) -> list[str]:
    rows = [r for r in history if r["epoch"] % every == 0 or r is history[-1]]
    lines = ["| epoch | loss | train acc | test acc | epoch s |", "|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['epoch']} | {r['loss']:.3f} | {100 * r['train_acc']:.1f}% | "
            f"{100 * r['test_acc']:.2f}% | {r.get('epoch_seconds', float('nan')):.0f} |"
        )
    return lines


def _warm_start_section(meta: dict) -> list[str]:
    """The earlier run a warm-started checkpoint continued (``init_from``), with its curve."""
    earlier = meta.get("init_history") or []
    if not meta.get("init_from"):
        return []
    lines = [
        "## Warm start",
        "",
        f"This run started from the weights and input normalization of `{meta['init_from']}` (a fresh "
        "optimizer and learning-rate schedule), so the epochs above come on top of that model's own "
        f"training: {len(earlier)} epochs, best test accuracy "
        + (f"{100 * max(r['test_acc'] for r in earlier):.2f}%." if earlier else "unknown.")
        + " Its curve:",
        "",
    ]
    if earlier:
        lines += [*_curve(earlier, max(1, len(earlier) // 12)), ""]
    return lines


def write_card(
    ckpt_path: str | Path,
    *,
    config_path: str,
    paper: float,
    notes: list[str],
    data: str | None = None,
    threads_note: str = "",
) -> Path:
    """Evaluate the checkpoint on its data set's test split and write ``<ckpt>.md``. Returns the path."""
    ckpt_path = Path(ckpt_path)
    model = load_model(ckpt_path)
    meta = model.metadata
    tc = meta.get("train_config", {})
    data = data or tc.get("data")
    result = evaluate(model, data, split="test")
    info = scan_dataset(data)
    history = meta.get("history") or []
    wall = sum(r.get("epoch_seconds", 0.0) for r in history)
    cpu = [r["epoch_cpu_seconds"] for r in history if "epoch_cpu_seconds" in r]
    last = history[-1] if history else {}
    done, planned = last.get("epoch", meta.get("epochs_done")), tc.get("niter", 0) + tc.get("niter_decay", 0)
    best_epoch = meta.get("checkpoint_epoch", meta.get("epochs_done"))
    name = ckpt_path.stem
    run = tc.get("out_dir", f"runs/{tc.get('name', name)}")
    sched = f"--niter {tc.get('niter')} --niter-decay {tc.get('niter_decay')}"
    lines = [
        f"# {name}",
        "",
        f"MeshCNN {'classifier' if model.task == 'classification' else 'segmenter'} trained by this "
        "project's "
        "own code (`meshcnn_core.train`) on MeshCNN's data set.",
        "",
        "| | |",
        "|---|---|",
        f"| data set | `{Path(data).name}` (`{data}`), MeshCNN's split: {len(info.files['train'])} train / "
        f"{len(info.files['test'])} test meshes |",
        f"| task | {model.task}, {_classes_text(model)} |",
        f"| network | `{model.config.arch}` {json.dumps(tc.get('model', {}))} |",
        f"| augmentation | {json.dumps(tc.get('augment', {}))}, num_aug {tc.get('num_aug')} |",
        f"| optimizer | Adam lr {tc.get('lr')}, beta1 {tc.get('beta1')}, batch {tc.get('batch_size')}, "
        f"lambda schedule niter {tc.get('niter')} + niter_decay {tc.get('niter_decay')}, seed "
        f"{tc.get('seed')} |",
        f"| epochs | {done} done of {planned} planned; this checkpoint is epoch {best_epoch} |",
        f"| wall time | {wall / 60:.0f} min of training ({wall / max(len(history), 1):.0f} s/epoch on average"
        + (
            f"; {np.mean(cpu):.0f} CPU-s/epoch, i.e. the epoch time on an idle core, over the {len(cpu)} "
            "epochs "
            "where it was recorded"
            if cpu
            else ""
        )
        + ") |",
        f"| machine | {MACHINE}{'; ' + threads_note.lstrip('; ') if threads_note else ''} |",
        f"| **test accuracy (evaluate)** | **{100 * result.accuracy:.2f}%**"
        + (
            " (MeshCNN's measure: soft labels, area-weighted per edge)"
            if model.task == "segmentation"
            else " (per mesh)"
        )
        + " |",
    ]
    if result.hard_edge_accuracy is not None:
        lines.append(f"| plain per-edge accuracy (hard labels) | {100 * result.hard_edge_accuracy:.2f}% |")
    lines += [
        f"| last epoch of the run | epoch {last.get('epoch')}: test "
        f"{100 * last.get('test_acc', float('nan')):.2f}% |",
        f"| paper | {paper}% |",
        "",
        "## Reproduce",
        "",
        "```bash",
        f"python -m meshcnn_core.train {config_path} {sched}   # writes {run}/last.pt every epoch; add "
        "--resume after a stop",
        f"python -m meshcnn_core.train export {run}/{Path(meta.get('exported_from', 'best.pt')).name} "
        f"{ckpt_path.as_posix()}",
        f"python -m meshcnn_core.evaluate --model {ckpt_path.as_posix()} --data {data}",
        "```",
        "",
        "## Notes",
        "",
        *[f"- {n}" for n in notes],
        (
            f"- This checkpoint is the run's epoch {best_epoch}, picked as the best test accuracy so far "
            "(MeshCNN's "
            "paper also reports the best test accuracy over training); MeshCNN's data sets have no "
            "validation split, "
            "so picking the epoch on the test split makes this number slightly optimistic; the last epoch's "
            "number "
            "is given above."
            if best_epoch != last.get("epoch")
            else f"- This checkpoint is the run's last epoch ({best_epoch}): no epoch was picked on the "
            "test split."
        ),
        "",
        "## Training curve",
        "",
        *_curve(history, max(1, len(history) // 12)),
        "",
        *_warm_start_section(meta),
        "## Evaluate output",
        "",
        "```",
        format_result(result, ckpt_path.name),
        "```",
        "",
    ]
    out = ckpt_path.with_suffix(".md")
    out.write_text("\n".join(lines))
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    p = argparse.ArgumentParser(prog="python -m meshcnn_core.model_card")
    p.add_argument("checkpoint")
    p.add_argument("--config", required=True, help="the config file that trained it (for the reproduce line)")
    p.add_argument("--paper", type=float, required=True, help="the paper's test accuracy, percent")
    p.add_argument("--data", help="data folder (default: the one it was trained on)")
    p.add_argument("--note", action="append", default=[])
    p.add_argument("--threads-note", default="")
    a = p.parse_args(argv)
    try:
        out = write_card(
            a.checkpoint,
            config_path=a.config,
            paper=a.paper,
            notes=a.note,
            data=a.data,
            threads_note=a.threads_note,
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
