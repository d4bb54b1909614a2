"""A procedural vase standing along +y, with per-edge part labels by construction (COSEG's numbering).

The COSEG vases that MeshCNN's vase models were trained on cannot be shipped (research-only
data), so the explorer's handle/neck comparison opens on a vase made here. It is made the way the
COSEG vases are: every COSEG vase (all 297 checked with trimesh) is a **closed, watertight solid**
of exactly 1500 edges standing along +y: the mouth is not an opening but a cap, usually with a
shallow dip; there is no inner wall. Handles, when present, are mostly loops joined to the body
and the neck (of the 173 vases with a handle, 51 have one through-hole, 38 two, 20 four and 64
none: handles touching at one end only or lying against the wall).

**Shape.** Built at height 1 along +y, the bottom at ``y = 0``, the axis at ``x = z = 0``:

* a surface of revolution of a profile ``r(y)`` (a monotone cubic through a few control radii,
  :func:`profile_radius`): a foot (``y <= foot_height``), a waist above it, the body bulging to
  ``body_radius`` at ``body_height``, a shoulder, a narrow neck of ``neck_radius`` from
  ``neck_start`` up, flaring to ``lip_radius`` at the top. The bottom is a flat disc; the top is
  a rim of ``rim_width`` and a shallow dip of ``dip`` towards the axis (as in the COSEG vases);
* ``handles`` (0, 1 or 2, on opposite sides in the ``x``/``y`` plane) tubes of radius
  ``handle_radius`` swept along a cubic Bezier curve (:func:`handle_curve`) from inside the body
  wall at ``handle_low`` out by ``handle_reach`` and up into the neck at ``handle_high``. A tube
  is the union of the convex hulls of consecutive spheres along the curve.

Everything is joined by a boolean union with ``manifold3d`` (a closed manifold by construction),
refined to edges of at most ``refine`` and simplified by quadric decimation to at most
:data:`TARGET_EDGES` = 1500 edges (:func:`meshcnn_core.mesh.simplify.decimate`, the method pinned
by :data:`DECIMATION` so the triangulation does not change when the app's default simplifier
does), each pass cleaned and checked by :func:`meshcnn_core.mesh.repair.preflight` (closed,
manifold, one piece, MeshCNN's topology builds) and kept only between :data:`MIN_EDGES` and 1500.
Finally it is scaled and moved into the COSEG vases' frame (:func:`to_coseg_frame`: largest
extent 29, bounding box centred at 16.5, so it stands on ``y = 2``): MeshCNN's edge features are
not scale-invariant (at height 1 every dihedral angle comes out near pi/2), and the vase models
were trained on vases of that size.

The default neck, lip and shoulder radii (0.13, 0.16, 0.22) were widened from a first try (0.085,
0.12, 0.2) on which the shipped handle classifier called the vase without handles a vase with a
handle; on the defaults it says "no handle", barely, and on seeded variants without handles it is
right on 3 of 8 (``sample_meshes/README.md``).

**Labels by construction** (COSEG's numbering, :mod:`meshcnn_core.data.vases`): for each edge of
the final mesh, in MeshCNN's edge order (:func:`meshcnn_core.mesh.topology.build_topology`), its
midpoint ``m`` (height ``y``, distance ``rho`` from the axis) is

* **2, handle** when it lies nearer to a handle's tube surface than to the vase's surface of
  revolution: ``| dist(m, curve) - handle_radius | < | rho - r(y) |`` and
  ``dist(m, curve) < 2 handle_radius``;
* otherwise by height (in the unit frame, before scaling): **4, base** below ``foot_height``;
  **1, neck** above :func:`neck_bottom` (halfway between ``shoulder_height`` and ``neck_start``;
  the mouth's cap counts as neck); **3, body** between.

Everything is deterministic: :func:`make_vase` from its :class:`VaseParams`, and
:func:`draw_params` from a seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import manifold3d as m3d
import numpy as np
from scipy.interpolate import PchipInterpolator

from ..mesh.io import Mesh
from ..mesh.topology import build_topology
from .to_size import decimate_to_edges

__all__ = [
    "NECK", "HANDLE", "BODY", "BASE", "TARGET_EDGES", "MIN_EDGES", "DECIMATION", "COSEG_EXTENT",
    "COSEG_CENTRE", "VaseParams", "Vase", "profile_radius", "handle_curve", "neck_bottom", "vase_labels",
    "make_vase", "to_coseg_frame", "draw_params",
]

NECK, HANDLE, BODY, BASE = 1, 2, 3, 4
TARGET_EDGES = 1500
MIN_EDGES = 1488  # a closed mesh's edge count moves in steps of 3; decimation aims at 1497-1500
DECIMATION = "fqms"  # pinned: the shipped vase's triangulation must not follow the app's default
_CURVE_SAMPLES = 400
COSEG_EXTENT = 29.0  # every COSEG vase's largest bounding-box extent
COSEG_CENTRE = 16.5  # and its bounding box's centre (the vases stand on y = 2)


@dataclass(frozen=True)
class VaseParams:
    """The shape of a vase of height 1 (lengths in units of its height).

    Attributes:
        foot_radius, foot_height: the foot's radius and the height of its top (the base label).
        waist_radius: radius just above the foot.
        body_radius, body_height: the widest radius and its height.
        shoulder_height, shoulder_radius: where the body turns in towards the neck.
        neck_radius, neck_start: the neck's radius and the height from which it has it.
        lip_radius: radius at the top.
        rim_width, dip: the flat rim's width at the top, the depth of the mouth's dip at the axis.
        handles: 0, 1 or 2 handles (the second opposite the first).
        handle_radius: the tube's radius.
        handle_low, handle_high: heights where the handle meets the body and the neck.
        handle_reach: how far the handle's curve reaches out beyond the body at ``handle_low``.
        handle_rise: how far above ``handle_high`` the curve's top reaches.
        refine: longest edge before decimation.
        segments: segments around the axis of the surface of revolution.
    """

    foot_radius: float = 0.16
    foot_height: float = 0.05
    waist_radius: float = 0.14
    body_radius: float = 0.30
    body_height: float = 0.36
    shoulder_height: float = 0.62
    shoulder_radius: float = 0.22
    neck_radius: float = 0.13
    neck_start: float = 0.74
    lip_radius: float = 0.16
    rim_width: float = 0.025
    dip: float = 0.03
    handles: int = 2
    handle_radius: float = 0.025
    handle_low: float = 0.5
    handle_high: float = 0.84
    handle_reach: float = 0.14
    handle_rise: float = 0.08
    refine: float = 0.02
    segments: int = 96

    def __post_init__(self) -> None:
        ys = (0.0, self.foot_height, self.body_height, self.shoulder_height, self.neck_start, 1.0)
        if not all(a < b for a, b in zip(ys, ys[1:])):
            raise ValueError(f"heights must rise: 0 < foot {self.foot_height} < body {self.body_height} < "
                             f"shoulder {self.shoulder_height} < neck start {self.neck_start} < 1")
        if self.handles not in (0, 1, 2):
            raise ValueError(f"handles must be 0, 1 or 2, got {self.handles}")
        if not self.foot_height < self.handle_low < self.handle_high < 1.0:
            raise ValueError(f"handle heights {self.handle_low}, {self.handle_high} must lie in the vase")
        if not 0 < self.rim_width < self.lip_radius:
            raise ValueError(f"rim width {self.rim_width} must be in (0, lip radius {self.lip_radius})")


@dataclass(frozen=True)
class Vase:
    """One generated vase and its labels.

    Attributes:
        mesh: closed manifold mesh, ``E <= TARGET_EDGES`` edges, standing along +y in the COSEG frame.
        labels: ``(E,)`` int64 part label per edge in MeshCNN's edge order (1 neck, 2 handle, 3 body, 4 base).
        params: how it was made.
    """

    mesh: Mesh
    labels: np.ndarray
    params: VaseParams


def _controls(p: VaseParams) -> tuple[np.ndarray, np.ndarray]:
    y = np.array([0.0, 0.6 * p.foot_height, p.foot_height, p.foot_height + 0.04, p.body_height,
                  p.shoulder_height, p.neck_start, 0.5 * (p.neck_start + 1.0), 1.0])
    r = np.array([p.foot_radius, p.foot_radius, p.waist_radius, p.waist_radius + 0.02, p.body_radius,
                  p.shoulder_radius, p.neck_radius, p.neck_radius, p.lip_radius])
    return y, r


def profile_radius(p: VaseParams, y: np.ndarray) -> np.ndarray:
    """The side wall's radius at heights ``y`` (clipped to [0, 1]). Shapes: ``(N,) -> (N,)``."""
    cy, cr = _controls(p)
    return PchipInterpolator(cy, cr)(np.clip(np.asarray(y, dtype=np.float64), 0.0, 1.0))


