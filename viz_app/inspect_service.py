"""What the inspect and teaching pages compute, as plain functions (no Streamlit, no Plotly).

* **picking**: :func:`parse_click` checks what the browser sent, :func:`pick_from_click` turns it into
  an edge of the shown stage;
* **provenance**: :func:`edge_focus` (one input edge seen at one stage: itself, or the edges that
  carry it, and the input edges merged into it), :func:`fate_rows` (the same at every stage);
* **collapse replay**: :func:`layer_label`, :func:`replay_summary`, :func:`event_sentence`,
  :func:`replay_rows`, :func:`replay_categories` (what each edge is after a step, for coloring);
* **MeshConv explainer**: Markdown tables of its numbers (:func:`feature_table` ...) and
  :func:`first_layer_outputs`, the network's own first-layer output to check them against.

Edges are named by their *input edge id* (the id of the input edge they started as) everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from meshcnn_core.checkpoint import LoadedModel
from meshcnn_core.inference import prepare, run
from meshcnn_core.inspection.conv_explain import (
    FEATURE_MEANINGS,
    FEATURE_NAMES,
    TERM_NAMES,
    ConvExplanation,
    first_conv,
    input_topology,
)
from meshcnn_core.inspection.provenance import (
    REMOVAL_WORDS,
    EdgeFate,
    EdgeOrigin,
    PickedEdge,
    carriers,
    edge_fate,
    edge_origin,
    nearest_edge,
    pooling_stages,
)
from meshcnn_core.inspection.replay import SKIP_WORDS, Replay, ReplayEvent
from meshcnn_core.mesh.features import edge_points
from meshcnn_core.mesh.io import Mesh
from meshcnn_core.recording import Recording

from .stages import stage_label

__all__ = [
    "Click",
    "parse_click",
    "pick_from_click",
    "id_list",
    "EdgeFocus",
    "edge_focus",
    "fate_summary",
    "fate_rows",
    "layer_label",
    "replay_summary",
    "event_sentence",
    "replay_rows",
    "REPLAY_CATEGORIES",
    "replay_categories",
    "markdown_table",
    "feature_table",
    "reads_table",
    "terms_table",
    "weights_table",
    "contributions_table",
    "first_layer_outputs",
    "exact_features",
]


# ---------------------------------------------------------------- picking


@dataclass(frozen=True)
class Click:
    """A click in a 3D view, as the browser reported it (already checked).

    Attributes:
        id: unique per click (a click is applied once).
        trace: the name of the clicked trace.
        row: the edge row the clicked point belongs to (the trace's ``customdata``), if it says.
        point: the clicked coordinates ``(3,)``, if finite.
    """

    id: str
    trace: str
    row: int | None
    point: tuple[float, float, float] | None


def parse_click(value: object) -> Click | None:
    """The component's value as a :class:`Click`; None when it is missing or malformed (browser data)."""
    if not isinstance(value, Mapping):
        return None
    cid, trace = value.get("id"), value.get("trace")
    if not isinstance(cid, str) or not isinstance(trace, str):
        return None
    cd = value.get("customdata")
    if isinstance(cd, list) and cd:
        cd = cd[0]
    row = (
        int(cd)
        if isinstance(cd, (int, float)) and not isinstance(cd, bool) and float(cd).is_integer()
        else None
    )
    xyz = [value.get(k) for k in ("x", "y", "z")]
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in xyz)
    point = tuple(float(v) for v in xyz) if ok else None
    return Click(cid[:80], trace[:40], row, point)


def pick_from_click(rec: Recording, stage: int, click: Click) -> PickedEdge:
    """The edge of ``stage`` a click names: the row the clicked point carries, else the edge nearest to it.

    Raises:
        ValueError: the click names no edge of this stage and has no usable coordinates.
    """
    st = rec.stage(stage)
    if click.row is not None and 0 <= click.row < st.num_edges:
        return PickedEdge(stage=st.index, row=click.row, edge_id=int(st.edge_ids[click.row]), distance=0.0)
    if click.point is None:
        raise ValueError("the click carried no edge and no coordinates; click an edge or its midpoint dot")
    return nearest_edge(rec, stage, click.point)


