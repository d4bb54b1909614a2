"""MeshConv, explained on one edge: its one-ring, its 5 features and one output channel by hand.

For input edge ``e`` with one-ring neighbours ``(a, b, c, d) = gemm[e]`` (``a, b``: the next and
previous edge of its first face; ``c, d``: those of its second face), the first MeshConv of a
network computes, for output channel ``o``,

``y_o = bias_o + sum_i sum_j W[o, i, 0, j] * t_j[i]``

with the order-invariant terms ``t = (x_e, x_a + x_c, x_b + x_d, |x_a - x_c|, |x_b - x_d|)`` of
the normalized input features ``x`` (5 channels; a missing neighbour reads zeros). Swapping the two
faces swaps ``a <-> c`` and ``b <-> d`` and leaves every term unchanged: that is why MeshConv does
not depend on which face comes first.

:func:`explain_conv` returns every number of that computation from a :class:`Recording` and the
model's weights; the tests check ``output`` against the network's own first layer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..checkpoint import LoadedModel
from ..mesh.features import edge_points
from ..mesh.topology import MeshTopology, build_topology
from ..nn.classifier import MeshClassifier
from ..nn.conv import MeshConv
from ..nn.segmenter import MeshSegmenter
from ..recording import Recording

__all__ = [
    "FEATURE_NAMES", "FEATURE_MEANINGS", "TERM_NAMES", "EdgeGeometry", "ConvExplanation", "input_topology",
    "first_conv", "edge_geometry", "explain_conv",
]

FEATURE_NAMES = (
    "dihedral angle", "opposite angle (smaller)", "opposite angle (larger)", "height/base (smaller)",
    "height/base (larger)",
)
FEATURE_MEANINGS = (
    "the angle between the edge's two faces, in radians (pi: flat; smaller: a sharper fold)",
    "the smaller of the two inner angles facing the edge, one in each face, in radians",
    "the larger of those two inner angles, in radians",
    "the smaller of the two faces' height over the edge divided by the edge's length",
    "the larger of those two height/length ratios",
)
TERM_NAMES = ("e", "a + c", "b + d", "|a - c|", "|b - d|")
_EPS_NOTE = (
    "MeshCNN divides by (length + 0.1) when it normalizes vectors, so on small meshes its angles differ "
    "from the exact ones"
)


def input_topology(rec: Recording) -> MeshTopology:
    """The input mesh's topology (with its ``gemm``), rebuilt from the recording's kept faces.

    Raises:
        ValueError: the rebuilt edges do not match the recorded ones (the recording was altered).
    """
    topo, _, _ = build_topology(rec.input_vertices, rec.input_faces)
    if topo.num_edges != rec.num_input_edges or not np.array_equal(topo.edges, rec.input_edges):
        raise ValueError("the recording's input faces do not rebuild its input edges; the file was altered")
    return topo


def first_conv(net: torch.nn.Module) -> tuple[str, MeshConv]:
    """The network's first MeshConv (the one that reads the 5 input features) and its module name."""
    if isinstance(net, MeshClassifier):
        name, conv = "blocks.0.conv0", net.blocks[0].conv0
    elif isinstance(net, MeshSegmenter):
        name, conv = "down.0.conv1", net.down[0].conv1
    else:
        raise TypeError(f"expected a MeshClassifier or MeshSegmenter, got {type(net).__name__}")
    return name, conv


@dataclass(frozen=True)
class EdgeGeometry:
    """The exact geometry behind one edge's 5 features.

    Attributes:
        ends: ``(2,)`` vertex ids of the edge, ordered so that the first face walks from the first
            to the second.
        apexes: ``(2,)`` the vertex facing the edge in the first and in the second face.
        length: the edge's length.
        dihedral: exact angle between the two faces, radians (pi: flat).
        opposite_angles: ``(2,)`` exact inner angles at the two apexes, radians (first, second face).
        height_ratios: ``(2,)`` exact height of each apex over the edge divided by its length.
    """

    ends: np.ndarray
    apexes: np.ndarray
    length: float
    dihedral: float
    opposite_angles: np.ndarray
    height_ratios: np.ndarray


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    return float(np.arctan2(np.linalg.norm(np.cross(u, v)), np.dot(u, v)))


def edge_geometry(topo: MeshTopology, edge: int) -> EdgeGeometry:
    """Exact (unfudged) geometry of input edge ``edge``; a boundary edge repeats its one face."""
    pts = edge_points(topo)[edge]  # (4,) ends, then the apexes
    vs = topo.positions
    p0, p1 = vs[pts[0]], vs[pts[1]]
    base = p1 - p0
    length = float(np.linalg.norm(base))
    n1 = np.cross(vs[pts[2]] - p0, p1 - p0)
    n2 = np.cross(vs[pts[3]] - p1, p0 - p1)
    angles, ratios = [], []
    for apex in (vs[pts[2]], vs[pts[3]]):
        angles.append(_angle(p0 - apex, p1 - apex))
        ratios.append(float(np.linalg.norm(np.cross(base, apex - p0)) / length**2))
    return EdgeGeometry(
        ends=pts[:2].copy(), apexes=pts[2:].copy(), length=length, dihedral=np.pi - _angle(n1, n2),
        opposite_angles=np.array(angles), height_ratios=np.array(ratios),
    )


