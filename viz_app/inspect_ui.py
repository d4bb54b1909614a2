"""Streamlit panels shared by the inspect and teaching pages: edge picking, collapse replay, MeshConv.

Widgets only draw and return plain values; the numbers come from
:mod:`meshcnn_core.inspection.provenance`, :mod:`meshcnn_core.inspection.replay` and
:mod:`meshcnn_core.inspection.conv_explain` through :mod:`viz_app.inspect_service`.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from meshcnn_core.checkpoint import LoadedModel
from meshcnn_core.inspection.conv_explain import explain_conv, first_conv
from meshcnn_core.inspection.provenance import pooling_stages
from meshcnn_core.inspection.replay import Replay, replay
from meshcnn_core.recording import Recording

from . import inspect_figures as figs
from . import inspect_service as isvc
from .pick_view import pick_view

__all__ = [
    "apply_click",
    "pick_edge_view",
    "look_at",
    "look_token",
    "replay_panel",
    "explainer_panel",
    "network_check",
    "PICK_HELP",
]

PICK_HELP = (
    "Click an edge, or the dot at its middle, to pick it. Drag to turn the view, scroll to zoom; the "
    "camera stays where you put it."
)


# ---------------------------------------------------------------- picking


def apply_click(view_key: str, rec: Recording, stage: int, edge_key: str) -> None:
    """Callback of a pick view: set the followed input edge (``st.session_state[edge_key]``) from a click."""
    click = isvc.parse_click(st.session_state.get(view_key))
    if click is None or click.id == st.session_state.get(f"_{view_key}_done"):
        return
    st.session_state[f"_{view_key}_done"] = click.id
    try:
        picked = isvc.pick_from_click(rec, stage, click)
    except ValueError as exc:
        st.session_state["_pick_error"] = str(exc)
        return
    st.session_state[edge_key] = picked.edge_id


def pick_edge_view(
    fig, rec: Recording, stage: int, *, key: str, edge_key: str, group: str, camera_token: str = ""
) -> None:
    """A pickable 3D view: a click on an edge or its midpoint dot sets ``st.session_state[edge_key]``."""
    pick_view(
        fig,
        key=key,
        group=group,
        pickable=figs.pickable_traces(fig),
        camera_token=camera_token,
        on_pick=lambda: apply_click(key, rec, stage, edge_key),
    )
    if err := st.session_state.pop("_pick_error", None):
        st.warning(err, icon=":material/touch_app:")


def look_at(counter_key: str) -> None:
    """Callback: turn the views to the chosen edge on their next draw (a new camera token)."""
    st.session_state[counter_key] = int(st.session_state.get(counter_key, 0)) + 1


def look_token(counter_key: str) -> str:
    """The camera token of the views that look at the chosen edge."""
    return f"look{int(st.session_state.get(counter_key, 0))}"


# ---------------------------------------------------------------- collapse replay


def _step(key: str, delta: int | None, last: int) -> None:
    """Button callback: move the replay's step (1-based) by ``delta`` (None: to the first)."""
    now = int(st.session_state.get(key, 1))
    st.session_state[key] = 1 if delta is None else int(np.clip(now + delta, 1, last))


def _set_playing(key: str, on: bool) -> None:
    st.session_state[key] = on


