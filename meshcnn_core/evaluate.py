"""Evaluate a checkpoint on a data-set split: accuracy and a confusion matrix.

Run::

    python -m meshcnn_core.evaluate --model checkpoints/shrec16_classifier.pt --data DATA/shrec_16
    python -m meshcnn_core.evaluate --model runs/coseg_vases/best.pt --data DATA/coseg_vases --json

(``DATA``: ``../shared/datasets`` here.)

Classification: the share of meshes whose predicted class is right. Segmentation: MeshCNN's
number (the one its paper reports): per mesh, the area-weighted share of edges whose predicted
part is one of the edge's soft labels, averaged over meshes; also the plain per-edge hard-label
accuracy (every edge of the split counted once). The confusion matrix counts meshes
(classification) or edges against their hard label (segmentation); rows are the truth.
Bad input (missing files, a model that does not fit the data) exits with code 2 and one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checkpoint import LoadedModel, load_model
from .data.datasets import MeshDataset, collate, default_cache_dir, scan_dataset
from .errors import MeshCNNError

__all__ = ["EvalResult", "evaluate", "format_result", "main"]


@dataclass
class EvalResult:
    """What :func:`evaluate` measured.

    Attributes:
        task: ``"classification"`` or ``"segmentation"``.
        split: the split evaluated.
        count: number of meshes.
        accuracy: per-mesh accuracy (classification) or MeshCNN's soft area-weighted one.
        hard_edge_accuracy: segmentation only: plain per-edge accuracy against the hard labels.
        confusion: ``(C, C)`` int64, rows = truth, columns = prediction.
        class_names: row/column names.
    """

    task: str
    split: str
    count: int
    accuracy: float
    hard_edge_accuracy: float | None
    confusion: np.ndarray
    class_names: list[str]

    def as_dict(self) -> dict:
        """JSON-ready dict."""
        return {
            "task": self.task,
            "split": self.split,
            "count": self.count,
            "accuracy": self.accuracy,
            "hard_edge_accuracy": self.hard_edge_accuracy,
            "confusion": self.confusion.tolist(),
            "class_names": self.class_names,
        }


def _check_compatible(model: LoadedModel, task: str, nclasses: int) -> None:
    if model.task != task:
        raise MeshCNNError(f"the model is a {model.task} model but the data set is a {task} data set")
    if model.config.nclasses != nclasses:
        raise MeshCNNError(f"the model has {model.config.nclasses} classes but the data set has {nclasses}")


@torch.no_grad()
def evaluate(
    model: LoadedModel,
    data: str | Path,
    *,
    split: str = "test",
    batch_size: int = 8,
    cache_dir: str | Path | None = None,
) -> EvalResult:
    """Run ``model`` over a split of the data set in ``data``.

    Raises:
        MeshCNNError: the folder is not a data set, the model does not fit it, a mesh is too big.
    """
    info = scan_dataset(data)
    _check_compatible(model, info.task, info.nclasses)
    ds = MeshDataset(info, split, cache_dir=cache_dir if cache_dir is not None else default_cache_dir())
    if len(ds) == 0:
        raise MeshCNNError(f"{data}: the {split} split has no meshes")
    n_in, nc = model.config.ninput_edges, model.config.nclasses
    confusion = np.zeros((nc, nc), dtype=np.int64)
    acc_sum, hard_ok, hard_n = 0.0, 0, 0
    for start in range(0, len(ds), batch_size):
        samples = [ds[i] for i in range(start, min(start + batch_size, len(ds)))]
        for s in samples:
            if s.topology.num_edges > n_in:
                raise MeshCNNError(f"{s.name}: {s.topology.num_edges} edges, more than the model's {n_in}")
        batch = collate(samples, model.mean, model.std, n_in)
        logits = model.net(batch.x.to(model.device), batch.topologies).logits.cpu()
        pred = logits.argmax(dim=1).numpy()  # (B,) or (B, N)
        if info.task == "classification":
            truth = batch.labels.numpy()
            np.add.at(confusion, (truth, pred), 1)
            acc_sum += float((truth == pred).sum())
            continue
        for b, s in enumerate(samples):
            e = s.topology.num_edges
            p = pred[b, :e]
            acc_sum += float(((s.soft[np.arange(e), p] > 0) * s.edge_areas).sum())
            hard_ok += int((p == s.label).sum())
            hard_n += e
            np.add.at(confusion, (s.label, p), 1)
    hard = hard_ok / hard_n if info.task == "segmentation" else None
    names = model.class_names if info.task == "segmentation" else info.class_names  # a segmenter's part names
    return EvalResult(info.task, split, len(ds), acc_sum / len(ds), hard, confusion, list(names))


def format_result(r: EvalResult, model_name: str = "model") -> str:
    """A plain-text report: accuracy lines, then the confusion matrix."""
    lines = [f"model: {model_name}", f"task: {r.task}", f"split: {r.split} ({r.count} meshes)"]
    if r.task == "classification":
        lines.append(f"accuracy: {100 * r.accuracy:.2f}% (per mesh)")
    else:
        lines.append(f"accuracy: {100 * r.accuracy:.2f}% (MeshCNN's: soft labels, area-weighted per edge)")
        lines.append(f"hard_edge_accuracy: {100 * r.hard_edge_accuracy:.2f}% (plain per edge, hard labels)")
    unit = "meshes" if r.task == "classification" else "edges"
    lines.append(f"confusion matrix ({unit}; rows = truth, columns = prediction):")
    names = [n[:10] for n in r.class_names]
    w = max(6, max(len(n) for n in names), len(str(int(r.confusion.max(initial=0)))))
    lines.append(" " * (w + 1) + " ".join(n.rjust(w) for n in names))
    for name, row in zip(names, r.confusion):
        lines.append(name.rjust(w) + " " + " ".join(str(int(v)).rjust(w) for v in row))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    p = argparse.ArgumentParser(prog="python -m meshcnn_core.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="a checkpoint (.pt)")
    p.add_argument("--data", required=True, help="a data-set folder in MeshCNN's layout")
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--cache-dir", help="where prepared meshes are cached")
    p.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    a = p.parse_args(argv)
    try:
        model = load_model(a.model, device=a.device)
        r = evaluate(model, a.data, split=a.split, batch_size=a.batch_size, cache_dir=a.cache_dir)
    except (MeshCNNError, OSError, ValueError) as exc:
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2
    print(json.dumps(r.as_dict()) if a.json else format_result(r, Path(a.model).name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
