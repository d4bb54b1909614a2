"""Tiny hand-built and generated meshes for the tests (no data files needed)."""

from __future__ import annotations

import numpy as np

from meshcnn_core.mesh.io import Mesh


def tetrahedron(edge: float = 1.0) -> Mesh:
    """A regular tetrahedron with outward-facing triangles."""
    v = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=np.float64)
    v *= edge / np.sqrt(8.0)
    f = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])
    return Mesh(v, f, "tetrahedron")


def octahedron(scale: float = 1.0) -> Mesh:
    """A regular octahedron (edge length ``scale * sqrt(2)``)."""
    v = (
        np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=np.float64)
        * scale
    )
    f = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
    return Mesh(v, f, "octahedron")


def icosphere(subdivisions: int = 2, jitter: float = 0.05, seed: int = 0) -> Mesh:
    """An icosphere (30 * 4**s edges) with seeded radial jitter so priorities have no ties."""
    import trimesh

    s = trimesh.creation.icosphere(subdivisions=subdivisions)
    rng = np.random.default_rng(seed)
    v = np.asarray(s.vertices) * (1 + jitter * rng.standard_normal((len(s.vertices), 1)))
    return Mesh(v, np.asarray(s.faces), f"icosphere{subdivisions}")


def torus(n_major: int = 24, n_minor: int = 12, jitter: float = 0.03, seed: int = 0) -> Mesh:
    """A jittered torus (3 * n_major * n_minor edges, Euler characteristic 0)."""
    rng = np.random.default_rng(seed)
    i, j = np.meshgrid(np.arange(n_major), np.arange(n_minor), indexing="ij")
    u = 2 * np.pi * i / n_major
    w = 2 * np.pi * j / n_minor
    r = 0.35 * (1 + jitter * rng.standard_normal(u.shape))
    v = np.stack(
        [(1 + r * np.cos(w)) * np.cos(u), (1 + r * np.cos(w)) * np.sin(u), r * np.sin(w)], -1
    ).reshape(-1, 3)
    idx = lambda a, b: (a % n_major) * n_minor + (b % n_minor)  # noqa: E731
    faces = []
    for a in range(n_major):
        for b in range(n_minor):
            faces.append([idx(a, b), idx(a + 1, b), idx(a + 1, b + 1)])
            faces.append([idx(a, b), idx(a + 1, b + 1), idx(a, b + 1)])
    return Mesh(v, np.array(faces), "torus")