def id_list(ids: Sequence[int] | np.ndarray, limit: int = 12) -> str:
    """``"4, 9, 17"``; longer lists end with ``"… (+n more)"``."""
    ids = [int(i) for i in ids]
    head = ", ".join(str(i) for i in ids[:limit])
    return head + (f", … (+{len(ids) - limit} more)" if len(ids) > limit else "")


# ---------------------------------------------------------------- provenance


@dataclass(frozen=True)
class EdgeFocus:
    """One input edge seen at one stage.

    Attributes:
        stage: the stage shown.
        edge_id: the followed input edge id.
        row: its row at ``stage`` when it is still an edge there, else None.
        carrier_rows: ``(n,)`` rows of ``stage`` whose group holds it (its own row among them when alive).
        carrier_ids: ``(n,)`` their input edge ids.
        origin: when ``row`` is given, the input edges merged into it.
        merged_into_carriers: ``(M,)`` input ids in the groups of the carriers (its origin when alive).
        fate: the input edge at every stage.
        sentence: what this means, in words.
    """

    stage: int
    edge_id: int
    row: int | None
    carrier_rows: np.ndarray
    carrier_ids: np.ndarray
    origin: EdgeOrigin | None
    merged_into_carriers: np.ndarray
    fate: EdgeFate
    sentence: str


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def edge_focus(rec: Recording, stage: int, edge_id: int) -> EdgeFocus:
    """Where input edge ``edge_id`` is at ``stage`` and what was merged into it (or into its carriers).

    Raises:
        ValueError: a bad stage or edge id.
    """
    fate = edge_fate(rec, edge_id)
    sc = fate.stages[stage]
    st = rec.stage(stage)
    rows = carriers(st, fate.edge_id)
    ids = st.edge_ids[rows]
    groups = [st.group(int(r)) for r in rows]
    merged = np.unique(np.concatenate(groups)) if groups else np.zeros(0, dtype=np.int64)
    where = f"stage {stage} ({stage_label(rec, stage)})"
    if sc.alive:
        origin = edge_origin(rec, stage, sc.row)
        n = len(origin.members)
        unpool = st.kind == "unpool"
        if n == 1:
            sentence = f"Edge {fate.edge_id} is an edge of {where}; its group holds only itself."
        elif unpool:
            sentence = (
                f"Edge {fate.edge_id} is an edge of {where}, back at the resolution of an earlier stage; "
                f"its group there holds {_plural(n, 'input edge')} (itself included): "
                f"{id_list(origin.members)}."
            )
        else:
            sentence = (
                f"Edge {fate.edge_id} is an edge of {where}; {_plural(n, 'input edge')} (itself included) "
                f"have been merged into it: {id_list(origin.members)}."
            )
        others = [int(i) for i in ids if int(i) != fate.edge_id]
        if others:
            sentence += (
                f" Edge{'s' if len(others) > 1 else ''} {id_list(others)} also "
                f"hold{'' if len(others) > 1 else 's'} it in "
                f"{'their groups' if len(others) > 1 else 'its group'}."
            )
        return EdgeFocus(stage, fate.edge_id, sc.row, rows, ids, origin, merged, fate, sentence)
    if fate.removed_at is not None and fate.removed_at < stage:
        how = (
            f"it was {REMOVAL_WORDS[fate.removed_how]} by pooling "
            f"{pooling_stages(rec).index(fate.removed_at) + 1} (after stage {fate.removed_at})"
        )
    else:
        how = "it is not an edge of this stage"
    carried = (
        f"; its features are carried by edge{'s' if len(ids) > 1 else ''} {id_list(ids)}"
        if len(ids)
        else "; no edge of this stage carries it"
    )
    sentence = f"Input edge {fate.edge_id} is not an edge of {where}: {how}{carried}."
    return EdgeFocus(stage, fate.edge_id, None, rows, ids, None, merged, fate, sentence)