def replay_panel(
    rec: Recording, *, key: str, group: str, stage_hint: int = 0, height: int = 560, table: bool = True
) -> Replay | None:
    """The collapse replay of one pooling layer: pick the layer, then step, scrub or play through it.

    Returns the replay shown (None when the model does not pool).
    """
    layers = pooling_stages(rec)
    if not layers:
        st.info("This model has no pooling layer: there is nothing to replay.", icon=":material/info:")
        return None
    layer_key, step_key, play_key, only_key = f"{key}_layer", f"{key}_step", f"{key}_playing", f"{key}_only"
    if st.session_state.get(layer_key) not in layers:
        st.session_state[layer_key] = stage_hint if stage_hint in layers else layers[0]
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    layer = c1.selectbox(
        "Pooling layer", layers, key=layer_key, format_func=lambda k: isvc.layer_label(rec, k)
    )
    only = c2.toggle(
        "Collapses only",
        key=only_key,
        help="Step through the collapses only; skipped pops and triplet removals stay in the table.",
    )
    rp = replay(rec, layer)
    steps = [e.step for e in rp.events if e.kind == "collapse"] if only else list(range(len(rp.events)))
    st.markdown(isvc.replay_summary(rp))
    if not steps:
        st.info("This pooling made no step.", icon=":material/info:")
        return rp
    last = len(steps)
    first = rp.events[steps[0]]
    first_edge = first.edge if first.edge is not None else int(first.triplets[0])
    camera = figs.edge_camera(rec, first_edge)  # the view opens on the layer's first step
    if not 1 <= int(st.session_state.get(step_key, 1)) <= last:
        st.session_state[step_key] = 1
    playing = bool(st.session_state.get(play_key, False))

    @st.fragment(run_every=0.9 if playing else None)
    def stepper() -> None:
        if st.session_state.get(play_key, False):  # each tick of the timer shows the next step
            if st.session_state[step_key] >= last:
                st.session_state[play_key] = False
                st.rerun()  # stop the timer
            st.session_state[step_key] += 1
        b = st.columns([1, 1.15, 1.25, 1, 3.6], vertical_alignment="center")
        b[0].button(
            "First",
            key=f"{key}_first",
            icon=":material/first_page:",
            on_click=_step,
            args=(step_key, None, last),
            width="stretch",
        )
        b[1].button(
            "Step back",
            key=f"{key}_back",
            icon=":material/chevron_left:",
            on_click=_step,
            args=(step_key, -1, last),
            width="stretch",
        )
        b[2].button(
            "Step forward",
            key=f"{key}_next",
            icon=":material/chevron_right:",
            on_click=_step,
            args=(step_key, 1, last),
            width="stretch",
            type="primary",
        )
        if st.session_state.get(play_key, False):
            if b[3].button("Pause", key=f"{key}_pause", icon=":material/pause:", width="stretch"):
                _set_playing(play_key, False)
                st.rerun()
        elif b[3].button(
            "Play",
            key=f"{key}_play",
            icon=":material/play_arrow:",
            width="stretch",
            help="Show the next step about once a second, to the end of this pooling",
        ):
            _set_playing(play_key, True)
            st.rerun()
        if last > 1:
            b[4].slider("Step", 1, last, key=step_key, label_visibility="collapsed")
        i = int(st.session_state[step_key])
        ev = rp.events[steps[i - 1]]
        left, right = st.columns([2.3, 1], gap="large")
        with left:
            fig = figs.replay_figure(rec, rp, ev.step, height=height, camera=camera)
            pick_view(fig, key=f"{key}_view", group=f"{group}:replay", camera_token=f"layer{layer}")
        with right:
            what = "Collapse" if only else "Step"
            st.markdown(f"**{what} {i} of {last}**")
            st.markdown(isvc.event_sentence(ev))
            st.caption(
                f"Drawn on the mesh as it enters this pooling (stage {rp.stage}). Colors show what each "
                "edge is after this step; the thick ones (with a dot) changed in this step. Drag to turn "
                "the view."
            )

    stepper()
    if table:
        with st.expander("Every step of this pooling, as a table"):
            st.dataframe(isvc.replay_rows(rp), hide_index=True, height=320)
    return rp


# ---------------------------------------------------------------- MeshConv explainer


def network_check(model: LoadedModel, rec: Recording, cache_key: str) -> np.ndarray | None:
    """The network's own first-layer output on the recording's mesh (cached per model and mesh)."""
    return _first_layer(cache_key, model, rec)


@st.cache_data(max_entries=8, show_spinner="Running the network's first layer to check the numbers…")
def _first_layer(cache_key: str, _model: LoadedModel, _rec: Recording) -> np.ndarray | None:
    return isvc.first_layer_outputs(_model, _rec)