def neck_bottom(p: VaseParams) -> float:
    """Height above which an edge is labelled neck: halfway between the shoulder and the neck's start."""
    return 0.5 * (p.shoulder_height + p.neck_start)


def handle_curve(p: VaseParams, n: int = _CURVE_SAMPLES) -> np.ndarray:
    """Centre line of the first handle, in the ``z = 0`` plane on the ``+x`` side. Shapes: ``-> (n, 3)``.

    A cubic Bezier curve from inside the body wall at ``handle_low`` out by ``handle_reach``, up
    to ``handle_rise`` above ``handle_high`` and into the neck at ``handle_high`` (both ends buried
    in the wall, so that the union joins the tube to the vase).
    """
    lo, hi = p.handle_low, p.handle_high
    r_lo, r_hi = profile_radius(p, np.array([lo, hi]))
    t = p.handle_radius
    ctrl = np.array([
        [r_lo - 1.5 * t, lo],
        [r_lo + p.handle_reach, lo + 0.3 * (hi - lo)],
        [r_hi + p.handle_reach, hi + p.handle_rise],
        [max(r_hi - 1.5 * t, 0.5 * r_hi), hi],
    ])
    s = np.linspace(0.0, 1.0, n)[:, None]
    xy = ((1 - s) ** 3 * ctrl[0] + 3 * (1 - s) ** 2 * s * ctrl[1] + 3 * (1 - s) * s ** 2 * ctrl[2]
          + s ** 3 * ctrl[3])  # (n, 2)
    return np.column_stack([xy[:, 0], xy[:, 1], np.zeros(n)])