def fate_summary(rec: Recording, fate: EdgeFate) -> str:
    """One sentence: how the input edge left the mesh (or that it survived), with its queue rank then."""
    if fate.removed_at is None:
        return f"Input edge {fate.edge_id} survived every pooling as itself."
    k = fate.removed_at
    sc = fate.stages[k]
    nxt = fate.stages[k + 1].edge_ids
    carried = (
        f"carried by edge{'s' if len(nxt) != 1 else ''} {id_list(nxt)}" if len(nxt) else "carried by no edge"
    )
    return (
        f"Input edge {fate.edge_id} was {REMOVAL_WORDS[fate.removed_how]} by pooling "
        f"{pooling_stages(rec).index(k) + 1} (stage {k} → {k + 1}), as removal {fate.removed_step + 1} "
        "of that "
        f"pooling; it was number {sc.rank + 1} of {sc.queue_size} in its queue. After that its features are "
        f"{carried}."
    )


def fate_rows(rec: Recording, fate: EdgeFate) -> list[dict[str, str]]:
    """A table row per stage: is it itself an edge there, its queue rank, and which edges carry it."""
    pools = set(pooling_stages(rec))
    out = []
    for sc in fate.stages:
        if sc.rank is not None:
            rank = f"{sc.rank + 1} of {sc.queue_size}"
        elif sc.stage in pools:
            rank = "(not in the queue: no longer an edge)"
        else:
            rank = "(no pooling follows)"
        out.append(
            {
                "stage": stage_label(rec, sc.stage),
                "itself an edge": "yes" if sc.alive else "no",
                "next pooling's queue position": rank,
                "priority": f"{sc.priority:.4g}" if sc.priority is not None else "",
                "carried by": id_list(sc.edge_ids, 8) if len(sc.edge_ids) else "(none)",
            }
        )
    return out


# ---------------------------------------------------------------- collapse replay


def layer_label(rec: Recording, stage: int) -> str:
    """``"pooling 1: stage 0 → 1 (1497 → 1050 edges)"``."""
    j = pooling_stages(rec).index(stage) + 1
    return (
        f"pooling {j}: stage {stage} → {stage + 1} "
        f"({rec.stage(stage).num_edges} → {rec.stage(stage + 1).num_edges} edges)"
    )


def replay_summary(rp: Replay) -> str:
    """What the layer did, counted; for a recording without a skip log, says what is missing."""
    n_trip = sum(len(e.triplets) for e in rp.events) // 3
    n_skip = sum(e.kind == "skip" for e in rp.events)
    target = f" (target {rp.target})" if rp.target is not None else ""
    parts = [_plural(len(rp.collapses), "collapse")]
    if rp.has_skips:
        parts.append(_plural(n_skip, "skipped pop"))
    parts.append(_plural(n_trip, "triplet removal"))
    text = (
        f"{_plural(len(rp.events), 'step')}: {', '.join(parts)}; "
        f"{rp.edges_in} → {rp.edges_out} edges{target}. "
        "Edges are popped from the queue from the lowest priority (squared feature norm) up."
    )
    if not rp.has_skips:
        text += (
            " This recording was made before skips were recorded (format version 1): pops that did not "
            "collapse are not listed (each collapse says how many came before it), and triplet removals "
            "appear as steps of their own."
        )
    return text


