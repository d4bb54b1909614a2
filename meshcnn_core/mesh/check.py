"""Read-only diagnosis of a triangle mesh: what stands between it and a MeshCNN model.

:func:`check_mesh` counts the problems (NaN/inf vertices, zero-area and duplicate faces,
non-manifold edges and bow-tie vertices, open borders, inconsistent winding, separate pieces)
with vectorized numpy/scipy code that stays fast on meshes of millions of faces;
:func:`require_ready` turns them into one clear :class:`~meshcnn_core.errors.MeshError`. The edge
table it is built on lives in :mod:`meshcnn_core.mesh.edges`, shared with the repair modules.

Open borders are reported (``boundary_edges``) but are not a problem: MeshCNN processes meshes with
boundary edges (its pooling leaves them in place).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import MeshError
from .edges import (
    diagonal,
    double_areas,
    edge_table,
    estimate_edges,
    face_components,
    plural,
    unique_rows,
    vertex_fans,
)
from .io import Mesh

__all__ = ["MeshCheck", "check_mesh", "require_ready", "require_size", "AREA_TOL", "REPAIR_HINT"]

AREA_TOL = 1e-10  # relative to the squared diagonal (a face 1e-9 diagonals high on an edge of 0.1)
REPAIR_HINT = "repair it first (python -m meshcnn_core repair, or record --repair)"


@dataclass(frozen=True)
class MeshCheck:
    """Read-only diagnosis of a triangle mesh (see :func:`check_mesh`).

    Attributes:
        num_vertices, num_faces, num_edges: sizes (``num_edges`` counts distinct undirected edges).
        boundary_edges: edges with one face (open borders; allowed).
        nonmanifold_edges: edges with three or more faces.
        nonmanifold_vertices: bow-tie vertices, whose faces form several fans (counted only when no
            edge is non-manifold and no face repeats a corner).
        components: pieces of faces joined by shared edges.
        degenerate_faces: faces with zero or near-zero area (``AREA_TOL`` times the squared diagonal).
        duplicate_faces: faces with the same three corners as an earlier face, in any order.
        nonfinite_vertices: used vertices with NaN/inf coordinates; when non-zero, the other counts
            are not computed (left at 0).
        inconsistent_edges: two-face edges whose faces run along them in the same direction.
    """

    num_vertices: int
    num_faces: int
    num_edges: int
    boundary_edges: int
    nonmanifold_edges: int
    nonmanifold_vertices: int
    components: int
    degenerate_faces: int
    duplicate_faces: int
    nonfinite_vertices: int
    inconsistent_edges: int = 0

    @property
    def is_open(self) -> bool:
        """Whether the surface has borders (edges with one face)."""
        return self.boundary_edges > 0

    @property
    def problems(self) -> list[str]:
        """One phrase per problem that MeshCNN cannot handle; empty when the mesh is fine."""
        out = []
        if self.nonfinite_vertices:
            out.append(
                f"{plural(self.nonfinite_vertices, 'vertex', 'vertices')} with NaN or infinite coordinates "
                "(repair drops the faces that use them, since their positions are unknown)"
            )
        if self.degenerate_faces:
            out.append(f"{plural(self.degenerate_faces, 'face')} with zero or near-zero area")
        if self.duplicate_faces:
            out.append(f"{plural(self.duplicate_faces, 'duplicate face')}")
        if self.nonmanifold_edges:
            out.append(f"{plural(self.nonmanifold_edges, 'edge')} with more than two faces (non-manifold)")
        if self.nonmanifold_vertices:
            out.append(
                plural(
                    self.nonmanifold_vertices,
                    "non-manifold (bow-tie) vertex",
                    "non-manifold (bow-tie) vertices",
                )
            )
        if self.inconsistent_edges:
            out.append(f"the winding is inconsistent across {plural(self.inconsistent_edges, 'edge')}")
        if self.components > 1:
            out.append(f"the mesh has {self.components} separate pieces; MeshCNN needs one")
        return out


def check_mesh(mesh: Mesh) -> MeshCheck:
    """Count what stands between ``mesh`` and MeshCNN (vectorized; does not modify anything)."""
    v, f = mesh.vertices, mesh.faces
    if len(f) == 0:
        raise MeshError(f"{mesh.name}: the mesh has no faces")
    if f.min() < 0 or f.max() >= len(v):
        raise MeshError(f"{mesh.name}: a face refers to a vertex id outside the vertex list")
    used = np.unique(f)
    nonfinite = int((~np.isfinite(v[used])).any(axis=1).sum())
    if nonfinite:
        return MeshCheck(len(v), len(f), 0, 0, 0, 0, 0, 0, 0, nonfinite)
    with np.errstate(invalid="ignore", over="ignore"):
        degenerate = int((double_areas(v, f) <= 2 * AREA_TOL * diagonal(v[used]) ** 2).sum())
    dup = len(f) - len(unique_rows(np.sort(f, axis=1))[0])
    et = edge_table(f, len(v))
    bowties = 0
    repeated = ((f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 2] == f[:, 0])).any()
    if et.num_nonmanifold == 0 and not repeated:
        _, lab = vertex_fans(f, et)
        _, first_corner = np.unique(lab, return_index=True)
        bowties = int((np.bincount(f.reshape(-1)[first_corner]) > 1).sum())
    n_comp, _ = face_components(f, et)
    inconsistent = int((f.reshape(-1)[et.pairs[:, 0]] == f.reshape(-1)[et.pairs[:, 1]]).sum())
    return MeshCheck(
        len(v),
        len(f),
        len(et.edges),
        et.num_boundary,
        et.num_nonmanifold,
        bowties,
        n_comp,
        degenerate,
        dup,
        0,
        inconsistent,
    )


def require_size(mesh: Mesh, *, max_edges: int) -> None:
    """Refuse at once a mesh far too large for a model (before any topology is built)."""
    approx_edges = estimate_edges(len(mesh.faces))
    if approx_edges > 2 * max_edges + 1000:
        raise MeshError(
            f"{mesh.name}: the mesh has about {approx_edges} edges but the model takes at most {max_edges}; "
            f"simplify it: {REPAIR_HINT}"
        )


def require_ready(
    mesh: Mesh, *, max_edges: int | None = None, min_edges: int | None = None, allow_bowties: bool = True
) -> None:
    """Raise a :class:`MeshError` naming every problem that keeps ``mesh`` from a MeshCNN model.

    Cheap size checks come first, so a huge mesh is refused before any topology is built.
    Bow-tie vertices are allowed by default: MeshCNN's pooling copes with them, and some meshes
    of its data sets (human_seg) have them. Open borders are allowed (MeshCNN keeps boundary edges).
    """
    if max_edges is not None:
        require_size(mesh, max_edges=max_edges)
    chk = check_mesh(mesh)
    if allow_bowties:
        chk = replace(chk, nonmanifold_vertices=0)
    problems = chk.problems
    if problems:
        raise MeshError(f"{mesh.name}: " + "; ".join(problems) + f"; {REPAIR_HINT}")
    if max_edges is not None and chk.num_edges > max_edges:
        raise MeshError(
            f"{mesh.name}: the mesh has {chk.num_edges} edges but the model takes at most {max_edges}; "
            f"simplify it: {REPAIR_HINT}"
        )
    if min_edges is not None and chk.num_edges < min_edges:
        raise MeshError(
            f"{mesh.name}: the mesh has {chk.num_edges} edges, fewer than the model's first pooling target "
            f"{min_edges}; {REPAIR_HINT} (repair subdivides coarse meshes)"
        )
