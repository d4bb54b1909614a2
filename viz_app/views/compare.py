"""Compare: two or more models on the same mesh, side by side, one stage slider, one shared camera."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from meshcnn_core import MeshCNNError
from viz_app import cached, figures, ui
from viz_app import explain_service as esvc
from viz_app import service as svc
from viz_app.catalog import checkpoints_dir, default_model
from viz_app.colorings import QUANTITIES, SCALED, ColorChoice
from viz_app.comparison import kept_status, same_input
from viz_app.mesh_view import mesh_view
from viz_app.stages import stage_label
from viz_app.state import ViewState

MAX_MODELS = 4
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


def _overlap(names: list[str], recs: list, k: int, group: str) -> None:
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
    left, right = st.columns([1, 1.6])
    left.markdown(esvc.divergence_text(diff, a, (names[ia], names[ib])))
    kk = min(k, rows[-1].stage)
    right.caption(
        f"Input edges at stage {kk}: orange = kept by {names[ia]} only, blue = kept by {names[ib]} only. "
        "This view shares the camera of the views above."
    )
    with right:
        mesh_view(
            cached.figure(
                figures.kept_figure, kept_status(a, b, kk), a, (names[ia], names[ib]), height=520, narrow=True
            ),
            key="kept_view",
            group=group,
        )


def _choose_models(entries: dict, entered: bool) -> list[str]:
    keys = list(entries)
    chosen = [k for k in st.session_state.get("compare_models", []) if k in keys]
    browsed = st.session_state.get("model")
    if entered and browsed in keys and browsed not in chosen:  # the stage browser's model comes along
        chosen = [browsed] + chosen
    if not chosen and (first := default_model(list(entries.values()))) is not None:  # a fresh visit
        chosen = [first.key]
    if len(chosen) < 2 and (entered or "compare_models" not in st.session_state):
        chosen += [k for k in keys if k not in chosen][: 2 - len(chosen)]
    st.session_state["compare_models"] = chosen[:MAX_MODELS]
    return st.multiselect(
        "Models", keys, key="compare_models", max_selections=MAX_MODELS, format_func=lambda k: entries[k].name
    )


def main() -> None:
    """Draw the compare page."""
    entered = ui.enter_page("compare")
    ui.init_state()
    ui.page_header(
        "Compare models",
        "Run several models on the **same mesh** and walk through their stages together: one slider, one "
        "camera for every view. Below, see how much the input edges the models keep overlap.",
    )
    notice = st.container()  # filled once the sidebar has read the mesh choice
    _, entries = ui.model_options()
    if len(entries) < 2:
        st.warning(
            f"Comparing needs at least two models; {checkpoints_dir()} holds {len(entries)}. "
            "The stage browser works with one."
        )
        return
    device = ui.sidebar_device()
    chosen = _choose_models(entries, entered)
    if len(chosen) < 2:
        st.info("Choose at least two models.")
        return
    loaded = [ui.load_model_choice(k, entries, device) for k in chosen]
    if any(x is None for x in loaded):
        return
    models = [x.model for x in loaded]
    lo, hi = svc.model_limits(models)
    shared = lo <= hi
    choice = ui.sidebar_mesh(hi if shared else max(m.config.ninput_edges for m in models))
    with notice:
        ui.link_notice()
    if choice is None:
        return
    if not shared:  # e.g. a 750-edge classifier and a 2280-edge segmenter
        st.caption(
            ":material/info: These models take meshes of different sizes, so each runs on its own version "
            "of the mesh (simplified to fit it when needed: pick a large sample mesh). The edge-overlap "
            "comparison needs models that share a mesh."
        )
    ui.suggest_fitting_sample(
        choice, lo, hi if shared else max(m.config.ninput_edges for m in models), "one of these models"
    )
    results: list = []
    errors: list[str | None] = []
    for x in loaded:  # one failing model must not hide the others
        try:
            fit = (
                cached.fitted(choice.mesh, lo, hi)
                if shared
                else cached.fitted(choice.mesh, *svc.model_limits([x.model]))
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
        actions = list(dict.fromkeys(a for x in results if x is not None for a in x[1].actions))
        st.caption(
            f"Mesh **{choice.mesh.name}** · inference on {ok[0].device}: "
            + ", ".join(
                f"{m.name} {1000 * x[0].seconds:.0f} ms" for m, x in zip(models, results) if x is not None
            )
        )
        if actions:
            with st.expander(f"The mesh was adapted to fit the models ({len(actions)} steps)"):
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
        for i, (col, m, x, err) in enumerate(zip(cols, models, results, errors)):
            col.markdown(f"#### {ui.wrap_name(m.name)}")
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
                models=tuple(chosen),
                dataset=choice.dataset,
            )
        )
        good = [(m.name, x[0].recording) for m, x in zip(models, results) if x is not None]
        if len(good) >= 2:
            _overlap([g[0] for g in good], [g[1] for g in good], k, group)


main()
