"""The cleanup steps of repair: each is a pure function ``(v, f, ...) -> StepResult``.

Each step is the identity (the same array objects, action ``None``) on a mesh that does not need
it, so a good mesh keeps its vertex and face order and with it MeshCNN's edge numbering (the
``.eseg`` labels of MeshCNN's data sets depend on it). That is why the simple steps (NaN faces,
duplicate vertices and faces, zero-area faces, dangling fins, bow-ties, pieces, winding) are written
by hand here: they drop or re-wind only what is broken and keep every other face where it was.
What needs real geometry processing goes to MeshFix (``pymeshfix``):

- non-manifold edges where no face dangles (several sheets meeting at an edge) are cut apart by
  MeshFix's connectivity repair, which splits the surface there;
- holes are filled (only when asked) by MeshFix's hole filling (triangulation, then refinement and
  fairing of the patch), which copes with large holes.

Steps that read the edge table take it as ``et`` (computed when ``None``), so a pipeline can build
it once per face array instead of once per step.

Why MeshFix: it fixed every non-manifold case we tried (fans of sheets, two closed surfaces sharing
an edge) and fills large holes with refined patches, from a 1.4 MB wheel with numpy as its only
dependency; pymeshlab does the same and more but is a 106 MB wheel; manifold3d builds solids for
booleans and refuses (rather than repairs) non-manifold input.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..errors import MeshError
from .actions import ActionKind, StepResult, action
from .edges import (
    EdgeTable,
    compact,
    diagonal,
    double_areas,
    edge_table,
    face_components,
    plural,
    unique_rows,
    vertex_fans,
)

__all__ = [
    "MERGE_TOL",
    "AREA_TOL",
    "MAX_NONMANIFOLD_EDGES",
    "step_indices_and_nonfinite",
    "step_merge_vertices",
    "step_degenerate",
    "step_duplicate_faces",
    "step_nonmanifold_edges",
    "step_bowties",
    "step_components",
    "step_orientation",
    "step_holes",
    "step_outward",
]

MERGE_TOL = 1e-9  # relative to the bounding-box diagonal
AREA_TOL = 1e-10  # relative to the squared diagonal (the same as check.AREA_TOL)
MAX_NONMANIFOLD_EDGES = 10_000


def _meshfix(v: np.ndarray, f: np.ndarray):
    """A MeshFix mesh loaded from arrays (loading already cuts non-manifold edges and vertices apart)."""
    import pymeshfix

    t = pymeshfix.PyTMesh()
    t.set_quiet(True)
    t.load_array(np.ascontiguousarray(v, dtype=np.float64), np.ascontiguousarray(f, dtype=np.int32))
    return t


def _arrays(t) -> tuple[np.ndarray, np.ndarray]:
    v, f = t.return_arrays()
    return np.asarray(v, dtype=np.float64), np.asarray(f, dtype=np.int64).reshape(-1, 3)


def step_indices_and_nonfinite(v: np.ndarray, f: np.ndarray) -> StepResult:
    """Refuse bad vertex ids; drop faces on NaN/inf vertices and any unused vertex."""
    if len(f) == 0:
        raise MeshError("the mesh has no faces")
    if f.min() < 0 or f.max() >= len(v):
        raise MeshError("a face refers to a vertex id outside the vertex list; the file is corrupt")
    bad_v = ~np.isfinite(v).all(axis=1)
    act = None
    if bad_v.any():
        bad_f = bad_v[f].any(axis=1)
        if bad_f.all():
            raise MeshError("every face uses a vertex with NaN or infinite coordinates; nothing is left")
        if bad_f.any():
            act = action(
                ActionKind.NONFINITE,
                int(bad_f.sum()),
                f"dropped {plural(int(bad_f.sum()), 'face')} that use "
                f"{plural(int(bad_v.sum()), 'vertex', 'vertices')}"
                " with NaN or infinite coordinates (their positions are unknown)",
                v[np.unique(f[bad_f])][np.isfinite(v[np.unique(f[bad_f])]).all(axis=1)],
            )
            f = f[~bad_f]
    n_before = len(v)
    v, f = compact(v, f)
    if act is None and len(v) < n_before:
        act = action(
            ActionKind.UNUSED_VERTICES,
            n_before - len(v),
            f"removed {plural(n_before - len(v), 'vertex', 'vertices')} that no face uses",
        )
    return StepResult(v, f, act)


def step_merge_vertices(v: np.ndarray, f: np.ndarray) -> StepResult:
    """Merge vertices within ``MERGE_TOL`` diagonals of each other (the first of each keeps its place)."""
    tol = MERGE_TOL * diagonal(v)
    q = np.round((v - v.min(axis=0)) / tol).astype(np.int64)
    first, inv = unique_rows(q)
    if len(first) == len(v):
        return StepResult(v, f, None)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    n = len(v) - len(first)
    return StepResult(
        v[np.sort(first)],
        rank[inv][f],
        action(ActionKind.MERGE_VERTICES, n, f"merged {plural(n, 'duplicate vertex', 'duplicate vertices')}"),
    )


def _drop_repeated_corner_faces(f: np.ndarray) -> tuple[np.ndarray, int]:
    ok = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])
    return (f, 0) if ok.all() else (f[ok], int((~ok).sum()))


def step_degenerate(v: np.ndarray, f: np.ndarray) -> StepResult:
    """Drop faces with a repeated corner; collapse the shortest edge of each zero-area face."""
    f, n_rep = _drop_repeated_corner_faces(f)
    tol = AREA_TOL * diagonal(v) ** 2
    collapsed = dropped = 0
    where = None
    for _ in range(8):
        if len(f) == 0:
            break
        bad = np.flatnonzero(double_areas(v, f) <= 2 * tol)
        if len(bad) == 0:
            break
        fb = f[bad]
        where = v[fb[:, 0]] if where is None else where
        lens = np.stack(
            [np.linalg.norm(v[fb[:, i]] - v[fb[:, (i + 1) % 3]], axis=1) for i in range(3)], axis=1
        )
        k = np.argmin(lens, axis=1)
        a = fb[np.arange(len(fb)), k]
        b = fb[np.arange(len(fb)), (k + 1) % 3]
        g = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(v), len(v)))
        _, lab = connected_components(g, directed=False)
        rep = np.full(lab.max() + 1, len(v), dtype=np.int64)
        np.minimum.at(rep, lab, np.arange(len(v)))  # every vertex moves to the lowest id of its group
        f, _ = _drop_repeated_corner_faces(rep[lab][f])
        collapsed += len(bad)
    else:
        bad = np.flatnonzero(double_areas(v, f) <= 2 * tol)
        if len(bad):
            f = np.delete(f, bad, axis=0)
            dropped = len(bad)
    if len(f) == 0:
        raise MeshError("every face of the mesh has zero area; nothing is left")
    if not (n_rep or collapsed or dropped):
        return StepResult(v, f, None)
    parts = []
    if n_rep:
        parts.append(f"dropped {plural(n_rep, 'face')} with a repeated corner")
    if collapsed:
        parts.append(
            f"removed {plural(collapsed, 'zero-area (degenerate) face')} "
            "by collapsing the shortest edge of each"
        )
    if dropped:
        parts.append(f"dropped {plural(dropped, 'zero-area face')} that collapsing could not remove")
    kind = ActionKind.DEGENERATE if (collapsed or dropped) else ActionKind.REPEATED_CORNER
    v, f = compact(v, f)
    return StepResult(v, f, action(kind, n_rep + collapsed + dropped, "; ".join(parts), where))


def step_duplicate_faces(v: np.ndarray, f: np.ndarray) -> StepResult:
    """Drop faces with the same three corners as an earlier face (in any order)."""
    first, _ = unique_rows(np.sort(f, axis=1))
    if len(first) == len(f):
        return StepResult(v, f, None)
    n = len(f) - len(first)
    return StepResult(
        v, f[np.sort(first)], action(ActionKind.DUPLICATE_FACES, n, f"dropped {plural(n, 'duplicate face')}")
    )


def _drop_fins(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, int]:
    """Drop dangling faces (with more open edges than the others) on edges with 3+ faces; keeps order."""
    dropped = 0
    for _ in range(16):
        et = edge_table(f, len(v))
        nm = np.flatnonzero(et.count > 2)
        if len(nm) == 0:
            break
        open_edges = (et.count[et.of_h] == 1).reshape(-1, 3).sum(axis=1)
        starts = np.concatenate([[0], np.cumsum(et.count)])
        drop: set[int] = set()
        for e in nm:
            faces_e = [int(x) for x in et.order[starts[e] : starts[e + 1]] // 3 if int(x) not in drop]
            score = open_edges[faces_e]
            if len(faces_e) <= 2 or score.max() == score.min():
                continue
            ranked = [faces_e[i] for i in np.argsort(-score, kind="stable")]
            drop.update(fi for fi in ranked[: len(faces_e) - 2] if open_edges[fi] > score.min())
        if not drop:
            break
        keep = np.ones(len(f), dtype=bool)
        keep[list(drop)] = False
        f = f[keep]
        dropped += len(drop)
    return f, dropped


def step_nonmanifold_edges(v: np.ndarray, f: np.ndarray, et: EdgeTable | None = None) -> StepResult:
    """Edges with 3+ faces: drop dangling fins by hand (order kept), then let MeshFix cut the rest apart."""
    et = et if et is not None else edge_table(f, len(v))
    n_nm = et.num_nonmanifold
    if n_nm == 0:
        return StepResult(v, f, None)
    if n_nm > MAX_NONMANIFOLD_EDGES:
        raise MeshError(
            f"{n_nm} edges with more than two faces (non-manifold), too many to repair; clean the mesh in a "
            "modeling tool (e.g. Blender: Select > All by Trait > Non Manifold)"
        )
    where = v[et.edges[et.count > 2][:3, 0]]
    f, n_fins = _drop_fins(v, f)
    left = edge_table(f, len(v)).num_nonmanifold
    parts = []
    if n_fins:
        parts.append(f"dropped {plural(n_fins, 'dangling face')}")
    if left:
        v, f = _arrays(_meshfix(*compact(v, f)))
        if edge_table(f, len(v)).num_nonmanifold:  # pragma: no cover - MeshFix always cuts them
            raise MeshError(
                f"{plural(left, 'edge')} with more than two faces (non-manifold) could not be cut apart; "
                "fix them in a modeling tool (e.g. Blender: Select > All by Trait > Non Manifold)"
            )
        parts.append(f"cut the surface apart at {plural(left, 'edge')} where several sheets meet (MeshFix)")
    words = " and ".join(parts) + f" on {plural(n_nm, 'non-manifold edge')} (edges with 3 or more faces)"
    v, f = compact(v, f)
    return StepResult(v, f, action(ActionKind.NONMANIFOLD_EDGES, n_nm, words, where))


def step_bowties(v: np.ndarray, f: np.ndarray, et: EdgeTable | None = None) -> StepResult:
    """Split each bow-tie vertex into one vertex per fan of faces (the first fan keeps the id)."""
    et = et if et is not None else edge_table(f, len(v))
    n_fans, lab = vertex_fans(f, et)
    if n_fans == np.count_nonzero(np.bincount(f.reshape(-1), minlength=len(v))):  # one fan per used vertex
        return StepResult(v, f, None)
    _, first_corner = np.unique(lab, return_index=True)
    fan_vertex = f.reshape(-1)[first_corner]  # (n_fans,)
    order = np.lexsort((first_corner, fan_vertex))
    is_first = np.ones(n_fans, dtype=bool)
    is_first[order[1:]] = fan_vertex[order[1:]] != fan_vertex[order[:-1]]
    new_ids = np.where(is_first, fan_vertex, 0)
    extra = np.flatnonzero(~is_first)
    new_ids[extra] = len(v) + np.arange(len(extra))
    bow = np.unique(fan_vertex[extra])
    words = (
        f"split {plural(len(bow), 'non-manifold (bow-tie) vertex', 'non-manifold (bow-tie) vertices')} "
        "into one "
        f"vertex per fan of faces (+{plural(len(extra), 'vertex', 'vertices')})"
    )
    return StepResult(
        np.concatenate([v, v[fan_vertex[extra]]]),
        new_ids[lab].reshape(-1, 3),
        action(ActionKind.BOWTIES, len(bow), words, v[bow]),
    )


def step_components(v: np.ndarray, f: np.ndarray, component: str, et: EdgeTable | None = None) -> StepResult:
    """Keep the largest piece (``component="largest"``) or refuse several (``"refuse"``)."""
    n, lab = face_components(f, et if et is not None else edge_table(f, len(v)))
    if n == 1:
        return StepResult(v, f, None)
    sizes = np.bincount(lab)
    if component == "refuse":
        top = ", ".join(str(s) for s in np.sort(sizes)[::-1][:5])
        raise MeshError(
            f"the mesh has {n} separate pieces (faces per piece: {top}{', ...' if n > 5 else ''}); "
            "MeshCNN needs "
            "one piece: keep one, or repair with the largest piece kept"
        )
    keep = lab == int(np.argmax(sizes))
    words = (
        f"kept the largest of {n} separate pieces ({int(keep.sum())} faces); dropped "
        f"{plural(n - 1, 'piece')} with {plural(int((~keep).sum()), 'face')}"
    )
    v2, f2 = compact(v, f[keep])
    return StepResult(v2, f2, action(ActionKind.COMPONENTS, n - 1, words, v[f[~keep][:1, 0]]))


def step_orientation(v: np.ndarray, f: np.ndarray, et: EdgeTable | None = None) -> StepResult:
    """Make the winding consistent (flip the smaller side); refuse non-orientable surfaces."""
    nf = len(f)
    et = et if et is not None else edge_table(f, len(v))
    h1, h2 = et.pairs[:, 0], et.pairs[:, 1]
    fa, fb = h1 // 3, h2 // 3
    start = f.reshape(-1)
    flip_rel = start[h1] == start[h2]  # both half-edges run the same way: one face must flip
    if not flip_rel.any():
        return StepResult(v, f, None)
    r = np.concatenate([fa, fa + nf])  # signed graph on 2F nodes: f and its flipped copy f + F
    c = np.concatenate([np.where(flip_rel, fb + nf, fb), np.where(flip_rel, fb, fb + nf)])
    _, lab = connected_components(
        sp.coo_matrix((np.ones(len(r)), (r, c)), shape=(2 * nf, 2 * nf)), directed=False
    )
    if (lab[:nf] == lab[nf:]).any():
        raise MeshError(
            "the surface is not orientable (like a Moebius strip): its faces cannot be wound consistently; "
            "MeshCNN needs an orientable surface"
        )
    size = np.bincount(lab[:nf], minlength=lab.max() + 1)
    s_keep, s_flip = size[lab[:nf]], size[lab[nf:]]
    flip = (s_keep < s_flip) | ((s_keep == s_flip) & (lab[:nf] > lab[nf:]))
    f = f.copy()
    f[flip] = f[flip][:, [0, 2, 1]]
    n = int(flip.sum())
    return StepResult(
        v,
        f,
        action(ActionKind.ORIENTATION, n, f"flipped {n} of {nf} faces so that the winding is consistent"),
    )


def _border_loops(f: np.ndarray, nv: int, et: EdgeTable | None = None) -> np.ndarray:
    """Boundary edges per border loop. Shapes: ``-> (L,)`` sizes (empty for a closed mesh)."""
    et = et if et is not None else edge_table(f, nv)
    be = et.edges[et.count == 1]
    if len(be) == 0:
        return np.zeros(0, dtype=np.int64)
    nodes, inv = np.unique(be.reshape(-1), return_inverse=True)
    s, d = inv[0::2], inv[1::2]
    _, lab = connected_components(
        sp.coo_matrix((np.ones(len(s)), (s, d)), shape=(len(nodes),) * 2), directed=False
    )
    return np.bincount(lab[s])


def step_holes(v: np.ndarray, f: np.ndarray, fill_holes: bool, et: EdgeTable | None = None) -> StepResult:
    """Keep open borders as they are, or (``fill_holes``) fill every hole with MeshFix."""
    loops = _border_loops(f, len(v), et)
    if len(loops) == 0:
        return StepResult(v, f, None)
    longest = f", the longest {int(loops.max())}" if len(loops) > 1 else ""
    desc = f"{plural(len(loops), 'open border')} ({int(loops.sum())} boundary edges{longest})"
    if not fill_holes:
        return StepResult(
            v,
            f,
            action(
                ActionKind.OPEN_BORDERS,
                0,
                f"kept {desc} as they are (MeshCNN keeps boundary edges; pass --fill-holes to close them)",
            ),
        )
    v2, f2 = _arrays(_fill_with_meshfix(v, f))
    left = _border_loops(f2, len(v2))
    if len(left) or len(f2) <= len(f):
        raise MeshError(
            f"the mesh has {desc} that could not be filled; close them in a modeling tool "
            "(e.g. Blender: Fill, or a watertight remesh)"
        )
    return StepResult(
        v2,
        f2,
        action(
            ActionKind.HOLES_FILLED, len(loops), f"filled {desc} with {len(f2) - len(f)} new faces (MeshFix)"
        ),
    )


def _fill_with_meshfix(v: np.ndarray, f: np.ndarray):
    t = _meshfix(v, f)
    t.fill_small_boundaries(nbe=0, refine=True)
    return t


def step_outward(v: np.ndarray, f: np.ndarray, et: EdgeTable | None = None) -> StepResult:
    """Turn a closed mesh's normals outward (positive signed volume); open meshes are left as they are."""
    if (et if et is not None else edge_table(f, len(v))).num_boundary:
        return StepResult(v, f, None)
    p = v - v.mean(axis=0)
    vol = float(np.einsum("ij,ij->i", p[f[:, 0]], np.cross(p[f[:, 1]], p[f[:, 2]])).sum()) / 6.0
    if vol >= 0:
        return StepResult(v, f, None)
    return StepResult(
        v,
        f[:, [0, 2, 1]],
        action(ActionKind.OUTWARD, len(f), "flipped all faces so that their normals point outward"),
    )
