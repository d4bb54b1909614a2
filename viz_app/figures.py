"""Plotly figures of recordings: a stage's mesh with colored edges, survival map, kept-by-A-not-B, bars.

A mesh is drawn as a light ``Mesh3d`` surface (pushed a hair inward along its normals so edges are not
hidden by it) plus all its edges as **one** ``Scatter3d(mode="lines")`` trace whose coordinates are
float32 arrays laid out ``p0, p1, NaN`` per edge and whose ``line.color`` repeats each edge's value three
times: exact per-edge colors at a small JSON size. All views of one input mesh share the same axis
ranges and camera, so stages and models line up when switched or put side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.colors as pcolors
import plotly.graph_objects as go

from meshcnn_core.recording import Recording

__all__ = [
    "QUANTITIES", "EdgeColoring", "edge_coloring", "line_arrays", "default_camera", "stage_figure",
    "survival_figure", "kept_figure", "stages_figure", "stage_label", "prediction_figure", "rgb_colors", "KEPT_CATEGORIES",
]

QUANTITIES = {
    "activation": "Activation norm",
    "channel": "One channel",
    "priority": "Pooling priority",
    "label": "Predicted label",
    "survival": "Survival depth",
}

FONT = dict(size=18)
LABEL_COLORS = list(pcolors.qualitative.D3) + list(pcolors.qualitative.Alphabet)
KEPT_CATEGORIES = ("kept by neither", "kept by A only", "kept by B only", "kept by both")
KEPT_COLORS = ("#d0d0d0", "#e6550d", "#3182bd", "#404040")


@dataclass(frozen=True)
class EdgeColoring:
    """Per-edge values and how to color them.

    Attributes:
        values: ``(E_k,)`` float32 value per edge.
        title: colorbar / legend title.
        colorscale: a Plotly colorscale (list of ``[position, color]``).
        cmin, cmax: the value range the colorscale spans.
        categories: for discrete values ``0..n-1``: their names (drawn as a legend), else None.
        tickvals, ticktext: colorbar ticks for labelled continuous scales (survival depth), else None.
    """

    values: np.ndarray
    title: str
    colorscale: list
    cmin: float
    cmax: float
    categories: tuple[str, ...] | None = None
    tickvals: tuple[float, ...] | None = None
    ticktext: tuple[str, ...] | None = None


def _discrete_scale(colors) -> list:
    n = len(colors)
    scale = []
    for i, c in enumerate(colors):
        scale += [[i / n, c], [(i + 1) / n, c]]
    return scale


def _continuous(values: np.ndarray, title: str, scale: str) -> EdgeColoring:
    v = np.asarray(values, dtype=np.float32)
    finite = v[np.isfinite(v)]
    # robust range (2nd..98th percentile): a few extreme edges do not wash out the rest (they saturate)
    lo, hi = (float(np.percentile(finite, 2)), float(np.percentile(finite, 98))) if len(finite) else (0.0, 1.0)
    if float(finite.min(initial=0.0)) >= 0:
        lo = max(lo, 0.0) if lo < 0.05 * hi else lo
    if lo < 0 < hi:  # signed: a diverging scale centred on zero
        m = max(-lo, hi)
        return EdgeColoring(v, title, pcolors.get_colorscale("RdBu_r"), -m, m)
    if hi <= lo:
        hi = lo + 1.0
    return EdgeColoring(v, title, pcolors.get_colorscale(scale), lo, hi)


def _categorical(values: np.ndarray, names: list[str], title: str, colors=None) -> EdgeColoring:
    n = max(len(names), 1)
    colors = list(colors or LABEL_COLORS)[:n]
    while len(colors) < n:  # more classes than palette entries: cycle
        colors.append(LABEL_COLORS[len(colors) % len(LABEL_COLORS)])
    return EdgeColoring(np.asarray(values, dtype=np.float32), title, _discrete_scale(colors), -0.5, n - 0.5,
                        tuple(names))


def _depth_coloring(rec: Recording, depth: np.ndarray) -> EdgeColoring:
    levels = [k for k in range(rec.num_stages) if rec.stage(k).kind != "unpool"]
    n = len(levels)
    colors = pcolors.sample_colorscale("Viridis", [i / max(n - 1, 1) for i in range(n)])
    text = tuple("input" if k == 0 else f"pool {k} ({rec.stage(k).num_edges})" for k in levels)
    return EdgeColoring(np.asarray(depth, dtype=np.float32), "deepest stage kept", _discrete_scale(colors),
                        -0.5, n - 0.5, None, tuple(float(k) for k in levels), text)


def edge_coloring(rec: Recording, k: int, quantity: str = "activation", channel: int = 0) -> EdgeColoring:
    """Values to color stage ``k``'s edges by.

    Args:
        rec: the recording.
        k: stage index.
        quantity: a key of :data:`QUANTITIES`.
        channel: the feature channel for ``"channel"`` (clamped to the stage's channels).
    """
    st = rec.stage(k)
    feats = st.features  # (C_k, E_k)
    if quantity == "activation":
        return _continuous(np.sqrt((feats.astype(np.float64) ** 2).sum(0)), "activation norm", "Viridis")
    if quantity == "channel":
        c = int(np.clip(channel, 0, feats.shape[0] - 1))
        return _continuous(feats[c], f"channel {c}", "Viridis")
    if quantity == "priority":  # the queue key is heavy-tailed: its rank is what decides the order
        order = np.argsort(st.priority, kind="stable")
        rank = np.empty(len(order), dtype=np.float32)
        rank[order] = np.arange(len(order), dtype=np.float32) / max(len(order) - 1, 1)
        return EdgeColoring(rank, "priority rank<br>(0 = collapsed first)", pcolors.get_colorscale("Plasma"), 0.0, 1.0)
    if quantity == "label":
        names = rec.class_names
        if rec.task == "segmentation":
            return _categorical(rec.prediction[st.edge_ids], names, "predicted part")
        pred = int(rec.prediction)
        return _categorical(np.zeros(st.num_edges), [names[pred]], "predicted class")
    if quantity == "survival":
        return _depth_coloring(rec, rec.survival_depth()[st.edge_ids])
    raise ValueError(f"unknown quantity {quantity!r}; expected one of {', '.join(QUANTITIES)}")


def stage_label(rec: Recording, k: int) -> str:
    """``"input · 750 edges"``, ``"pool 2 · 450 edges"``, ``"unpool 1 · 600 edges"``."""
    st = rec.stage(k)
    if st.kind == "input":
        return f"input · {st.num_edges} edges"
    n = sum(1 for j in range(k + 1) if rec.stage(j).kind == st.kind)
    return f"{st.kind} {n} · {st.num_edges} edges"


def line_arrays(vertices: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``(3 E, 3)`` float32 points ``p0, p1, NaN`` per edge, for one ``Scatter3d`` lines trace."""
    pts = np.full((len(edges), 3, 3), np.nan, dtype=np.float32)
    pts[:, 0] = vertices[edges[:, 0]]
    pts[:, 1] = vertices[edges[:, 1]]
    return pts.reshape(-1, 3)


def _inset_vertices(vertices: np.ndarray, faces: np.ndarray, amount: float) -> np.ndarray:
    """Vertices moved ``amount`` against their area-weighted normals (surface just under the edges)."""
    v = np.asarray(vertices, dtype=np.float64)
    if len(faces) == 0:
        return v
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])  # (F, 3)
    vn = np.zeros_like(v)
    for c in range(3):
        for j in range(3):
            vn[:, j] += np.bincount(faces[:, c], weights=fn[:, j], minlength=len(v))
    norm = np.linalg.norm(vn, axis=1, keepdims=True)
    vn = np.divide(vn, norm, out=np.zeros_like(vn), where=norm > 0)
    return v - amount * vn


