"""Inspect an edge: pick one, see where it came from and where it went, replay a pooling, explain MeshConv."""

from __future__ import annotations

import streamlit as st

from meshcnn_core.inspection.lesson import default_lesson_edge
from meshcnn_core.inspection.provenance import pooling_stages
from viz_app import cached, ui
from viz_app import inspect_figures as figs
from viz_app import inspect_service as isvc
from viz_app import inspect_ui as iui
from viz_app import service as svc
from viz_app.stages import stage_label

EDGE_KEY = "inspect_edge"
STAGE_KEY = "inspect_stage"
LOOK_KEY = "_inspect_look"


def _controls(rec) -> tuple[int, int, bool]:
    """Stage slider, edge id box and the midpoint-dots toggle."""
    k_max = rec.num_stages - 1
    if not isinstance(st.session_state.get(STAGE_KEY), int):
        shared = st.session_state.get("stage")  # the stage browser's stage, when coming from there
        st.session_state[STAGE_KEY] = shared if isinstance(shared, int) else min(1, k_max)
    st.session_state[STAGE_KEY] = min(st.session_state[STAGE_KEY], k_max)
    e_max = rec.num_input_edges - 1
    if not isinstance(st.session_state.get(EDGE_KEY), int) or not 0 <= st.session_state[EDGE_KEY] <= e_max:
        st.session_state[EDGE_KEY] = default_lesson_edge(rec)
    c1, c2, c3 = st.columns([2.6, 1, 1], vertical_alignment="bottom")
    k = c1.select_slider(
        "Stage", options=list(range(rec.num_stages)), key=STAGE_KEY, format_func=lambda j: stage_label(rec, j)
    )
    edge = c2.number_input(
        f"Edge id (0–{e_max})",
        0,
        e_max,
        key=EDGE_KEY,
        step=1,
        on_change=iui.look_at,
        args=(LOOK_KEY,),
        help="Edges keep the id of the input edge they started as. Type an id (the views turn "
        "to it), or click an edge in a view below.",
    )
    dots = c3.toggle(
        "Midpoint dots",
        key="inspect_dots",
        value=True,
        help="A dot at the middle of every edge: a larger target to click than the thin line.",
    )
    return int(k), int(edge), bool(dots)


def _provenance(rec, k: int, edge: int, dots: bool, group: str) -> None:
    focus = isvc.edge_focus(rec, k, edge)
    c1, c2 = st.columns([5, 1], vertical_alignment="center")
    c1.markdown(focus.sentence)
    c2.button(
        "Turn to it",
        key="inspect_look",
        icon=":material/center_focus_strong:",
        on_click=iui.look_at,
        args=(LOOK_KEY,),
        width="stretch",
        help=f"Turn both views so that edge {edge} faces you.",
    )
    camera, token = figs.edge_camera(rec, edge), iui.look_token(LOOK_KEY)
    left, right = st.columns(2, gap="medium")
    with left:
        st.markdown(f"**Stage {k}: {stage_label(rec, k)}**")
        iui.pick_edge_view(
            figs.stage_pick_figure(rec, focus, midpoints=dots, camera=camera),
            rec,
            k,
            key="inspect_stage_view",
            edge_key=EDGE_KEY,
            group=group,
            camera_token=token,
        )
    with right:
        n = len(focus.merged_into_carriers)
        st.markdown(
            f"**Input mesh: the {n} input edge{'s' if n != 1 else ''} merged into "
            f"{'it' if focus.row is not None else 'its carriers'}**"
        )
        iui.pick_edge_view(
            figs.origin_figure(rec, focus, midpoints=dots, camera=camera),
            rec,
            0,
            key="inspect_input_view",
            edge_key=EDGE_KEY,
            group=group,
            camera_token=token,
        )
    st.caption(iui.PICK_HELP + " A click on the input mesh follows that input edge through the stages.")
    st.markdown(f"#### Where input edge {edge} goes")
    st.markdown(isvc.fate_summary(rec, focus.fate))
    st.dataframe(isvc.fate_rows(rec, focus.fate), hide_index=True)
    st.caption(
        "Queue position: the order in which the pooling after that stage visits its edges (1 = visited "
        "first: the lowest priority, i.e. squared feature norm). One input edge can be carried by several "
        "edges: a collapse copies the collapsed edge's group into the edges on both of its sides."
    )


def main() -> None:
    """Draw the inspect page."""
    entered = ui.enter_page("inspect")
    ui.init_state()
    ui.page_header(
        "Inspect an edge",
        "Pick an edge to see **which input edges were merged into it**, follow an input edge **through every "
        "stage**, **replay a pooling layer** collapse by collapse, and see **MeshConv's numbers** for one "
        "edge.",
    )
    ui.link_notice()
    key, device, loaded = ui.sidebar_model_section(entered)
    if loaded is not None:
        lo, hi = svc.model_limits([loaded.model])
        ui.switch_to_fitting_sample(loaded.key, lo, hi)
    choice = ui.sidebar_mesh(loaded.model.config.ninput_edges if loaded else None)
    if loaded is None or choice is None:
        return
    model = loaded.model
    with ui.error_box():
        fitted = cached.fitted(choice.mesh, lo, hi, model.input_size)
        result = cached.result(loaded.key, device, model, fitted)
        rec = result.recording
        st.caption(
            f"**{ui.wrap_name(model.name)}** ({model.task}) on **{choice.mesh.name}** · "
            f"{rec.num_input_edges} input edges · {rec.num_stages} stages"
        )
        if result.actions:
            st.info("The mesh was adapted to fit the model:\n" + "\n".join(f"- {a}" for a in result.actions))
        k, edge, dots = _controls(rec)
        group = "inspect:" + choice.mesh.content_hash()
        tabs = st.tabs(
            ["Provenance", "Collapse replay", "MeshConv explainer"], key="inspect_tab", on_change="rerun"
        )
        if tabs[0].open:
            with tabs[0]:
                _provenance(rec, k, edge, dots, group)
        if tabs[1].open:
            with tabs[1]:
                hint = k if k in pooling_stages(rec) else 0
                iui.replay_panel(rec, key="inspect_replay", group=group, stage_hint=hint)
        if tabs[2].open:
            with tabs[2]:
                check = iui.network_check(model, rec, f"{loaded.key}|{device}|{fitted.mesh.content_hash()}")
                st.markdown(
                    f"The first MeshConv runs on the input mesh, so it is explained at input edge "
                    f"**{edge}** (the edge id above)."
                )
                iui.explainer_panel(model, rec, edge, key="inspect_conv", check=check)


main()