def _handle_curves(p: VaseParams) -> list[np.ndarray]:
    c = handle_curve(p)
    return [c, c * np.array([-1.0, 1.0, -1.0])][: p.handles]  # the second: turned 180 degrees about +y


def _profile_polygon(p: VaseParams) -> np.ndarray:
    """The half cross-section ``(x = radius, y = height)``, counter-clockwise. Shapes: ``-> (K, 2)``."""
    ys = np.linspace(0.0, 1.0, 161)
    side = np.column_stack([profile_radius(p, ys), ys])
    inner = p.lip_radius - p.rim_width
    u = np.linspace(0.0, 1.0, 13)[1:]
    dip = np.column_stack([inner * (1 - u), 1.0 - p.dip * np.sin(0.5 * np.pi * u)])
    return np.vstack([[0.0, 0.0], side, [inner, 1.0], dip])


def _to_y_up(m: m3d.Manifold) -> m3d.Manifold:
    """manifold3d revolves about its z axis; turn z into +y: ``(x, y, z) -> (x, z, -y)``."""
    return m.transform(np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0]], dtype=np.float64))


def _tube(curve: np.ndarray, radius: float, spheres: int = 40) -> m3d.Manifold:
    idx = np.linspace(0, len(curve) - 1, spheres).round().astype(int)
    balls = [m3d.Manifold.sphere(radius, 24).translate(tuple(curve[i])) for i in idx]
    hulls = [m3d.Manifold.batch_hull([a, b]) for a, b in zip(balls, balls[1:])]
    return m3d.Manifold.batch_boolean(hulls, m3d.OpType.Add)