def event_sentence(ev: ReplayEvent) -> str:
    """One step of a pooling layer, in words, with its numbers."""
    n_trip = len(ev.triplets) // 3
    vertices = "a valence-3 vertex" if n_trip == 1 else f"{n_trip} valence-3 vertices"
    trip = (
        (
            f"First {vertices} next to it {'was' if n_trip == 1 else 'were'} removed, with edges "
            f"{id_list(ev.triplets)}. "
        )
        if n_trip
        else ""
    )
    count = f"Edges: {ev.edges_before} → {ev.edges_after}."
    if ev.kind == "collapse":
        before = (
            f" ({_plural(ev.skipped_before, 'pop')} before it did not collapse)" if ev.skipped_before else ""
        )
        return (
            f"{trip}**Collapse edge {ev.edge}**: queue position {ev.rank + 1}{before}, priority "
            f"{ev.priority:.4g}. Its end points merge at the midpoint; edges {id_list(ev.merged)} are merged "
            "into their face neighbours, and its features now live in "
            f"edge{'s' if len(ev.carried_by) != 1 else ''} "
            f"{id_list(ev.carried_by)} of the next stage. {count}"
        )
    if ev.kind == "skip":
        return (
            f"{trip}**Skip edge {ev.edge}**: queue position {ev.rank + 1}, priority {ev.priority:.4g}: "
            f"{SKIP_WORDS[ev.reason]}. {count}"
        )
    return (
        f"**Remove a valence-3 vertex** with its edges {id_list(ev.triplets)} (the recording does not say "
        f"which popped edge caused it). {count}"
    )


def replay_rows(rp: Replay) -> list[dict[str, object]]:
    """A table row per step."""
    rows = []
    for ev in rp.events:
        what = {"collapse": "collapse", "skip": "skip", "triplets": "triplet removal"}[ev.kind]
        rows.append(
            {
                "step": ev.step + 1,
                "what": what,
                "edge": "" if ev.edge is None else ev.edge,
                "queue position": "" if ev.rank is None else ev.rank + 1,
                "priority": "" if ev.priority is None else f"{ev.priority:.4g}",
                "removed": id_list(ev.removed, 6),
                "why skipped": SKIP_WORDS[ev.reason] if ev.reason is not None else "",
                "edges after": ev.edges_after,
            }
        )
    return rows


REPLAY_CATEGORIES = (
    "still an edge",
    "collapsed earlier",
    "merged earlier",
    "removed with a triplet earlier",
    "collapsed now",
    "merged now",
    "triplet now",
    "skipped now",
)


def replay_categories(rp: Replay, step: int) -> np.ndarray:
    """``(E_k,)`` int8 index into :data:`REPLAY_CATEGORIES` for every row after events ``0..step``."""
    status = rp.row_status(step)  # -1 still an edge, else the RemovalKind (0 collapsed, 1 merged, 2 triplet)
    out = np.where(status < 0, 0, status + 1).astype(np.int8)
    if step >= 0:
        ev = rp.events[step]
        n_t = len(ev.triplets)
        rows = ev.removed_rows
        out[rows[:n_t]] = 6
        out[rows[n_t : n_t + len(ev.merged)]] = 5
        if ev.kind == "collapse":
            out[ev.row] = 4
        elif ev.kind == "skip":
            out[ev.row] = 7  # also when it was already removed: this is the edge popped now
    return out


# ---------------------------------------------------------------- MeshConv explainer


def _f(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:.4g}"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (pipes inside cells escaped)."""
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _neighbour_names(ex: ConvExplanation) -> list[str]:
    names = [f"e = {ex.edge}"]
    for letter, n in zip("abcd", ex.neighbours):
        names.append(f"{letter} = {int(n)}" if n >= 0 else f"{letter} = none (boundary)")
    return names


def feature_table(ex: ConvExplanation) -> str:
    """The 5 features of edge ``e``: name, meaning, MeshCNN's value, and the exact geometry."""
    g = ex.geometry
    exact = [g.dihedral, *sorted(g.opposite_angles), *sorted(g.height_ratios)]
    rows = []
    for i in range(5):
        v = float(ex.raw[0, i])
        if i < 3:
            rows.append(
                [
                    FEATURE_NAMES[i],
                    FEATURE_MEANINGS[i],
                    f"{v:.4g} ({np.degrees(v):.1f}°)",
                    f"{exact[i]:.4g} ({np.degrees(exact[i]):.1f}°)",
                ]
            )
        else:
            rows.append([FEATURE_NAMES[i], FEATURE_MEANINGS[i], f"{v:.4g}", f"{exact[i]:.4g}"])
    return markdown_table(["feature", "meaning", "MeshCNN's value", "exact geometry"], rows)


