"""Teaching mode: a guided lesson on one mesh, features → convolution → pooling → unpooling, in large type.

Everything a teacher needs is on the page (the lesson's mesh and model are chosen here, not in the
sidebar); Next and Back walk through the steps.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from meshcnn_core.inspection.conv_explain import FEATURE_NAMES
from meshcnn_core.inspection.lesson import default_lesson_edge, lesson_summary
from meshcnn_core.inspection.provenance import pooling_stages, queue_ranks
from viz_app import cached, ui
from viz_app import inspect_figures as figs
from viz_app import inspect_service as isvc
from viz_app import inspect_ui as iui
from viz_app import lesson_service as lsvc
from viz_app import service as svc
from viz_app.catalog import list_models, list_sample_meshes
from viz_app.colorings import part_label
from viz_app.figures import prediction_figure
from viz_app.pick_view import pick_view
from viz_app.stages import pooled_levels, stage_label

STEP_KEY = "teach_step"
EDGE_KEY = "teach_edge"
LOOK_KEY = "_teach_look"
BIG_TYPE = """<style>
[data-testid="stMain"] .stMarkdown p, [data-testid="stMain"] .stMarkdown li {
  font-size: 1.3rem; line-height: 1.5; }
[data-testid="stMain"] .stMarkdown table { font-size: 1.05rem; }
[data-testid="stMain"] .stCaption p, [data-testid="stMain"] [data-testid="stCaptionContainer"] {
  font-size: 1.05rem; }
