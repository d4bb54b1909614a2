"""Per-edge colorings of a recording's stages: what each color means and which range it spans.

A coloring is a plain value (:class:`EdgeColoring`: per-edge values, a Plotly colorscale, a range and,
for categories, their names) computed from a :class:`~meshcnn_core.recording.Recording`, a stage index
and a :class:`ColorChoice`. Figures (:mod:`viz_app.figures`) and exports (:mod:`viz_app.exports`) draw
it; nothing here draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.colors as pcolors

from meshcnn_core.recording import Recording, is_label_value

from .stages import pooled_levels, short_stage_label, stage_label

__all__ = [
    "part_label",
    "QUANTITIES",
    "SCALED",
    "KEPT_CATEGORIES",
    "KEPT_COLORS",
    "ColorChoice",
    "EdgeColoring",
    "edge_coloring",
    "quantities_for",
    "categorical",
    "survival_coloring",
    "depth_coloring",
    "resolution_coloring",
    "group_mean",
    "input_values_at_stage",
    "rgb_colors",
]

QUANTITIES = {
    "activation": "Activation norm",
    "attribution": "Attribution",
    "channel": "One channel",
    "priority": "Pooling priority",
    "label": "Predicted label",
    "truth": "Ground-truth label",
    "wrong": "Wrong edges",
    "survival": "Survival depth",
}
# the continuous quantities whose range can be fixed (all stages) or per stage
SCALED = ("activation", "attribution", "channel")

LABEL_COLORS = list(pcolors.qualitative.D3) + list(pcolors.qualitative.Alphabet)
KEPT_CATEGORIES = ("kept by neither", "kept by A only", "kept by B only", "kept by both")
KEPT_COLORS = ("#d0d0d0", "#e6550d", "#3182bd", "#404040")
RIGHT_WRONG_COLORS = ("#bdbdbd", "#d62728")
# attribution: pale grey (nothing) to dark red (much), so the few edges that matter stand out on the surface
HEAT = [[0.0, "#d4d4d8"], [0.25, "#fdd49e"], [0.5, "#fc8d59"], [0.75, "#d7301f"], [1.0, "#7f0000"]]
# group size: light grey (an edge that stands for itself) to dark blue (a large merge group)
GROUP_SIZE = [[0.0, "#d4d4d8"], [0.3, "#9ecae1"], [0.65, "#3182bd"], [1.0, "#08306b"]]


@dataclass(frozen=True, eq=False)
class ColorChoice:
    """What to color the edges by.

    Attributes:
        quantity: a key of :data:`QUANTITIES`.
        channel: the feature channel for ``"channel"`` (clamped to each stage's channels).
        fixed_scale: for :data:`SCALED` quantities, one range over all stages (colors keep their
            meaning while walking the stages); else each stage's own range.
        truth: ``(E,)`` ground-truth class per input edge (segmentation), needed by ``"truth"`` and
            ``"wrong"``.
        attribution: ``(E,)`` attribution per input edge (:mod:`viz_app.explain_service`), needed by
            ``"attribution"``; a pooled stage shows each edge's mean over its merge group.
    """

    quantity: str = "activation"
    channel: int = 0
    fixed_scale: bool = True
    truth: np.ndarray | None = None
    attribution: np.ndarray | None = None


@dataclass(frozen=True)
class EdgeColoring:
    """Per-edge values and how to color them.

    Attributes:
        values: ``(E_k,)`` float32 value per edge.
        title: colorbar / legend title.
        colorscale: a Plotly colorscale (list of ``[position, color]``).
        cmin, cmax: the value range the colorscale spans.
        categories: for discrete values ``0..n-1``: their names (drawn as a legend), else None.
        tickvals, ticktext: colorbar ticks for labelled discrete scales (survival depth), else None.
        fixed: for :data:`SCALED` quantities whether the range spans all stages (True) or this stage
            (False); None for the others (their scale never changes between stages).
    """

    values: np.ndarray
    title: str
    colorscale: list
    cmin: float
    cmax: float
    categories: tuple[str, ...] | None = None
    tickvals: tuple[float, ...] | None = None
    ticktext: tuple[str, ...] | None = None
    fixed: bool | None = None


def quantities_for(task: str, has_truth: bool) -> list[str]:
    """The keys of :data:`QUANTITIES` that make sense for a ``task`` model (with or without ground truth)."""
    out = ["activation", "attribution", "channel", "priority"]
    if task == "segmentation":
        out += ["label"] + (["truth", "wrong"] if has_truth else [])
    return out + ["survival"]


def _discrete_scale(colors) -> list:
    n = len(colors)
    scale = []
    for i, c in enumerate(colors):
        scale += [[i / n, c], [(i + 1) / n, c]]
    return scale


def _robust_range(values: np.ndarray) -> tuple[float, float]:
    """2nd..98th percentile (a few extreme edges saturate instead of washing out the rest)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 0.0, 1.0
    lo, hi = float(np.percentile(finite, 2)), float(np.percentile(finite, 98))
    if float(finite.min()) >= 0 and lo < 0.05 * hi:
        lo = 0.0
    return lo, hi


def _continuous(
    values: np.ndarray, title: str, lo: float, hi: float, fixed: bool, scale: list | None = None
) -> EdgeColoring:
    v = np.asarray(values, dtype=np.float32)
    if lo < 0 < hi:  # signed: a diverging scale centred on zero
        m = max(-lo, hi)
        return EdgeColoring(v, title, pcolors.get_colorscale("RdBu_r"), -m, m, fixed=fixed)
    if hi <= lo:
        hi = lo + 1.0
    return EdgeColoring(v, title, scale or pcolors.get_colorscale("Viridis"), lo, hi, fixed=fixed)


def part_label(name: str) -> str:
    """How a segmenter's part is written: ``part 3`` for a bare label value, else its name (``head``)."""
    return f"part {name}" if is_label_value(name) else str(name)


def categorical(values: np.ndarray, names: list[str], title: str, colors=None) -> EdgeColoring:
    """Discrete values ``0..len(names)-1`` with a color (and a legend entry) each."""
    n = max(len(names), 1)
    colors = list(colors or LABEL_COLORS)[:n]
    while len(colors) < n:  # more classes than palette entries: cycle
        colors.append(LABEL_COLORS[len(colors) % len(LABEL_COLORS)])
    return EdgeColoring(
        np.asarray(values, dtype=np.float32), title, _discrete_scale(colors), -0.5, n - 0.5, tuple(names)
    )


def group_mean(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per group (CSR rows), the mean of ``values`` over its members (0 for an empty group).

    Shapes: indptr ``(G + 1,)``, indices ``(nnz,)`` into values ``(E,)`` -> ``(G,)`` float64.
    """
    sizes = np.diff(np.asarray(indptr, dtype=np.int64))  # (G,)
    rows = np.repeat(np.arange(len(sizes)), sizes)  # (nnz,)
    picked = np.asarray(values, dtype=np.float64)[np.asarray(indices, dtype=np.int64)]  # (nnz,)
    total = np.bincount(rows, weights=picked, minlength=len(sizes))
    return np.divide(total, sizes, out=np.zeros(len(sizes)), where=sizes > 0)


def input_values_at_stage(rec: Recording, values: np.ndarray, k: int) -> np.ndarray:
    """``(E_k,)``: per edge of stage ``k``, the mean of a per-input-edge quantity over its merge group.

    At the input every edge is its own group: ``values`` unchanged.

    Raises:
        ValueError: ``values`` is not one number per input edge.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (rec.num_input_edges,):
        raise ValueError(f"need one value per input edge ({rec.num_input_edges}), got shape {values.shape}")
    st = rec.stage(k)
    return group_mean(st.groups_indptr, st.groups_indices, values)


def _scaled_values(
    rec: Recording, k: int, quantity: str, channel: int, attribution: np.ndarray | None = None
) -> tuple[np.ndarray, str]:
    if quantity == "attribution":
        if attribution is None:
            raise ValueError("'Attribution' needs the attribution of every input edge")
        return input_values_at_stage(rec, attribution, k), "attribution" if k == 0 else "mean attribution"
    feats = rec.stage(k).features  # (C_k, E_k)
    if quantity == "activation":
        return np.sqrt((feats.astype(np.float64) ** 2).sum(0)), "activation norm"
    c = int(np.clip(channel, 0, feats.shape[0] - 1))
    return feats[c].astype(np.float64), f"channel {c}"


def depth_coloring(depth: np.ndarray, labels: list[str] | tuple[str, ...]) -> EdgeColoring:
    """Survival depths ``0..len(labels)-1`` (input, pool 1, ...) on a discrete scale, dark to bright.

    Shapes: depth ``(n,)`` int.
    """
    n = len(labels)
    colors = pcolors.sample_colorscale("Viridis", [i / max(n - 1, 1) for i in range(n)])
    return EdgeColoring(
        np.asarray(depth, dtype=np.float32),
        "deepest stage kept",
        _discrete_scale(colors),
        -0.5,
        n - 0.5,
        None,
        tuple(float(k) for k in range(n)),
        tuple(labels),
    )


def _depth_coloring(rec: Recording, depth: np.ndarray) -> EdgeColoring:
    levels = pooled_levels(rec)  # the input and pooled stages come first: level i is stage i
    text = [stage_label(rec, k).replace(" · ", " (") + ")" if k else "input" for k in levels]
    return depth_coloring(depth, text)


def survival_coloring(rec: Recording) -> EdgeColoring:
    """Each input edge colored by the deepest pooled stage at which it is still an edge of its own."""
    return _depth_coloring(rec, rec.survival_depth())


def resolution_coloring(rec: Recording, k: int) -> EdgeColoring:
    """Each input edge colored by how many input edges its edge at stage ``k`` stands for.

    :meth:`Recording.resolution`: the size of the merge group holding it (an input edge held by ``m``
    groups counts ``1/m`` in each). Sizes span orders of magnitude (most edges stand for one or two,
    a few for dozens), so the colors follow ``log2(size)`` with ticks at 1, 2, 4, ...; light grey is an
    edge that stands for itself, dark blue a large group.

    Shapes: values ``(E,)`` float32, ``log2`` of the sizes (uncovered edges, size 0, drawn as 1).
    """
    sizes = np.maximum(rec.resolution(k), 1.0)
    top = max(float(sizes.max()), 2.0)
    ticks = [2.0**i for i in range(int(np.floor(np.log2(top))) + 1)]
    title = f"input edges per edge<br>at {short_stage_label(rec, k)}"
    return EdgeColoring(
        np.log2(sizes).astype(np.float32),
        title,
        GROUP_SIZE,
        0.0,
        float(np.log2(top)),
        tickvals=tuple(float(np.log2(t)) for t in ticks),
        ticktext=tuple(f"{t:g}" for t in ticks),
    )


def edge_coloring(rec: Recording, k: int, choice: ColorChoice | None = None) -> EdgeColoring:
    """Values to color stage ``k``'s edges by (see :data:`QUANTITIES`).

    Raises:
        ValueError: an unknown quantity, or ``"truth"``/``"wrong"`` without ground truth.
    """
    choice = choice or ColorChoice()
    q = choice.quantity
    st = rec.stage(k)
    if q in SCALED:
        values, title = _scaled_values(rec, k, q, choice.channel, choice.attribution)
        if choice.fixed_scale:
            ranges = [
                _robust_range(_scaled_values(rec, j, q, choice.channel, choice.attribution)[0])
                for j in range(rec.num_stages)
            ]
            lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
        else:
            lo, hi = _robust_range(values)
        return _continuous(values, title, lo, hi, choice.fixed_scale, HEAT if q == "attribution" else None)
    if q == "priority":  # the queue key is heavy-tailed: its rank is what decides the order
        order = np.argsort(st.priority, kind="stable")
        rank = np.empty(len(order), dtype=np.float32)
        rank[order] = np.arange(len(order), dtype=np.float32) / max(len(order) - 1, 1)
        title = "priority rank<br>(0 = lowest)"
        return EdgeColoring(rank, title, pcolors.get_colorscale("Plasma"), 0.0, 1.0)
    if q == "label":
        names = rec.class_names
        if rec.task == "segmentation":
            return categorical(rec.prediction[st.edge_ids], names, "predicted part")
        pred = int(rec.prediction)
        return categorical(np.zeros(st.num_edges), [names[pred]], "predicted class")
    if q in ("truth", "wrong"):
        truth = choice.truth
        if truth is None or np.shape(truth) != (rec.num_input_edges,):
            raise ValueError(f"{QUANTITIES[q]!r} needs the ground truth of every input edge")
        truth = np.asarray(truth)
        if q == "truth":
            return categorical(truth[st.edge_ids], rec.class_names, "ground-truth part")
        wrong = (rec.prediction != truth)[st.edge_ids]
        return categorical(wrong.astype(np.float32), ["right", "wrong"], "predicted part", RIGHT_WRONG_COLORS)
    if q == "survival":
        return _depth_coloring(rec, rec.survival_depth()[st.edge_ids])
    raise ValueError(f"unknown quantity {q!r}; expected one of {', '.join(QUANTITIES)}")


def rgb_colors(col: EdgeColoring) -> np.ndarray:
    """``(E_k, 3)`` uint8 colors of ``col``'s values (for PyVista renders)."""
    if len(col.colorscale) % 2 == 0 and all(
        col.colorscale[i][1] == col.colorscale[i + 1][1] for i in range(0, len(col.colorscale), 2)
    ):  # a discrete scale
        colors = [col.colorscale[i][1] for i in range(0, len(col.colorscale), 2)]
        table = np.asarray([_to_rgb(c) for c in colors], dtype=np.float64)
        idx = np.clip(np.round(np.nan_to_num(col.values) - col.cmin - 0.5), 0, len(colors) - 1).astype(
            np.int64
        )
        return table[idx].astype(np.uint8)
    n = 256
    stops = pcolors.sample_colorscale(col.colorscale, [i / (n - 1) for i in range(n)], colortype="tuple")
    table = np.asarray([[float(x) for x in s] for s in stops])
    if table.max() <= 1.0:
        table = table * 255.0
    t = (np.asarray(col.values, dtype=np.float64) - col.cmin) / max(col.cmax - col.cmin, 1e-12)
    idx = np.clip(np.nan_to_num(t) * (n - 1), 0, n - 1).round().astype(np.int64)
    return table[idx].astype(np.uint8)


def _to_rgb(color: str) -> tuple[float, float, float]:
    if color.startswith("#"):
        return pcolors.hex_to_rgb(color)
    return pcolors.unlabel_rgb(color)
