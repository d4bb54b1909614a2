"""Out-of-distribution score: how unlike the training data a mesh looks to the network itself.

The score is the Mahalanobis distance (Lee et al., NeurIPS 2018) of the network's pooled global
feature to the nearest class mean of the training set, with one covariance shared by the classes
(shrunk towards its mean variance so that it inverts with a few hundred meshes):

- classifier: the feature its global average pooling hands to the fully connected layers, i.e. the
  mean over the last pooled stage's edges, ``(C,)``; one mean per class;
- segmenter: the same mean over the deepest (bottleneck) stage's edges with one mean for the whole
  training set can be computed here (parts are per edge: there are no per-mesh classes), but
  ``ood-stats`` refuses segmenters: on the vase segmenter that score did not tell other shapes from
  vases (the non-vase sample meshes scored within the vase test split's 80th-93rd percentiles).

``python -m meshcnn_core ood-stats --model CKPT --data DIR --out NEW.pt`` computes the statistics
on the training split, scores the test split, and writes them into a new checkpoint under the key
``"ood"``; a prediction is then reported with its score's percentile among the test split, and
called unlike the training data above :data:`UNUSUAL_PERCENTILE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "OodStats",
    "OodScore",
    "UNUSUAL_PERCENTILE",
    "SHRINKAGE",
    "global_feature",
    "fit_stats",
    "score",
    "stats_from_checkpoint",
    "assess_recording",
]

UNUSUAL_PERCENTILE = 99.0  # above 99 % of the model's own test meshes: unlike the training data
SHRINKAGE = 0.1  # covariance shrinkage towards (mean variance) * identity


@dataclass(frozen=True)
class OodStats:
    """Statistics of the training set's global features, stored in a checkpoint under ``"ood"``.

    Attributes:
        means: ``(K, C)`` class means (``K = 1`` for segmenters).
        precision: ``(C, C)`` inverse of the shrunk shared covariance.
        test_scores: ``(T,)`` sorted scores of the model's own test split.
        feature: which feature (``"global_pool"`` or ``"bottleneck_pool"``).
        source: what the statistics were computed on (data-set folder name, counts).
    """

    means: np.ndarray
    precision: np.ndarray
    test_scores: np.ndarray
    feature: str
    source: str

    def to_checkpoint(self) -> dict[str, Any]:
        """The ``"ood"`` entry of a checkpoint (tensors and plain values: loads with weights_only)."""
        return {
            "means": torch.from_numpy(self.means.astype(np.float64)),
            "precision": torch.from_numpy(self.precision.astype(np.float64)),
            "test_scores": torch.from_numpy(np.sort(self.test_scores).astype(np.float64)),
            "feature": self.feature,
            "source": self.source,
            "unusual_percentile": UNUSUAL_PERCENTILE,
        }


@dataclass(frozen=True)
class OodScore:
    """The out-of-distribution score of one mesh.

    Attributes:
        distance: Mahalanobis distance to the nearest training class mean.
        percentile: share (0-100) of the model's test meshes that score lower or equal.
        unusual: whether the percentile is above :data:`UNUSUAL_PERCENTILE`.
    """

    distance: float
    percentile: float
    unusual: bool

    def words(self) -> str:
        """One line for the user."""
        head = (f"out-of-distribution score {self.distance:.1f} "
                f"(higher than {self.percentile:.0f}% of the model's test meshes)")
        if self.unusual:
            return head + ": unlike the training data: the prediction says little"
        # only what the score shows: not unusual among the test meshes (it cannot prove the shape is alike)
        return head + ": within the range of the model's test meshes"


def _last_encoder_stage(kinds: Sequence[str]) -> int:
    """Index of the deepest pooled stage (the classifier's last stage; the segmenter's bottleneck)."""
    pools = [i for i, k in enumerate(kinds) if k == "pool"]
    if not pools:
        raise ValueError("the network has no pooled stage")
    first_unpool = next((i for i, k in enumerate(kinds) if k == "unpool"), len(kinds))
    return max(i for i in pools if i < first_unpool)


def global_feature(kinds: Sequence[str], features: Sequence[np.ndarray]) -> np.ndarray:
    """The mean over edges of the deepest pooled stage. Shapes: ``features[k]: (C_k, E_k) -> (C,)``."""
    k = _last_encoder_stage(kinds)
    return np.asarray(features[k], dtype=np.float64).mean(axis=1)


def _distances(x: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Mahalanobis distance of each row to its nearest mean. Shapes: ``(N, C), (K, C), (C, C) -> (N,)``."""
    d = x[:, None, :] - means[None]  # (N, K, C)
    m2 = np.einsum("nkc,cd,nkd->nk", d, precision, d)
    return np.sqrt(np.maximum(m2.min(axis=1), 0.0))


def fit_stats(
    train: np.ndarray, labels: np.ndarray, test: np.ndarray, *, feature: str, source: str
) -> OodStats:
    """Class means and shrunk shared covariance of ``train`` ``(N, C)``; scores of ``test`` ``(T, C)``.

    ``labels`` ``(N,)`` are class indices (all zero for one group).
    """
    classes = np.unique(labels)
    means = np.stack([train[labels == c].mean(axis=0) for c in classes])
    centered = train - means[np.searchsorted(classes, labels)]
    cov = centered.T @ centered / max(len(train) - len(classes), 1)
    cov = (1 - SHRINKAGE) * cov + SHRINKAGE * np.trace(cov) / len(cov) * np.eye(len(cov))
    precision = np.linalg.inv(cov)
    test_scores = np.sort(_distances(test, means, precision))
    return OodStats(means, precision, test_scores, feature, source)


def stats_from_checkpoint(entry: dict | None) -> OodStats | None:
    """Read the ``"ood"`` entry of a checkpoint (``None`` when absent); raises ValueError when malformed."""
    if entry is None:
        return None
    means = np.asarray(entry["means"], dtype=np.float64)
    precision = np.asarray(entry["precision"], dtype=np.float64)
    test_scores = np.sort(np.asarray(entry["test_scores"], dtype=np.float64).reshape(-1))
    c = means.shape[-1] if means.ndim == 2 else -1
    if means.ndim != 2 or precision.shape != (c, c) or len(test_scores) == 0:
        raise ValueError("the out-of-distribution statistics have the wrong shapes")
    return OodStats(
        means, precision, test_scores, str(entry.get("feature", "")), str(entry.get("source", ""))
    )


def score(stats: OodStats, feature: np.ndarray) -> OodScore:
    """Score one global feature ``(C,)`` against ``stats``."""
    if feature.shape != (stats.means.shape[1],):
        raise ValueError(
            f"feature has shape {feature.shape}, the statistics expect ({stats.means.shape[1]},)"
        )
    dist = float(_distances(feature[None].astype(np.float64), stats.means, stats.precision)[0])
    pct = 100.0 * float(np.searchsorted(stats.test_scores, dist, side="right")) / len(stats.test_scores)
    return OodScore(dist, pct, pct > UNUSUAL_PERCENTILE)


def assess_recording(stats: OodStats | None, recording) -> OodScore | None:
    """The score of a recorded forward pass (``None`` when the model has no statistics).

    Uses the recorded stage features, so nothing is run again.
    """
    if stats is None:
        return None
    stages = recording.stages()
    return score(stats, global_feature([s.kind for s in stages], [s.features for s in stages]))
