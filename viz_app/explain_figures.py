"""Plotly figures of explanations and surveys: the resolution map, and the charts beside the 3D views.

The resolution map is a 3D view built with :func:`viz_app.figures.edges_figure`. The 2D charts (the
deletion check, kept geometry, part survival, confusion) each fill their height with data (axis ranges
fit the values) and keep their labels inside the figure.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from meshcnn_core.analysis.explain import DeletionCurve
from meshcnn_core.recording import Recording

from .colorings import resolution_coloring
from .figures import edges_figure

__all__ = [
    "resolution_figure",
    "deletion_figure",
    "dihedral_figure",
    "part_survival_figure",
    "confusion_figure",
]

FONT = dict(size=14)
ATTRIBUTED = "#d62728"
RANDOM = "#7f7f7f"
INPUT = "#9ecae1"
KEPT = "#08519c"


def resolution_figure(rec: Recording, k: int, *, height: int = 600) -> go.Figure:
    """The input mesh, each input edge colored by the size of its merge group at stage ``k``."""
    col = resolution_coloring(rec, k)
    return edges_figure(rec.input_vertices, rec.input_faces, rec.input_edges, col, height=height)


def deletion_figure(curve: DeletionCurve, y_title: str, *, height: int = 320) -> go.Figure:
    """The target's probability as edges are hidden: top-scored first vs random orders (mean and range)."""
    x = 100 * np.asarray(curve.fractions, dtype=np.float64)
    fig = go.Figure()
    if len(curve.random):
        lo, hi = curve.random.min(axis=0), curve.random.max(axis=0)
        fig.add_trace(
            go.Scatter(x=x, y=hi, mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False)
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=lo,
                mode="lines",
                line=dict(width=0),
                fill="tonexty",
                fillcolor="rgba(127,127,127,0.2)",
                name=f"range of {len(curve.random)} random orders",
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=curve.random_mean,
                mode="lines+markers",
                name="random edges (mean)",
                line=dict(color=RANDOM, dash="dash", width=2.5),
            )
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=curve.attributed,
            mode="lines+markers",
            name="highest attribution first",
            line=dict(color=ATTRIBUTED, width=3),
        )
    )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        font=FONT,
        xaxis=dict(title="input edges hidden (%)", range=[-1, x.max() + 1], automargin=True),
        yaxis=dict(title=y_title, range=[-0.03, 1.03], automargin=True),
        legend=dict(x=0.99, y=0.99, xanchor="right", bgcolor="rgba(255,255,255,0.8)", font=dict(size=12)),
        hovermode="x unified",
    )
    return fig


def dihedral_figure(labels: list[str], inp: np.ndarray, kept: np.ndarray, *, height: int = 320) -> go.Figure:
    """Share of the input edges and of the last stage's edges per dihedral-angle bin (sharp to flat)."""
    fig = go.Figure(
        [
            go.Bar(x=labels, y=100 * np.asarray(inp), name="input edges", marker_color=INPUT),
            go.Bar(x=labels, y=100 * np.asarray(kept), name="last stage's edges", marker_color=KEPT),
        ]
    )
    top = np.nanmax(np.concatenate([np.asarray(inp), np.asarray(kept)]))
    fig.update_layout(
        barmode="group",
        height=height,
        margin=dict(l=10, r=10, t=30, b=10),
        font=FONT,
        xaxis=dict(title="dihedral angle (sharp → flat)", automargin=True),
        yaxis=dict(title="share of edges (%)", range=[0, 100 * (top if np.isfinite(top) else 1) * 1.12]),
        legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"),
    )
    return fig


def part_survival_figure(
    parts: list[str], stages: list[str], survival: np.ndarray, *, height: int = 340
) -> go.Figure:
    """Per ground-truth part, the share of its input edges still an edge of their own at each stage.

    Shapes: survival ``(P, K)``.
    """
    from .colorings import LABEL_COLORS, part_label

    fig = go.Figure(
        [
            go.Scatter(
                x=stages,
                y=100 * np.asarray(survival[i]),
                mode="lines+markers",
                name=part_label(p),
                line=dict(width=3, color=LABEL_COLORS[i % len(LABEL_COLORS)]),
            )
            for i, p in enumerate(parts)
        ]
    )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        font=FONT,
        xaxis=dict(title="stage", automargin=True),
        yaxis=dict(title="input edges still edges (%)", range=[0, 103], automargin=True),
        legend=dict(title=dict(text="true part")),  # outside, right of the plot: never over a line
    )
    return fig


def confusion_figure(names: list[str], confusion: np.ndarray, unit: str, *, height: int = 420) -> go.Figure:
    """Rows = truth, columns = prediction; each row as shares of its total, counts in the hover text."""
    c = np.asarray(confusion, dtype=np.float64)
    rows = c.sum(1, keepdims=True)
    share = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0)
    small = len(names) <= 12
    fig = go.Figure(
        go.Heatmap(
            z=100 * share,
            x=names,
            y=names,
            colorscale="Blues",
            zmin=0,
            zmax=100,
            customdata=c.astype(np.int64),
            hovertemplate=(
                f"truth %{{y}}, predicted %{{x}}: %{{customdata}} {unit} (%{{z:.1f}}%)<extra></extra>"
            ),
            text=np.round(100 * share).astype(int) if small else None,
            texttemplate="%{text}" if small else None,
            colorbar=dict(title=dict(text="% of row", side="right")),
        )
    )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        font=FONT,
        xaxis=dict(title="predicted", automargin=True, tickangle=-45 if not small else 0),
        yaxis=dict(title="truth", automargin=True, autorange="reversed"),
    )
    return fig
