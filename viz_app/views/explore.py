"""The stage browser: one model on one mesh, every pooling stage, the survival map, exports."""

from __future__ import annotations

import re

import streamlit as st

from viz_app import service as svc
from viz_app import ui

COLOR_HELP = {
    "activation": "length (L2 norm) of each edge's feature vector at this stage: where the network responds",
    "channel": "one feature channel's value on each edge",
    "priority": "rank of the pooling queue key (squared feature norm) in this stage: the lowest (dark) edges "
                "are collapsed first",
    "label": "the part the network predicts for each edge",
    "survival": "the deepest pooling stage this edge's group reaches",
}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60] or "mesh"


def _prediction(rec, result, choice) -> None:
    truth = None
    if choice.entry is not None and choice.entry.source == "dataset" and not result.actions:
        truth = svc.ground_truth(choice.entry, rec.class_names, rec.num_input_edges)
    acc = svc.accuracy(rec, truth)
    if rec.task == "classification":
        probs = rec.probabilities.reshape(-1)
        pred = int(rec.prediction)
        st.metric("Predicted class", rec.class_names[pred])
        st.caption(f"probability {100 * probs[pred]:.1f}%")
        if truth is not None:
            mark = "✅ correct" if acc and acc["correct"] else "❌ wrong"
            st.markdown(f"Ground truth (data-set folder): **{rec.class_names[int(truth)]}** · {mark}")
        st.plotly_chart(svc.prediction_figure(rec), key="pred_bars", config={"displayModeBar": False})
    else:
        counts = {n: int((rec.prediction == i).sum()) for i, n in enumerate(rec.class_names)}
        st.metric("Parts found", f"{sum(1 for v in counts.values() if v)} of {len(rec.class_names)}")
        if acc is not None:
            st.metric("Accuracy vs ground truth", f"{100 * acc['edges']:.1f}%")
            st.caption(f"share of edges labelled right; area-weighted: {100 * acc['area']:.1f}%")
        elif choice.entry is not None and choice.entry.source == "dataset":
            st.caption("No ground truth: the mesh was changed to fit the model, or its .eseg file is missing.")
        st.markdown("Edges per predicted part:\n" + "\n".join(f"- part {n}: {c}" for n, c in counts.items()))
        st.caption("To see the parts, color the edges by **Predicted label**.")


def _controls(rec) -> tuple[int, str, int, bool, bool]:
    """Stage slider, color, channel and view toggles (above the tabs, so every tab sees them)."""
    task = rec.task
    colors = [q for q in svc.QUANTITIES if task == "segmentation" or q != "label"]
    ui.keep_valid("color", colors, "label" if task == "segmentation" else "activation")
    k_max = rec.num_stages - 1
    if not isinstance(st.session_state.get("stage"), int) or st.session_state["stage"] > k_max:
        st.session_state["stage"] = min(int(st.session_state.get("stage") or 0), k_max)
    c1, c2, c3 = st.columns([2.6, 1.3, 0.8])
    t1, t2, _ = st.columns([1, 1, 1.5])
    browser_slider = t1.toggle("Keep my camera", key="in_browser",
                               help="Switch stages with a slider inside the 3D view: instant, and the camera "
                                    "stays where you turned it (the stage is then not saved in the link).")
    zoom = t2.toggle("Zoom to stage", key="fit_view", help="Frame each stage's own mesh instead of the input's "
                     "(pooled meshes can shrink a lot: collapsed edges move their vertices to the midpoint)")
    k = c1.select_slider("Stage", options=list(range(rec.num_stages)), key="stage",
                         format_func=lambda j: svc.stage_label(rec, j), disabled=browser_slider,
                         help="input → each pooling stage" + (" → each unpooling stage" if task == "segmentation" else ""))
    color = c2.selectbox("Color edges by", colors, key="color", format_func=svc.QUANTITIES.get)
    channel = 0
    n_ch = rec.stage(k).features.shape[0]
    if color == "channel":
        if int(st.session_state.get("channel", 0)) >= n_ch:
            st.session_state["channel"] = n_ch - 1
        channel = int(c3.number_input("Channel", 0, n_ch - 1, key="channel", step=1))
    return k, color, channel, browser_slider, zoom


def _stage_view(rec, k: int, color: str, channel: int, browser_slider: bool, zoom: bool, uirev: str) -> None:
    n_ch = rec.stage(k).features.shape[0]
    if browser_slider:
        st.caption(f"Use the slider under the view · color: {COLOR_HELP[color]}.")
        fig = svc.stages_figure(rec, color, channel, active=k, fit_stage=zoom)
        st.plotly_chart(fig, key="stages_fig", config={"displaylogo": False})
    else:
        st.caption(f"**{svc.stage_label(rec, k)}** ({n_ch} channels) · color: {COLOR_HELP[color]}.")
        fig = svc.stage_figure(rec, k, color, channel, uirevision=f"{uirev}|{zoom}", fit_stage=zoom)
        st.plotly_chart(fig, key="stage_fig", config={"displaylogo": False})


