"""Icons for the engraved-cubes data set: 23 simple 2D shapes drawn in project code.

Each icon is a :class:`manifold3d.CrossSection` (polygons with holes, e.g. the letter A or the
ring) built from rectangles, circles and hand-written polygons on a 10 x 10 design grid, then
centred on its bounding box and scaled so that every point lies within radius 1 of the centre:
any rotation of a placed icon then stays inside a disc of known radius, which is what
:mod:`meshcnn_core.data.cubes` uses to keep it on one face of the cube.

No two icons are rotations of each other (the cubes set rotates icons freely in their face).
"""

from __future__ import annotations

from collections.abc import Callable

import manifold3d as m3d
import numpy as np

__all__ = ["ICON_NAMES", "icon", "icon_contours"]

_SEGMENTS = 24  # polygon sides of a full circle


def _poly(points: list[tuple[float, float]]) -> m3d.CrossSection:
    """A simple polygon in either winding (turned counter-clockwise, as manifold3d fills)."""
    p = np.asarray(points, dtype=np.float64)
    area2 = float(np.sum(p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1]))
    if area2 < 0:
        p = p[::-1]
    return m3d.CrossSection([p.tolist()])


def _rect(x0: float, y0: float, x1: float, y1: float) -> m3d.CrossSection:
    return _poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def _circle(cx: float, cy: float, r: float, *, rx: float | None = None,
            n: int = _SEGMENTS) -> m3d.CrossSection:
    """A circle (or an axis-aligned ellipse with x radius ``rx``) as an ``n``-gon."""
    t = 2 * np.pi * np.arange(n) / n
    return _poly(list(zip(cx + (rx or r) * np.cos(t), cy + r * np.sin(t))))


def _heart() -> m3d.CrossSection:
    t = 2 * np.pi * np.arange(40) / 40
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return _poly(list(zip(x / 3.4, y / 3.4)))


def _star() -> m3d.CrossSection:
    t = np.pi / 2 + np.pi * np.arange(10) / 5
    r = np.where(np.arange(10) % 2 == 0, 5.0, 2.0)
    return _poly(list(zip(r * np.cos(t), r * np.sin(t))))


def _apple() -> m3d.CrossSection:
    body = _circle(-1.2, 0, 2.8) + _circle(1.2, 0, 2.8) - _circle(0, 3.2, 0.9, n=12)
    leaf = _poly([(0.0, 3.4), (1.6, 4.6), (3.0, 4.4), (1.8, 3.4)])
    return body + _rect(-0.25, 2.0, 0.25, 4.4) + leaf


def _gear() -> m3d.CrossSection:
    g = _circle(0, 0, 3.0)
    for k in range(8):
        g = g + _rect(-0.6, 2.5, 0.6, 4.0).rotate(45.0 * k)
    return g - _circle(0, 0, 1.0, n=12)


def _letter_a() -> m3d.CrossSection:
    outer = _poly([(-4, -5), (-2.4, -5), (-1.6, -2.5), (1.6, -2.5), (2.4, -5), (4, -5), (0.9, 5), (-0.9, 5)])
    return outer - _poly([(-1.0, -1.1), (1.0, -1.1), (0, 2.3)])