def default_camera() -> dict:
    """The camera every mesh view starts from (Plotly scene coordinates; y is up, as in OBJ files)."""
    return dict(eye=dict(x=0.95, y=0.55, z=1.2), up=dict(x=0, y=1, z=0), center=dict(x=0, y=0, z=0))


def _scene(bounds: np.ndarray, camera: dict | None) -> dict:
    lo, hi = bounds
    span = np.maximum(hi - lo, 1e-9)
    pad = 0.03 * span.max()
    ratio = span / span.max()
    axis = dict(visible=False, showbackground=False)
    return dict(
        xaxis=dict(axis, range=[lo[0] - pad, hi[0] + pad]),
        yaxis=dict(axis, range=[lo[1] - pad, hi[1] + pad]),
        zaxis=dict(axis, range=[lo[2] - pad, hi[2] + pad]),
        aspectmode="manual", aspectratio=dict(x=ratio[0], y=ratio[1], z=ratio[2]),
        camera=camera or default_camera(),
    )


def _bounds(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    used = vertices[np.unique(faces)] if len(faces) else vertices
    return np.stack([used.min(0), used.max(0)])


def _mesh_figure(vertices: np.ndarray, faces: np.ndarray, edges: np.ndarray, col: EdgeColoring, *,
                 bounds: np.ndarray, camera: dict | None, height: int, uirevision: str | None,
                 line_width: float) -> go.Figure:
    diag = float(np.linalg.norm(bounds[1] - bounds[0]))
    sv = _inset_vertices(vertices, faces, 0.002 * diag).astype(np.float32)
    f = np.asarray(faces, dtype=np.int32)
    surface = go.Mesh3d(
        x=sv[:, 0], y=sv[:, 1], z=sv[:, 2], i=f[:, 0], j=f[:, 1], k=f[:, 2],
        color="#e9e9ee", flatshading=False, hoverinfo="skip", showscale=False,
        lighting=dict(ambient=0.65, diffuse=0.5, specular=0.05, roughness=0.9), name="surface",
    )
    pts = line_arrays(np.asarray(vertices, dtype=np.float32), np.asarray(edges))
    color = np.repeat(col.values.astype(np.float32), 3)
    discrete = col.categories is not None
    colorbar = dict(title=dict(text=col.title, side="right"), thickness=22, len=0.75, tickfont=FONT)
    if col.tickvals is not None:
        colorbar.update(tickvals=list(col.tickvals), ticktext=list(col.ticktext))
    lines = go.Scatter3d(
        x=pts[:, 0], y=pts[:, 1], z=pts[:, 2], mode="lines", hoverinfo="skip", showlegend=False,
        line=dict(color=color, colorscale=col.colorscale, cmin=col.cmin, cmax=col.cmax, width=line_width,
                  showscale=not discrete, colorbar=colorbar),
        connectgaps=False, name="edges",
    )
    traces: list = [surface, lines]
    if discrete:  # a legend entry per category
        for i, name in enumerate(col.categories):
            c = col.colorscale[2 * i][1]
            traces.append(go.Scatter3d(x=[None], y=[None], z=[None], mode="markers", name=str(name),
                                       marker=dict(size=10, color=c), showlegend=True, hoverinfo="skip"))
    fig = go.Figure(data=traces)
    fig.update_layout(
        scene=_scene(bounds, camera), height=height, margin=dict(l=0, r=0, t=10, b=0),
        font=FONT, paper_bgcolor="white", uirevision=uirevision or "mesh",
        legend=dict(title=dict(text=col.title if discrete else ""), itemsizing="constant", font=dict(size=16),
                    x=0.01, y=0.99, bgcolor="rgba(255,255,255,0.7)"),
    )
    return fig


def stage_figure(rec: Recording, k: int, quantity: str = "activation", channel: int = 0, *,
                 camera: dict | None = None, height: int = 600, uirevision: str | None = None,
                 line_width: float = 4.0, fit_stage: bool = False) -> go.Figure:
    """Stage ``k``'s mesh: light surface, edges colored by ``quantity`` (see :data:`QUANTITIES`).

    The view frames the input mesh (so every stage and every model share one view), or with
    ``fit_stage`` this stage's own mesh (pooled meshes can shrink a lot).
    """
    st = rec.stage(k)
    bounds = _bounds(st.vertices, st.faces) if fit_stage else _bounds(rec.input_vertices,
                                                                      rec.input_faces)
    return _mesh_figure(st.vertices, st.faces, st.edges, edge_coloring(rec, k, quantity, channel),
                        bounds=bounds, camera=camera, height=height, uirevision=uirevision, line_width=line_width)


def stages_figure(rec: Recording, quantity: str = "activation", channel: int = 0, *, active: int = 0,
                  height: int = 640, fit_stage: bool = False) -> go.Figure:
    """All stages in one figure, as Plotly frames with Plotly's own slider.

    Switching stages then happens in the browser, without a server round trip, and keeps the camera
    the user set (a rerun of a Streamlit slider rebuilds the chart and resets it).
    """
    figs = [stage_figure(rec, k, quantity, channel, height=height, fit_stage=fit_stage)
            for k in range(rec.num_stages)]
    active = int(np.clip(active, 0, rec.num_stages - 1))
    fig = go.Figure(figs[active])
    names = [f"{k}" for k in range(rec.num_stages)]
    fig.frames = [go.Frame(data=list(f.data[:2]), traces=[0, 1], name=n,
                           layout=dict(scene=dict(xaxis=f.layout.scene.xaxis, yaxis=f.layout.scene.yaxis,
                                                  zaxis=f.layout.scene.zaxis,
                                                  aspectratio=f.layout.scene.aspectratio)) if fit_stage else None)
                  for f, n in zip(figs, names)]
    steps = [dict(method="animate", label=stage_label(rec, k),
                  args=[[n], dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))])
             for k, n in enumerate(names)]
    fig.update_layout(sliders=[dict(active=active, steps=steps, x=0.05, len=0.9, y=0, pad=dict(t=10, b=10),
                                    currentvalue=dict(prefix="Stage: ", font=FONT), font=dict(size=12))],
                      margin=dict(l=0, r=0, t=10, b=70))
    return fig