def _exports(rec, k: int, color: str, channel: int, base: str, uirev: str) -> None:
    st.markdown("Downloads of the current stage and color. Images are rendered on the server with PyVista.")
    c = st.columns(3)
    name = f"{base}_stage{k}"
    c[0].download_button("PNG image of this view", lambda: svc.stage_png(rec, k, color, channel),
                         file_name=f"{name}_{color}.png", mime="image/png", on_click="ignore", icon="🖼️")
    c[1].download_button("Stage mesh (OBJ)", lambda: svc.stage_mesh_obj(rec, k), file_name=f"{name}.obj",
                         mime="text/plain", on_click="ignore", icon="📐")
    c[2].download_button("Stage mesh + edge colors (PLY)", lambda: svc.stage_mesh_ply(rec, k, color, channel),
                         file_name=f"{name}_{color}.ply", mime="text/plain", on_click="ignore", icon="📐")
    c = st.columns(3)
    c[0].download_button("Recording (.npz)", lambda: svc.recording_npz(rec), file_name=f"{base}_recording.npz",
                         mime="application/octet-stream", on_click="ignore", icon="💾")
    c[1].download_button("Interactive 3D view (HTML)",
                         lambda: svc.figure_html(svc.stage_figure(rec, k, color, channel, uirevision=uirev),
                                                 f"{base}: {svc.stage_label(rec, k)}"),
                         file_name=f"{name}_{color}.html", mime="text/html", on_click="ignore", icon="🌐")
    c[2].download_button("Collapse sequence (GIF)", lambda: svc.collapse_gif(rec, color, channel),
                         file_name=f"{base}_collapse_{color}.gif", mime="image/gif", on_click="ignore", icon="🎞️",
                         help="Each pooled stage, then the edges it is about to collapse in red (a few seconds).")


def main() -> None:
    """Draw the stage browser page."""
    ui.init_state()
    ui.page_header(
        "Stage browser",
        "MeshCNN pools a mesh by **collapsing edges**: at each stage the edges with the weakest features "
        "disappear. Move the slider to walk through the stages; colors show what the network computes per edge.",
    )
    options, entries = ui.model_options()
    if not entries:
        st.warning(f"No shipped model yet: {svc.checkpoints_dir()} holds no .pt checkpoint. "
                   "Upload a checkpoint in the sidebar, or come back when the models are trained.")
    st.sidebar.subheader("Model")
    device = ui.sidebar_device()
    default = svc.default_model(list(entries.values()))
    ui.keep_valid("model", options, default.key if default else ui.UPLOAD)
    key = st.sidebar.selectbox("Model", options, key="model", format_func=lambda k: ui.model_label(k, entries))
    loaded = ui.load_model_choice(key, entries, device)
    choice = ui.sidebar_mesh(loaded[0].config.ninput_edges if loaded else None)
    if loaded is None or choice is None:
        return
    model, model_key = loaded
    if key in entries and (card := svc.model_card(entries[key])):
        with st.sidebar.expander("Model card"):
            st.markdown(card)
    with ui.error_box():
        lo, hi = svc.model_limits([model])
        fitted = ui.cached_fit(choice.mesh.content_hash(), lo, hi, choice.mesh)
        result = ui.cached_result(model_key, device, fitted.mesh.content_hash(), model, fitted)
        rec = result.recording
        st.sidebar.markdown(f"**Device in use:** {result.device}  \n**Inference time:** {1000 * result.seconds:.0f} ms")
        uirev = f"{model_key}|{fitted.mesh.content_hash()}"
        left, right = st.columns([2.4, 1], gap="large")
        with right:
            st.subheader(f"{model.name}")
            st.caption(f"{model.task} model on **{choice.mesh.name}** · takes ≤ {model.config.ninput_edges} edges · "
                       f"pools to {', '.join(map(str, model.config.pool_res))}")
            if result.actions:
                st.info("The mesh was adapted to fit the model:\n" + "\n".join(f"- {a}" for a in result.actions))
            _prediction(rec, result, choice)
        with left:
            k, color, channel, browser_slider, zoom = _controls(rec)
            # lazy tabs: only the open tab runs (one 3D view to send and draw per rerun)
            tab_stage, tab_survival, tab_export = st.tabs(["Stage view", "Survival map", "Export"], key="view_tab",
                                                          on_change="rerun")
            if tab_stage.open:
                with tab_stage:
                    _stage_view(rec, k, color, channel, browser_slider, zoom, uirev)
            if tab_survival.open:
                with tab_survival:
                    st.markdown("Each input edge colored by the **deepest pooling stage its group survives to**: "
                                "regions the network keeps to the end are bright, early collapses are dark.")
                    st.plotly_chart(svc.survival_figure(rec, uirevision=uirev), key="survival_fig",
                                    config={"displaylogo": False})
            if tab_export.open:
                with tab_export:
                    _exports(rec, k, color, channel, _safe(f"{model.name}_{choice.mesh.name}"), uirev)
        ui.write_query(svc.ViewState(model=None if key == ui.UPLOAD else key, mesh=choice.key, stage=k,
                                     color=color, channel=channel))


main()