@dataclass(frozen=True)
class ConvExplanation:
    """One edge through the first MeshConv, with every number.

    Attributes:
        edge: the input edge id ``e``.
        neighbours: ``(4,)`` int64 ``a, b, c, d`` (``gemm[e]``), ``-1`` where missing (boundary).
        geometry: the exact geometry behind ``e``'s features.
        raw: ``(5, 5)`` float64 raw features; rows ``e, a, b, c, d``, columns the 5 features;
            NaN for a missing neighbour.
        normalized: ``(5, 5)`` float32 what the network reads, ``(raw - mean) / std``; zeros for a
            missing neighbour.
        terms: ``(5, 5)`` float32 rows ``e, a + c, b + d, |a - c|, |b - d|`` (:data:`TERM_NAMES`),
            columns the 5 input channels.
        layer: the module name of the first MeshConv.
        channel: the output channel ``o`` explained.
        weights: ``(5, 5)`` float32 ``W[o, i, 0, j]`` laid out like ``terms`` (row ``j``, column ``i``).
        bias: ``bias_o`` (0 when the layer has none).
        contributions: ``(5, 5)`` float64 ``weights * terms``.
        output: ``bias + contributions.sum()``: output channel ``o`` at edge ``e``.
        outputs: ``(C_out,)`` float64 every output channel at edge ``e``, computed the same way.
        note: a caveat on MeshCNN's features, for display.
    """

    edge: int
    neighbours: np.ndarray
    geometry: EdgeGeometry
    raw: np.ndarray
    normalized: np.ndarray
    terms: np.ndarray
    layer: str
    channel: int
    weights: np.ndarray
    bias: float
    contributions: np.ndarray
    output: float
    outputs: np.ndarray
    note: str = _EPS_NOTE


def _check_model(model: LoadedModel, rec: Recording) -> None:
    recorded = rec.meta.get("config")
    mine = json.loads(json.dumps(asdict(model.config)))
    if recorded is not None and recorded != mine:
        raise ValueError(
            f"the recording was made with a different model configuration than {model.name!r}; "
            "explain it with the model that recorded it"
        )


def explain_conv(model: LoadedModel, rec: Recording, edge: int, channel: int = 0) -> ConvExplanation:
    """Explain the first MeshConv of ``model`` at input edge ``edge`` of ``rec``, output ``channel``.

    Raises:
        ValueError: bad edge or channel, or ``model`` is not the model that made ``rec``.
    """
    e_count = rec.num_input_edges
    if not isinstance(edge, (int, np.integer)) or not 0 <= int(edge) < e_count:
        raise ValueError(f"input edge ids run from 0 to {e_count - 1}; got {edge!r}")
    edge = int(edge)
    _check_model(model, rec)
    layer, conv = first_conv(model.net)
    c_out = conv.out_channels
    if not isinstance(channel, (int, np.integer)) or not 0 <= int(channel) < c_out:
        raise ValueError(f"the first MeshConv has output channels 0..{c_out - 1}; got {channel!r}")
    channel = int(channel)
    topo = input_topology(rec)
    ids = np.concatenate([[edge], topo.gemm[edge]])  # (5,) e, a, b, c, d
    present = ids >= 0
    raw = np.full((5, 5), np.nan)
    raw[present] = rec.input_features[:, ids[present]].T  # (5 edges, 5 features)
    mean = np.asarray(model.mean, dtype=np.float64)
    std = np.asarray(model.std, dtype=np.float64)
    normalized = np.zeros((5, 5), dtype=np.float32)
    normalized[present] = ((raw[present] - mean) / std).astype(np.float32)
    x_e, x_a, x_b, x_c, x_d = normalized
    terms = np.stack([x_e, x_a + x_c, x_b + x_d, np.abs(x_a - x_c), np.abs(x_b - x_d)])  # (5 terms, 5 ch)
    w_all = conv.conv.weight.detach().float().cpu().numpy()[:, :, 0, :]  # (C_out, C_in, 5)
    b_all = (
        conv.conv.bias.detach().float().cpu().numpy().astype(np.float64)
        if conv.conv.bias is not None else np.zeros(c_out)
    )
    outputs = np.einsum("oij,ji->o", w_all.astype(np.float64), terms.astype(np.float64)) + b_all  # (C_out,)
    weights = w_all[channel].T.copy()  # (5 terms, 5 channels)
    contributions = weights.astype(np.float64) * terms.astype(np.float64)
    return ConvExplanation(
        edge=edge, neighbours=topo.gemm[edge].copy(), geometry=edge_geometry(topo, edge), raw=raw,
        normalized=normalized, terms=terms, layer=layer, channel=channel, weights=weights,
        bias=float(b_all[channel]), contributions=contributions,
        output=float(b_all[channel] + contributions.sum()), outputs=outputs,
    )
