"""Plotly figures of recordings: a stage's mesh with colored edges, survival map, kept-by-A-not-B, bars.

A mesh is drawn as a light ``Mesh3d`` surface (pushed a hair inward along its normals so edges are not
hidden by it) plus all its edges as **one** ``Scatter3d(mode="lines")`` trace whose coordinates are
float32 arrays laid out ``p0, p1, NaN`` per edge and whose ``line.color`` repeats each edge's value three
times: exact per-edge colors at a small JSON size. All views of one input mesh share the same axis
ranges and camera, so stages and models line up when switched or put side by side.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from meshcnn_core.recording import Recording

from .colorings import (
    KEPT_CATEGORIES,
    KEPT_COLORS,
    ColorChoice,
    EdgeColoring,
    categorical,
    edge_coloring,
    survival_coloring,
)
from .stages import short_stage_label

DEFAULT_COLORS = ColorChoice()

__all__ = [
    "line_arrays",
    "default_camera",
    "stage_figure",
    "stages_figure",
    "survival_figure",
    "kept_figure",
    "edges_figure",
    "prediction_figure",
]

FONT = dict(size=18)


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


def default_camera(distance: float = 1.0) -> dict:
    """The camera every mesh view starts from (Plotly scene coordinates; y is up, as in OBJ files).

    Close enough that the mesh fills most of a wide view (the scene box is the mesh's bounding box);
    ``distance`` > 1 moves it back (narrow side-by-side views).
    """
    eye = {a: round(v * distance, 4) for a, v in (("x", 0.87), ("y", 0.5), ("z", 1.09))}
    return dict(eye=eye, up=dict(x=0, y=1, z=0), center=dict(x=0, y=0, z=0))


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
        aspectmode="manual",
        aspectratio=dict(x=ratio[0], y=ratio[1], z=ratio[2]),
        camera=camera or default_camera(_fit_distance(ratio)),
    )


def _fit_distance(ratio: np.ndarray) -> float:
    """How far back the default camera goes so a boxy mesh is not cut by the view's edges.

    The default eye is 1.48 scene units from the centre, right for elongated meshes; a box whose sides
    are all near the longest (a cube: half-diagonal 0.87) needs the eye about 2.6 half-diagonals away
    to stay whole in a view about as wide as tall with a colorbar beside it (looked at in Chromium).
    """
    half_diagonal = 0.5 * float(np.linalg.norm(ratio))
    return max(1.0, 2.6 * half_diagonal / 1.48)


def _bounds(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    used = vertices[np.unique(faces)] if len(faces) else vertices
    return np.stack([used.min(0), used.max(0)])


def _colorbar_title(col: EdgeColoring) -> str:
    if col.fixed is None:
        return col.title
    return col.title + ("<br>(same range, all stages)" if col.fixed else "<br>(this stage's range)")


def _mesh_traces(
    vertices: np.ndarray,
    faces: np.ndarray,
    edges: np.ndarray,
    col: EdgeColoring,
    *,
    bounds: np.ndarray,
    line_width: float,
    narrow: bool = False,
) -> list:
    """The light surface, the edges as one lines trace, and a legend entry per category (if any)."""
    diag = float(np.linalg.norm(bounds[1] - bounds[0]))
    sv = _inset_vertices(vertices, faces, 0.002 * diag).astype(np.float32)
    f = np.asarray(faces, dtype=np.int32)
    surface = go.Mesh3d(
        x=sv[:, 0],
        y=sv[:, 1],
        z=sv[:, 2],
        i=f[:, 0],
        j=f[:, 1],
        k=f[:, 2],
        color="#e9e9ee",
        flatshading=False,
        hoverinfo="skip",
        showscale=False,
        lighting=dict(ambient=0.65, diffuse=0.5, specular=0.05, roughness=0.9),
        name="surface",
    )
    pts = line_arrays(np.asarray(vertices, dtype=np.float32), np.asarray(edges))
    color = np.repeat(col.values.astype(np.float32), 3)
    discrete = col.categories is not None
    if narrow:  # under the view, so the mesh keeps the width
        colorbar = dict(
            title=dict(text=_colorbar_title(col).replace("<br>", " "), side="top"),
            orientation="h",
            thickness=12,
            len=0.9,
            x=0.5,
            xanchor="center",
            y=0,
            yanchor="top",
            tickfont=dict(size=13),
        )
    else:
        colorbar = dict(
            title=dict(text=_colorbar_title(col), side="right"), thickness=18, len=0.75, tickfont=FONT
        )
    if col.tickvals is not None:
        colorbar.update(tickvals=list(col.tickvals), ticktext=list(col.ticktext))
    lines = go.Scatter3d(
        x=pts[:, 0],
        y=pts[:, 1],
        z=pts[:, 2],
        mode="lines",
        hoverinfo="skip",
        showlegend=False,
        line=dict(
            color=color,
            colorscale=col.colorscale,
            cmin=col.cmin,
            cmax=col.cmax,
            width=line_width,
            showscale=not discrete,
            colorbar=colorbar,
        ),
        connectgaps=False,
        name="edges",
    )
    traces: list = [surface, lines]
    if discrete:  # a legend entry per category
        for i, name in enumerate(col.categories):
            c = col.colorscale[2 * i][1]
            traces.append(
                go.Scatter3d(
                    x=[None],
                    y=[None],
                    z=[None],
                    mode="markers",
                    name=str(name),
                    marker=dict(size=10, color=c),
                    showlegend=True,
                    hoverinfo="skip",
                )
            )
    return traces


def _mesh_figure(
    vertices: np.ndarray,
    faces: np.ndarray,
    edges: np.ndarray,
    col: EdgeColoring,
    *,
    bounds: np.ndarray,
    camera: dict | None,
    height: int,
    line_width: float = 4.0,
    narrow: bool = False,
) -> go.Figure:
    fig = go.Figure(
        data=_mesh_traces(vertices, faces, edges, col, bounds=bounds, line_width=line_width, narrow=narrow)
    )
    fig.update_layout(
        scene=_scene(bounds, camera or (default_camera(1.15) if narrow else None)),
        height=height,
        margin=dict(l=0, r=0, t=10, b=70 if narrow and col.categories is None else 0),
        font=FONT,
        paper_bgcolor="white",
        uirevision="mesh",
        legend=dict(
            title=dict(text=col.title if col.categories is not None else ""),
            itemsizing="constant",
            font=dict(size=16),
            x=0.01,
            y=0.99,
            bgcolor="rgba(255,255,255,0.7)",
        ),
    )
    return fig


def stage_figure(
    rec: Recording,
    k: int,
    choice: ColorChoice = DEFAULT_COLORS,
    *,
    camera: dict | None = None,
    height: int = 600,
    line_width: float = 4.0,
    fit_stage: bool = False,
    narrow: bool = False,
) -> go.Figure:
    """Stage ``k``'s mesh: light surface, edges colored as ``choice`` says.

    The view frames the input mesh (so every stage and every model share one view), or with
    ``fit_stage`` this stage's own mesh (pooled meshes can shrink a lot). ``narrow`` lays the view out
    for a side-by-side column (colorbar under the mesh, camera further back).
    """
    st = rec.stage(k)
    bounds = _bounds(st.vertices, st.faces) if fit_stage else _bounds(rec.input_vertices, rec.input_faces)
    return _mesh_figure(
        st.vertices,
        st.faces,
        st.edges,
        edge_coloring(rec, k, choice),
        bounds=bounds,
        camera=camera,
        height=height,
        line_width=line_width,
        narrow=narrow,
    )


def stages_figure(
    rec: Recording,
    choice: ColorChoice = DEFAULT_COLORS,
    *,
    active: int = 0,
    height: int = 640,
    fit_stage: bool = False,
) -> go.Figure:
    """All stages in one figure, as Plotly frames with Plotly's own slider under the view.

    Switching stages then happens in the browser, without a server round trip. Category legends
    (predicted parts) are the same at every stage, so the frames replace only the surface and edges.
    """
    figs = [stage_figure(rec, k, choice, height=height, fit_stage=fit_stage) for k in range(rec.num_stages)]
    active = int(np.clip(active, 0, rec.num_stages - 1))
    fig = go.Figure(figs[active])
    names = [f"{k}" for k in range(rec.num_stages)]
    fig.frames = [
        go.Frame(
            data=list(f.data[:2]),
            traces=[0, 1],
            name=n,
            layout=dict(
                scene=dict(
                    xaxis=f.layout.scene.xaxis,
                    yaxis=f.layout.scene.yaxis,
                    zaxis=f.layout.scene.zaxis,
                    aspectratio=f.layout.scene.aspectratio,
                )
            )
            if fit_stage
            else None,
        )
        for f, n in zip(figs, names)
    ]
    steps = [
        dict(
            method="animate",
            label=short_stage_label(rec, k),
            args=[
                [n],
                dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0)),
            ],
        )
        for k, n in enumerate(names)
    ]
    fig.update_layout(
        sliders=[
            dict(
                active=active,
                steps=steps,
                x=0.06,
                len=0.88,
                y=0,
                pad=dict(t=10, b=10),
                currentvalue=dict(prefix="Stage: ", font=FONT),
                font=dict(size=13),
            )
        ],
        margin=dict(l=0, r=0, t=10, b=80),
    )
    return fig


def survival_figure(rec: Recording, *, camera: dict | None = None, height: int = 600) -> go.Figure:
    """The input mesh, each input edge colored by the deepest pooled stage at which it is still an edge."""
    bounds = _bounds(rec.input_vertices, rec.input_faces)
    return _mesh_figure(
        rec.input_vertices,
        rec.input_faces,
        rec.input_edges,
        survival_coloring(rec),
        bounds=bounds,
        camera=camera,
        height=height,
    )


def kept_figure(
    status: np.ndarray,
    rec: Recording,
    names: tuple[str, str] = ("A", "B"),
    *,
    camera: dict | None = None,
    height: int = 560,
    narrow: bool = False,
) -> go.Figure:
    """The input mesh of ``rec``, each input edge colored by ``status``.

    ``status``: ``(E,)`` 0 kept by neither, 1 by A only, 2 by B only, 3 by both.
    """
    cats = [c.replace("A", names[0]).replace("B", names[1]) for c in KEPT_CATEGORIES]
    col = categorical(status, cats, "input edges", KEPT_COLORS)
    bounds = _bounds(rec.input_vertices, rec.input_faces)
    return _mesh_figure(
        rec.input_vertices,
        rec.input_faces,
        rec.input_edges,
        col,
        bounds=bounds,
        camera=camera,
        height=height,
        narrow=narrow,
    )


def edges_figure(
    vertices: np.ndarray,
    faces: np.ndarray,
    edges: np.ndarray,
    col: EdgeColoring,
    *,
    camera: dict | None = None,
    height: int = 600,
    narrow: bool = False,
) -> go.Figure:
    """Any mesh with its edges colored by ``col`` (e.g. a recording's input mesh, or a data-set mesh).

    Shapes: vertices ``(V, 3)``, faces ``(F, 3)``, edges ``(E, 2)``, ``col.values`` ``(E,)``.
    """
    return _mesh_figure(
        vertices, faces, edges, col, bounds=_bounds(vertices, faces), camera=camera, height=height,
        narrow=narrow,
    )


def prediction_figure(rec: Recording, top: int = 5, *, height: int = 300) -> go.Figure:
    """Classification: the ``top`` classes and their probabilities as bars (labels never clipped)."""
    p = np.asarray(rec.probabilities, dtype=np.float64).reshape(-1)
    order = np.argsort(-p, kind="stable")[:top][::-1]
    names = [rec.class_names[i] for i in order]
    fig = go.Figure(
        go.Bar(
            x=100 * p[order],
            y=names,
            orientation="h",
            marker_color="#3182bd",
            text=[f"{100 * v:.1f}%" for v in p[order]],
            textposition="auto",
            insidetextanchor="end",
            cliponaxis=False,
            textfont=dict(size=15),
        )
    )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=40),
        font=dict(size=15),
        xaxis=dict(title="probability (%)", range=[0, 100]),
        yaxis=dict(automargin=True),
        uniformtext=dict(minsize=12, mode="show"),
    )
    return fig
