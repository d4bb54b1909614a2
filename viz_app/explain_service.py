"""Edge attributions and model diffs for the pages, as plain functions (no Streamlit, no Plotly).

* **attribution**: which class or part to explain (:func:`target_options`, :func:`default_target`), the
  attribution itself (:func:`attribution`, one backward pass or a few), the deletion check that says
  whether it beats hiding random edges (:func:`deletion`, :func:`verdict`); its values at a pooled stage
  (the mean over each edge's merge group) are colored by :mod:`viz_app.colorings`;
* **model diff**: per stage the overlap of the kept input edges and the rank correlation of the pooling
  priorities, and where the collapse sequences part (:func:`diff_rows`, :func:`divergence_text`).

The Streamlit caches over this module (one backward pass per model, mesh, method and target, shared by
every session) are in :mod:`viz_app.explain_cached`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meshcnn_core import LoadedModel, Mesh
from meshcnn_core.analysis.explain import (
    DEFAULT_METHOD,
    METHODS,
    DeletionCurve,
    deletion_curve,
    edge_attribution,
)
from meshcnn_core.analysis.model_diff import ModelDiff, compare_recordings
from meshcnn_core.recording import Recording

from .colorings import part_label
from .comparison import stage_overlaps
from .stages import short_stage_label

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "METHOD_LABELS",
    "METHOD_HELP",
    "FRACTIONS",
    "SEEDS",
    "CHECK_FRACTION",
    "TargetOption",
    "target_options",
    "default_target",
    "attribution",
    "deletion",
    "MIN_DROP",
    "CLEAR_RATIO",
    "ERASED",
    "Verdict",
    "verdict",
    "probability_name",
    "DiffRow",
    "diff_rows",
    "divergence_text",
]

METHOD_LABELS = {
    "integrated_gradients": "Integrated gradients",
    "grad_input": "Gradient × input",
    "gradcam": "Grad-CAM (input stage)",
}
# Numbers from benchmarks/bench_explain.py: the shipped SHREC-16 classifier (99.17%) on the SHREC-16 test
# split, hiding the top 10% of the input edges against a random 10% (1 torch thread, 267 s).
METHOD_HELP = (
    "How each input edge's share of the prediction is estimated. Measured on the SHREC-16 test split "
    "with the shipped classifier (benchmarks/bench_explain.py), hiding the top 10% of the edges against "
    "a random 10%: **Integrated gradients** (the default; 8 backward passes) lowered the predicted "
    "class's probability more than random on 97.5% of the meshes, 6.6× the random drop on average; "
    "**Gradient × input** (one backward pass, a fifth of the cost) on 95.8%, 5.7×; **Grad-CAM** on "
    "85.0%, 5.0× (on the classifier shipped before, only 79.2%). "
    "For other models and meshes, the deletion check beside the view tells."
)
FRACTIONS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)  # shares of the input edges the deletion check hides
SEEDS = (0, 1, 2, 3, 4)  # random orders it compares with
CHECK_FRACTION = 0.1  # the share the verdict is read at (as in the benchmark)


# ---------------------------------------------------------------- what to explain


@dataclass(frozen=True)
class TargetOption:
    """A class (classifiers) or part (segmenters) an attribution can explain.

    Attributes:
        index: the class or part index.
        name: its name.
        label: what the picker shows (``"snake (predicted, 95%)"``, ``"part 2 (412 edges)"``).
    """

    index: int
    name: str
    label: str


def default_target(rec: Recording) -> int:
    """The predicted class, or the part predicted on the most edges (ties: the lowest index).

    The same choice :func:`meshcnn_core.analysis.explain.resolve_target` makes, read from the recording (no
    forward pass), so the cache key names the target explicitly.
    """
    if rec.task == "classification":
        return int(rec.prediction)
    return int(np.bincount(rec.prediction, minlength=len(rec.class_names)).argmax())


def target_options(rec: Recording) -> list[TargetOption]:
    """What the target picker offers.

    Classifiers: every class, most probable first. Segmenters: the parts predicted on some edge, most
    edges first (a part no edge is predicted as has nothing to average over).
    """
    names = rec.class_names
    if rec.task == "classification":
        p = np.asarray(rec.probabilities, dtype=np.float64).reshape(-1)
        order = np.argsort(-p, kind="stable")
        pred = int(rec.prediction)
        tag = {pred: "predicted, "}
        return [
            TargetOption(int(i), names[i], f"{names[i]} ({tag.get(int(i), '')}{100 * p[i]:.1f}%)")
            for i in order
        ]
    counts = np.bincount(rec.prediction, minlength=len(names))
    order = np.argsort(-counts, kind="stable")
    return [
        TargetOption(int(i), names[i], f"{part_label(names[i])} ({int(counts[i])} edges)")
        for i in order
        if counts[i]
    ]


# ---------------------------------------------------------------- attribution and its check


def attribution(model: LoadedModel, mesh: Mesh, method: str, target: int) -> np.ndarray:
    """``(E,)`` float64 >= 0: each input edge's attribution (MeshCNN's edge order, as the recording's).

    ``mesh`` must be the mesh the recording ran on (the fitted one). Raises what
    :func:`meshcnn_core.analysis.explain.edge_attribution` raises (ValueError, MeshError) with its message.
    """
    return edge_attribution(model, mesh, target=int(target), method=method)


def deletion(model: LoadedModel, mesh: Mesh, scores: np.ndarray, target: int) -> DeletionCurve:
    """The deletion check of ``scores``: :data:`FRACTIONS` of the edges hidden, by score and at random.

    The random orders are :data:`SEEDS`; ``len(FRACTIONS) - 1`` forward passes per order.
    """
    return deletion_curve(model, mesh, scores, FRACTIONS, target=int(target), seeds=SEEDS)


#: Below this drop of the probability (hiding the top edges) the check cannot tell anything apart.
MIN_DROP = 0.01
#: From this many times the random drop on, the attribution is called clearly better than random.
CLEAR_RATIO = 2.0
#: Hiding the top edges leaves at most this share of the probability: "all but erases" the prediction.
ERASED = 0.1


@dataclass(frozen=True)
class Verdict:
    """What the deletion check says at one fraction.

    Attributes:
        fraction: share of the input edges hidden.
        base: the target's probability with nothing hidden.
        drop: how much it falls when the top-scored edges are hidden.
        random_drop: the same, mean over the random orders.
        ratio: ``drop / random_drop`` (nan when the random drop is not positive).
        level: ``"clear"`` (drop >= :data:`MIN_DROP` and more than :data:`CLEAR_RATIO` times the random
            drop, or hiding the top edges leaves at most :data:`ERASED` of the probability, or random
            hiding does not lower it at all), ``"slight"`` (better than random, less than that) or
            ``"none"`` (no better than random, or too small a drop to tell).
        text: what the page says.
    """

    fraction: float
    base: float
    drop: float
    random_drop: float
    ratio: float
    level: str
    text: str

    @property
    def beats(self) -> bool:
        """Whether the attribution does better than random at all."""
        return self.level != "none"


def _moves(delta: float) -> str:
    return f"lowers it by **{delta:.2f}**" if delta >= 0 else f"raises it by **{-delta:.2f}**"


def probability_name(curve: DeletionCurve, task: str) -> str:
    """``"P(snake)"``; segmenters: ``"P(part 2)"`` or ``"P(head)"`` (mean over the edges predicted as it)."""
    return f"P({curve.target_name})" if task == "classification" else f"P({part_label(curve.target_name)})"


def verdict(curve: DeletionCurve, task: str, fraction: float = CHECK_FRACTION) -> Verdict:
    """Read the deletion check at ``fraction`` (one of the curve's fractions)."""
    drop, rnd = curve.drop(fraction)
    ratio = drop / rnd if rnd > 0 else float("nan")
    share = f"{100 * fraction:g}%"
    mean = "" if task == "classification" else ", its mean over the edges predicted as that part"
    head = (
        f"{probability_name(curve, task)} is {curve.base:.2f}{mean}. Hiding the top {share} of the edges by "
        f"attribution {_moves(drop)}; hiding a random {share} {_moves(rnd).replace('**', '')} "
        f"(mean of {len(curve.seeds)} random orders)."
    )
    if drop <= rnd:
        level = "none"
        tail = " The attribution does **not** beat random here: do not read much into this picture."
    elif drop < MIN_DROP:
        level = "none"
        tail = (
            f" Hiding the top edges barely changes the prediction (by less than {MIN_DROP:g}): the check "
            "cannot tell whether the picture means anything."
        )
    elif not np.isfinite(ratio):
        level = "clear"
        tail = " Hiding random edges does not lower it: the bright edges matter to this prediction."
    elif ratio >= CLEAR_RATIO:
        level = "clear"
        tail = f" That is **{ratio:.1f}×** the random drop: the bright edges matter to this prediction."
    elif curve.base - drop <= ERASED * curve.base:  # the ratio cannot exceed base / random drop
        level = "clear"
        tail = (
            " Hiding the top edges all but erases the prediction, more than random edges do "
            f"(**{ratio:.1f}×** their drop): the bright edges matter to this prediction."
        )
    else:
        level = "slight"
        tail = (
            f" That is **{ratio:.1f}×** the random drop: the bright edges matter more than random ones, but "
            "not by much; read the picture with care."
        )
    return Verdict(float(fraction), curve.base, float(drop), float(rnd), float(ratio), level, head + tail)


# ---------------------------------------------------------------- model diff


@dataclass(frozen=True)
class DiffRow:
    """One stage of two models' poolings compared.

    Attributes:
        stage: the stage index.
        label: its short name (``"pool 1"``).
        kept_a, kept_b, both: input edges each model (and both) still have as edges of their own.
        jaccard: ``both / (kept by either)``.
        spearman: rank correlation of the pooling priorities over the edges both have (None when no
            pooling leaves this stage in both models; nan when undefined).
    """

    stage: int
    label: str
    kept_a: int
    kept_b: int
    both: int
    jaccard: float
    spearman: float | None


def diff_rows(a: Recording, b: Recording) -> tuple[list[DiffRow], ModelDiff]:
    """Per stage both models have, the overlap of kept input edges and the priorities' rank correlation.

    Raises:
        ValueError: the recordings ran on different meshes.
    """
    diff = compare_recordings(a, b)
    rho = {s.stage: s.spearman for s in diff.stages}
    rows = [
        DiffRow(
            o.stage, short_stage_label(a, o.stage), o.kept_a, o.kept_b, o.both, o.jaccard, rho.get(o.stage)
        )
        for o in stage_overlaps(a, b)
    ]
    return rows, diff


def divergence_text(diff: ModelDiff, a: Recording, names: tuple[str, str]) -> str:
    """One sentence: where the two collapse sequences part, or that they never do."""
    na, nb = names
    if diff.divergence is None:
        return (
            f"**{na}** and **{nb}** collapse the same edges in the same order: all {diff.shared_collapses} "
            "collapses agree."
        )
    d = diff.divergence
    target = short_stage_label(a, d.stage + 1) if d.stage + 1 < a.num_stages else f"stage {d.stage + 1}"
    what_a = f"edge {d.edge_a}" if d.edge_a is not None else "nothing more (its pooling has stopped)"
    what_b = f"edge {d.edge_b}" if d.edge_b is not None else "nothing more (its pooling has stopped)"
    where = f"collapse {d.position + 1} of the pooling to {target}"
    head = (
        f"The collapse sequences differ from the very first collapse ({where})"
        if d.overall == 0
        else f"The collapse sequences agree for the first **{d.overall}** collapses and part at {where}"
    )
    return f"{head}: {na} collapses {what_a}, {nb} {what_b} (input edge ids)."