def explainer_panel(
    model: LoadedModel,
    rec: Recording,
    edge: int,
    *,
    key: str,
    check: np.ndarray | None,
    height: int = 520,
    details: bool | str = True,
) -> None:
    """The first MeshConv at input edge ``edge``: its one-ring, 5 features, symmetric terms, one channel.

    ``details``: True shows the tables of every number, ``"expander"`` puts them in an expander.
    """
    _, conv = first_conv(model.net)
    c_out = int(conv.out_channels)
    ch_key = f"{key}_channel"
    if not 0 <= int(st.session_state.get(ch_key, 0)) < c_out:
        st.session_state[ch_key] = 0
    ex = explain_conv(model, rec, int(edge), int(st.session_state.get(ch_key, 0)))
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        pick_view(
            figs.conv_figure(rec, ex, height=height),
            key=f"{key}_view",
            group=f"{key}:conv",
            camera_token=str(ex.edge),
        )
        st.caption(
            f"Edge {ex.edge} (black) and its four neighbours on the input mesh, seen from outside; "
            "drag to turn the view."
        )
    with right:
        names = []
        for letter, n in zip("abcd", ex.neighbours):
            names.append(f"**{letter}** = edge {int(n)}" if n >= 0 else f"**{letter}**: none (boundary)")
        st.markdown(
            f"MeshConv looks at edge **e = {ex.edge}** and its four neighbours, in MeshCNN's order: "
            f"{', '.join(names[:2])} (the other two edges of its first face) and "
            f"{', '.join(names[2:])} (of its second face). Which face is first depends only on the "
            "file's face order, so the layer uses terms "
            "that stay the same when the faces swap (a ↔ c, b ↔ d): **e, a + c, b + d, |a − c|, |b − d|**."
        )
        channel = st.number_input(
            f"Output channel (0–{c_out - 1})",
            0,
            c_out - 1,
            key=ch_key,
            step=1,
            help=f"The first layer ({ex.layer}) has {c_out} output channels; each has its "
            "own 25 weights and a bias.",
        )
        has_bias = conv.conv.bias is not None
        st.markdown(
            f"Output channel {channel} at edge {ex.edge} = the sum of weight × term over the 5 terms and "
            "the 5 input channels"
            + (", plus the channel's bias:" if has_bias else " (this layer has no bias):")
        )
        if has_bias:
            bias = f"{ex.bias:.4g}" if ex.bias >= 0 else f"({ex.bias:.4g})"
            st.markdown(f"### {ex.contributions.sum():.4g} + {bias} = **{ex.output:.4g}**")
        else:
            st.markdown(f"### sum = **{ex.output:.4g}**")
        if check is not None:
            own = float(check[channel, ex.edge])
            st.caption(
                f"The network's own first layer gives {own:.4g} here (difference {abs(own - ex.output):.1e})."
            )
    st.markdown(
        "**The 5 input features of edge e** (what each number means, MeshCNN's value and the exact geometry):"
    )
    st.markdown(isvc.feature_table(ex))
    st.caption(ex.note + "; the network was trained on MeshCNN's values.")
    if details == "expander":
        with st.expander(
            "All the numbers: what the layer reads, the terms, the weights, the products",
            icon=":material/table:",
        ):
            _conv_details(ex, channel)
    elif details:
        _conv_details(ex, channel)


def _conv_details(ex, channel: int) -> None:
    st.markdown(
        "**What the layer reads**: each feature normalized with the training set's mean and "
        "standard deviation, for e and its neighbours (a missing neighbour reads zeros):"
    )
    st.markdown(isvc.reads_table(ex))
    t1, t2 = st.columns(2, gap="large")
    with t1:
        st.markdown("**The symmetric terms** (rows) for each input channel (columns):")
        st.markdown(isvc.terms_table(ex))
    with t2:
        st.markdown(f"**The weights of output channel {channel}**, laid out like the terms:")
        st.markdown(isvc.weights_table(ex))
    st.markdown(f"**Weight × term**, cell by cell; the row sums add up to {ex.contributions.sum():.4g}:")
    st.markdown(isvc.contributions_table(ex))
