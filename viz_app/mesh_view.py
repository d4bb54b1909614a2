"""The 3D view: a small Streamlit component that draws a Plotly figure and keeps and shares its camera.

``st.plotly_chart`` rebuilds a 3D view on every change the server sends (the camera jumps back) and
cannot link two charts. This component (``mesh_view.html``, plain JavaScript over the plotly.js of the
installed ``plotly`` package) instead:

* updates the figure in place when the page sends a new one (another stage, color or zoom), keeping
  the camera the user set;
* shares that camera with every view of the same ``group`` in the browser tab (the compare page's
  views move together while one is dragged), and keeps it when a view is redrawn or the page changes;
* puts the camera back after Plotly's own in-view stage slider switches frames.

Nothing is sent back to the server (a camera move causes no rerun).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import plotly
import plotly.graph_objects as go
import streamlit.components.v1 as components

__all__ = ["mesh_view", "component_dir", "plotly_component_dir"]

_HTML = Path(__file__).with_name("mesh_view.html")
_PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def plotly_component_dir(html: Path, prefix: str) -> Path:
    """A folder with ``html`` as ``index.html`` and ``plotly.min.js``, made once per version.

    Streamlit serves a component only from its own folder, so the two files are copied into a folder
    named by a hash of their versions (shared by every server process of this installation). Used by
    every 3D component of the app (this one and :mod:`viz_app.pick_view`).
    """
    tag = hashlib.blake2b(html.read_bytes() + plotly.__version__.encode(), digest_size=8).hexdigest()
    d = Path(tempfile.gettempdir()) / f"{prefix}_{tag}"
    if not (d / "index.html").is_file():
        tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}_"))
        shutil.copy(_PLOTLY_JS, tmp / "plotly.min.js")
        shutil.copy(html, tmp / "index.html")  # written last: its presence marks a complete folder
        try:
            tmp.rename(d)
        except OSError:  # another process made it first
            shutil.rmtree(tmp, ignore_errors=True)
    return d


def component_dir() -> Path:
    """This component's folder (see :func:`plotly_component_dir`)."""
    return plotly_component_dir(_HTML, "meshcnn_explorer_view")


def mesh_view(fig: go.Figure | str, *, key: str, group: str, modebar: bool = True) -> None:
    """Draw ``fig`` in the 3D view component.

    Args:
        fig: a Plotly figure with one or more 3D scenes and a fixed ``layout.height``, or its JSON
            (``fig.to_json()``, e.g. shared by every session through :func:`viz_app.cached.figure`).
        key: the Streamlit element key: the same key keeps the same view (and its camera) across reruns.
        group: views with the same group share one camera (e.g. one input mesh).
        modebar: show Plotly's toolbar (its house icon resets the camera).
    """
    # declared on every call: registration is per Streamlit runtime and cheap (a dict entry)
    component = components.declare_component("mesh_view", path=str(component_dir()))
    config = {"displaylogo": False, "responsive": True, "displayModeBar": modebar}
    payload = fig if isinstance(fig, str) else fig.to_json()
    component(figure=payload, group=group, config=config, key=key, default=None)