def survival_figure(rec: Recording, *, camera: dict | None = None, height: int = 600,
                    uirevision: str | None = None) -> go.Figure:
    """The input mesh, each input edge colored by the deepest pooled stage its group reached."""
    a = rec.arrays
    col = _depth_coloring(rec, rec.survival_depth())
    bounds = _bounds(a["input_vertices"], a["input_faces"])
    return _mesh_figure(a["input_vertices"], a["input_faces"], a["input_edges"], col, bounds=bounds, camera=camera,
                        height=height, uirevision=uirevision, line_width=4.0)


def kept_figure(status: np.ndarray, rec: Recording, names: tuple[str, str] = ("A", "B"), *,
                camera: dict | None = None, height: int = 560, uirevision: str | None = None) -> go.Figure:
    """The input mesh of ``rec`` with each input edge colored by ``status`` (0 neither, 1 A only, 2 B only, 3 both)."""
    a = rec.arrays
    cats = [c.replace("A", names[0]).replace("B", names[1]) for c in KEPT_CATEGORIES]
    col = _categorical(status, cats, "input edges", KEPT_COLORS)
    bounds = _bounds(a["input_vertices"], a["input_faces"])
    return _mesh_figure(a["input_vertices"], a["input_faces"], a["input_edges"], col, bounds=bounds, camera=camera,
                        height=height, uirevision=uirevision, line_width=4.0)


