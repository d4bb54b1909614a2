"""Compare: two or more models on the same mesh, side by side, one stage slider, one shared camera.

Besides the listed checkpoints, one uploaded checkpoint can join (e.g. an earlier ``snapshot_eNNN.pt`` of
a model, or one's own retrained model); a fresh visit opens on :data:`viz_app.catalog.COMPARE_LANDING`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from meshcnn_core import MeshCNNError
from viz_app import cached, catalog, figures, ui
from viz_app import explain_service as esvc
from viz_app import service as svc
from viz_app.catalog import (
    PartLabels,
    checkpoints_dir,
    default_model,
    list_sample_meshes,
    part_labels,
    segmenter_part_names,
)
from viz_app.colorings import QUANTITIES, SCALED, ColorChoice
from viz_app.comparison import kept_status, part_keep_pair, same_input
from viz_app.mesh_view import mesh_view
from viz_app.stages import short_stage_label, stage_label
from viz_app.state import ViewState

MAX_MODELS = 4
UPLOAD_SLOT = "compare_upload"  # the compare page's own uploader (the stage browser has another)
COLORS = ("activation", "channel", "priority", "label", "survival")
CAMERA_HELP = (
    "All views share one camera: turn one and the others follow, and it stays when you change stage, "
    "color or zoom. The house icon in a view's toolbar resets it."
)


def _summary(rec) -> str:
    if rec.task == "classification":
        p = rec.probabilities.reshape(-1)
        i = int(rec.prediction)
        return f"predicts **{rec.class_names[i]}** ({100 * p[i]:.0f}%)"
    parts = len(set(rec.prediction.tolist()))
    return f"segments into **{parts}** of {len(rec.class_names)} parts"


def _rho(value: float | None) -> str:
    """A rank correlation for the table: 3 decimals, "–" where no pooling follows, "undefined" for nan."""
    if value is None:
        return "–"
    return f"{value:.3f}" if np.isfinite(value) else "undefined"


def _parts(names: tuple[str, str], a, b, labels: PartLabels) -> None:
    """Per ground-truth part and pooled stage, the share of the part's input edges each model keeps."""
    pair = part_keep_pair(a, b, labels.values)
    stages = [int(k) for k in pair.stages[1:]]  # the input stage keeps every edge
    if not stages:
        return
    rows = []
    for j, value in enumerate(pair.a.parts.tolist()):
        for name, t in zip(names, (pair.a, pair.b)):
            rows.append(
                {"part": labels.names[value], "input edges": int(t.part_edges[j]), "model": name}
                | {short_stage_label(a, k): round(100 * float(t.kept[k, j]), 1) for k in stages}
            )
    st.markdown(
        "**Per ground-truth part** (from the mesh's `.eseg` file): the share of the part's input edges "
        "that each model still keeps at each pooled stage."
    )
    pct = st.column_config.NumberColumn(format="%.0f%%")
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key="part_keep_table",
        column_config={short_stage_label(a, k): pct for k in stages},
    )


