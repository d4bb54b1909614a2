"""Plotly figures of the inspect and teaching pages: pickable stage views, provenance, replay, MeshConv.

Every mesh view is a light surface, the mesh's edges as one ``Scatter3d`` lines trace named
``"edges"`` (``p0, p1, NaN`` per edge, ``customdata`` = the edge's row, so a click on a line names its
edge) and, optionally, a dot at every edge midpoint (trace ``"midpoints"``, ``customdata`` = row), a
larger target than a thin line. Highlighted edge sets are drawn over them as thicker colored lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from meshcnn_core.inspection.conv_explain import ConvExplanation
from meshcnn_core.inspection.replay import Replay
from meshcnn_core.recording import Recording

from .colorings import part_label
from .figures import default_camera, line_arrays
from .inspect_service import REPLAY_CATEGORIES, EdgeFocus, replay_categories

__all__ = [
    "PICKABLE",
    "pickable_traces",
    "edge_camera",
    "Highlight",
    "mesh_figure",
    "stage_pick_figure",
    "origin_figure",
    "replay_figure",
    "conv_figure",
    "values_figure",
    "labels_figure",
]

PICKABLE = ("edges", "midpoints")
BASE = "#a9a9b8"
FONT = dict(size=18)
REPLAY_COLORS = ("#9a9aa6", "#f4a3a3", "#f6c99a", "#c9b3e6", "#d7191c", "#f08c00", "#7b3294", "#1f78b4")
PART_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)


@dataclass(frozen=True)
class Highlight:
    """A set of edges drawn over the mesh: rows of the drawn stage, a legend name, a color and a width."""

    rows: np.ndarray
    name: str
    color: str
    width: float = 9.0
    dot: bool = False  # also a large dot at each edge's middle (to find a single edge on a large mesh)


def _bounds(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    used = vertices[np.unique(faces)] if len(faces) else vertices
    return np.stack([used.min(0), used.max(0)])


def _ranges(bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scene's axis ranges (the bounds with a 3% margin) and its aspect ratio."""
    lo, hi = bounds
    span = np.maximum(hi - lo, 1e-9)
    pad = 0.03 * span.max()
    lo, hi = lo - pad, hi + pad
    return np.stack([lo, hi]), (hi - lo) / (hi - lo).max()


def _scene(bounds: np.ndarray, camera: dict | None) -> dict:
    (lo, hi), ratio = _ranges(bounds)
    axis = dict(visible=False, showbackground=False)
    return dict(
        xaxis=dict(axis, range=[lo[0], hi[0]]),
        yaxis=dict(axis, range=[lo[1], hi[1]]),
        zaxis=dict(axis, range=[lo[2], hi[2]]),
        aspectmode="manual",
        aspectratio=dict(x=ratio[0], y=ratio[1], z=ratio[2]),
        camera=camera or default_camera(),
    )


