"""A printable walk-through of one recording: features -> convolution -> pooling -> unpooling.

:func:`lesson_summary` writes Markdown with the real numbers of a
:class:`~meshcnn_core.recording.Recording` (and, given the model, of its first convolution), for a
teacher's handout or a printable lesson page. Every number in it is read from the recording or
computed from the model's weights; nothing is illustrative.
"""

from __future__ import annotations

import numpy as np

from ..checkpoint import LoadedModel
from ..recording import Recording
from .conv_explain import (
    FEATURE_MEANINGS,
    FEATURE_NAMES,
    TERM_NAMES,
    ConvExplanation,
    edge_geometry,
    explain_conv,
    input_topology,
)
from .provenance import REMOVAL_WORDS, edge_fate, pooling_stages
from .replay import SKIP_WORDS, replay

__all__ = ["default_lesson_edge", "lesson_summary"]


def default_lesson_edge(rec: Recording) -> int:
    """The edge a lesson follows by default: the first edge the first pooling collapsed (or 0)."""
    pools = pooling_stages(rec)
    if pools:
        first = rec.stage(pools[0]).collapse_order
        if len(first):
            return int(first[0])
    return 0


def _f(x: float) -> str:
    return f"{x:.4g}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a literal pipe inside a Markdown table cell


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out


def _features_section(rec: Recording, edge: int, ex: ConvExplanation | None) -> list[str]:
    geo = ex.geometry if ex is not None else edge_geometry(input_topology(rec), edge)
    raw = rec.input_features[:, edge]
    exact = [
        geo.dihedral, *sorted(geo.opposite_angles), *sorted(geo.height_ratios),
    ]
    lines = [
        "## 1. Features: five numbers per edge",
        "",
        f"The mesh has {int(len(rec.input_vertices))} vertices, {int(len(rec.input_faces))} faces and "
        f"{rec.num_input_edges} edges. MeshCNN describes every edge by five numbers computed from its two "
        f"faces. Edge {edge} joins vertices {int(geo.ends[0])} and {int(geo.ends[1])} "
        f"(length {_f(geo.length)}); the vertices facing it are {int(geo.apexes[0])} and "
        f"{int(geo.apexes[1])}.",
        "",
    ]
    rows = []
    for i in range(5):
        angle = i < 3
        val = f"{_f(raw[i])} ({np.degrees(raw[i]):.1f}°)" if angle else _f(raw[i])
        ex_val = f"{np.degrees(exact[i]):.1f}°" if angle else _f(exact[i])
        rows.append([FEATURE_NAMES[i], FEATURE_MEANINGS[i], val, ex_val])
    lines += _table(["feature", "meaning", f"edge {edge}", "exact geometry"], rows)
    lines += [
        "",
        "MeshCNN divides by (length + 0.1) when it normalizes vectors, so on small meshes its angles differ "
        "from the exact ones; the network was trained on MeshCNN's values.",
        "",
        f"Over all {rec.num_input_edges} edges:",
        "",
    ]
    feats = rec.input_features
    lines += _table(
        ["feature", "min", "median", "max"],
        [[FEATURE_NAMES[i], _f(f.min()), _f(np.median(f)), _f(f.max())] for i, f in enumerate(feats)],
    )
    return lines + [""]


def _conv_section(rec: Recording, edge: int, ex: ConvExplanation | None) -> list[str]:
    topo = input_topology(rec)
    a, b, c, d = (int(n) for n in topo.gemm[edge])
    name = lambda n: "none (boundary)" if n < 0 else str(n)  # noqa: E731
    lines = [
        "## 2. Convolution: an edge and its four neighbours",
        "",
        f"Edge {edge} has four neighbours: a = {name(a)} and b = {name(b)} in its first face, "
        f"c = {name(c)} and d = {name(d)} in its second face. Which face is first depends only on the "
        "order of the faces in the file, so MeshConv only uses terms that stay the same when the faces "
        "swap (a with c, b with d): e, a + c, b + d, |a - c| and |b - d|.",
        "",
    ]
    if ex is not None:
        lines += [
            "The terms, from the normalized features (rows) for each of the 5 input channels (columns):",
            "",
        ]
        lines += _table(["term", *[f"ch {i}" for i in range(5)]],
                        [[TERM_NAMES[j], *[_f(v) for v in ex.terms[j]]] for j in range(5)])
        lines += [
            "",
            f"Output channel {ex.channel} of the first layer (`{ex.layer}`) multiplies each term by a "
            f"learned weight and adds them up: {_f(ex.contributions.sum())} + bias {_f(ex.bias)} = "
            f"**{_f(ex.output)}**. "
            f"The layer computes this sum for every edge and each of its {len(ex.outputs)} output channels, "
            "with the same weights everywhere on the mesh.",
            "",
        ]
    else:
        lines += ["(Pass the model to include the weights and the numbers of this sum.)", ""]
    st0 = rec.stage(0)
    lines += [
        f"After the first block (convolutions, normalization, ReLU) each edge carries "
        f"{st0.features.shape[0]} numbers; edge {edge}'s squared sum, {_f(st0.priority[edge])}, is its "
        "priority for the first pooling.",
        "",
    ]
    return lines