def _overlap(names: list[str], recs: list, k: int, group: str, labels: list[PartLabels | None]) -> None:
    st.subheader("Which input edges did each model keep?")
    st.markdown(
        "At each stage a model keeps some of the input edges (the others were collapsed or merged). "
        "The **Jaccard index** is |kept by both| / |kept by either|: 1 means both models pooled alike. "
        "The **rank correlation** (Spearman) compares the two models' pooling priorities (squared feature "
        "norms, the order in which the next pooling tries the edges) over the edges both still have: 1 means "
        "the same order, 0 unrelated orders; – at a stage no pooling leaves in both models."
    )
    c1, c2 = st.columns(2)
    ia = c1.selectbox("Model A", range(len(names)), index=0, format_func=names.__getitem__, key="cmp_a")
    ib = c2.selectbox("Model B", range(len(names)), index=1, format_func=names.__getitem__, key="cmp_b")
    a, b = recs[ia], recs[ib]
    if not same_input(a, b):
        st.info(
            f"{names[ia]} and {names[ib]} ran on different versions of the mesh; "
            "pick two models that share one."
        )
        return
    rows, diff = esvc.diff_rows(a, b)
    table = pd.DataFrame(
        [
            {
                "stage": r.label,
                f"kept by {names[ia]}": r.kept_a,
                f"kept by {names[ib]}": r.kept_b,
                "kept by both": r.both,
                "Jaccard": round(r.jaccard, 3),
                "rank corr.": _rho(r.spearman),
            }
            for r in rows
        ]
    )
    st.dataframe(table, hide_index=True)  # full width: every column readable without scrolling
    st.markdown(esvc.divergence_text(diff, a, (names[ia], names[ib])))
    kk = min(k, rows[-1].stage)
    st.caption(
        f"Input edges at stage {kk}: orange = kept by {names[ia]} only, blue = kept by {names[ib]} only. "
        "This view shares the camera of the views above."
    )
    mesh_view(  # full width: the legend (with both names) stays clear of the mesh
        cached.figure(
            figures.kept_figure, kept_status(a, b, kk), a, (names[ia], names[ib]), height=520, narrow=True
        ),
        key="kept_view",
        group=group,
    )
    if labels[ia] is not None and labels[ib] is not None:  # both ran on the mesh as its file has it
        _parts((names[ia], names[ib]), a, b, labels[ia])


def _landing_models(entries: dict) -> list[str]:
    """Keys of ``COMPARE_LANDING``'s models that are listed."""
    by_file = {e.path.name: k for k, e in entries.items()}
    return [by_file[f] for f in catalog.COMPARE_LANDING.models if f in by_file]


def _open_on_landing(entries: dict, link_stage: bool) -> bool:
    """A fresh visit (no compared models in the link or the session): open on ``COMPARE_LANDING``.

    Its models (those listed) are chosen unless the stage browser shows another model than its default
    (one the user picked: it then comes along, see :func:`_choose_models`); its mesh unless the link
    names a mesh or the sidebar holds another mesh than the stage browser's landing one; its stage
    unless the link names one (``link_stage``). True when it chose the models.
    """
    landing = catalog.COMPARE_LANDING
    models = _landing_models(entries)
    default = default_model(list(entries.values()))
    browsed = st.session_state.get("model")
    if "compare_models" in st.session_state or not models or browsed not in (None, default.key):
        return False
    st.session_state["compare_models"] = models
    if not link_stage:
        st.session_state["stage"] = landing.stage
    url = st.session_state.get("_url_state")
    mesh = f"sample:{landing.mesh}"
    if (
        (url is None or url.mesh is None)
        and st.session_state.get("mesh_source", "Sample meshes") == "Sample meshes"
        and st.session_state.get("sample_mesh") in (None, f"sample:{catalog.LANDING.mesh}")
        and any(m.key == mesh for m in list_sample_meshes())
    ):
        st.session_state["sample_mesh"] = mesh
    return True


def _choose_models(entries: dict, entered: bool, link_stage: bool) -> list[str]:
    keys = list(entries)
    options = keys + [ui.UPLOAD]
    landed = _open_on_landing(entries, link_stage)
    chosen = [k for k in st.session_state.get("compare_models", []) if k in options]
    browsed = st.session_state.get("model")
    if entered and not landed and browsed in keys and browsed not in chosen:  # the browsed model comes along
        chosen = [browsed] + chosen
    if not chosen and (first := default_model(list(entries.values()))) is not None:  # a fresh visit
        chosen = [first.key]
    if len(chosen) < 2 and (entered or "compare_models" not in st.session_state):  # landing models first
        chosen += [k for k in _landing_models(entries) + keys if k not in chosen][: 2 - len(chosen)]
    st.session_state["compare_models"] = chosen[:MAX_MODELS]
    return st.multiselect(
        "Models",
        options,
        key="compare_models",
        max_selections=MAX_MODELS,
        format_func=lambda k: ui.model_label(k, entries),
        help="Add **Upload a checkpoint…** to compare a checkpoint of your own (e.g. an earlier "
        "snapshot_eNNN.pt of a model); the uploader then appears in the sidebar. An upload is not "
        "part of the page's link.",
    )


