"""The procedural vase: a closed manifold of at most 1500 edges with part labels by construction."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from meshcnn_core.data.vase_shape import (
    BASE,
    BODY,
    COSEG_CENTRE,
    COSEG_EXTENT,
    HANDLE,
    MIN_EDGES,
    NECK,
    TARGET_EDGES,
    VaseParams,
    draw_params,
    handle_curve,
    make_vase,
    neck_bottom,
    profile_radius,
    to_coseg_frame,
    vase_labels,
)
from meshcnn_core.mesh.check import check_mesh
from meshcnn_core.mesh.repair import preflight
from meshcnn_core.mesh.topology import build_topology


@pytest.fixture(scope="module")
def vases():
    """The default vase with two handles, one handle and none."""
    return {h: make_vase(VaseParams(handles=h), f"vase{h}") for h in (2, 1, 0)}


def _unit_frame(v: np.ndarray) -> np.ndarray:
    """Undo :func:`to_coseg_frame` for a vase of height 1 standing on y = 0 on the axis x = z = 0."""
    lo, hi = v.min(axis=0), v.max(axis=0)
    s = (hi - lo).max()
    return (v - np.array([(lo[0] + hi[0]) / 2, lo[1], (lo[2] + hi[2]) / 2])) / s


@pytest.mark.parametrize("handles", [2, 1, 0])
def test_closed_manifold_near_1500_edges_genus_one_per_handle(vases, handles):
    v = vases[handles]
    chk = check_mesh(v.mesh)
    assert not chk.problems and chk.boundary_edges == 0 and chk.nonmanifold_vertices == 0
    assert chk.components == 1
    assert MIN_EDGES <= chk.num_edges <= TARGET_EDGES
    chi = chk.num_vertices - chk.num_edges + chk.num_faces
    assert chi == 2 - 2 * handles  # each loop handle makes one through-hole
    topo, kept, _ = build_topology(v.mesh.vertices, v.mesh.faces)
    assert len(kept) == len(v.mesh.faces) and topo.num_edges == len(v.labels)
    # the app's loading path leaves it as it is
    assert not preflight(v.mesh, target_edges=TARGET_EDGES, min_edges=1200, measure=False).changed


def test_labels_one_per_edge_handle_present_iff_asked(vases):
    for h, v in vases.items():
        present = set(np.unique(v.labels).tolist())
        assert present == ({NECK, HANDLE, BODY, BASE} if h else {NECK, BODY, BASE})
    # two handles carry about twice the handle edges of one
    n2, n1 = (np.sum(vases[h].labels == HANDLE) for h in (2, 1))
    assert 1.5 < n2 / n1 < 2.5


def test_parts_lie_where_coseg_puts_them(vases):
    v = vases[2]
    topo, _, _ = build_topology(v.mesh.vertices, v.mesh.faces)
    mid = _unit_frame(v.mesh.vertices)[topo.edges].mean(axis=1)  # (E, 3)
    y, rho = mid[:, 1], np.hypot(mid[:, 0], mid[:, 2])
    lab = v.labels
    # the neck is at the top and the narrowest part; the base at the bottom; handles farthest out
    assert y[lab == NECK].min() > y[lab == BODY].mean() > y[lab == BASE].max()
    assert rho[lab == NECK].mean() < rho[lab == BASE].mean() < rho[lab == BODY].mean()
    assert rho[lab == HANDLE].mean() > rho[lab == BODY].mean()
    p = v.params
    assert (y[lab == BASE] < p.foot_height).all() and (y[lab == NECK] > neck_bottom(p)).all()
    # handle edges stand off the surface of revolution; no other edge of the side wall does
    off = rho - profile_radius(p, y)
    assert np.median(off[lab == HANDLE]) > p.handle_radius and np.percentile(off[lab == HANDLE], 5) > 0
    side = (lab != HANDLE) & (y > 0.01) & (y < 1 - p.dip - 0.01)  # not the bottom disc or the mouth's cap
    assert np.abs(off[side]).max() < p.handle_radius


def test_coseg_frame():
    v = to_coseg_frame(np.array([[0.0, 0.0, 0.0], [1.0, 4.0, 2.0]]))
    np.testing.assert_allclose(v, [[16.5 - 29 / 8, 2.0, 16.5 - 29 / 4], [16.5 + 29 / 8, 31.0, 16.5 + 29 / 4]])
    assert COSEG_EXTENT == 29.0 and COSEG_CENTRE == 16.5


def test_mesh_is_in_the_coseg_frame_standing_along_y(vases):
    v = vases[0].mesh.vertices
    ext = v.max(axis=0) - v.min(axis=0)
    assert np.argmax(ext) == 1 and ext[1] == pytest.approx(29.0)
    np.testing.assert_allclose(v.min(axis=0)[1], 2.0)
    np.testing.assert_allclose((v.max(axis=0) + v.min(axis=0)) / 2, 16.5, atol=1e-9)


def test_labels_by_hand():
    p = VaseParams()
    curve = handle_curve(p)
    k = len(curve) // 2  # the handle's middle, far from the vase
    out = np.array([0.0, 0.0, 1.0])  # perpendicular to the curve's plane
    pts = np.array([
        [profile_radius(p, [0.01])[0], 0.01, 0.0],  # on the foot's wall
        [0.0, 0.98, 0.0],  # on the mouth's dip
        [0.0, 0.4, profile_radius(p, [0.4])[0]],  # on the body's wall, opposite no handle
        curve[k] + p.handle_radius * out,  # on the handle's tube
        -(curve[k] + p.handle_radius * out) * np.array([1.0, -1.0, 1.0]),  # on the second handle
    ])
    edges = np.array([[i, i] for i in range(len(pts))])  # degenerate edges: midpoint = the point
    assert vase_labels(p, pts, edges).tolist() == [BASE, NECK, BODY, HANDLE, HANDLE]
    # without handles, the points where the tubes were are labelled by height
    assert vase_labels(replace(p, handles=0), pts, edges)[3] in (BODY, NECK)


def test_profile_passes_through_its_controls_and_body_is_widest():
    p = VaseParams()
    r = profile_radius(p, np.array([0.0, p.body_height, p.neck_start, 1.0]))
    np.testing.assert_allclose(r, [p.foot_radius, p.body_radius, p.neck_radius, p.lip_radius])
    assert profile_radius(p, np.linspace(0, 1, 1001)).max() == pytest.approx(p.body_radius)
    # the handle's ends are buried in the wall; between them it stands off the wall (a through-hole)
    c = handle_curve(p)
    gap = np.hypot(c[:, 0], c[:, 2]) - profile_radius(p, c[:, 1])  # (n,) centre line's distance off the wall
    assert gap[0] < -p.handle_radius and gap[-1] < -p.handle_radius
    assert gap.max() > 4 * p.handle_radius


def test_deterministic_and_seeded():
    a, b = make_vase(VaseParams(handles=1)), make_vase(VaseParams(handles=1))
    np.testing.assert_array_equal(a.mesh.vertices, b.mesh.vertices)
    np.testing.assert_array_equal(a.mesh.faces, b.mesh.faces)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert draw_params(3) == draw_params(3) != draw_params(4)
    assert draw_params(3, handles=0).handles == 0


@pytest.mark.parametrize(
    "kw, words",
    [({"handles": 3}, "handles must be 0, 1 or 2"), ({"body_height": 0.7}, "heights must rise"),
     ({"handle_high": 0.4}, "handle heights"), ({"rim_width": 0.5}, "rim width")],
)
def test_bad_params_are_refused(kw, words):
    with pytest.raises(ValueError, match=words):
        VaseParams(**kw)
