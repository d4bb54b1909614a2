"""Preflight and repair: turn any user mesh into one a MeshCNN model can take, or say why not.

MeshCNN needs a manifold, consistently oriented triangle mesh in one piece (open borders are fine:
its pooling keeps boundary edges), with no more edges than the model's ``ninput_edges`` and more
than its first pooling target. :func:`preflight` runs these steps, each the identity on a mesh that
does not need it (so a good mesh keeps its vertex and face order, and with it MeshCNN's edge order):

1. refuse oversized inputs (more than :data:`MAX_REPAIR_FACES` faces) at once;
2. cleanup (:mod:`.cleanup`): faces on NaN/inf vertices, duplicate vertices, zero-area and
   duplicate faces, non-manifold edges (dangling fins by hand, the rest cut apart by MeshFix),
   bow-tie vertices, extra pieces, winding; open borders are kept, or filled by MeshFix when
   ``fill_holes``; closed meshes get outward normals;
3. subdivide a mesh too coarse for the model's first pooling at its edge midpoints (same shape);
4. simplify to as close under ``target_edges`` as the surface allows by quadric decimation that
   keeps thin parts and borders (:mod:`.simplify`), cleaning up after each attempt;
5. measure the fidelity of every size change (:mod:`.fidelity`), warning above 2 % mean distance.

Every step that changes something returns a :class:`~.actions.RepairAction` (kind, count, where,
words); ``RepairResult.actions`` are their words. Every refusal is a
:class:`~meshcnn_core.errors.MeshError` that says what is wrong and what to do.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from ..errors import MeshCNNError, MeshError
from .actions import ActionKind, RepairAction, StepResult, action
from .check import MeshCheck, check_mesh, require_ready
from .cleanup import (
    step_bowties,
    step_components,
    step_degenerate,
    step_duplicate_faces,
    step_holes,
    step_indices_and_nonfinite,
    step_merge_vertices,
    step_nonmanifold_edges,
    step_orientation,
    step_outward,
)
from .edges import edge_table, plural
from .fidelity import Fidelity, surface_distance
from .io import Mesh
from .simplify import count_edges, decimate, subdivide_midpoint
from .size import fit_size

__all__ = [
    "MAX_REPAIR_FACES",
    "RepairResult",
    "preflight_sized",
    "RepairAction",
    "ActionKind",
    "MeshCheck",
    "check_mesh",
    "require_ready",
    "preflight",
    "preflight_for_model",
]

MAX_REPAIR_FACES = 2_000_000
SIMPLIFY_SECONDS = 30.0  # simplification gives up after this long (checked between attempts)
MAX_SUBDIVISIONS = 8
PRE_DECIMATE_FACTOR = 10  # meshes above 10 faces per target edge are first cut to that by fast_simplification


@dataclass(frozen=True)
class RepairResult:
    """What :func:`preflight` returns.

    Attributes:
        mesh: the repaired mesh (its ``notes`` end with ``actions``).
        actions: one sentence per step that changed (or checked) something: the steps' words.
        num_edges: edges of the repaired mesh.
        input_vertices, input_faces: size of the mesh handed in.
        changed: whether the vertex or face arrays differ from the input's.
        steps: the structured actions behind ``actions``.
        fidelity: distance of the result from the cleaned input when its size was changed, else None.
    """

    mesh: Mesh
    actions: list[str]
    num_edges: int
    input_vertices: int
    input_faces: int
    changed: bool
    steps: tuple[RepairAction, ...] = field(default=())
    fidelity: Fidelity | None = None


Step = Callable[[np.ndarray, np.ndarray], StepResult]


def _run(v: np.ndarray, f: np.ndarray, steps: list[tuple[Step, bool]]):
    """Run ``(step, reads_edge_table)`` pairs; the edge table is built once per face array, not per step."""
    done = []
    table = None  # (faces object, vertex count, EdgeTable)
    for step, reads_table in steps:
        if reads_table:
            if table is None or table[0] is not f or table[1] != len(v):
                table = (f, len(v), edge_table(f, len(v)))
            v, f, act = step(v, f, et=table[2])
        else:
            v, f, act = step(v, f)
        if act is not None:
            done.append(act)
    return v, f, done


def _cleanup(v, f, *, component: str, fill_holes: bool):
    return _run(
        v,
        f,
        [
            (step_indices_and_nonfinite, False),
            (step_merge_vertices, False),
            (step_degenerate, False),
            (step_duplicate_faces, False),
            (step_nonmanifold_edges, True),
            (step_bowties, True),
            (partial(step_components, component=component), True),
            (step_orientation, True),
            (partial(step_holes, fill_holes=fill_holes), True),
            (step_outward, True),
        ],
    )


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


# ---------------------------------------------------------------- size: subdivide and simplify


def _subdivide(v, f, want_edges: int) -> tuple[np.ndarray, np.ndarray, RepairAction]:
    e0 = e = count_edges(f, len(v))
    k = 0
    while e < want_edges and k < MAX_SUBDIVISIONS:
        v, f = subdivide_midpoint(v, f)
        e, k = count_edges(f, len(v)), k + 1
    words = (
        f"subdivided {plural(k, 'time')} at the edge midpoints (the shape stays the same) from {e0} to {e} "
        "edges, so that the model has edges to pool"
    )
    return v, f, action(ActionKind.SUBDIVIDE, k, words)


def _decimate_clean(v, f, faces: int, *, closed: bool, method: str):
    """Decimate, then clean up; ``(v, f, edges, actions)`` or ``None`` when the result is unusable."""
    try:
        dv, df = decimate(v, f, faces, method=method)
        if len(df) < 4:
            return None
        dv, df, acts = _cleanup(dv, df, component="largest", fill_holes=closed)
        return dv, df, _final_check(dv, df), acts
    except MeshCNNError:
        return None


_TOPOLOGY_KINDS = (ActionKind.COMPONENTS, ActionKind.NONMANIFOLD_EDGES)
_METHOD_WORDS = {
    "vtk": "VTK, thin parts and borders kept",
    "fqms": "fast_simplification, limbs kept in one piece",
}


def _simplify(v, f, target_edges: int, deadline: float, e_in: int):
    """Decimate to the most edges ``<= target_edges`` that a clean mesh allows: ``(v, f, actions)``.

    VTK's decimation first; when its cleanup had to cut pieces off, ``fast_simplification`` too, and
    the result nearer to the input (mean surface distance) is kept.
    """
    pre = None
    if len(f) > PRE_DECIMATE_FACTOR * target_edges:  # a huge mesh: a fast first cut keeps the 3 s budget
        v, f = decimate(v, f, PRE_DECIMATE_FACTOR * target_edges, method="fqms")
        pre = len(f)
    closed = edge_table(f, len(v)).num_boundary == 0
    best = _search(v, f, target_edges, deadline, "vtk", closed)
    method = "vtk"
    if best is None or any(a.kind in _TOPOLOGY_KINDS for a in best[3]):
        other = _search(v, f, target_edges, deadline, "fqms", closed)
        if other is not None and (best is None or _mean_distance(v, f, other) < _mean_distance(v, f, best)):
            best, method = other, "fqms"
    if best is None:
        if time.monotonic() > deadline:
            raise MeshError(
                f"simplifying the mesh took more than {SIMPLIFY_SECONDS:.0f} s; "
                "simplify it in a modeling tool first"
            )
        raise MeshError(
            f"the mesh could not be simplified to at most {target_edges} edges while staying manifold"
        )
    v2, f2, e, acts = best
    first = f"; a first cut to {pre} faces by fast_simplification" if pre else ""
    out = [
        action(
            ActionKind.SIMPLIFY,
            e_in - e,
            f"simplified by quadric decimation ({_METHOD_WORDS[method]}{first}) from {e_in} to {e} edges "
            f"(target: at most {target_edges})",
        )
    ]
    fixed = sorted({a.kind.value.replace("_", " ") for a in acts if a.kind != ActionKind.OPEN_BORDERS})
    if fixed:
        out.append(
            action(
                ActionKind.AFTER_SIMPLIFY,
                sum(a.count for a in acts if a.kind != ActionKind.OPEN_BORDERS),
                "fixed what decimation left behind: " + ", ".join(fixed),
            )
        )
    return v2, f2, out


def _mean_distance(v, f, cand) -> float:
    return surface_distance(v, f, cand[0], cand[1], samples=2000).mean


def _search(v, f, target_edges: int, deadline: float, method: str, closed: bool):
    """The decimation (with cleanup) with the most edges ``<= target_edges``.

    Returns ``(v, f, edges, actions)``, or None when no attempt gave a usable mesh.
    """
    e_in = count_edges(f, len(v))
    faces = int(len(f) * target_edges / e_in)
    best, tried = None, set()
    for _ in range(10):
        if time.monotonic() > deadline:
            break
        faces = int(min(faces, len(f) - 1))
        if faces < 4 or faces in tried:
            break
        tried.add(faces)
        got = _decimate_clean(v, f, faces, closed=closed, method=method)
        if got is None:
            faces -= 2
            continue
        e = got[2]
        if e <= target_edges and (best is None or e > best[2]):
            best = got
        if target_edges - 3 <= e <= target_edges:
            break
        step = int(round((target_edges - e) * 2 / 3))
        faces += step if step else (1 if e < target_edges else -1)
    return best


# ---------------------------------------------------------------- public entry points


def _result_words(n_edges: int, f: np.ndarray, nv: int) -> str:
    b = edge_table(f, nv).num_boundary
    shape = "closed" if b == 0 else f"open ({b} boundary edges kept)"
    return f"{len(f)} faces, {n_edges} edges, {shape}, manifold and in one piece"


def preflight(
    mesh: Mesh,
    *,
    target_edges: int | None = None,
    min_edges: int | None = None,
    component: str = "largest",
    fill_holes: bool = False,
    measure: bool = True,
) -> RepairResult:
    """Repair ``mesh`` and fit it to a MeshCNN model's size, or refuse with a clear message.

    Args:
        mesh: any triangle mesh (triangulate polygons when loading: ``load_mesh(p, triangulate=True)``).
        target_edges: simplify to as close under this many edges as the surface allows (a model's
            ``ninput_edges``); ``None`` keeps the size.
        min_edges: a model's first pooling target: coarser meshes are subdivided, then simplified.
        component: ``"largest"`` keeps the largest piece; ``"refuse"`` refuses meshes in several pieces.
        fill_holes: close open borders with MeshFix's hole filling; by default they are kept.
        measure: measure the fidelity of a size change (two-sided surface distance).

    Returns:
        A :class:`RepairResult`; its ``actions`` list every change made.

    Raises:
        MeshError: the mesh cannot be repaired soundly, or cannot fit ``min_edges``..``target_edges``.
    """
    if component not in ("largest", "refuse"):
        raise ValueError(f"component must be 'largest' or 'refuse', got {component!r}")
    if target_edges is not None and min_edges is not None and min_edges > target_edges:
        raise ValueError(f"min_edges {min_edges} is above target_edges {target_edges}")
    v0, f0 = mesh.vertices, mesh.faces
    if len(f0) > MAX_REPAIR_FACES:
        raise MeshError(
            f"{mesh.name}: {len(f0)} faces is more than the {MAX_REPAIR_FACES} that repair takes; "
            "simplify it in a modeling tool first"
        )
    fid = None
    try:
        v, f, acts = _cleanup(v0, f0, component=component, fill_holes=fill_holes)
        ref_v, ref_f = v, f
        e = count_edges(f, len(v))
        deadline = time.monotonic() + SIMPLIFY_SECONDS
        if min_edges is not None and e < min_edges:
            v, f, act = _subdivide(v, f, target_edges if target_edges is not None else min_edges)
            acts.append(act)
            e = count_edges(f, len(v))
        if target_edges is not None and e > target_edges:
            v, f, more = _simplify(v, f, int(target_edges), deadline, e)
            acts += more
        n_edges = _final_check(v, f)
        if measure and any(a.kind in (ActionKind.SIMPLIFY, ActionKind.SUBDIVIDE) for a in acts):
            fid = surface_distance(ref_v, ref_f, v, f)
            acts.append(action(ActionKind.FIDELITY, 0 if fid.ok else 1, fid.words()))
    except MeshError as exc:
        raise MeshError(f"{mesh.name}: {exc}") from None
    except (
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        MemoryError,
        RuntimeError,
    ) as exc:  # never a raw error
        raise MeshError(
            f"{mesh.name}: the mesh could not be repaired ({type(exc).__name__}: {exc})"
        ) from None
    if min_edges is not None and n_edges < min_edges:
        raise MeshError(
            f"{mesh.name}: the mesh has {n_edges} edges after repair, fewer than the model's first pooling "
            f"target {min_edges}, and subdividing it did not help"
        )
    changed = not (
        v.shape == v0.shape and f.shape == f0.shape and np.array_equal(v, v0) and np.array_equal(f, f0)
    )
    if not changed:
        closed = edge_table(f0, len(v0)).num_boundary == 0
        acts.append(
            action(
                ActionKind.SUMMARY,
                0,
                (
                    f"the mesh is closed, manifold and in one piece with {n_edges} edges: nothing to change"
                    if closed
                    else f"the mesh is manifold and in one piece with {n_edges} edges: nothing to change"
                ),
            )
        )
    else:
        if target_edges is not None and not any(a.kind == ActionKind.SIMPLIFY for a in acts):
            acts.append(
                action(
                    ActionKind.SUMMARY,
                    0,
                    f"{n_edges} edges: within the limit of {target_edges}, not simplified",
                )
            )
        acts.append(action(ActionKind.SUMMARY, 0, "result: " + _result_words(n_edges, f, len(v))))
    words = [a.words for a in acts]
    out = Mesh(v, f, mesh.name, (*mesh.notes, *words)) if changed else Mesh(v0, f0, mesh.name, mesh.notes)
    return RepairResult(out, words, n_edges, len(v0), len(f0), changed, tuple(acts), fid)


def preflight_for_model(
    mesh: Mesh, model, *, component: str = "largest", fill_holes: bool = False
) -> RepairResult:
    """:func:`preflight` with the limits of a loaded model (``ninput_edges``, first ``pool_res``).

    A mesh far from the size of the model's training meshes (``model.input_size``, when the checkpoint
    stores it) is first scaled to it (:func:`meshcnn_core.mesh.size.fit_size`), listed in ``actions``.
    """
    cfg = model.config
    return preflight_sized(
        mesh,
        getattr(model, "input_size", None),
        target_edges=int(cfg.ninput_edges),
        min_edges=int(cfg.pool_res[0]),
        component=component,
        fill_holes=fill_holes,
    )


def preflight_sized(mesh: Mesh, size, **kwargs) -> RepairResult:
    """:func:`preflight` (``kwargs``) on ``mesh`` first scaled to ``size`` (an ``InputSize`` or None).

    The repaired mesh is measured again (pieces it dropped may have set the first scale; scaling keeps
    the edge order); both scalings are listed in ``actions``.
    """
    mesh, scaled = fit_size(mesh, size)
    result = preflight(mesh, **kwargs)
    final, again = fit_size(result.mesh, size)
    steps = [w for w in (scaled, *result.actions, again) if w]
    if len(steps) == len(result.actions):
        return result
    return dataclasses.replace(result, mesh=final, actions=steps, changed=True)