def _pooling_section(rec: Recording, edge: int, max_events: int) -> list[str]:
    pools = pooling_stages(rec)
    lines = ["## 3. Pooling: collapsing the least important edges", ""]
    if not pools:
        return lines + ["This model does not pool.", ""]
    lines += [
        "Each pooling layer visits edges from the lowest priority up. Collapsing an edge merges its end "
        "points and, in each of its two faces, merges one of the other two edges into the third: three "
        "edges fewer. "
        "The features of merged edges are averaged.",
        "",
    ]
    for j, k in enumerate(pools):
        rp = replay(rec, k)
        n_trip = sum(len(e.triplets) for e in rp.events) // 3
        n_skip = sum(e.kind == "skip" for e in rp.events)
        target = f" (target {rp.target})" if rp.target is not None else ""
        skip_note = f", {_plural(n_skip, 'popped edge')} skipped" if rp.has_skips else ""
        lines += [
            f"**Pooling {j + 1}** (stage {k} -> {k + 1}): {rp.edges_in} -> {rp.edges_out} edges{target}: "
            f"{_plural(len(rp.collapses), 'collapse')}, {_plural(n_trip, 'triplet removal')}{skip_note}. "
            "First steps:",
            "",
        ]
        for ev in rp.events[:max_events]:
            ids = ", ".join(str(int(t)) for t in ev.triplets)
            trip = f"after removing valence-3 vertices with their edges {ids}, " if len(ev.triplets) else ""
            if ev.kind == "collapse":
                merged = " and ".join(str(int(m)) for m in ev.merged)
                lines.append(
                    f"- {trip}collapse edge {ev.edge} (priority {_f(ev.priority)}, queue rank {ev.rank}); "
                    f"edges {merged} merged into neighbours; {ev.edges_before} -> {ev.edges_after} edges"
                )
            elif ev.kind == "skip":
                lines.append(f"- {trip}skip edge {ev.edge} (queue rank {ev.rank}): {SKIP_WORDS[ev.reason]}; "
                             f"{ev.edges_before} -> {ev.edges_after} edges")
            else:
                lines.append(f"- remove a valence-3 vertex with its edges {ids}; "
                             f"{ev.edges_before} -> {ev.edges_after} edges")
        lines.append("")
    fate = edge_fate(rec, edge)
    if fate.removed_at is None:
        lines.append(f"Edge {edge} survived every pooling as itself.")
    else:
        st = fate.stages[fate.removed_at]
        where = fate.stages[fate.removed_at + 1].edge_ids
        lines.append(
            f"Edge {edge} was {REMOVAL_WORDS[fate.removed_how]} in pooling "
            f"{pools.index(fate.removed_at) + 1} "
            f"(queue rank {st.rank} of {st.queue_size}); after it, its features are carried by "
            f"edge{'s' if len(where) != 1 else ''} {', '.join(str(int(w)) for w in where)}."
        )
    return lines + [""]


def _unpool_section(rec: Recording) -> list[str]:
    kinds = [rec.stage(k).kind for k in range(rec.num_stages)]
    lines = ["## 4. Unpooling", ""]
    if "unpool" not in kinds:
        last = rec.stage(rec.num_stages - 1)
        return lines + [
            f"A classifier does not unpool: it averages the {last.features.shape[0]} features over the last "
            f"{last.num_edges} edges and two fully connected layers score the classes.", "",
        ]
    lines.append(
        "A segmenter must label every input edge, so it undoes the poolings in reverse order. Each restored "
        "edge receives the features of the pooled edges whose groups hold it (MeshCNN divides by how often "
        "the edge was copied into groups), joined with the features it had before pooling."
    )
    lines.append("")
    for k, kind in enumerate(kinds):
        if kind == "unpool":
            st = rec.stage(k)
            lines.append(f"- stage {k}: back to {st.num_edges} edges, {st.features.shape[0]} features each")
    return lines + [""]


def _result_section(rec: Recording) -> list[str]:
    names = rec.class_names
    lines = ["## 5. Result", ""]
    if rec.task == "classification":
        p = rec.probabilities
        top = np.argsort(-p)[:3]
        ranked = ", ".join(f"{names[i]} {100 * p[i]:.1f}%" for i in top)
        lines.append(f"The classifier's top classes: {ranked}.")
    else:
        pred = rec.prediction
        counts = np.bincount(pred, minlength=len(names))
        parts = ", ".join(f"{n} {int(c)}" for n, c in zip(names, counts))
        lines.append(f"Edges per predicted part: {parts}.")
    return lines + [""]


def lesson_summary(
    rec: Recording, model: LoadedModel | None = None, *, edge: int | None = None, channel: int = 0,
    max_events: int = 5,
) -> str:
    """Markdown walk-through of one recording with its real numbers.

    Args:
        rec: the recording.
        model: the model that made it; with it, the convolution section shows the weights and the sum.
        edge: the input edge to follow (default :func:`default_lesson_edge`).
        channel: the first layer's output channel to compute.
        max_events: how many replay steps to list per pooling layer.

    Raises:
        ValueError: a bad edge or channel, or a model that did not make ``rec``.
    """
    edge = default_lesson_edge(rec) if edge is None else edge
    if not isinstance(edge, (int, np.integer)) or not 0 <= int(edge) < rec.num_input_edges:
        raise ValueError(f"input edge ids run from 0 to {rec.num_input_edges - 1}; got {edge!r}")
    edge = int(edge)
    ex = explain_conv(model, rec, edge, channel) if model is not None else None
    meta = rec.meta
    lines = [
        f"# How MeshCNN reads {meta.get('mesh_name', 'this mesh')}",
        "",
        f"Model: {meta.get('model_name', 'model')} ({rec.task}, {rec.num_stages} stages). "
        f"Following edge {edge}.",
        "",
    ]
    lines += _features_section(rec, edge, ex)
    lines += _conv_section(rec, edge, ex)
    lines += _pooling_section(rec, edge, max_events)
    lines += _unpool_section(rec)
    lines += _result_section(rec)
    return "\n".join(lines)