def prediction_figure(rec: Recording, top: int = 5, *, height: int = 320) -> go.Figure:
    """Classification: the ``top`` classes and their probabilities as horizontal bars."""
    p = np.asarray(rec.probabilities, dtype=np.float64).reshape(-1)
    order = np.argsort(-p, kind="stable")[:top][::-1]
    names = [rec.class_names[i] for i in order]
    fig = go.Figure(go.Bar(x=100 * p[order], y=names, orientation="h", marker_color="#3182bd",
                           text=[f"{100 * v:.1f}%" for v in p[order]], textposition="outside"))
    fig.update_layout(height=height, margin=dict(l=10, r=40, t=10, b=40), font=FONT,
                      xaxis=dict(title="probability (%)", range=[0, 110]), yaxis=dict(automargin=True))
    return fig


def rgb_colors(col: EdgeColoring) -> np.ndarray:
    """``(E_k, 3)`` uint8 colors of ``col``'s values (for PyVista renders)."""
    if len(col.colorscale) % 2 == 0 and all(col.colorscale[i][1] == col.colorscale[i + 1][1]
                                            for i in range(0, len(col.colorscale), 2)):  # a discrete scale
        colors = [col.colorscale[i][1] for i in range(0, len(col.colorscale), 2)]
        table = np.asarray([_to_rgb(c) for c in colors], dtype=np.float64)
        idx = np.clip(np.round(np.nan_to_num(col.values) - col.cmin - 0.5), 0, len(colors) - 1).astype(np.int64)
        return table[idx].astype(np.uint8)
    n = 256
    stops = pcolors.sample_colorscale(col.colorscale, [i / (n - 1) for i in range(n)], colortype="tuple")
    table = np.asarray([[float(x) for x in s] for s in stops])
    if table.max() <= 1.0:
        table = table * 255.0
    t = (np.asarray(col.values, dtype=np.float64) - col.cmin) / max(col.cmax - col.cmin, 1e-12)
    idx = np.clip(np.nan_to_num(t) * (n - 1), 0, n - 1).round().astype(np.int64)
    return table[idx].astype(np.uint8)


def _to_rgb(color: str) -> tuple[float, float, float]:
    if color.startswith("#"):
        return pcolors.hex_to_rgb(color)
    return pcolors.unlabel_rgb(color)