def reads_table(ex: ConvExplanation) -> str:
    """What the layer reads: the normalized features of ``e, a, b, c, d`` (zeros for a missing neighbour)."""
    names = _neighbour_names(ex)
    return markdown_table(
        ["edge", *[f"ch {i}: {FEATURE_NAMES[i]}" for i in range(5)]],
        [[names[r], *[_f(v) for v in ex.normalized[r]]] for r in range(5)],
    )


def terms_table(ex: ConvExplanation) -> str:
    """The order-invariant terms, one row each, one column per input channel."""
    return markdown_table(
        ["term", *[f"ch {i}" for i in range(5)]],
        [[TERM_NAMES[j], *[_f(v) for v in ex.terms[j]]] for j in range(5)],
    )


def weights_table(ex: ConvExplanation) -> str:
    """Output channel ``o``'s learned weights, laid out like the terms."""
    return markdown_table(
        ["weight for", *[f"ch {i}" for i in range(5)]],
        [[TERM_NAMES[j], *[_f(v) for v in ex.weights[j]]] for j in range(5)],
    )


def contributions_table(ex: ConvExplanation) -> str:
    """Weight × term for every cell, with the row sums."""
    rows = [
        [TERM_NAMES[j], *[_f(v) for v in ex.contributions[j]], _f(ex.contributions[j].sum())]
        for j in range(5)
    ]
    return markdown_table(["weight × term", *[f"ch {i}" for i in range(5)], "row sum"], rows)


def first_layer_outputs(model: LoadedModel, rec: Recording) -> np.ndarray | None:
    """The network's own first-MeshConv output on the recording's input mesh. Shapes: ``-> (C_out, E)``.

    Runs the model once on the recorded input mesh with a hook on its first MeshConv. None when the
    rebuilt mesh's features differ from the recorded ones (then there is nothing to compare with).
    """
    prep = prepare(Mesh(rec.input_vertices, rec.input_faces, "recorded"))
    if prep.features.shape != rec.input_features.shape or not np.allclose(prep.features, rec.input_features):
        return None
    _, conv = first_conv(model.net)
    seen: list[torch.Tensor] = []
    hook = conv.register_forward_hook(lambda mod, inp, out: seen.append(out.detach()))
    try:
        run(model, prep)
    finally:
        hook.remove()
    y = seen[0][0, :, :, 0].float().cpu().numpy()  # (C_out, E_pad)
    return y[:, : rec.num_input_edges].astype(np.float64)


def _angles(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise angle between ``(N, 3)`` vectors, in radians (``atan2``: exact also near 0 and pi)."""
    return np.arctan2(np.linalg.norm(np.cross(u, v), axis=1), np.einsum("ij,ij->i", u, v))


def exact_features(rec: Recording) -> np.ndarray:
    """The 5 features of every input edge from the exact geometry (no ``+ 0.1``). Shapes: ``-> (5, E)``.

    Rows as MeshCNN's: dihedral angle, opposite angles (smaller, larger), height/base ratios (smaller,
    larger); the same numbers :func:`meshcnn_core.inspection.conv_explain.edge_geometry` gives for one edge.
    """
    topo = input_topology(rec)
    pts = edge_points(topo)  # (E, 4): the two ends, then the apex of each face
    v = np.asarray(topo.positions, dtype=np.float64)
    p0, p1, a0, a1 = (v[pts[:, i]] for i in range(4))
    base = p1 - p0
    len2 = np.maximum(np.einsum("ij,ij->i", base, base), 1e-300)
    dihedral = np.pi - _angles(np.cross(a0 - p0, p1 - p0), np.cross(a1 - p1, p0 - p1))
    opp = np.stack([_angles(p0 - a0, p1 - a0), _angles(p0 - a1, p1 - a1)])  # (2, E)
    ratio = np.stack([np.linalg.norm(np.cross(base, a - p0), axis=1) / len2 for a in (a0, a1)])  # (2, E)
    return np.concatenate([dihedral[None], np.sort(opp, axis=0), np.sort(ratio, axis=0)])