_DESIGNS: dict[str, Callable[[], m3d.CrossSection]] = {
    "apple": _apple,
    "arrow": lambda: _rect(-4, -0.7, 1.5, 0.7) + _poly([(1.5, -2.5), (4.5, 0), (1.5, 2.5)]),
    "bell": lambda: (
        _poly([(-3.5, -2.5), (3.5, -2.5), (3.2, -1.8), (2.4, -1.2), (2.2, 2), (1.4, 3.2), (0, 3.6),
               (-1.4, 3.2), (-2.2, 2), (-2.4, -1.2), (-3.2, -1.8)])
        + _circle(0, -3.2, 0.9, n=12) + _circle(0, 3.9, 0.7, n=12)
    ),
    "bolt": lambda: _poly([(-1, 5), (3, 5), (0.8, 1), (3, 1), (-2.5, -5), (-0.5, -0.5), (-2.8, -0.5)]),
    "cloud": lambda: _circle(-2, 0, 1.6) + _circle(0, 0.8, 2.1) + _circle(2, 0, 1.6) + _rect(-2, -1.6, 2, 0),
    "cross": lambda: _rect(-1, -4, 1, 4) + _rect(-4, -1, 4, 1),
    "drop": lambda: _circle(0, -1.2, 2.5) + _poly([(-2.2, -0.1), (2.2, -0.1), (0, 4.5)]),
    "fish": lambda: (_circle(-0.5, 0, 1.8, rx=3.2) + _poly([(2.0, 0), (4.5, 2), (4.5, -2)])
                     - _circle(-2.2, 0.4, 0.35, n=8)),
    "fork": lambda: (_rect(-0.5, -5, 0.5, 0) + _rect(-2, 0, 2, 1) + _rect(-2, 1, -1.3, 5)
                     + _rect(-0.35, 1, 0.35, 5) + _rect(1.3, 1, 2, 5)),
    "gear": _gear,
    "hammer": lambda: _rect(-2, 2, 3.5, 4) + _poly([(-2, 2), (-4, 4.6), (-2, 4)]) + _rect(-0.6, -5, 0.6, 2),
    "heart": _heart,
    "house": lambda: (_rect(-3, -4, 3, 1) + _poly([(-4, 1), (0, 4.5), (4, 1)]) + _rect(1.8, 1.5, 2.8, 4.2)
                      - _rect(-0.8, -4.5, 0.8, -1.2)),
    "key": lambda: ((_circle(-2.5, 0, 2) - _circle(-2.5, 0, 1, n=12)) + _rect(-0.7, -0.5, 4.5, 0.5)
                    + _rect(2.5, -1.8, 3.2, -0.5) + _rect(3.8, -1.5, 4.5, -0.5)),
    "letter_a": _letter_a,
    "letter_e": lambda: (_rect(-3, -5, -1.4, 5) + _rect(-3, 3.6, 3, 5) + _rect(-3, -0.7, 2.2, 0.7)
                         + _rect(-3, -5, 3, -3.6)),
    "letter_h": lambda: _rect(-3, -5, -1.5, 5) + _rect(1.5, -5, 3, 5) + _rect(-3, -0.7, 3, 0.7),
    "moon": lambda: _circle(0, 0, 4) - _circle(1.8, 0.8, 3.4),
    "mug": lambda: _rect(-2.5, -3.5, 1.5, 3) + (_circle(1.5, 0, 2) - _circle(1.5, 0, 1.1, n=12)),
    "ring": lambda: _circle(0, 0, 4) - _circle(0, 0, 2.5),
    "spoon": lambda: _circle(0, 2.5, 2.6, rx=1.8) + _rect(-0.45, -5, 0.45, 0.5),
    "star": _star,
    "tree": lambda: (_rect(-0.6, -5, 0.6, -3) + _poly([(-3.5, -3), (3.5, -3), (0, 0)])
                     + _poly([(-2.8, -1), (2.8, -1), (0, 2.2)]) + _poly([(-2, 1), (2, 1), (0, 4.5)])),
}

ICON_NAMES: tuple[str, ...] = tuple(sorted(_DESIGNS))


def icon(name: str) -> m3d.CrossSection:
    """The icon ``name`` centred on its bounding box, within radius 1 of the origin (and touching it).

    Raises:
        ValueError: unknown name.
    """
    if name not in _DESIGNS:
        raise ValueError(f"unknown icon {name!r}; known: {', '.join(ICON_NAMES)}")
    cs = _DESIGNS[name]()
    x0, y0, x1, y1 = cs.bounds()
    cs = cs.translate([-(x0 + x1) / 2, -(y0 + y1) / 2])
    r = max(float(np.linalg.norm(np.asarray(c), axis=1).max()) for c in cs.to_polygons())
    return cs.scale([1 / r, 1 / r])


def icon_contours(cs: m3d.CrossSection) -> list[np.ndarray]:
    """The closed contours of a cross-section (outer boundaries and holes). Shapes: ``[(K_i, 2)]``."""
    return [np.asarray(c, dtype=np.float64) for c in cs.to_polygons()]
