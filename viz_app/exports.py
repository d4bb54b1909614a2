"""Downloads: PNG (PyVista off-screen), stage mesh as OBJ/PLY, recording .npz, standalone HTML, collapse GIF.

Every function returns ``bytes`` and writes nothing to disk (except PyVista's own off-screen buffers).
"""

from __future__ import annotations

import io
import os
import threading

import numpy as np
import plotly.graph_objects as go

from meshcnn_core.mesh.io import obj_text
from meshcnn_core.recording import Recording

from .colorings import ColorChoice, edge_coloring, rgb_colors

DEFAULT_COLORS = ColorChoice()
PRIORITY = ColorChoice("priority")

__all__ = ["stage_mesh_obj", "stage_mesh_ply", "recording_npz", "figure_html", "stage_png", "collapse_gif"]

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
_RENDER_LOCK = threading.Lock()  # one VTK render at a time (VTK is not thread-safe)


def _compact(rec: Recording, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stage ``k``'s live vertices ``(V_k, 3)``, faces ``(F_k, 3)`` and edges ``(E_k, 2)`` renumbered."""
    st = rec.stage(k)
    used = np.unique(np.concatenate([st.faces.reshape(-1), st.edges.reshape(-1)]))
    remap = np.full(len(st.vertices), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return st.vertices[used], remap[st.faces], remap[st.edges]


def stage_mesh_obj(rec: Recording, k: int) -> bytes:
    """Stage ``k``'s mesh as OBJ text (1-based ``v``/``f`` lines)."""
    v, f, _ = _compact(rec, k)
    head = f"MeshCNN Explorer: {rec.meta.get('mesh_name', 'mesh')}, stage {k} ({rec.stage(k).kind})"
    return obj_text(v, f, [head]).encode()


def stage_mesh_ply(rec: Recording, k: int, choice: ColorChoice = DEFAULT_COLORS) -> bytes:
    """Stage ``k``'s mesh as ASCII PLY, with an ``edge`` element (each edge's value and RGB color)."""
    v, f, e = _compact(rec, k)
    col = edge_coloring(rec, k, choice)
    rgb = rgb_colors(col)
    head = [
        "ply",
        "format ascii 1.0",
        f"comment MeshCNN Explorer stage {k}: edges colored by {col.title}",
        f"element vertex {len(v)}",
        "property float x",
        "property float y",
        "property float z",
        f"element face {len(f)}",
        "property list uchar int vertex_indices",
        f"element edge {len(e)}",
        "property int vertex1",
        "property int vertex2",
        "property float value",
        "property uchar red",
        "property uchar green",
        "property uchar blue",
        "end_header",
    ]
    body = [f"{x:.9g} {y:.9g} {z:.9g}" for x, y, z in v.tolist()]
    body += [f"3 {a} {b} {c}" for a, b, c in f.tolist()]
    body += [
        f"{a} {b} {val:.6g} {r} {g} {bl}"
        for (a, b), val, (r, g, bl) in zip(e.tolist(), col.values.tolist(), rgb.tolist())
    ]
    return ("\n".join(head + body) + "\n").encode()


def recording_npz(rec: Recording) -> bytes:
    """The recording's ``.npz`` file (format documented in :mod:`meshcnn_core.recording`)."""
    return rec.to_bytes()


def figure_html(fig: go.Figure, title: str = "MeshCNN Explorer") -> bytes:
    """A standalone HTML page of ``fig`` with plotly.js inlined (works offline)."""
    fig = go.Figure(fig)
    fig.update_layout(title=dict(text=title))
    return fig.to_html(include_plotlyjs=True, full_html=True).encode()


def _render(
    rec: Recording,
    k: int,
    choice: ColorChoice,
    *,
    size: tuple[int, int],
    highlight: np.ndarray | None = None,
    title: str | None = None,
) -> np.ndarray:
    """One off-screen PyVista render of stage ``k`` as an ``(H, W, 3)`` uint8 image."""
    import pyvista as pv

    pv.OFF_SCREEN = True
    st = rec.stage(k)
    v = np.asarray(st.vertices, dtype=np.float64)
    col = edge_coloring(rec, k, choice)
    rgb = rgb_colors(col)
    if highlight is not None:  # edges about to be collapsed: red
        rgb = rgb.copy()
        rgb[np.isin(st.edge_ids, highlight)] = (230, 30, 30)
    faces = np.hstack([np.full((len(st.faces), 1), 3), st.faces]).astype(np.int64).ravel()
    lines = np.hstack([np.full((len(st.edges), 1), 2), st.edges]).astype(np.int64).ravel()
    surface = pv.PolyData(v, faces=faces)
    wire = pv.PolyData(v, lines=lines)
    wire.cell_data["rgb"] = rgb
    p = pv.Plotter(off_screen=True, window_size=list(size))
    try:
        p.set_background("white")
        p.add_mesh(surface, color="#e9e9ee", smooth_shading=True, ambient=0.3)
        p.add_mesh(wire, scalars="rgb", rgb=True, line_width=3)
        label = col.title
        p.add_text(
            title or f"stage {k} ({st.kind}, {st.num_edges} edges): {label}", font_size=12, color="black"
        )
        p.camera_position = "xy"
        p.camera.azimuth = 35
        p.camera.elevation = 25
        p.reset_camera()
        p.camera.zoom(1.5)
        img = p.screenshot(return_img=True)
    finally:
        p.close()
    return np.asarray(img)[..., :3]


def stage_png(
    rec: Recording, k: int, choice: ColorChoice = DEFAULT_COLORS, *, size: tuple[int, int] = (1000, 800)
) -> bytes:
    """A PNG of stage ``k`` rendered off-screen by PyVista."""
    import imageio.v3 as iio

    with _RENDER_LOCK:
        img = _render(rec, k, choice, size=size)
    return iio.imwrite("<bytes>", img, extension=".png")


def collapse_gif(
    rec: Recording,
    choice: ColorChoice = PRIORITY,
    *,
    size: tuple[int, int] = (640, 520),
    seconds_per_frame: float = 1.0,
) -> bytes:
    """An animated GIF of the collapse sequence.

    Each pooled stage, then its edges about to be collapsed in red, then the next stage (input and
    pooled stages only).
    """
    import imageio.v2 as iio2

    frames = []
    with _RENDER_LOCK:
        for k in range(rec.num_stages):
            st = rec.stage(k)
            if st.kind == "unpool":
                break
            frames.append(_render(rec, k, choice, size=size))
            if len(st.collapse_order):
                frames.append(
                    _render(
                        rec,
                        k,
                        choice,
                        size=size,
                        highlight=st.collapse_order,
                        title=f"stage {k}: {len(st.collapse_order)} edges to collapse (red)",
                    )
                )
    buf = io.BytesIO()
    iio2.mimwrite(buf, frames, format="GIF", duration=seconds_per_frame * 1000, loop=0)
    return buf.getvalue()
