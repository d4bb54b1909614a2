"""The stage browser: one model on one mesh, every stage, attributions, survival and resolution maps."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from viz_app import cached, exports, figures, ui
from viz_app import explain_cached as ecached
from viz_app import explain_figures as efigs
from viz_app import explain_service as esvc
from viz_app import service as svc
from viz_app.catalog import LANDING, ground_truth, model_card
from viz_app.colorings import (
    QUANTITIES,
    SCALED,
    ColorChoice,
    edge_coloring,
    part_label,
    quantities_for,
)
from viz_app.mesh_view import mesh_view
from viz_app.stages import pooling_follows, stage_label
from viz_app.state import ViewState

IN_VIEW_PRIORITY_HELP = (
    "rank of the pooling queue key (squared feature norm) at each stage: the pooling after a "
    "stage tries its lowest-ranked (dark) edges first; no pooling follows the last pooled stage"
)
CAMERA_HELP = (
    "Drag to turn the view, scroll to zoom. The camera stays where you put it when you change "
    "stage, color or zoom; the house icon in the view's toolbar resets it."
)


def color_help(rec, k: int, quantity: str) -> str:
    """What the colors of stage ``k`` mean (true for this stage: e.g. whether a pooling follows it)."""
    if quantity == "priority":
        if pooling_follows(rec, k):
            return (
                "rank of the pooling queue key (squared feature norm) at this stage: the next pooling tries "
                "the lowest-ranked (dark) edges first, skipping those whose collapse would break the mesh"
            )
        return "rank of the squared feature norm at this stage; no pooling follows this stage"
    same_id = "" if k == 0 else " (here: of the input edge with the same id)"
    return {
        "activation": "length (L2 norm) of each edge's feature vector at this stage: "
        "where the network responds",
        "channel": "one feature channel's value on each edge",
        "label": f"the part the network predicts for each edge{same_id}",
        "truth": f"the ground-truth part of each edge from the mesh's .eseg file{same_id}",
        "wrong": f"red where the predicted part differs from the ground truth, "
        f"grey where it matches{same_id}",
        "survival": "the deepest pooled stage at which each edge is still an edge of its own "
        "(not yet collapsed or merged into another)",
    }[quantity]


HIDDEN = "when the edge's features are set to the data set's mean"
METHOD_WORDS = {
    "integrated_gradients": f"integrated gradients: the estimated drop of {{score}} {HIDDEN} (gradients "
    "averaged along the way there; 0 where hiding the edge would not lower it)",
    "grad_input": f"gradient × input: the estimated drop of {{score}} {HIDDEN} (from one gradient; 0 where "
    "hiding the edge would not lower it)",
    "gradcam": "Grad-CAM: the first block's activations on the edge weighted by their mean gradient of "
    "{score} (negative sums cut to 0)",
}


def attribution_help(rec, k: int, method: str, target: esvc.TargetOption) -> str:
    """What the attribution colors of stage ``k`` mean (method, target, and the merging at pooled stages)."""
    if rec.task == "classification":
        score = f"the score of **{target.name}**"
    else:
        score = f"the mean score of **{part_label(target.name)}** over the edges predicted as it"
    words = METHOD_WORDS[method].format(score=score)
    where = "" if k == 0 else "; at this stage each edge shows the mean over the input edges merged into it"
    return f"each input edge's attribution by {words}{where}"


def _truth(rec, result, choice):
    # a data-set mesh, or a sample with an .eseg file beside it, whose edges went in as they are
    if choice.entry is None or not result.keeps_edges:
        return None
    return ground_truth(choice.entry, rec.label_values, rec.num_input_edges, task=rec.task)


def _prediction(rec, truth, color: str, on_dataset: bool) -> None:
    acc = svc.accuracy(rec, truth)
    if rec.task == "classification":
        probs = rec.probabilities.reshape(-1)
        pred = int(rec.prediction)
        st.metric("Predicted class", rec.class_names[pred])
        st.caption(f"probability {100 * probs[pred]:.1f}%")
        if acc is not None:
            mark = ":material/check_circle: correct" if acc.correct else ":material/cancel: wrong"
            st.markdown(f"Ground truth (data-set folder): **{rec.class_names[int(truth)]}** · {mark}")
        st.plotly_chart(
            cached.shared(figures.prediction_figure, rec), key="pred_bars", config={"displayModeBar": False}
        )
        return
    counts = {n: int((rec.prediction == i).sum()) for i, n in enumerate(rec.class_names)}
    st.metric("Parts found", f"{sum(1 for v in counts.values() if v)} of {len(rec.class_names)}")
    if acc is not None:
        st.metric("Accuracy vs ground truth", f"{100 * acc.edges:.1f}%")
        st.caption(f"share of edges labelled right; area-weighted: {100 * acc.area:.1f}%")
    elif on_dataset:
        st.caption("No ground truth: the mesh was changed to fit the model, or its .eseg file is missing.")
    rows = "\n".join(f"- {part_label(n)}: {c}" for n, c in counts.items())
    st.markdown("Edges per predicted part:\n" + rows)
    hints = []
    if color != "label":
        hints.append("To see the parts, color the edges by **Predicted label**.")
    if acc is not None and color not in ("truth", "wrong"):
        hints.append("**Ground-truth label** and **Wrong edges** show where the prediction is wrong.")
    if hints:
        st.caption(" ".join(hints))


def _controls(rec, has_truth: bool) -> tuple[int, ColorChoice, bool, bool]:
    """Stage slider, color, channel and view toggles (above the tabs, so every tab sees them)."""
    colors = quantities_for(rec.task, has_truth)
    ui.keep_valid("color", colors, "label" if rec.task == "segmentation" else LANDING.color)
    k_max = rec.num_stages - 1
    if not isinstance(st.session_state.get("stage"), int):
        st.session_state["stage"] = min(LANDING.stage, k_max)
    st.session_state["stage"] = min(st.session_state["stage"], k_max)
    st.session_state.setdefault("fixed_scale", True)
    c1, c2, c3 = st.columns([2.6, 1.3, 0.8])
    color = c2.selectbox("Color edges by", colors, key="color", format_func=QUANTITIES.get)
    t1, t2, t3 = st.columns(3)
    in_view = t1.toggle(
        "Slider in the view",
        key="in_browser",
        help="Switch stages with the slider under the 3D view: instant, without asking the "
        "server. The stage you pick there is not saved in the link.",
    )
    zoom = t2.toggle(
        "Zoom to stage",
        key="fit_view",
        help="Frame each stage's own mesh instead of the input's "
        "(pooled meshes can shrink a lot: collapsed edges move their vertices to the midpoint)",
    )
    fixed = t3.toggle(
        "Fixed color range",
        key="fixed_scale",
        disabled=color not in SCALED,
        help="On: one range spans all stages, so a color means the same value at every stage. "
        "Off: each stage gets its own range (2nd to 98th percentile of its values). "
        "Only for Activation norm, Attribution and One channel; the other colorings never change scale.",
    )
    k = c1.select_slider(
        "Stage",
        options=list(range(rec.num_stages)),
        key="stage",
        format_func=lambda j: stage_label(rec, j),
        disabled=in_view,
        help="input → each pooling stage" + (" → each unpooling stage" if rec.task == "segmentation" else ""),
    )
    channel = 0
    if color == "channel":
        n_ch = min(rec.stage(j).features.shape[0] for j in range(rec.num_stages))
        if int(st.session_state.get("channel", 0)) >= n_ch:
            st.session_state["channel"] = n_ch - 1
        channel = int(
            c3.number_input(
                "Channel",
                0,
                n_ch - 1,
                key="channel",
                step=1,
                help=f"0..{n_ch - 1}: the channels every stage has",
            )
        )
    return k, ColorChoice(color, channel, fixed), in_view, zoom


def _scale_note(rec, k: int, choice: ColorChoice) -> str:
    if choice.quantity not in SCALED:
        return ""
    col = cached.shared(edge_coloring, rec, k, choice)
    if col.fixed:
        return f" Color range: the same at every stage ({col.cmin:.3g} to {col.cmax:.3g})."
    return f" Color range: this stage's own ({col.cmin:.3g} to {col.cmax:.3g})."


def _stage_view(rec, k: int, choice: ColorChoice, in_view: bool, zoom: bool, group: str, attr=None) -> None:
    note = _scale_note(rec, k, choice)
    if in_view:  # the stage is picked in the browser: words that hold at every stage
        if attr is not None:
            words = attribution_help(rec, 0, *attr) + (
                "; at pooled stages each edge shows the mean over the input edges merged into it"
            )
        elif choice.quantity == "priority":
            words = IN_VIEW_PRIORITY_HELP
        else:
            words = color_help(rec, 0, choice.quantity).replace(" at this stage", " at each stage")
        st.caption(
            f"Use the slider under the view · color: {words}.{note.replace('this stage', 'each stage')}"
        )
        fig = cached.figure(figures.stages_figure, rec, choice, active=k, fit_stage=zoom)
    else:
        n_ch = rec.stage(k).features.shape[0]
        words = attribution_help(rec, k, *attr) if attr is not None else color_help(rec, k, choice.quantity)
        st.caption(f"**{stage_label(rec, k)}** ({n_ch} channels) · color: {words}.{note}")
        fig = cached.figure(figures.stage_figure, rec, k, choice, fit_stage=zoom)
    mesh_view(fig, key="stage_view", group=group)
    st.caption(CAMERA_HELP)


def _attribution_controls(rec, ident: str) -> tuple[str, esvc.TargetOption]:
    """Method and target pickers in the sidebar; the target starts at the prediction for each new result."""
    sb = st.sidebar
    sb.subheader("Attribution")
    methods = list(esvc.METHOD_LABELS)
    ui.keep_valid("attr_method", methods, esvc.DEFAULT_METHOD)
    method = sb.selectbox(
        "Method", methods, key="attr_method", format_func=esvc.METHOD_LABELS.get, help=esvc.METHOD_HELP
    )
    options = {o.index: o for o in esvc.target_options(rec)}
    if st.session_state.get("_attr_for") != ident:  # another model or mesh: explain its prediction
        st.session_state["_attr_for"] = ident
        st.session_state["attr_target"] = esvc.default_target(rec)
    ui.keep_valid("attr_target", list(options), esvc.default_target(rec))
    classifier = rec.task == "classification"
    target = sb.selectbox(
        "Explain the class" if classifier else "Explain the part",
        list(options),
        key="attr_target",
        format_func=lambda i: options[i].label,
        help="Whose score the attribution explains: the predicted class by default (classes by probability)."
        if classifier
        else "Whose score the attribution explains: the mean score of a part over the edges predicted as "
        "it; by default the part predicted on the most edges (only parts predicted somewhere are listed).",
    )
    return method, options[target]


def _deletion_check(rec, curve) -> None:
    """The deletion curve of the shown attribution and what it says."""
    v = esvc.verdict(curve, rec.task)
    st.markdown("**Does this picture mean anything?**")
    st.caption(
        "The deletion check: hide the input edges with the highest attribution (features set to the data "
        "set's mean) and watch the probability fall, against hiding the same number of random edges."
    )
    fig = efigs.deletion_figure(curve, esvc.probability_name(curve, rec.task))
    st.plotly_chart(fig, key="deletion_chart", config={"displayModeBar": False})
    box, icon = {
        "clear": (st.success, ":material/check_circle:"),
        "slight": (st.info, ":material/info:"),
        "none": (st.warning, ":material/warning:"),
    }[v.level]
    box(v.text, icon=icon)


def _resolution_view(rec, k: int, group: str) -> None:
    """The input mesh colored by group size at a pooled stage picked here (the input stage is all 1)."""
    levels = [j for j in range(1, rec.num_stages) if rec.stage(j).kind == "pool"]
    if not levels:
        st.info("This model does not pool: every edge stands for itself.")
        return
    if st.session_state.get("resolution_stage") not in levels:
        st.session_state["resolution_stage"] = k if k in levels else levels[-1]
    kk = st.select_slider(
        "Pooled stage",
        options=levels,
        key="resolution_stage",
        format_func=lambda j: stage_label(rec, j),
        help="The input stage is left out: there every edge stands for itself.",
    )
    res = rec.resolution(kk)
    covered = res > 0
    st.markdown(
        f"Each input edge colored by **how many input edges its edge at {stage_label(rec, kk)} stands for** "
        "(the size of the merge group holding it): small groups where the network keeps detail, large "
        "ones where it has merged a region into a few edges."
    )
    st.caption(
        f"{int(covered.sum())} input edges in {rec.stage(kk).num_edges} groups, at most "
        f"{res.max():.1f} per group. An input edge held by m groups counts 1/m in each (MeshCNN copies a "
        "collapsed edge into the groups on both its faces), so the group sizes at a stage add up to the "
        "input edges covered; an edge held by several groups shows their mean size."
    )
    mesh_view(cached.figure(efigs.resolution_figure, rec, kk), key="resolution_view", group=group)
    st.caption(CAMERA_HELP)


def _exports(rec, k: int, choice: ColorChoice, base: str) -> None:
    st.markdown(
        "Downloads of the current stage and color. Images are rendered on the server with PyVista "
        "(their camera is PyVista's, not the one you set in the view)."
    )
    q = choice.quantity
    name = f"{base}_stage{k}"
    c = st.columns(3)
    c[0].download_button(
        "PNG image",
        lambda: exports.stage_png(rec, k, choice),
        file_name=f"{name}_{q}.png",
        mime="image/png",
        on_click="ignore",
        icon=":material/image:",
        width="stretch",
    )
    c[1].download_button(
        "Mesh (OBJ)",
        lambda: exports.stage_mesh_obj(rec, k),
        file_name=f"{name}.obj",
        mime="text/plain",
        on_click="ignore",
        icon=":material/deployed_code:",
        width="stretch",
    )
    c[2].download_button(
        "Mesh + colors (PLY)",
        lambda: exports.stage_mesh_ply(rec, k, choice),
        file_name=f"{name}_{q}.ply",
        mime="text/plain",
        on_click="ignore",
        icon=":material/palette:",
        width="stretch",
        help="The stage mesh with an edge element: each edge's value and RGB color.",
    )
    c = st.columns(3)
    c[0].download_button(
        "Recording (.npz)",
        lambda: exports.recording_npz(rec),
        file_name=f"{base}_recording.npz",
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/database:",
        width="stretch",
        help="Every stage as arrays (format in meshcnn_core/recording.py).",
    )
    c[1].download_button(
        "3D view (HTML)",
        lambda: exports.figure_html(figures.stage_figure(rec, k, choice), f"{base}: {stage_label(rec, k)}"),
        file_name=f"{name}_{q}.html",
        mime="text/html",
        on_click="ignore",
        icon=":material/view_in_ar:",
        width="stretch",
        help="A standalone page with this stage's interactive view (works offline).",
    )
    c[2].download_button(
        "Collapses (GIF)",
        lambda: exports.collapse_gif(rec, choice),
        file_name=f"{base}_collapse_{q}.gif",
        mime="image/gif",
        on_click="ignore",
        icon=":material/animation:",
        width="stretch",
        help="Each pooled stage, then the edges it is about to collapse in red (a few seconds).",
    )


def main() -> None:
    """Draw the stage browser page."""
    entered = ui.enter_page("explore")
    ui.init_state()
    ui.page_header(
        "Stage browser",
        "MeshCNN pools a mesh by **collapsing edges**: at each stage the edges with the weakest features "
        "disappear. Move the slider to walk through the stages; colors show what the network computes "
        "per edge.",
    )
    notice = st.container()  # filled once the sidebar has read the mesh choice
    key, device, loaded = ui.sidebar_model_section(entered)
    switched = None
    if loaded is not None:
        lo, hi = svc.model_limits([loaded.model])
        switched = ui.switch_to_fitting_sample(loaded.key, lo, hi)
    choice = ui.sidebar_mesh(loaded.model.config.ninput_edges if loaded else None)
    with notice:
        ui.link_notice()
    if loaded is None or choice is None:
        return
    model = loaded.model
    if loaded.entry is not None and (card := model_card(loaded.entry)):
        with st.sidebar.expander("Model card"):
            st.markdown(card)
    if switched:
        st.info(
            f"Switched the sample mesh to **{switched}**, the size {model.name} takes.",
            icon=":material/swap_horiz:",
        )
    ui.suggest_fitting_sample(choice, lo, hi, model.name)
    with ui.error_box():
        fitted = cached.fitted(choice.mesh, lo, hi, model.input_size)
        result = cached.result(loaded.key, device, model, fitted)
        rec = result.recording
        truth = _truth(rec, result, choice)
        st.sidebar.markdown(
            f"**Device in use:** {result.device}  \n**Inference time:** {1000 * result.seconds:.0f} ms"
        )
        left, right = st.columns([2.4, 1], gap="large")
        with left:
            k, color, in_view, zoom = _controls(rec, truth is not None and np.ndim(truth) == 1)
            if color.quantity in ("truth", "wrong"):
                color = ColorChoice(color.quantity, color.channel, color.fixed_scale, truth)
        attr = None
        if color.quantity == "attribution":  # the only coloring that needs a backward pass (cached)
            method, target = _attribution_controls(rec, f"{loaded.key}|{fitted.mesh.content_hash()}")
            scores = ecached.attribution(loaded.key, device, model, fitted.mesh, method, target.index)
            color = replace(color, attribution=scores)
            attr = (method, target)
        with right:
            st.subheader(ui.wrap_name(model.name))
            st.caption(
                f"{model.task} model on **{choice.mesh.name}** · takes ≤ {model.config.ninput_edges} edges · "
                f"pools to {', '.join(map(str, model.config.pool_res))}"
            )
            if result.actions:
                st.info(
                    "The mesh was adapted to fit the model:\n" + "\n".join(f"- {a}" for a in result.actions)
                )
            check = st.container()  # the deletion check, filled after the view is drawn
            _prediction(
                rec, truth, color.quantity, choice.entry is not None and choice.entry.source == "dataset"
            )
            words, warn = result.reliability(model.task)
            (st.warning if warn else st.caption)(words, **({"icon": ":material/help:"} if warn else {}))
        with left:
            # lazy tabs: only the open tab runs (one 3D view to send and draw per rerun)
            tab_stage, tab_survival, tab_resolution, tab_export = st.tabs(
                ["Stage view", "Survival map", "Resolution map", "Export"], key="view_tab", on_change="rerun"
            )
            group = choice.mesh.content_hash()
            if tab_stage.open:
                with tab_stage:
                    _stage_view(rec, k, color, in_view, zoom, group, attr)
            if tab_survival.open:
                with tab_survival:
                    st.markdown(
                        "Each input edge colored by the **deepest pooled stage at which it is still an edge "
                        "of its own**, not yet collapsed or merged into another: regions the network keeps "
                        "to the end are bright, early collapses are dark."
                    )
                    mesh_view(cached.figure(figures.survival_figure, rec), key="survival_view", group=group)
                    st.caption(CAMERA_HELP)
            if tab_resolution.open:
                with tab_resolution:
                    _resolution_view(rec, k, group)
            if tab_export.open:
                with tab_export:
                    _exports(rec, k, color, svc.safe_name(f"{model.name}_{choice.mesh.name}"))
        if attr is not None:
            with check:
                curve = ecached.deletion(
                    loaded.key, device, model, fitted.mesh, attr[0], attr[1].index, scores
                )
                _deletion_check(rec, curve)
        ui.write_query(
            ViewState(
                model=None if key == ui.UPLOAD else key,
                mesh=choice.key,
                stage=k,
                color=color.quantity,
                channel=color.channel,
                fixed_scale=color.fixed_scale,
                dataset=choice.dataset,
            )
        )


main()
