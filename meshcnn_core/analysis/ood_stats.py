"""Computing a model's out-of-distribution statistics over its data set and storing them in a checkpoint.

``python -m meshcnn_core ood-stats --model CKPT --data DIR --out NEW.pt`` runs :func:`write_ood_checkpoint`:
every training mesh gives the network's global feature (see :mod:`meshcnn_core.analysis.ood`), the class
means and shared covariance are fitted on them, every test mesh is scored, and the checkpoint is
written again, unchanged but for the new ``"ood"`` key, to a new file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checkpoint import _read, model_from_checkpoint, save_checkpoint
from ..data.datasets import scan_dataset
from ..errors import CheckpointError, MeshCNNError
from ..inference import prepare, run
from ..mesh.io import load_mesh
from .ood import UNUSUAL_PERCENTILE, OodStats, fit_stats, global_feature

__all__ = ["OodReport", "dataset_features", "write_ood_checkpoint"]


@dataclass(frozen=True)
class OodReport:
    """What :func:`write_ood_checkpoint` did.

    Attributes:
        out: the checkpoint written.
        stats: the statistics stored.
        n_train, n_test: meshes used per split.
        skipped: meshes that did not fit the model (too many or too few edges, unreadable).
        train_scores: ``(N,)`` scores of the training meshes (for the report only).
    """

    out: Path
    stats: OodStats
    n_train: int
    n_test: int
    skipped: int
    train_scores: np.ndarray

    def words(self) -> str:
        """A short report for the command line."""
        t = self.stats.test_scores
        tr = self.train_scores
        return (
            f"wrote {self.out}: out-of-distribution statistics ({self.stats.feature}, "
            f"{len(self.stats.means)} mean(s)) from {self.n_train} training meshes; "
            f"{self.n_test} test meshes scored (median {np.median(t):.1f}, "
            f"{UNUSUAL_PERCENTILE:.0f}th percentile {np.percentile(t, UNUSUAL_PERCENTILE):.1f}; "
            "training median "
            f"{np.median(tr):.1f})" + (f"; {self.skipped} meshes skipped" if self.skipped else "")
        )


def dataset_features(
    model, paths: list[Path], progress: Callable[[int], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Global features of the meshes that fit ``model``. Returns ``(features (N, C), kept (N,) indices)``."""
    feats, kept = [], []
    for i, p in enumerate(paths):
        try:
            out = run(model, prepare(load_mesh(p)))
        except MeshCNNError:
            continue
        finally:
            if progress is not None:
                progress(i + 1)
        feats.append(
            global_feature(
                [s.kind for s in out.stages],
                [s.features[0, :, : s.topologies[0].num_edges].float().cpu().numpy() for s in out.stages],
            )
        )
        kept.append(i)
    if not feats:
        return np.zeros((0, 0)), np.zeros(0, dtype=np.int64)
    return np.stack(feats), np.asarray(kept, dtype=np.int64)


def write_ood_checkpoint(
    model_path: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> OodReport:
    """Fit out-of-distribution statistics for a checkpoint on its data set and write a new checkpoint.

    Raises:
        CheckpointError: unreadable checkpoint, ``out`` equal to it, or a data set that does not fit.
        MeshError: the data-set folder is in neither of MeshCNN's layouts.
    """
    src, dst = Path(model_path), Path(out)
    if dst.suffix.lower() != ".pt":
        raise CheckpointError(f"{dst}: name the new checkpoint *.pt")
    if dst.resolve() == src.resolve():
        raise CheckpointError(f"{dst}: write the statistics to a new file, not over the checkpoint read")
    ckpt = _read(src)
    model = model_from_checkpoint(ckpt, device="cpu", name=src.stem)
    if model.task != "classification":
        raise CheckpointError(
            f"{src.name}: a segmenter; out-of-distribution statistics are made for classifiers only. A "
            "segmenter's parts are per edge, so there are no per-mesh classes, and the one-Gaussian score "
            "of its bottleneck feature did not tell other shapes from vases (non-vase samples scored within "
            "the vase "
            "test split's 80th-93rd percentiles), so it would mislead"
        )
    info = scan_dataset(data)
    if info.task != model.task:
        raise CheckpointError(f"{Path(data).name} is a {info.task} data set but the model does {model.task}")
    train, test = info.files["train"], info.files["test"]
    if not train or not test:
        raise CheckpointError(f"{Path(data).name}: needs meshes in both the train and the test split")
    total = len(train) + len(test)
    f_train, k_train = dataset_features(model, train, (lambda i: progress(i, total)) if progress else None)
    f_test, k_test = dataset_features(
        model, test, (lambda i: progress(len(train) + i, total)) if progress else None
    )
    if len(k_train) < 2 * max(len(info.class_names) if model.task == "classification" else 1, 2) or not len(
        k_test
    ):
        raise CheckpointError(
            f"{Path(data).name}: too few meshes fit the model ({len(k_train)} train, {len(k_test)} test)"
        )
    if model.task == "classification":
        labels = np.asarray(info.labels["train"], dtype=np.int64)[k_train]
        feature = "global_pool"
    else:
        labels = np.zeros(len(k_train), dtype=np.int64)
        feature = "bottleneck_pool"
    source = f"{Path(data).name}: {len(k_train)} train, {len(k_test)} test meshes"
    stats = fit_stats(f_train, labels, f_test, feature=feature, source=source)
    save_checkpoint(dst, {**ckpt, "ood": stats.to_checkpoint()})
    model_from_checkpoint(_read(dst), device="cpu", name=dst.stem)  # reads back and validates
    train_scores = fit_stats(f_train, labels, f_train, feature=feature, source=source).test_scores
    return OodReport(dst, stats, len(k_train), len(k_test), total - len(k_train) - len(k_test), train_scores)
