"""The compiled collapse loop: collapses worked out by hand, skip reasons, invariants, the skip log."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from meshcnn_core import ClassifierConfig, RecordingError, load_recording, record
from meshcnn_core.checkpoint import build_model, checkpoint_dict, load_model, save_checkpoint
from meshcnn_core.mesh.io import Mesh
from meshcnn_core.mesh.topology import MeshTopology, build_topology, topology_faces
from meshcnn_core.nn.pool import PoolRecord, pool_topology
from meshcnn_core.nn.pool_events import PoolStatus, RemovalKind, SkipReason
from meshcnn_core.nn.pool_kernel import collapse_edges
from meshcnn_core.recording import Recording

from .meshes import icosphere, octahedron, torus

M, C, T = RemovalKind.MERGED, RemovalKind.COLLAPSED, RemovalKind.TRIPLET


def _topo(mesh: Mesh) -> MeshTopology:
    return build_topology(mesh.vertices, mesh.faces).topology


def _eid(topo: MeshTopology, a: int, b: int) -> int:
    """Id of the (input) edge between vertices ``a`` and ``b``."""
    hit = [e for e in range(topo.num_edges) if sorted(topo.edges[e].tolist()) == sorted((a, b))]
    assert len(hit) == 1, (a, b)
    return hit[0]


def _priority_first(topo: MeshTopology, first: list[int]) -> np.ndarray:
    """Priorities that pop ``first`` in that order, then every other edge by id."""
    pr = np.arange(topo.num_edges, dtype=np.float32) + 100.0
    pr[first] = np.arange(len(first), dtype=np.float32)
    return pr


def _queue(topo: MeshTopology, first: list[int]) -> np.ndarray:
    rest = [e for e in range(topo.num_edges) if e not in first]
    return np.asarray(first + rest, dtype=np.int64)


def _kernel(topo: MeshTopology, order: np.ndarray, target: int):
    return collapse_edges(order, target, topo.edges, topo.gemm, topo.sides, topo.ve_indptr, topo.ve_indices,
                          topo.positions, topo.vertex_mask)


def _pops(removed, removed_kind, skipped, skip_at) -> list[int]:
    """The popped edges in pop order, rebuilt from the removal log and the skip log."""
    out, s = [], 0
    for i in range(len(removed) + 1):
        while s < len(skipped) and skip_at[s] == i:
            out.append(int(skipped[s]))
            s += 1
        if i < len(removed) and removed_kind[i] == RemovalKind.COLLAPSED:
            out.append(int(removed[i]))
    assert s == len(skipped)
    return out


def _grid(n: int) -> Mesh:
    """An open n x n vertex sheet (vertex ``(i, j)`` has id ``i * n + j``), all diagonals one way."""
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    v = np.stack([i, j, 0.01 * np.sin(i + 2 * j)], -1).reshape(-1, 3).astype(np.float64)
    faces = []
    for a in range(n - 1):
        for b in range(n - 1):
            faces.append([a * n + b, (a + 1) * n + b, (a + 1) * n + b + 1])
            faces.append([a * n + b, (a + 1) * n + b + 1, a * n + b + 1])
    return Mesh(v, np.array(faces), "grid")


# ---------------------------------------------------------------- collapses worked out by hand
#
# Octahedron: vertices 0 (+x), 1 (-x), 2 (+y), 3 (-y), 4 (+z), 5 (-z). Edge (0, 2) lies on faces
# [0, 2, 4] (its first face: it walks 0 -> 2, then 2 -> 4, 4 -> 0) and [2, 0, 5] (2 -> 0, 0 -> 5,
# 5 -> 2). Collapsing it merges, on each face, the edge before it into the edge after it:
# (0, 4) into (2, 4) and (2, 5) into (0, 5); vertex 2 joins vertex 0 at their midpoint.


def test_octahedron_first_collapse_by_hand():
    topo = _topo(octahedron())
    e02, e24, e04, e05, e25 = (_eid(topo, *p) for p in ((0, 2), (2, 4), (0, 4), (0, 5), (2, 5)))
    rec = pool_topology(topo, _priority_first(topo, [e02]), 9)
    assert rec.removed.tolist() == [e04, e25, e02]
    assert rec.removed_kind.tolist() == [M, M, C]
    assert rec.collapsed.tolist() == [e02]
    assert rec.skipped.size == 0  # the first pop collapsed and reached the target
    out = rec.topology_out
    assert out.num_edges == 9
    assert rec.kept.tolist() == sorted(set(range(12)) - {e04, e25, e02})
    groups = {int(rec.kept[r]): rec.groups_indices[rec.groups_indptr[r] : rec.groups_indptr[r + 1]].tolist()
              for r in range(out.num_edges)}
    assert groups[e24] == sorted([e24, e04, e02]) and groups[e05] == sorted([e05, e25, e02])
    assert all(groups[e] == [e] for e in groups if e not in (e24, e05))
    assert not out.vertex_mask[2] and out.vertex_mask.sum() == 5
    np.testing.assert_allclose(out.positions[0], [0.5, 0.5, 0.0])
    assert 2 not in out.edges  # every edge of vertex 2 now ends at vertex 0
    assert sorted(out.edges[rec.kept.tolist().index(e24)].tolist()) == [0, 4]


def test_octahedron_removed_skip_then_triplet_reaches_target():
    # After the collapse above, vertices 4 and 5 have valence 3. Popping (0, 4) (already merged
    # away) is a REMOVED skip. Popping (1, 2): its first face [2, 1, 4] has the valence-3 vertex 4
    # next to it, so the triplet (1, 4), (2, 4), (3, 4) goes (key_a = the edge after (1, 2), key_b
    # = the one before, then the shared far edge); 6 edges are left = the target, so (1, 2)
    # itself is skipped with TARGET_REACHED.
    topo = _topo(octahedron())
    e02, e04, e25, e12, e14, e24, e34 = (_eid(topo, *p) for p in ((0, 2), (0, 4), (2, 5), (1, 2), (1, 4),
                                                                   (2, 4), (3, 4)))
    rec = pool_topology(topo, _priority_first(topo, [e02, e04, e12]), 6)
    assert rec.removed.tolist() == [e04, e25, e02, e14, e24, e34]
    assert rec.removed_kind.tolist() == [M, M, C, T, T, T]
    assert rec.skipped.tolist() == [e04, e12]
    assert rec.skip_reason.tolist() == [SkipReason.REMOVED, SkipReason.TARGET_REACHED]
    assert rec.skip_at.tolist() == [3, 6]
    out = rec.topology_out
    assert out.num_edges == 6 and out.vertex_mask.tolist() == [True, True, False, True, False, True]
    tetrahedron = [[0, 1], [0, 3], [0, 5], [1, 3], [1, 5], [3, 5]]
    assert sorted(map(sorted, out.edges.tolist())) == tetrahedron


def test_boundary_edges_of_an_open_sheet_are_skipped_as_boundary():
    n = 6
    topo = _topo(_grid(n))
    v = lambda i, j: i * n + j  # noqa: E731
    on_rim = _eid(topo, v(0, 0), v(1, 0))  # a boundary edge
    near_rim = _eid(topo, v(1, 0), v(1, 1))  # interior, but (0, 0)-(1, 0) is one of its neighbours
    inside = _eid(topo, v(2, 2), v(3, 3))  # its one-ring is interior, no valence-3 vertex
    res = _kernel(topo, _queue(topo, [on_rim, near_rim, inside]), topo.num_edges - 3)
    assert res.status == PoolStatus.OK
    assert res.skipped.tolist() == [on_rim, near_rim]
    assert res.skip_reason.tolist() == [SkipReason.BOUNDARY, SkipReason.BOUNDARY]
    assert res.skip_at.tolist() == [0, 0]
    assert res.removed_kind.tolist() == [M, M, C] and res.removed[-1] == inside


def test_a_non_face_triangle_makes_the_one_ring_invalid():
    # On a torus with 3 vertices around the tube, the tube's circles are triangles that are not
    # faces: the end points of an edge on such a circle share 3 neighbours (the two face apexes
    # and the circle's third vertex), so MeshCNN refuses to collapse it.
    n_minor = 3
    topo = _topo(torus(8, n_minor, jitter=0.0))
    on_circle = _eid(topo, 0, 1)  # vertices (0, 0) and (0, 1)
    res = _kernel(topo, _queue(topo, [on_circle]), topo.num_edges - 3)
    assert res.skipped.tolist()[:1] == [on_circle]
    assert res.skip_reason.tolist()[:1] == [SkipReason.INVALID_ONE_RING]
    assert res.skip_at.tolist()[:1] == [0]


# ---------------------------------------------------------------- invariants


def _check_pooled(topo: MeshTopology, rec: PoolRecord, target: int, chi: int) -> None:
    out = rec.topology_out
    # exact edge counts: the target or 1-2 below; each collapse removes 3, each triplet 3
    assert target - 2 <= out.num_edges <= target
    assert len(rec.removed) == topo.num_edges - out.num_edges
    kinds = np.bincount(rec.removed_kind, minlength=3)
    assert kinds[M] == 2 * kinds[C] and kinds[T] % 3 == 0
    assert out.vertex_mask.sum() == topo.vertex_mask.sum() - kinds[C] - kinds[T] // 3
    # gemm reciprocity on every non-boundary slot
    e, i = np.nonzero(out.gemm != -1)
    assert (out.gemm[out.gemm[e, i], out.sides[e, i]] == e).all()
    # Euler characteristic kept; the alive vertices are exactly those used by edges
    assert np.array_equal(np.unique(out.edges), np.flatnonzero(out.vertex_mask))
    assert out.vertex_mask.sum() - out.num_edges + len(topology_faces(out)) == chi
    # the skip log and the collapses interleave into the queue order
    order = np.lexsort((np.arange(topo.num_edges), rec.priority.astype(np.float64)))
    pops = _pops(rec.removed, rec.removed_kind, rec.skipped, rec.skip_at)
    assert pops == order[: len(pops)].tolist()
    assert np.all(np.diff(rec.skip_at) >= 0)
    assert set(np.unique(rec.skip_reason)) <= set(SkipReason)
    for edge, reason, at in zip(rec.skipped, rec.skip_reason, rec.skip_at):
        assert (reason == SkipReason.REMOVED) == (edge in rec.removed[:at])


@pytest.mark.parametrize(
    "mesh, chi", [(icosphere(2), 2), (icosphere(3, seed=4), 2), (torus(20, 10), 0), (_grid(14), 1)]
)
@pytest.mark.parametrize("seed", [0, 1])
def test_pooling_invariants(mesh, chi, seed):
    topo = _topo(mesh)
    rng = np.random.default_rng(seed)
    shrink = (0.9, 0.8, 0.7) if mesh.name == "grid" else (0.8, 0.6, 0.45)
    for frac in shrink:
        target = int(topo.num_edges * frac)
        rec = pool_topology(topo, rng.random(topo.num_edges).astype(np.float32), target)
        _check_pooled(topo, rec, target, chi)
        topo = rec.topology_out


def test_kernel_is_pure():
    # The topology's arrays are read-only, so a kernel that wrote into its inputs would not compile.
    topo = _topo(icosphere(2))
    order = np.random.default_rng(0).permutation(topo.num_edges)
    a = _kernel(topo, order, 300)
    b = _kernel(topo, order, 300)
    for f in a._fields:
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    for f in ("edges", "gemm", "sides", "positions", "vertex_mask"):
        assert not np.shares_memory(getattr(a, f), getattr(topo, f))
        assert not np.array_equal(getattr(a, f), getattr(topo, f))  # it did change its own copy


# ---------------------------------------------------------------- the skip log in a recording

SMALL = ClassifierConfig(nclasses=4, ncf=(8, 16, 16), pool_res=(400, 300, 200), ninput_edges=480,
                         norm="group", num_groups=4)


def _save(rec, path):
    rec.save(path)
    return path


def _recording(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "m.pt"
    save_checkpoint(path, checkpoint_dict(build_model(SMALL), SMALL, list("abcd"), np.zeros(5), np.ones(5)))
    return record(load_model(path, device="cpu"), icosphere(2, seed=5))


def test_recording_keeps_the_skip_log_in_queue_order(tmp_path):
    rec = load_recording(_save(_recording(tmp_path), tmp_path / "r.npz"))
    assert rec.format_version == 2
    pooled = [k for k in range(rec.num_stages - 1) if rec.stage(k + 1).kind == "pool"]
    assert pooled == [0, 1, 2]
    for k in pooled:
        st = rec.stage(k)
        assert st.skip_reason.dtype == np.int8 and st.skip_at.dtype == np.int64
        queue = st.edge_ids[np.lexsort((np.arange(st.num_edges), st.priority.astype(np.float64)))]
        pops = _pops(st.removed_order, st.removed_kind, st.skipped, st.skip_at)
        assert len(pops) > len(st.collapse_order) and pops == queue[: len(pops)].tolist()
    last = rec.stage(rec.num_stages - 1)
    assert last.skipped.size == 0 and last.skip_at.size == 0


def test_version_1_recordings_load_without_skip_log(tmp_path):
    arrays = dict(_recording(tmp_path).arrays)
    v1 = {k: v for k, v in arrays.items() if not k.endswith(("_skipped", "_skip_reason", "_skip_at"))}
    v1["format_version"] = np.asarray(1, dtype=np.int64)
    old = load_recording(_save(Recording(v1), tmp_path / "v1.npz"))
    assert old.format_version == 1
    st = old.stage(0)
    assert st.skipped.size == 0 and st.skip_reason.dtype == np.int8 and st.skip_at.size == 0
    assert np.array_equal(st.removed_order, arrays["stage0_removed_order"])
    # a version-2 file must have them
    v2 = {k: v for k, v in arrays.items() if k != "stage1_skip_at"}
    with pytest.raises(RecordingError, match="stage 1 lacks 'skip_at'"):
        load_recording(_save(Recording(v2), tmp_path / "v2.npz"))
