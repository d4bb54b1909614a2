"""Preflight and repair: turn any user mesh into one a MeshCNN model can take, or say why not.

MeshCNN needs a closed, manifold, consistently oriented triangle mesh in one piece, with no more
edges than the model's ``ninput_edges`` and more than its first pooling target. :func:`preflight`
runs these steps, each of which is the identity on a mesh that does not need it (so a good mesh
keeps its vertex and face order, and with it MeshCNN's edge numbering):

1. refuse oversized inputs (more than :data:`MAX_REPAIR_FACES` faces) at once;
2. drop unreferenced vertices, and faces on NaN/inf vertices;
3. merge duplicate vertices (within ``1e-9`` of the bounding-box diagonal);
4. drop faces with a repeated corner; collapse the shortest edge of zero/near-zero area faces;
5. drop duplicate faces (the same three corners in any order);
6. drop dangling faces on non-manifold edges (edges with 3+ faces), else refuse;
7. split non-manifold (bow-tie) vertices into one vertex per fan of faces;
8. keep the largest connected component (or refuse, ``component="refuse"``);
9. make the winding consistent (refuse non-orientable surfaces);
10. fill small holes with a fan of triangles, else refuse;
11. turn the normals outward (positive volume);
12. simplify with quadric decimation (``fast_simplification``) to as close under ``target_edges``
    as the surface allows, cleaning up after each pass, and refuse below ``min_edges``.

Every step that changes something appends a sentence to ``RepairResult.actions``. Every refusal is a
:class:`~meshcnn_core.errors.MeshError` that says what is wrong and what to do. The read-only
diagnosis (:func:`check_mesh`, :func:`require_ready`) lives in :mod:`meshcnn_core.mesh.check` and
is re-exported here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..errors import MeshCNNError, MeshError
from .check import (
    _LAST_TABLE,
    AREA_TOL,
    MeshCheck,
    _areas2,
    _compact,
    _diag,
    _edge_table,
    _Edges,
    _face_components,
    _fans,
    _plural,
    _unique_rows,
    _where,
    check_mesh,
    require_ready,
)
from .io import Mesh

__all__ = [
    "MAX_REPAIR_FACES",
    "RepairResult",
    "MeshCheck",
    "check_mesh",
    "require_ready",
    "preflight",
    "preflight_for_model",
]

MAX_REPAIR_FACES = 2_000_000
MERGE_TOL = 1e-9  # relative to the bounding-box diagonal
MAX_NONMANIFOLD_EDGES = 10_000
HOLE_MAX_EDGES = 64  # a hole is filled when its loop is at most this long ...
HOLE_MAX_FRACTION = 0.05  # ... and at most this fraction of the mesh's edges
SIMPLIFY_SECONDS = 30.0  # simplification gives up after this long (checked between decimation passes)


@dataclass(frozen=True)
class RepairResult:
    """What :func:`preflight` returns.

    Attributes:
        mesh: the repaired mesh (its ``notes`` end with ``actions``).
        actions: one human-readable sentence per step that changed something (or checked it).
        num_edges: edges of the repaired mesh (``3 F / 2`` for a closed triangle mesh).
        input_vertices, input_faces: size of the mesh handed in.
        changed: whether the vertex or face arrays differ from the input's.
    """

    mesh: Mesh
    actions: list[str]
    num_edges: int
    input_vertices: int
    input_faces: int
    changed: bool


# ---------------------------------------------------------------- the repair steps
# Each takes (v, f, log) and returns (v, f); ``log`` collects the action sentences.


def _step_indices_and_nonfinite(v, f, log):
    if len(f) == 0:
        raise MeshError("the mesh has no faces")
    if f.min() < 0 or f.max() >= len(v):
        raise MeshError("a face refers to a vertex id outside the vertex list; the file is corrupt")
    bad_v = ~np.isfinite(v).all(axis=1)
    if bad_v.any():
        bad_f = bad_v[f].any(axis=1)
        if bad_f.any():
            f = f[~bad_f]
            log.append(
                f"dropped {_plural(int(bad_f.sum()), 'face')} on {_plural(int(bad_v.sum()), 'vertex', 'vertices')} "
                "with NaN or infinite coordinates"
            )
            if len(f) == 0:
                raise MeshError("every face uses a vertex with NaN or infinite coordinates; nothing is left")
    n_before = len(v)
    v, f = _compact(v, f)
    if len(v) < n_before and not bad_v.any():
        log.append(f"removed {_plural(n_before - len(v), 'vertex', 'vertices')} that no face uses")
    return v, f


def _step_merge_vertices(v, f, log):
    tol = MERGE_TOL * _diag(v)
    q = np.round((v - v.min(axis=0)) / tol).astype(np.int64)
    first, inv = _unique_rows(q)
    if len(first) == len(v):
        return v, f
    # keep the first occurrence of each position, in the original vertex order
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    new_id = rank[inv]
    log.append(f"merged {_plural(len(v) - len(first), 'duplicate vertex', 'duplicate vertices')}")
    return v[np.sort(first)], new_id[f]


def _drop_repeated_corner_faces(f):
    ok = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])
    return f[ok], int((~ok).sum())


def _step_degenerate(v, f, log):
    f, n_rep = _drop_repeated_corner_faces(f)
    if n_rep:
        log.append(f"dropped {_plural(n_rep, 'face')} with a repeated corner")
    tol = AREA_TOL * _diag(v) ** 2
    collapsed = 0
    for _ in range(8):
        if len(f) == 0:
            break
        bad = np.flatnonzero(_areas2(v, f) <= 2 * tol)
        if len(bad) == 0:
            break
        fb = f[bad]
        lens = np.stack([np.linalg.norm(v[fb[:, i]] - v[fb[:, (i + 1) % 3]], axis=1) for i in range(3)], axis=1)
        k = np.argmin(lens, axis=1)
        a = fb[np.arange(len(fb)), k]
        b = fb[np.arange(len(fb)), (k + 1) % 3]
        g = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(v), len(v)))
        _, lab = connected_components(g, directed=False)
        # every vertex moves to the lowest id of its collapse group
        rep = np.full(lab.max() + 1, len(v), dtype=np.int64)
        np.minimum.at(rep, lab, np.arange(len(v)))
        f = rep[lab][f]
        f, _ = _drop_repeated_corner_faces(f)
        collapsed += len(bad)
    else:
        bad = np.flatnonzero(_areas2(v, f) <= 2 * tol)
        if len(bad):
            f = np.delete(f, bad, axis=0)
            log.append(f"dropped {_plural(len(bad), 'zero-area face')} that collapsing could not remove")
    if collapsed:
        log.append(
            f"removed {_plural(collapsed, 'zero-area (degenerate) face')} by collapsing the shortest edge of each"
        )
    if len(f) == 0:
        raise MeshError("every face of the mesh has zero area; nothing is left")
    return _compact(v, f)


def _step_duplicate_faces(v, f, log):
    first, _ = _unique_rows(np.sort(f, axis=1))
    if len(first) == len(f):
        return v, f
    log.append(f"dropped {_plural(len(f) - len(first), 'duplicate face')}")
    return v, f[np.sort(first)]


def _step_nonmanifold_edges(v, f, log):
    et = _edge_table(f, len(v))
    if (et.count <= 2).all():
        return v, f
    n_nm = int((et.count > 2).sum())
    if n_nm > MAX_NONMANIFOLD_EDGES:
        raise MeshError(
            f"{n_nm} edges with more than two faces (non-manifold), too many to repair; clean the mesh in a "
            "modeling tool (e.g. Blender: Select > All by Trait > Non Manifold)"
        )
    dropped = 0
    for _ in range(16):
        et = _edge_table(f, len(v))
        nm = np.flatnonzero(et.count > 2)
        if len(nm) == 0:
            break
        # faces on a non-manifold edge, scored by how many of their edges are open (a dangling fin)
        open_edges = (et.count[et.of_h] == 1).reshape(-1, 3).sum(axis=1)
        order = et.order
        starts = np.concatenate([[0], np.cumsum(et.count)])
        drop = set()
        for e in nm:
            faces_e = order[starts[e]:starts[e + 1]] // 3
            faces_e = [int(x) for x in faces_e if int(x) not in drop]
            score = open_edges[faces_e]
            if len(faces_e) <= 2 or score.max() == score.min():
                continue
            ranked = [faces_e[i] for i in np.argsort(-score, kind="stable")]
            for fi in ranked[: len(faces_e) - 2]:
                if open_edges[fi] > score.min():
                    drop.add(fi)
        if not drop:
            break
        keep = np.ones(len(f), dtype=bool)
        keep[list(drop)] = False
        f = f[keep]
        dropped += len(drop)
    et = _edge_table(f, len(v))
    nm = np.flatnonzero(et.count > 2)
    if len(nm):
        where = ", ".join(f"{_where(v, et.edges[e])}" for e in nm[:2])
        raise MeshError(
            f"{_plural(len(nm), 'edge')} with more than two faces (non-manifold) where no face can be dropped "
            "soundly; "
            f"e.g. the edge between {where}. Fix them in a modeling tool "
            "(e.g. Blender: Select > All by Trait > Non Manifold)"
        )
    log.append(
        f"dropped {_plural(dropped, 'dangling face')} on {_plural(n_nm, 'non-manifold edge')} "
        "(edges with 3 or more faces)"
    )
    return _compact(v, f)


def _step_bowties(v, f, log):
    et = _edge_table(f, len(v))
    n_fans, lab = _fans(f, et)
    n_used = len(np.unique(f))
    if n_fans == n_used:
        return v, f
    corner_v = f.reshape(-1)
    # the first fan of each vertex keeps its id; every further fan gets a new vertex
    _, first_corner = np.unique(lab, return_index=True)
    fan_vertex = corner_v[first_corner]  # (n_fans,)
    order = np.lexsort((first_corner, fan_vertex))
    is_first = np.ones(n_fans, dtype=bool)
    is_first[order[1:]] = fan_vertex[order[1:]] != fan_vertex[order[:-1]]
    new_ids = np.where(is_first, fan_vertex, 0)
    extra = np.flatnonzero(~is_first)
    new_ids[extra] = len(v) + np.arange(len(extra))
    bow = np.unique(fan_vertex[extra])
    v2 = np.concatenate([v, v[fan_vertex[extra]]])
    f2 = new_ids[lab].reshape(-1, 3)
    log.append(
        f"split {_plural(len(bow), 'non-manifold (bow-tie) vertex', 'non-manifold (bow-tie) vertices')} into one "
        f"vertex per fan of faces (+{_plural(len(extra), 'vertex', 'vertices')}), e.g. at {_where(v, bow[:2])}"
    )
    return v2, f2


def _step_components(v, f, log, component):
    et = _edge_table(f, len(v))
    n, lab = _face_components(f, et)
    if n == 1:
        return v, f
    sizes = np.bincount(lab)
    if component == "refuse":
        top = ", ".join(str(s) for s in np.sort(sizes)[::-1][:5])
        raise MeshError(
            f"the mesh has {n} separate pieces (faces per piece: {top}{', ...' if n > 5 else ''}); MeshCNN needs "
            "one piece: keep one, or repair with the largest piece kept"
        )
    keep = lab == int(np.argmax(sizes))
    log.append(
        f"kept the largest of {n} separate pieces ({int(keep.sum())} faces); dropped "
        f"{_plural(n - 1, 'piece')} with {_plural(int((~keep).sum()), 'face')}"
    )
    return _compact(v, f[keep])


def _step_orientation(v, f, log):
    nf = len(f)
    et = _edge_table(f, len(v))
    h1, h2 = et.pairs[:, 0], et.pairs[:, 1]
    fa, fb = h1 // 3, h2 // 3
    start = f.reshape(-1)
    flip_rel = start[h1] == start[h2]  # both half-edges run the same way: one face must flip
    if not flip_rel.any():
        return v, f
    # signed graph on 2F nodes: f and its flipped copy f + F
    r = np.concatenate([fa, fa + nf])
    c = np.concatenate([np.where(flip_rel, fb + nf, fb), np.where(flip_rel, fb, fb + nf)])
    g = sp.coo_matrix((np.ones(len(r)), (r, c)), shape=(2 * nf, 2 * nf))
    _, lab = connected_components(g, directed=False)
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
    log.append(f"flipped {int(flip.sum())} of {nf} faces so that the winding is consistent")
    return v, f


def _hole_loops(f: np.ndarray, et: _Edges) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boundary half-edges ``(u -> v)`` reversed into hole edges, and each one's loop label."""
    h = np.flatnonzero(et.count[et.of_h] == 1)
    a = f.reshape(-1)[h]
    b = f.reshape(-1)[3 * (h // 3) + (h % 3 + 1) % 3]
    src, dst = b, a  # the hole runs against the faces' winding
    nodes, inv = np.unique(np.concatenate([src, dst]), return_inverse=True)
    s, d = inv[: len(src)], inv[len(src):]
    g = sp.coo_matrix((np.ones(len(s)), (s, d)), shape=(len(nodes), len(nodes)))
    _, lab = connected_components(g, directed=False)
    return src, dst, lab[s]


def _step_holes(v, f, log, fill_holes):
    et = _edge_table(f, len(v))
    if (et.count == 2).all():
        return v, f
    n_edges = len(et.edges)
    src, dst, loop = _hole_loops(f, et)
    sizes = np.bincount(loop)
    limit = int(min(HOLE_MAX_EDGES, HOLE_MAX_FRACTION * n_edges)) if fill_holes else 0
    big = np.flatnonzero(sizes > limit)
    if len(big):
        worst = int(big[np.argmax(sizes[big])])
        around = v[src[loop == worst]].mean(axis=0)
        raise MeshError(
            f"the mesh is open: {_plural(len(sizes), 'hole')} ({int(sizes.sum())} boundary edges), the largest with "
            f"{int(sizes[worst])} edges around ({', '.join(f'{c:.4g}' for c in around)}); MeshCNN needs a "
            "closed surface. "
            + (f"Only small holes (at most {HOLE_MAX_EDGES} edges and {HOLE_MAX_FRACTION:.0%} of the mesh's "
               "edges) are filled automatically; close this one" if fill_holes else "Close the holes")
            + " in a modeling tool (e.g. Blender: Fill, or a watertight remesh)"
        )
    succ = dict(zip(src.tolist(), dst.tolist()))
    if len(succ) != len(src):  # pragma: no cover - bow-ties are split before this step
        raise MeshError("a vertex lies on two holes at once; the boundary cannot be filled soundly")
    new_v, new_f = [], []
    nv = len(v)
    _, first = np.unique(loop, return_index=True)  # one boundary vertex of each loop
    for k in range(len(sizes)):
        start = int(src[first[k]])
        cyc = [start]
        while succ[cyc[-1]] != start:
            cyc.append(succ[cyc[-1]])
            if len(cyc) > sizes[k]:  # pragma: no cover - guarded by the loop labels
                raise MeshError("a hole's boundary is not a simple loop; it cannot be filled soundly")
        if len(cyc) == 3:
            new_f.append(cyc)
            continue
        c = nv + len(new_v)
        new_v.append(v[cyc].mean(axis=0))
        new_f.extend([cyc[i], cyc[(i + 1) % len(cyc)], c] for i in range(len(cyc)))
    v2 = np.concatenate([v, np.asarray(new_v).reshape(-1, 3)])
    f_add = np.asarray(new_f, dtype=np.int64)
    if (_areas2(v2, f_add) <= 2 * AREA_TOL * _diag(v2) ** 2).any():
        raise MeshError("a hole cannot be filled without degenerate triangles; close it in a modeling tool")
    log.append(
        f"filled {_plural(len(sizes), 'small hole')} ({int(sizes.sum())} boundary edges, largest "
        f"{int(sizes.max())}) with {len(f_add)} new faces"
    )
    return v2, np.concatenate([f, f_add])


def _step_outward(v, f, log):
    c = v.mean(axis=0)
    p = v - c
    vol = float(np.einsum("ij,ij->i", p[f[:, 0]], np.cross(p[f[:, 1]], p[f[:, 2]])).sum()) / 6.0
    if vol >= 0:
        return v, f
    log.append("flipped all faces so that their normals point outward")
    return v, f[:, [0, 2, 1]]


def _clean(v, f, log, *, component: str, fill_holes: bool) -> tuple[np.ndarray, np.ndarray]:
    v, f = _step_indices_and_nonfinite(v, f, log)
    v, f = _step_merge_vertices(v, f, log)
    v, f = _step_degenerate(v, f, log)
    v, f = _step_duplicate_faces(v, f, log)
    v, f = _step_nonmanifold_edges(v, f, log)
    v, f = _step_bowties(v, f, log)
    v, f = _step_components(v, f, log, component)
    v, f = _step_orientation(v, f, log)
    v, f = _step_holes(v, f, log, fill_holes)
    v, f = _step_outward(v, f, log)
    return v, f


def _final_check(v: np.ndarray, f: np.ndarray) -> int:
    """Edges of a mesh that MeshCNN can take, else a MeshError."""
    from .features import extract_features
    from .topology import build_topology

    chk = check_mesh(Mesh(v, f))
    if chk.problems:
        raise MeshError("; ".join(chk.problems))
    topo, kept, _ = build_topology(v, f)
    if len(kept) != len(f):
        raise MeshError(f"{len(f) - len(kept)} faces repeat an oriented edge")
    extract_features(topo)
    return topo.num_edges


# ---------------------------------------------------------------- simplification


def _decimate_clean(v: np.ndarray, f: np.ndarray, count: int, log: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Quadric decimation to ``count`` faces, then the cleanup steps; ``None`` if that fails.

    Decimation now and then folds a thin part into an edge with four faces that cannot be
    repaired; then it is retried with another aggressiveness (a different collapse order). The
    cleanup's actions are added to ``log`` only on success.
    """
    import fast_simplification

    for agg in (7.0, 4.0, 10.0):
        sv, sf = fast_simplification.simplify(np.array(v, dtype=np.float64), np.asarray(f, dtype=np.int32),
                                              target_count=int(count), agg=agg)
        step_log: list[str] = []
        try:
            out = _clean(np.asarray(sv, np.float64), np.asarray(sf, np.int64), step_log, component="largest",
                         fill_holes=True)
        except MeshCNNError:
            continue
        log.extend(step_log)
        return out
    return None


def _out_of_time(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise MeshError(
            f"simplifying the mesh took more than {SIMPLIFY_SECONDS:.0f} s; simplify it in a modeling tool first"
        )


def _search(base_v, base_f, target_edges: int, deadline: float):
    """Decimate ``base`` to the most edges ``<= target_edges``: ``(edges, v, f, log)`` or ``None``."""
    goal = 2 * (target_edges // 3)
    best = None
    tried: set[int] = set()
    count = goal
    if len(base_f) > 32 * goal:  # the coarse passes failed on a huge mesh: searching from it is too slow
        return None
    for _ in range(8):
        _out_of_time(deadline)
        count = int(min(count, len(base_f) - 2))
        if count < 4 or count in tried:
            break
        tried.add(count)
        cand_log: list[str] = []
        step = _decimate_clean(base_v, base_f, count, cand_log)
        try:
            e = _final_check(*step) if step is not None else None
        except MeshCNNError:
            e = None
        if e is None:
            count -= 2
            continue
        if e <= target_edges and (best is None or e > best[0]):
            best = (e, step[0], step[1], cand_log)
        if target_edges - 3 <= e <= target_edges:
            break
        count += 2 * ((target_edges - e) // 3) if e < target_edges else -2 * max(1, -(-(e - target_edges) // 3))
    return best


def _simplify(v, f, target_edges: int, log) -> tuple[np.ndarray, np.ndarray]:
    """Quadric decimation to the most edges ``<= target_edges`` that a clean closed mesh allows."""
    e_in = 3 * len(f) // 2
    goal = 2 * (target_edges // 3)  # faces of a closed mesh with at most target_edges edges (even)
    if goal < 4:
        raise MeshError(f"cannot simplify to {target_edges} edges: a closed mesh needs at least 6")
    # coarse passes, each with a cleanup: one big cut on huge meshes, then halvings down to 2x the goal
    # (one deep cut lets thin parts collapse into non-manifold knots; halvings keep them clean)
    deadline = time.monotonic() + SIMPLIFY_SECONDS
    bases = [(v, f, [])]
    while len(bases[-1][1]) > 2 * goal:
        _out_of_time(deadline)
        base_v, base_f, _ = bases[-1]
        count = 16 * goal if len(base_f) > 32 * goal else max(len(base_f) // 2, 2 * goal)
        step_log: list[str] = []
        step = _decimate_clean(base_v, base_f, count, step_log)
        if step is None or len(step[1]) >= len(base_f):
            break
        bases.append((step[0], step[1], bases[-1][2] + step_log))
    best, base_log = None, []
    for base_v, base_f, b_log in reversed(bases[-3:]):  # if the finest fails, start from coarser bases
        best, base_log = _search(base_v, base_f, target_edges, deadline), b_log
        if best is not None:
            break
    if best is None:
        raise MeshError(
            f"the mesh could not be simplified to at most {target_edges} edges while staying closed and manifold"
        )
    e, v2, f2, cand_log = best
    log.append(f"simplified by quadric decimation from {e_in} to {e} edges (target: at most {target_edges})")
    kinds = {"duplicate": "duplicate faces", "non-manifold edge": "faces on non-manifold edges",
             "bow-tie": "bow-tie vertices", "pieces": "small detached pieces", "hole": "small holes",
             "zero-area": "zero-area faces", "winding": "inconsistent winding"}
    fixed = [name for key, name in kinds.items() if any(key in a for a in base_log + cand_log)]
    if fixed:
        log.append("fixed what decimation left behind: " + ", ".join(fixed))
    return v2, f2


# ---------------------------------------------------------------- public entry points


def preflight(
    mesh: Mesh,
    *,
    target_edges: int | None = None,
    min_edges: int | None = None,
    component: str = "largest",
    fill_holes: bool = True,
) -> RepairResult:
    """Repair ``mesh`` and simplify it for a MeshCNN model, or refuse with a clear message.

    Args:
        mesh: any triangle mesh (triangulate polygons when loading: ``load_mesh(p, triangulate=True)``).
        target_edges: simplify to as close under this many edges as the surface allows (a model's
            ``ninput_edges``); ``None`` keeps the size.
        min_edges: refuse if the result has fewer edges (a model's first pooling target).
        component: ``"largest"`` keeps the largest piece; ``"refuse"`` refuses meshes in several pieces.
        fill_holes: fill small holes; ``False`` refuses any open mesh.

    Returns:
        A :class:`RepairResult`; its ``actions`` list every change made.

    Raises:
        MeshError: the mesh cannot be repaired soundly, or does not fit ``min_edges``.
    """
    if component not in ("largest", "refuse"):
        raise ValueError(f"component must be 'largest' or 'refuse', got {component!r}")
    v0, f0 = mesh.vertices, mesh.faces
    if len(f0) > MAX_REPAIR_FACES:
        raise MeshError(
            f"{mesh.name}: {len(f0)} faces is more than the {MAX_REPAIR_FACES} that repair takes; "
            "simplify it in a modeling tool first"
        )
    log: list[str] = []
    try:
        v, f = _clean(v0, f0, log, component=component, fill_holes=fill_holes)
        if target_edges is not None and 3 * len(f) // 2 > target_edges:
            v, f = _simplify(v, f, int(target_edges), log)
        n_edges = _final_check(v, f)
    except MeshError as exc:
        raise MeshError(f"{mesh.name}: {exc}") from None
    except (ValueError, TypeError, IndexError, KeyError, MemoryError, RuntimeError) as exc:  # never a raw error
        raise MeshError(f"{mesh.name}: the mesh could not be repaired ({type(exc).__name__}: {exc})") from None
    finally:
        _LAST_TABLE.value = None  # do not keep a big mesh's tables alive
    if min_edges is not None and n_edges < min_edges:
        raise MeshError(
            f"{mesh.name}: the mesh has {n_edges} edges after repair, fewer than the model's first pooling "
            f"target {min_edges}; use a finer mesh (subdivide it in a modeling tool)"
        )
    changed = not (v.shape == v0.shape and f.shape == f0.shape and np.array_equal(v, v0) and np.array_equal(f, f0))
    if not changed:
        log.append(f"the mesh is closed, manifold and in one piece with {n_edges} edges: nothing to change")
    else:
        if target_edges is not None and not any(a.startswith("simplified") for a in log):
            log.append(f"{n_edges} edges: within the limit of {target_edges}, not simplified")
        log.append(f"result: {len(f)} faces, {n_edges} edges, closed, manifold and in one piece")
    out = Mesh(v, f, mesh.name, (*mesh.notes, *log)) if changed else Mesh(v0, f0, mesh.name, mesh.notes)
    return RepairResult(out, log, n_edges, len(v0), len(f0), changed)


def preflight_for_model(mesh: Mesh, model, *, component: str = "largest") -> RepairResult:
    """:func:`preflight` with the limits of a loaded model (``ninput_edges``, first ``pool_res``)."""
    cfg = model.config
    return preflight(mesh, target_edges=int(cfg.ninput_edges), min_edges=int(cfg.pool_res[0]), component=component)