def _solid(p: VaseParams) -> m3d.Manifold:
    body = _to_y_up(m3d.Manifold.revolve(m3d.CrossSection([_profile_polygon(p)]), p.segments))
    parts = [body, *(_tube(c, p.handle_radius) for c in _handle_curves(p))]
    return m3d.Manifold.batch_boolean(parts, m3d.OpType.Add)


def _distance_to(points: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Distance from each point to a densely sampled curve. Shapes: ``(N, 3), (K, 3) -> (N,)``."""
    d = np.linalg.norm(points[:, None, :] - curve[None, :, :], axis=2)  # (N, K)
    return d.min(axis=1)


def vase_labels(p: VaseParams, vertices: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Part label of each edge from its midpoint (rules in the module docstring).

    Shapes: ``vertices (V, 3)``, ``edges (E, 2) -> (E,)`` int64.
    """
    mid = np.asarray(vertices, dtype=np.float64)[np.asarray(edges)].mean(axis=1)  # (E, 3)
    y = mid[:, 1]
    labels = np.where(y < p.foot_height, BASE, np.where(y > neck_bottom(p), NECK, BODY)).astype(np.int64)
    if p.handles:
        off_wall = np.abs(np.hypot(mid[:, 0], mid[:, 2]) - profile_radius(p, y))  # (E,)
        for curve in _handle_curves(p):
            dc = _distance_to(mid, curve)
            labels[(np.abs(dc - p.handle_radius) < off_wall) & (dc < 2 * p.handle_radius)] = HANDLE
    return labels


def make_vase(params: VaseParams | None = None, name: str = "vase") -> Vase:
    """Make a vase from ``params`` (default: :class:`VaseParams` ()). Deterministic.

    Raises:
        MeshCNNError: decimation found no clean mesh of :data:`MIN_EDGES` to :data:`TARGET_EDGES` edges.
    """
    p = params if params is not None else VaseParams()
    m = _solid(p).refine_to_length(p.refine).to_mesh()
    v = np.asarray(m.vert_properties, dtype=np.float64)[:, :3]
    f = np.asarray(m.tri_verts, dtype=np.int64)
    v, f = decimate_to_edges(v, f, name, lo=MIN_EDGES, hi=TARGET_EDGES, method=DECIMATION, passes=10)
    topo, _, _ = build_topology(v, f)
    labels = vase_labels(p, v, topo.edges)
    return Vase(Mesh(to_coseg_frame(v), f, name), labels, p)


def to_coseg_frame(v: np.ndarray) -> np.ndarray:
    """Scale and move vertices like the COSEG vases: largest extent 29, bounding box centred at 16.5.

    MeshCNN's features are not scale-invariant (its ``fixed_division`` divides by ``|x| + 0.1``): on
    a vase of height 1 every dihedral angle comes out near pi/2. Shapes: ``(V, 3) -> (V, 3)``.
    """
    lo, hi = v.min(axis=0), v.max(axis=0)
    return (v - (lo + hi) / 2) * (COSEG_EXTENT / (hi - lo).max()) + COSEG_CENTRE


def draw_params(seed: int, handles: int = 2) -> VaseParams:
    """Random proportions around the defaults (about +-15%), deterministic from ``seed``."""
    rng = np.random.default_rng(seed)
    base = VaseParams(handles=handles)

    def jig(x: float, s: float = 0.15) -> float:
        return float(x * rng.uniform(1 - s, 1 + s))

    return replace(
        base, foot_radius=jig(base.foot_radius), body_radius=jig(base.body_radius),
        body_height=jig(base.body_height, 0.1), shoulder_radius=jig(base.shoulder_radius, 0.1),
        neck_radius=jig(base.neck_radius), lip_radius=jig(base.lip_radius, 0.1),
        handle_radius=jig(base.handle_radius), handle_reach=jig(base.handle_reach),
    )