[data-testid="stMain"] h1 { font-size: 2.8rem; }
[data-testid="stMain"] h2 { font-size: 2.1rem; }
[data-testid="stMain"] [data-testid="stWidgetLabel"] p { font-size: 1.1rem; }
[data-testid="stMain"] button p { font-size: 1.15rem; }
[data-testid="stMain"] [data-testid="stProgress"] p { font-size: 1.1rem; }
[data-testid="stMain"] [data-testid="stMetricLabel"] p { font-size: 1.05rem; }
[data-testid="stMain"] [data-testid="stRadio"] label p { font-size: 1.1rem; }
</style>"""


def _go(delta: int, last: int) -> None:
    st.session_state[STEP_KEY] = int(np.clip(int(st.session_state.get(STEP_KEY, 0)) + delta, 0, last))


def _nav(steps, where: str) -> None:
    """Back / step bar / Next. Only the top bar has the Page Up / Page Down shortcuts (a clicker's keys)."""
    i, last = int(st.session_state[STEP_KEY]), len(steps) - 1
    top = where == "top"
    c = st.columns([1, 4, 1], vertical_alignment="center")
    c[0].button(
        "Back",
        key=f"teach_back_{where}",
        icon=":material/arrow_back:",
        on_click=_go,
        args=(-1, last),
        disabled=i == 0,
        width="stretch",
        shortcut="PageUp" if top else None,
    )
    c[2].button(
        "Next",
        key=f"teach_next_{where}",
        icon=":material/arrow_forward:",
        on_click=_go,
        args=(1, last),
        disabled=i == last,
        width="stretch",
        type="primary",
        shortcut="PageDown" if top else None,
    )
    if top:
        c[1].progress(
            (i + 1) / len(steps),
            text=f"Step {i + 1} of {len(steps)} · "
            + " → ".join(f"**{s.name}**" if j == i else s.name for j, s in enumerate(steps)),
        )


def _lesson_choice():
    """The lesson's model and mesh, chosen on the page (defaults: :data:`lesson_service.LESSON_MODEL` ...)."""
    models = list_models()
    if not models:
        st.warning(
            "No model to teach with: the checkpoints folder holds no .pt file.", icon=":material/warning:"
        )
        return None
    by_key = {m.key: m for m in models}
    ui.keep_valid("teach_model", list(by_key), lsvc.lesson_model(models).key)
    with st.expander("Lesson settings: mesh, model and the edge to follow", icon=":material/tune:"):
        c1, c2, c3 = st.columns([1.3, 1.3, 1])
        mkey = c1.selectbox("Model", list(by_key), key="teach_model", format_func=lambda k: by_key[k].name)
        device = svc.default_device().default
        model = None
        with ui.error_box():
            model = cached.model(by_key[mkey], device)
        if model is None:
            return None
        lo, hi = svc.model_limits([model])
        meshes = lsvc.lesson_meshes(list_sample_meshes(), lo, hi)
        if not meshes:
            st.warning(
                f"No sample mesh has {lo}–{hi} edges, the sizes {model.name} takes.",
                icon=":material/warning:",
            )
            return None
        mesh_by_key = {m.key: m for m in meshes}
        ui.keep_valid("teach_mesh", list(mesh_by_key), lsvc.lesson_mesh(meshes).key)
        entry = mesh_by_key[
            c2.selectbox(
                "Mesh", list(mesh_by_key), key="teach_mesh", format_func=lambda k: mesh_by_key[k].name
            )
        ]
        edge_box = c3.container()
    with ui.error_box():
        mesh = cached.mesh(entry)
        fitted = cached.fitted(mesh, lo, hi, model.input_size)
        rec = cached.result(by_key[mkey].key, device, model, fitted).recording
        e_max = rec.num_input_edges - 1
        if st.session_state.get("_teach_rec") != (mkey, entry.key):  # a new lesson: follow its default edge
            st.session_state["_teach_rec"] = (mkey, entry.key)
            st.session_state[EDGE_KEY] = default_lesson_edge(rec)
            iui.look_at(LOOK_KEY)
        edge_box.number_input(
            f"Edge to follow (0–{e_max})",
            0,
            e_max,
            key=EDGE_KEY,
            step=1,
            on_change=iui.look_at,
            args=(LOOK_KEY,),
            help="By default the first edge the first pooling collapses. You can also click "
            "an edge in step 1.",
        )
        return model, rec, entry, f"{mkey}|{device}|{fitted.mesh.content_hash()}"
    return None


def _cam(rec, edge: int) -> dict:
    """The lesson views' camera: they open facing the followed edge, then keep the user's camera."""
    return dict(camera=figs.edge_camera(rec, edge))


def _view(fig, key: str, group: str) -> None:
    pick_view(fig, key=key, group=group, camera_token=iui.look_token(LOOK_KEY))


def _step_mesh(rec, edge: int, group: str) -> None:
    left, right = st.columns([2.2, 1], gap="large")
    with left:
        focus = isvc.edge_focus(rec, 0, edge)
        iui.pick_edge_view(
            figs.origin_figure(rec, focus, midpoints=True, height=620, **_cam(rec, edge)),
            rec,
            0,
            key="teach_mesh_view",
            edge_key=EDGE_KEY,
            group=group,
            camera_token=iui.look_token(LOOK_KEY),
        )
        st.caption("Click an edge, or the dot at its middle, to follow it instead. Drag to turn the mesh.")
    with right:
        st.markdown(
            f"This is **{rec.meta.get('mesh_name', 'the mesh')}**: a surface made of "
            f"**{len(rec.input_faces)} triangles**, with {len(rec.input_vertices)} corners (vertices) and "
            f"**{rec.num_input_edges} edges**."
        )
        st.markdown(
            "An image network works on pixels; **MeshCNN works on edges**. It computes numbers for every "
            "edge and, step by step, removes the least important edges (pooling), the way an image "
            "network shrinks an image."
        )
        st.markdown(f"We follow **edge {edge}** (red) through the network.")


def _step_features(rec, edge: int, group: str) -> None:
    st.markdown(
        "Every edge starts with **five numbers**, computed from its two triangles: how sharply the surface "
        "folds at the edge, and the shape of the two triangles."
    )
    names = list(FEATURE_NAMES)
    c1, c2 = st.columns([2.2, 1])
    f = c1.radio(
        "Color the edges by", range(5), format_func=lambda i: names[i], key="teach_feature", horizontal=True
    )
    source = c2.radio(
        "Values",
        ["exact geometry", "MeshCNN's"],
        key="teach_feature_source",
        horizontal=True,
        help="MeshCNN's values are what the network reads; the exact ones are the true angles and "
        "ratios of the triangles.",
    )
    feats = rec.input_features if source == "MeshCNN's" else isvc.exact_features(rec)
    angle = f < 3
    values = np.degrees(feats[f]) if angle else feats[f]
    lo, hi = (float(x) for x in np.percentile(values, [2, 98]))
    title = f"{names[f]}<br>({'degrees' if angle else 'ratio'}, {source})"
    left, right = st.columns([2.2, 1], gap="large")
    with left:
        _view(
            figs.values_figure(
                rec,
                0,
                values,
                title,
                highlight=[edge],
                highlight_name=f"edge {edge}",
                height=600,
                cmin=lo,
                cmax=max(hi, lo + 1e-9),
                **_cam(rec, edge),
            ),
            "teach_feature_view",
            group,
        )
        st.caption(
            "The colors span the middle 96% of the values (2nd to 98th percentile); the few edges beyond "
            "take the end colors."
        )
    with right:
        st.markdown(f"**Edge {edge}** ({source} values)")
        for i in range(5):
            v = feats[i, edge]
            st.metric(names[i], f"{np.degrees(v):.1f}°" if i < 3 else f"{v:.3f}")
        st.caption(
            "MeshCNN divides by (length + 0.1) when it normalizes vectors, so on small meshes its angles "
            "differ from the exact ones. The network was trained on MeshCNN's values."
        )


def _step_priority(rec, edge: int, group: str) -> None:
    pools = pooling_stages(rec)
    if not pools:
        st.markdown("This model does not pool.")
        return
    st0 = rec.stage(pools[0])
    ranks = queue_ranks(st0) + 1
    own = np.flatnonzero(st0.edge_ids == edge)
    row = int(own[0]) if len(own) else None
    st.markdown(
        f"After the first convolutions every edge carries **{st0.features.shape[0]} numbers**. "
        "Its **priority** "
        "is the sum of their squares: small where the network responds weakly. The first pooling visits the "
        "edges from the smallest priority up and collapses them, until "
        f"**{rec.stage(pools[0] + 1).num_edges}** of the {st0.num_edges} edges are left."
    )
    left, right = st.columns([2.2, 1], gap="large")
    with left:
        _view(
            figs.values_figure(
                rec,
                pools[0],
                ranks,
                "queue position<br>(1 = visited first)",
                highlight=[row] if row is not None else [],
                highlight_name=f"edge {edge}",
                height=600,
                **_cam(rec, edge),
            ),
            "teach_priority_view",
            group,
        )
    with right:
        if row is not None:
            st.metric(f"Edge {edge}: queue position", f"{int(ranks[row])} of {st0.num_edges}")
            st.metric("its priority", f"{float(st0.priority[row]):.4g}")
        st.caption(
            "Dark edges are visited first. Not every visited edge can be collapsed: step 5 shows which "
            "ones are skipped, and why."
        )


def _step_pooled(rec, edge: int, group: str) -> None:
    levels = pooled_levels(rec)
    counts = " → ".join(str(rec.stage(k).num_edges) for k in levels)
    st.markdown(
        f"Each pooling layer does the same on the mesh it receives: **{counts} edges**. The features of "
        "edges merged together are averaged, so every remaining edge stands for a patch of the input."
    )
    if st.session_state.get("teach_pooled") not in levels:
        st.session_state["teach_pooled"] = levels[-1]
    k = st.select_slider("Stage", levels, key="teach_pooled", format_func=lambda j: stage_label(rec, j))
    focus = isvc.edge_focus(rec, k, edge)
    st.markdown(focus.sentence)
    left, right = st.columns(2, gap="medium")
    with left:
        _view(
            figs.stage_pick_figure(rec, focus, midpoints=False, **_cam(rec, edge)), "teach_pooled_view", group
        )
    with right:
        _view(figs.origin_figure(rec, focus, midpoints=False, **_cam(rec, edge)), "teach_pooled_input", group)
    st.caption(
        "Left: the stage's mesh (collapsed edges moved their end points to the midpoint). Right: the "
        "input mesh, with the input edges merged into the edge we follow (or into the edges carrying it)."
    )


def _step_unpool(rec, edge: int, group: str) -> None:
    st.markdown(
        "A segmenter must give **every input edge** a label, so it undoes the poolings in reverse order. "
        "Each restored edge receives the features of the pooled edges whose groups hold it, joined with "
        "the features it had before pooling; more convolutions then decide each edge's part."
    )
    kinds = [rec.stage(k).kind for k in range(rec.num_stages)]
    unpools = [k for k, kind in enumerate(kinds) if kind == "unpool"]
    counts = " → ".join(str(rec.stage(k).num_edges) for k in [unpools[0] - 1, *unpools])
    pred = np.asarray(rec.prediction)
    left, right = st.columns([2.2, 1], gap="large")
    with left:
        _view(figs.labels_figure(rec, pred, height=600, **_cam(rec, edge)), "teach_labels_view", group)
    with right:
        st.markdown(f"Edges, stage by stage back up: **{counts}**.")
        st.markdown(f"**Predicted parts** ({len(rec.class_names)} possible):")
        st.markdown(
            "\n".join(
                f"- {part_label(n)}: {int((pred == i).sum())} edges" for i, n in enumerate(rec.class_names)
            )
        )
        st.metric(f"Edge {edge}", part_label(rec.class_names[int(pred[edge])]))


def _step_result(rec) -> None:
    last = rec.stage(rec.num_stages - 1)
    st.markdown(
        f"A classifier does not unpool: it averages the {last.features.shape[0]} numbers of the last "
        f"{last.num_edges} edges into one vector, and two fully connected layers score the classes."
    )
    p = np.asarray(rec.probabilities).reshape(-1)
    top = int(np.argmax(p))
    c1, c2 = st.columns([1, 2], gap="large")
    c1.metric("Predicted class", rec.class_names[top], f"{100 * p[top]:.1f}%", delta_color="off")
    with c2:
        st.plotly_chart(prediction_figure(rec), key="teach_bars", config={"displayModeBar": False})


def _step_summary(text: str, name: str) -> None:
    st.markdown("The whole lesson with its numbers, to print or hand out:")
    title = text.splitlines()[0].lstrip("# ").strip()
    c = st.columns(2)
    c[0].download_button(
        "Download the lesson (Markdown)",
        text,
        file_name=f"{name}_lesson.md",
        mime="text/markdown",
        icon=":material/description:",
        on_click="ignore",
        width="stretch",
    )
    c[1].download_button(
        "Download the lesson (printable HTML)",
        lsvc.lesson_html(text, title),
        file_name=f"{name}_lesson.html",
        mime="text/html",
        icon=":material/print:",
        on_click="ignore",
        width="stretch",
    )
    with st.container(border=True):
        st.markdown(text)


def _handout(part: str | None) -> None:
    if part:
        with st.expander("The numbers of this step (as in the handout)", icon=":material/table:"):
            st.markdown(part)


def main() -> None:
    """Draw the teaching page."""
    ui.enter_page("teach")
    ui.init_state()
    st.markdown(BIG_TYPE, unsafe_allow_html=True)
    st.title("How a mesh network sees a mesh")
    choice = _lesson_choice()
    if choice is None:
        return
    model, rec, entry, cache_key = choice
    steps = lsvc.lesson_steps(rec.task)
    if not isinstance(st.session_state.get(STEP_KEY), int) or not 0 <= st.session_state[STEP_KEY] < len(
        steps
    ):
        st.session_state[STEP_KEY] = 0
    edge = int(st.session_state[EDGE_KEY])
    group = "teach:" + entry.key
    _nav(steps, "top")
    i = int(st.session_state[STEP_KEY])
    st.header(steps[i].title)
    with ui.error_box():
        text = lesson_summary(
            rec, model, edge=edge, channel=int(st.session_state.get("teach_conv_channel", 0))
        )
        parts = lsvc.lesson_sections(text)
        name = steps[i].name
        if name == "Mesh":
            _step_mesh(rec, edge, group)
        elif name == "Features":
            _step_features(rec, edge, group)
            _handout(parts.get("1"))
        elif name == "Convolution":
            iui.explainer_panel(
                model,
                rec,
                edge,
                key="teach_conv",
                check=iui.network_check(model, rec, cache_key),
                height=560,
                details="expander",
            )
            _handout(parts.get("2"))
        elif name == "Priority":
            _step_priority(rec, edge, group)
        elif name == "Collapses":
            st.markdown(
                "Collapsing an edge merges its two end points into one, at its middle. Its two triangles "
                "disappear, and in each of them the two other edges become one: **three edges fewer** "
                "per collapse. Press **Step forward** or **Play** to watch them in order."
            )
            pools = pooling_stages(rec)
            iui.replay_panel(
                rec, key="teach_replay", group=group, stage_hint=pools[0] if pools else 0, table=False
            )
            _handout(parts.get("3"))
        elif name == "Pooled":
            _step_pooled(rec, edge, group)
        elif name == "Unpooling":
            _step_unpool(rec, edge, group)
            _handout(parts.get("4"))
        elif name == "Result":
            _step_result(rec)
            _handout("\n\n".join(p for p in (parts.get("4"), parts.get("5")) if p))
        else:
            _step_summary(text, svc.safe_name(f"{model.name}_{entry.name}"))
    _nav(steps, "bottom")


main()
