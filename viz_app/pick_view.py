"""A 3D view that reports clicks: a small Streamlit component for picking edges.

Streamlit's own ``st.plotly_chart(..., on_select="rerun")`` does not report clicks in a 3D scene
(checked with Streamlit 1.67 in Chromium: Plotly fires ``plotly_click`` on a ``scatter3d`` marker, but
the chart's selection stays empty and no rerun happens). This component (``pick_view.html``, plain
JavaScript over the plotly.js of the installed ``plotly`` package, nothing from the network) draws a
Plotly figure and, when a point of one of the ``pickable`` traces is clicked (the point whose hover
label shows: a click without a drag), returns

``{"id": str, "trace": str, "point": int, "customdata": ..., "x": float, "y": float, "z": float}``

(``id`` is new for every click). It also keeps the camera the user set across re-renders, shared by
the views of one ``group`` in the browser tab; a new ``camera_token`` makes the figure's own camera
win once (to turn the view to a newly chosen edge).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import plotly.graph_objects as go
import streamlit.components.v1 as components

from .mesh_view import plotly_component_dir

__all__ = ["pick_view", "component_dir"]

_HTML = Path(__file__).with_name("pick_view.html")


def component_dir() -> Path:
    """This component's folder (see :func:`viz_app.mesh_view.plotly_component_dir`)."""
    return plotly_component_dir(_HTML, "meshcnn_explorer_pick")


def pick_view(
    fig: go.Figure,
    *,
    key: str,
    group: str = "",
    pickable: Sequence[str] = (),
    on_pick: Callable[[], None] | None = None,
    camera_token: str = "",
) -> dict | None:
    """Draw ``fig``; return the last click on a ``pickable`` trace (None before the first click).

    Args:
        fig: a Plotly figure with a 3D scene and a fixed ``layout.height``.
        key: the Streamlit element key (the same key keeps the same view and its last click).
        group: views of one group keep one camera (empty: the view keeps no camera).
        pickable: names of the traces whose points can be clicked.
        camera_token: when it differs from the last token this group saw, the figure's camera is
            applied (and kept) instead of the camera the user set.
        on_pick: called without arguments (before the page reruns) when a click arrives; it reads
            the click from ``st.session_state[key]``.
    """
    # declared on every call: registration is per Streamlit runtime and cheap (a dict entry)
    component = components.declare_component("pick_view", path=str(component_dir()))
    config = {"displaylogo": False, "responsive": True, "displayModeBar": True}
    return component(
        figure=fig.to_json(),
        group=group,
        pickable=list(pickable),
        config=config,
        key=key,
        camera_token=str(camera_token),
        default=None,
        on_change=on_pick,
    )