def _display_names(loaded: list) -> list[str]:
    """Each loaded model's name: its file's stem (``"<stem> (uploaded)"`` for the upload), made unique."""
    out: list[str] = []
    for x in loaded:
        if x.entry is not None:
            name = x.entry.name
        else:
            up = st.session_state.get(UPLOAD_SLOT)
            name = f"{svc.safe_name(Path(getattr(up, 'name', '')).stem, 'checkpoint')} (uploaded)"
        while name in out:
            name += "'"
        out.append(name)
    return out


def _labels(choice: ui.MeshChoice, result, fit, known: dict[int, str]) -> PartLabels | None:
    """The mesh's part labels for a result that ran on the mesh as its file has it (else None).

    ``known``: names of the label values from a compared segmenter with named parts.
    """
    if choice.entry is None or not fit.keeps_edges:  # scaling keeps the edges; simplifying does not
        return None
    return part_labels(choice.entry, result.recording.num_input_edges, known)


def main() -> None:
    """Draw the compare page."""
    entered = ui.enter_page("compare")
    link_stage = "_url_state" not in st.session_state and "stage" in st.query_params  # a link's first run
    ui.init_state()
    ui.page_header(
        "Compare models",
        "Run several models on the **same mesh** and walk through their stages together: one slider, one "
        "camera for every view. Below, see how much the input edges the models keep overlap.",
    )
    notice = st.container()  # filled once the sidebar has read the mesh choice
    _, entries = ui.model_options()
    if not entries:
        st.warning(
            f"Comparing needs at least two models; {checkpoints_dir()} holds none, and an uploaded "
            "checkpoint is only one. The stage browser works with one."
        )
        return
    device = ui.sidebar_device()
    chosen = _choose_models(entries, entered, link_stage)
    if len(chosen) < 2:
        st.info("Choose at least two models.")
        return
    loaded = [  # a model that fails to load shows its error box here; the others go on
        x
        for key in chosen
        if (x := ui.load_model_choice(key, entries, device, upload_slot=UPLOAD_SLOT)) is not None
    ]
    if not loaded:
        return
    models = [x.model for x in loaded]
    names = _display_names(loaded)
    lo, hi = svc.model_limits(models)
    try:  # the physical size they were trained at (MeshCNN's features depend on it)
        size, same_size = svc.model_size(models), True
    except MeshCNNError:
        size, same_size = None, False
    shared = lo <= hi and same_size
    choice = ui.sidebar_mesh(hi if shared else max(m.config.ninput_edges for m in models))
    with notice:
        ui.link_notice()
    if choice is None:
        return
    if not shared:  # e.g. a 750-edge classifier and a 2280-edge segmenter, or a 2-unit and a 35-unit model
        why = (
            "take meshes with different numbers of edges"
            if lo > hi
            else "were trained on meshes of very different physical sizes (bounding-box diagonals)"
        )
        st.caption(
            f":material/info: These models {why}, so each runs on its own version of the mesh (scaled and "
            "simplified to fit it when needed: pick a large sample mesh). The edge-overlap comparison needs "
            "models that share a mesh."
        )
    ui.suggest_fitting_sample(
        choice, lo, hi if shared else max(m.config.ninput_edges for m in models), "one of these models"
    )
    results: list = []
    errors: list[str | None] = []
    for x in loaded:  # one failing model must not hide the others
        try:
            fit = (
                cached.fitted(choice.mesh, lo, hi, size)
                if shared
                else cached.fitted(choice.mesh, *svc.model_limits([x.model]), x.model.input_size)
            )
            results.append((cached.result(x.key, device, x.model, fit), fit))
            errors.append(None)
        except MeshCNNError as exc:
            results.append(None)
            errors.append(str(exc))
    ok = [r for r, _ in (x for x in results if x is not None)]
    if not ok:
        for e in errors:
            st.error(e, icon=ui.ERROR_ICON)
        return
    with ui.error_box():
        if shared:  # one version of the mesh for all: its steps once
            actions = list(dict.fromkeys(a for x in results if x is not None for a in x[1].actions))
        else:  # each model has its own version: say whose step each is
            actions = [f"{n}: {a}" for n, x in zip(names, results) if x is not None for a in x[1].actions]
        st.caption(
            f"Mesh **{choice.mesh.name}** · inference on {ok[0].device}: "
            + ", ".join(f"{n} {1000 * x[0].seconds:.0f} ms" for n, x in zip(names, results) if x is not None)
        )
        if actions:
            title = (
                f"The mesh was adapted to fit the models ({len(actions)} steps)"
                if shared
                else f"The mesh was adapted where a model needed it ({len(actions)} steps, by model)"
            )
            with st.expander(title):
                st.markdown("\n".join(f"- {a}" for a in actions))
        n = max(r.recording.num_stages for r in ok)
        if not isinstance(st.session_state.get("stage"), int) or st.session_state["stage"] > n - 1:
            st.session_state["stage"] = min(int(st.session_state.get("stage") or 0), n - 1)
        ui.keep_valid("color", list(COLORS), "activation")
        st.session_state.setdefault("fixed_scale", True)
        c1, c2, c3, c4 = st.columns([2.6, 1.2, 1, 1.2], vertical_alignment="bottom")
        k = c1.select_slider(
            "Stage",
            options=list(range(n)),
            key="stage",
            format_func=lambda j: "input" if j == 0 else f"stage {j}",
        )
        color = c2.selectbox("Color edges by", list(COLORS), key="color", format_func=QUANTITIES.get)
        fit_view = c3.toggle(
            "Zoom to stage", key="fit_view", help="Frame each stage's mesh instead of the input's"
        )
        fixed = c4.toggle(
            "Fixed color range",
            key="fixed_scale",
            disabled=color not in SCALED,
            help="On: for each model, one range spans all its stages, so a color means the same value at "
            "every stage. Off: each stage gets its own range. Models differ in their ranges either way "
            "(each view has its own colorbar).",
        )
        channel = 0
        if color == "channel":
            n_ch = min(
                r.recording.stage(j).features.shape[0] for r in ok for j in range(r.recording.num_stages)
            )
            ui.keep_valid("channel", list(range(n_ch)), 0)
            channel = int(
                st.number_input(
                    "Channel",
                    0,
                    n_ch - 1,
                    key="channel",
                    step=1,
                    help=f"0..{n_ch - 1}: the channels every stage of every model has",
                )
            )
        spec = ColorChoice(color, channel, fixed)
        st.caption(CAMERA_HELP)
        group = choice.mesh.content_hash()
        cols = st.columns(len(models))
        for i, (col, name, x, err) in enumerate(zip(cols, names, results, errors)):
            col.markdown(f"#### {ui.wrap_name(name)}")
            if x is None:
                col.error(err, icon=ui.ERROR_ICON)
                continue
            rec = x[0].recording
            kk = min(k, rec.num_stages - 1)
            col.markdown(
                f"{_summary(rec)} · {stage_label(rec, kk)}" + (" (its last stage)" if kk < k else "")
            )
            with col:
                mesh_view(
                    cached.figure(
                        figures.stage_figure, rec, kk, spec, height=520, fit_stage=fit_view, narrow=True
                    ),
                    key=f"cmp_view_{i}",
                    group=group,
                )
        ui.write_query(
            ViewState(
                mesh=choice.key,
                stage=k,
                color=color,
                channel=channel,
                fixed_scale=fixed,
                models=tuple(c for c in chosen if c != ui.UPLOAD),  # an upload cannot be in a link
                dataset=choice.dataset,
            )
        )
        ran = [(n, x) for n, x in zip(names, results) if x is not None]
        known = segmenter_part_names([x[0].recording for _, x in ran])
        good = [(n, x[0].recording, _labels(choice, *x, known)) for n, x in ran]
        if len(good) >= 2:
            _overlap([g[0] for g in good], [g[1] for g in good], k, group, [g[2] for g in good])


main()