def _surface(vertices: np.ndarray, faces: np.ndarray, inset: float) -> go.Mesh3d:
    """The light surface, pushed ``inset`` inward along the vertex normals so edges stay on top."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if len(f):
        fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # (F, 3)
        vn = np.zeros_like(v)
        for c in range(3):
            np.add.at(vn, f[:, c], fn)
        norm = np.linalg.norm(vn, axis=1, keepdims=True)
        v = v - inset * np.divide(vn, norm, out=np.zeros_like(vn), where=norm > 0)
    v = v.astype(np.float32)
    # hoverinfo "none": no label, but the view learns which surface vertex is under the mouse (to pick
    # the nearest edge on a click)
    return go.Mesh3d(
        x=v[:, 0],
        y=v[:, 1],
        z=v[:, 2],
        i=f[:, 0],
        j=f[:, 1],
        k=f[:, 2],
        color="#e9e9ee",
        hoverinfo="none",
        showscale=False,
        name="surface",
        lighting=dict(ambient=0.8, diffuse=0.35, specular=0.05, roughness=0.9),
    )


def _lines(
    vertices: np.ndarray,
    edges: np.ndarray,
    rows: np.ndarray,
    ids: np.ndarray,
    *,
    name: str,
    color,
    width: float,
    legend: bool,
    hover: bool = True,
    colorscale=None,
    cmin=None,
    cmax=None,
    colorbar: dict | None = None,
) -> go.Scatter3d:
    pts = line_arrays(np.asarray(vertices, dtype=np.float32), np.asarray(edges)[rows])
    custom = np.repeat(np.asarray(rows, dtype=np.int64), 3)
    line = dict(color=color, width=width)
    if colorscale is not None:
        line.update(
            color=np.repeat(np.asarray(color, dtype=np.float32), 3),
            colorscale=colorscale,
            cmin=cmin,
            cmax=cmax,
            showscale=colorbar is not None,
            colorbar=colorbar,
        )
    return go.Scatter3d(
        x=pts[:, 0],
        y=pts[:, 1],
        z=pts[:, 2],
        mode="lines",
        name=name,
        showlegend=legend,
        line=line,
        connectgaps=False,
        customdata=custom,
        text=np.repeat([f"edge {int(i)}" for i in ids[rows]], 3),
        hovertemplate="%{text}<extra></extra>" if hover else None,
        hoverinfo=None if hover else "skip",
    )


def mesh_figure(
    vertices: np.ndarray,
    faces: np.ndarray,
    edges: np.ndarray,
    edge_ids: np.ndarray,
    *,
    highlights: Sequence[Highlight] = (),
    midpoints: bool = True,
    height: int = 560,
    bounds: np.ndarray | None = None,
    camera: dict | None = None,
    values: np.ndarray | None = None,
    value_title: str = "",
    colorscale: str = "Viridis",
    cmin: float | None = None,
    cmax: float | None = None,
    base_width: float = 3.0,
) -> go.Figure:
    """A mesh with pickable edges, optional midpoint dots, optional per-edge values, and highlights.

    Args:
        vertices: ``(V, 3)`` positions.
        faces: ``(F, 3)`` vertex ids.
        edges: ``(E, 2)`` vertex ids.
        edge_ids: ``(E,)`` the input edge id of each row (shown on hover).
        highlights: edge sets drawn thicker over the mesh, with legend entries.
        midpoints: draw a dot at every edge's midpoint (clickable).
        height: the figure's height in pixels.
        bounds: ``(2, 3)`` the box the view frames (default: the drawn faces').
        camera: the Plotly camera (default :func:`viz_app.figures.default_camera`).
        values: ``(E,)`` color the edges by these values; else they are grey.
        value_title: the colorbar's title.
        colorscale: the colorscale of ``values``.
        cmin: the value at the low end of the colors (default: the smallest).
        cmax: the value at the high end (default: the largest).
        base_width: the width of the mesh's lines.
    """
    bounds = _bounds(vertices, faces) if bounds is None else bounds
    diag = float(np.linalg.norm(bounds[1] - bounds[0]))
    rows = np.arange(len(edges))
    data: list = [_surface(vertices, faces, 0.002 * diag)]
    if values is None:
        data.append(
            _lines(vertices, edges, rows, edge_ids, name="edges", color=BASE, width=base_width, legend=False)
        )
    else:
        vals = np.asarray(values, dtype=np.float64)
        lo = float(np.nanmin(vals)) if cmin is None else cmin
        hi = float(np.nanmax(vals)) if cmax is None else cmax
        bar = dict(title=dict(text=value_title, side="right"), thickness=18, len=0.75, tickfont=dict(size=15))
        data.append(
            _lines(
                vertices,
                edges,
                rows,
                edge_ids,
                name="edges",
                color=vals,
                width=base_width + 1,
                legend=False,
                colorscale=colorscale,
                cmin=lo,
                cmax=max(hi, lo + 1e-12),
                colorbar=bar,
            )
        )
    if midpoints:
        mid = np.asarray(vertices, dtype=np.float64)[np.asarray(edges)].mean(axis=1).astype(np.float32)
        data.append(
            go.Scatter3d(
                x=mid[:, 0],
                y=mid[:, 1],
                z=mid[:, 2],
                mode="markers",
                name="midpoints",
                showlegend=False,
                marker=dict(size=2.2, color="#5b5b6b", opacity=0.5),
                customdata=rows,
                text=[f"edge {int(i)}" for i in edge_ids],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    for h in highlights:
        if len(h.rows):
            hr = np.asarray(h.rows, dtype=np.int64)
            data.append(
                _lines(vertices, edges, hr, edge_ids, name=h.name, color=h.color, width=h.width, legend=True)
            )
            if h.dot:
                mid = np.asarray(vertices, dtype=np.float64)[np.asarray(edges)[hr]].mean(axis=1)
                data.append(
                    go.Scatter3d(
                        x=mid[:, 0],
                        y=mid[:, 1],
                        z=mid[:, 2],
                        mode="markers",
                        name=h.name,
                        showlegend=False,
                        marker=dict(size=9, color=h.color, line=dict(color="white", width=2)),
                        customdata=hr,
                        text=[f"edge {int(i)}" for i in edge_ids[hr]],
                        hovertemplate="%{text}<extra></extra>",
                    )
                )
    fig = go.Figure(data=data)
    fig.update_layout(
        scene=_scene(bounds, camera),
        height=height,
        margin=dict(l=0, r=0, t=10, b=0),
        font=FONT,
        paper_bgcolor="white",
        hoverlabel=dict(font=dict(size=16)),
        legend=dict(
            font=dict(size=16), x=0.01, y=0.99, bgcolor="rgba(255,255,255,0.8)", itemsizing="constant"
        ),
    )
    return fig


def _input_bounds(rec: Recording) -> np.ndarray:
    return _bounds(rec.input_vertices, rec.input_faces)


def stage_pick_figure(
    rec: Recording, focus: EdgeFocus, *, height: int = 560, midpoints: bool = True, camera: dict | None = None
) -> go.Figure:
    """Stage ``focus.stage``: the followed edge in red, or the edges carrying it in orange; all pickable."""
    st = rec.stage(focus.stage)
    if focus.row is not None:
        others = np.array([r for r in focus.carrier_rows if r != focus.row], dtype=np.int64)
        marks = [Highlight(np.array([focus.row]), f"edge {focus.edge_id}", "#d7191c", 10.0, dot=True)]
        if len(others):
            marks.append(Highlight(others, "also hold it in their group", "#f08c00", 8.0))
    else:
        marks = [
            Highlight(focus.carrier_rows, f"carry input edge {focus.edge_id}", "#f08c00", 10.0, dot=True)
        ]
    return mesh_figure(
        st.vertices,
        st.faces,
        st.edges,
        st.edge_ids,
        highlights=marks,
        midpoints=midpoints,
        height=height,
        bounds=_input_bounds(rec),
        camera=camera,
    )


def origin_figure(
    rec: Recording, focus: EdgeFocus, *, height: int = 560, midpoints: bool = True, camera: dict | None = None
) -> go.Figure:
    """The input mesh: the input edges merged into the followed edge (or its carriers) orange, itself red."""
    merged = np.array([m for m in focus.merged_into_carriers if m != focus.edge_id], dtype=np.int64)
    if focus.row is not None:
        name = f"merged into edge {focus.edge_id} at stage {focus.stage}"
    else:
        name = f"merged into its carriers at stage {focus.stage}"
    marks = [
        Highlight(merged, name, "#f08c00", 8.0),
        Highlight(np.array([focus.edge_id]), f"input edge {focus.edge_id}", "#d7191c", 10.0, dot=True),
    ]
    return mesh_figure(
        rec.input_vertices,
        rec.input_faces,
        rec.input_edges,
        np.arange(rec.num_input_edges),
        highlights=marks,
        midpoints=midpoints,
        height=height,
        camera=camera,
    )


def replay_figure(
    rec: Recording, rp: Replay, step: int, *, height: int = 560, camera: dict | None = None
) -> go.Figure:
    """The mesh entering the pooling (stage ``rp.stage``), each edge colored by what it is after ``step``."""
    st = rec.stage(rp.stage)
    cats = replay_categories(rp, step)
    marks = []
    for c, (name, color) in enumerate(zip(REPLAY_CATEGORIES, REPLAY_COLORS)):
        rows = np.flatnonzero(cats == c)
        if c == 0 or not len(rows):
            continue
        width = 11.0 if c >= 4 else 5.0
        marks.append(Highlight(rows, f"{name} ({len(rows)})", color, width, dot=c >= 4))
    return mesh_figure(
        st.vertices,
        st.faces,
        st.edges,
        st.edge_ids,
        highlights=marks,
        midpoints=False,
        height=height,
        bounds=_input_bounds(rec),
        camera=camera,
    )


def pickable_traces(fig: go.Figure) -> list[str]:
    """Names of the traces whose points name an edge (their ``customdata`` is the edge's row)."""
    return sorted({t.name for t in fig.data if getattr(t, "customdata", None) is not None and t.name})


def _edge_normal(vertices: np.ndarray, faces: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """The mean unit normal of the faces on ``edge`` ``(2,)``, turned to point away from the mesh's center."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces)
    on = f[np.isin(f, edge).sum(axis=1) == 2]
    mid = v[edge].mean(axis=0)
    n = np.zeros(3)
    for tri in on:
        fn = np.cross(v[tri[1]] - v[tri[0]], v[tri[2]] - v[tri[0]])
        n += fn / max(np.linalg.norm(fn), 1e-12)
    outward = mid - v[np.unique(f)].mean(axis=0)
    if np.linalg.norm(n) < 1e-9:
        n = outward
    if np.dot(n, outward) < 0:  # the winding may point inward
        n = -n
    return n / max(np.linalg.norm(n), 1e-12)


def edge_camera(rec: Recording, edge: int, distance: float = 1.3) -> dict:
    """A camera that shows the whole input mesh from the side input edge ``edge`` faces (it is in front).

    ``distance``: from the scene's center, in the units of the scene box (its longest side is 1).
    """
    v, faces = rec.input_vertices, rec.input_faces
    n = _edge_normal(v, faces, np.asarray(rec.input_edges[edge]))
    d = n  # the scene box scales every axis alike, so directions carry over
    up = np.array([0.0, 1.0, 0.0]) if abs(d[1]) < 0.9 else np.array([0.0, 0.0, 1.0])
    eye = distance * d
    return dict(
        eye=dict(x=float(eye[0]), y=float(eye[1]), z=float(eye[2])),
        center=dict(x=0.0, y=0.0, z=0.0),
        up=dict(x=float(up[0]), y=float(up[1]), z=float(up[2])),
    )


def _camera_facing(
    center: np.ndarray, normal: np.ndarray, up: np.ndarray, bounds: np.ndarray, distance: float = 0.9
) -> dict:
    """A camera looking at ``center`` from the side ``normal`` points to.

    Plotly's camera lives in the scene box's coordinates: the axis ranges map to ``[-r/2, r/2]`` with
    ``r`` the aspect ratio (one scale for all axes here), the box's center is the origin.
    """
    (lo, hi), ratio = _ranges(bounds)
    c = ((center - lo) / (hi - lo) - 0.5) * ratio
    n = normal / max(np.linalg.norm(normal), 1e-12)
    eye = c + distance * n
    return dict(
        eye=dict(x=float(eye[0]), y=float(eye[1]), z=float(eye[2])),
        center=dict(x=float(c[0]), y=float(c[1]), z=float(c[2])),
        up=dict(x=float(up[0]), y=float(up[1]), z=float(up[2])),
    )


def conv_figure(rec: Recording, ex: ConvExplanation, *, height: int = 520) -> go.Figure:
    """Edge ``e`` and its four neighbours ``a, b, c, d`` on the faces around it, labelled, seen from above.

    Only the faces touching the one-ring's four vertices are drawn, so the picture is local and large.
    """
    v = np.asarray(rec.input_vertices, dtype=np.float64)
    faces = np.asarray(rec.input_faces)
    edges = np.asarray(rec.input_edges)
    g = ex.geometry
    ring = np.concatenate([g.ends, g.apexes])
    near = np.isin(faces, ring).any(axis=1)
    patch = faces[near]
    keep = np.isin(edges, np.unique(patch)).all(axis=1)  # edges with both ends on the patch's vertices
    in_patch = np.zeros(len(edges), dtype=bool)
    pairs = {tuple(sorted(p)) for f in patch for p in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0]))}
    for r in np.flatnonzero(keep):
        in_patch[r] = tuple(sorted(edges[r])) in pairs
    rows = np.flatnonzero(in_patch)
    bounds = _bounds(v, patch)
    letters = ["e", "a", "b", "c", "d"]
    colors = ["#111111", "#d7191c", "#1f78b4", "#f08c00", "#33a02c"]
    ids = [ex.edge, *[int(n) for n in ex.neighbours]]
    sub_edges = edges[rows]
    local = {int(r): i for i, r in enumerate(rows)}
    marks = [
        Highlight(np.array([local[i]]), f"{letter} = edge {i}", col, 12.0)
        for letter, i, col in zip(letters, ids, colors)
        if i >= 0 and i in local
    ]
    normal = _edge_normal(v, faces, np.asarray(g.ends))
    center = v[g.ends].mean(axis=0)
    ring_center = v[ring].mean(axis=0)
    side = v[g.apexes[0]] - center  # towards the first face, in its plane
    side -= (
        np.dot(side, v[g.ends[1]] - v[g.ends[0]]) * (v[g.ends[1]] - v[g.ends[0]]) / max(g.length**2, 1e-24)
    )
    side /= max(np.linalg.norm(side), 1e-12)
    mids, texts, tcolors = [], [], []
    for letter, i, col in zip(letters, ids, colors):
        if i >= 0:
            m = v[edges[i]].mean(axis=0)
            # a..d: beside their line, away from the one-ring's middle; e: beside its line, towards face 1
            if letter == "e":
                m = m + 0.2 * g.length * side
            else:
                along = v[edges[i][1]] - v[edges[i][0]]
                out = m - ring_center
                out = out - np.dot(out, along) / max(np.dot(along, along), 1e-24) * along
                m = m + 0.25 * g.length * out / max(np.linalg.norm(out), 1e-12)
            mids.append(m)
            texts.append(f"<b>{letter}</b>")
            tcolors.append(col)
    mids = np.array(mids)
    lift = 0.06 * float(np.linalg.norm(bounds[1] - bounds[0])) * normal  # labels float above the faces
    # the labels float beside their lines, possibly outside the patch's box: widen the box so the
    # scene's axis ranges do not clip them (Plotly hides points outside the ranges)
    labels = mids + lift
    bounds = np.stack([np.minimum(bounds[0], labels.min(0)), np.maximum(bounds[1], labels.max(0))])
    fig = mesh_figure(
        v, patch, sub_edges, rows, highlights=marks, midpoints=False, height=height, bounds=bounds
    )
    fig.add_trace(
        go.Scatter3d(
            x=mids[:, 0] + lift[0],
            y=mids[:, 1] + lift[1],
            z=mids[:, 2] + lift[2],
            mode="text",
            text=texts,
            textfont=dict(size=26, color=tcolors),
            showlegend=False,
            hoverinfo="skip",
            name="labels",
        )
    )
    up = v[g.ends[1]] - v[g.ends[0]]
    up = up / max(np.linalg.norm(up), 1e-12)
    diamond = float(np.linalg.norm(v[ring] - ring_center, axis=1).max())
    (lo, hi), _ = _ranges(bounds)
    distance = float(np.clip(5.0 * diamond / (hi - lo).max(), 0.35, 1.2))  # the one-ring fills the view
    fig.update_layout(
        scene_camera=_camera_facing(center, normal, up, bounds, distance=distance),
        legend=dict(orientation="h", x=0.0, y=0.0, yanchor="top"),
    )
    return fig


def values_figure(
    rec: Recording,
    stage: int,
    values: np.ndarray,
    title: str,
    *,
    highlight: Sequence[int] = (),
    highlight_name: str = "",
    colorscale: str = "Viridis",
    height: int = 560,
    camera: dict | None = None,
    cmin: float | None = None,
    cmax: float | None = None,
) -> go.Figure:
    """Stage ``stage`` with its edges colored by ``values`` ``(E_k,)`` and a highlighted edge set.

    The colors span ``cmin..cmax`` (default: all the values).
    """
    st = rec.stage(stage)
    marks = (
        [Highlight(np.asarray(highlight, dtype=np.int64), highlight_name, "#d7191c", 10.0, dot=True)]
        if len(highlight)
        else []
    )
    return mesh_figure(
        st.vertices,
        st.faces,
        st.edges,
        st.edge_ids,
        highlights=marks,
        midpoints=False,
        height=height,
        bounds=_input_bounds(rec),
        values=values,
        value_title=title,
        colorscale=colorscale,
        camera=camera,
        cmin=cmin,
        cmax=cmax,
    )


def labels_figure(
    rec: Recording, labels: np.ndarray, *, height: int = 560, camera: dict | None = None
) -> go.Figure:
    """The input mesh with each edge colored by its predicted part (a legend entry per part)."""
    names = rec.class_names
    marks = [
        Highlight(np.flatnonzero(labels == i), part_label(n), PART_COLORS[i % len(PART_COLORS)], 5.0)
        for i, n in enumerate(names)
    ]
    return mesh_figure(
        rec.input_vertices,
        rec.input_faces,
        rec.input_edges,
        np.arange(rec.num_input_edges),
        highlights=marks,
        midpoints=False,
        height=height,
        camera=camera,
    )
