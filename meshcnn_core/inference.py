"""Running a model on a mesh and recording every stage: :func:`prepare`, :func:`record`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
import torch

from .checkpoint import LoadedModel
from .errors import MeshError
from .mesh.features import extract_features, normalize_features
from .mesh.io import Mesh
from .mesh.topology import MeshTopology, build_topology, topology_faces
from .nn.pool_events import RemovalKind
from .recording import FORMAT_VERSION, Recording

__all__ = ["PreparedMesh", "prepare", "record", "run", "model_input"]


@dataclass(frozen=True)
class PreparedMesh:
    """A mesh ready for a model: topology, raw features, kept faces and edge area weights."""

    mesh: Mesh
    topology: MeshTopology
    faces: np.ndarray
    features: np.ndarray
    edge_areas: np.ndarray


def prepare(mesh: Mesh) -> PreparedMesh:
    """Topology and the 5 raw features of a mesh (cached by content)."""
    topo, faces, areas = build_topology(mesh.vertices, mesh.faces)
    return PreparedMesh(mesh, topo, faces, extract_features(topo), areas)


def _check_fits(model: LoadedModel, prep: PreparedMesh) -> None:
    cfg = model.config
    e = prep.topology.num_edges
    if e > cfg.ninput_edges:
        raise MeshError(
            f"the mesh has {e} edges but the model takes at most {cfg.ninput_edges}; simplify it "
            "(the app and 'repair' do this for you)"
        )
    if e < cfg.pool_res[0]:
        raise MeshError(
            f"the mesh has {e} edges, fewer than the model's first pooling target {cfg.pool_res[0]}"
        )


def model_input(model: LoadedModel, prep: PreparedMesh) -> torch.Tensor:
    """The normalized, padded input features the network takes. Shapes: ``-> (1, 5, ninput_edges)``.

    Feed it (or a modified copy) to ``model.net(x, [prep.topology])``; :func:`run` does exactly that.

    Raises:
        MeshError: the mesh does not fit the model.
    """
    _check_fits(model, prep)
    x = normalize_features(prep.features, model.mean, model.std, model.config.ninput_edges)
    return torch.from_numpy(x).unsqueeze(0).to(model.device)  # (1, 5, ninput_edges)


def run(model: LoadedModel, prep: PreparedMesh):
    """One eval forward pass. Returns the network's :class:`NetOutput` (batch of 1)."""
    x_t = model_input(model, prep)  # (1, 5, ninput_edges)
    with torch.no_grad():
        return model.net(x_t, [prep.topology])


def _identity_csr(n: int) -> sp.csr_matrix:
    return sp.identity(n, dtype=np.int8, format="csr")


def _csr(indptr: np.ndarray, indices: np.ndarray, n_cols: int) -> sp.csr_matrix:
    data = np.ones(len(indices), dtype=np.int8)
    return sp.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, n_cols))


def record(model: LoadedModel, mesh: Mesh | PreparedMesh) -> Recording:
    """Run ``model`` on ``mesh`` and record every stage.

    Pure: writes no files and mutates nothing shared; the same inputs give identical arrays.

    Raises:
        MeshError: the mesh cannot be processed by this model (with the reason).
    """
    prep = mesh if isinstance(mesh, PreparedMesh) else prepare(mesh)
    out = run(model, prep)
    topo0 = prep.topology
    e0 = topo0.num_edges
    logits = out.logits[0].float().cpu()
    if model.task == "segmentation":
        logits = logits[:, :e0].T  # (E, classes)
    probs = torch.softmax(logits, dim=-1).numpy()
    a: dict[str, np.ndarray] = {
        "format_version": np.asarray(FORMAT_VERSION, dtype=np.int64),
        "logits": logits.numpy().astype(np.float32),
        "probabilities": probs.astype(np.float32),
        "input_edges": topo0.edges,
        "input_vertices": topo0.positions,
        "input_faces": prep.faces,
        "input_features": prep.features,
        "edge_areas": prep.edge_areas,
    }
    level_groups: list[sp.csr_matrix] = []  # per encoder stage: CSR (E_k x E_0) of merged input edges
    for k, st in enumerate(out.stages):
        topo = st.topologies[0]
        e_k = topo.num_edges
        feats = st.features[0].detach().float().cpu()[:, :e_k]  # (C, E_k)
        rec = st.pool_records[0] if st.pool_records else None
        if st.kind == "input":
            g = _identity_csr(e0)
            level_groups.append(g)
        elif st.kind == "pool":
            prev = out.stages[k - 1].pool_records[0]
            step = _csr(prev.groups_indptr, prev.groups_indices, prev.topology_in.num_edges)  # (E_k, E_k-1)
            g = (step @ level_groups[-1]).tocsr()
            g.data[:] = 1
            level_groups.append(g)
        else:  # unpool: back on an earlier level's topology
            level = next(
                i for i, t in enumerate(out.stages) if t.kind != "unpool" and t.topologies[0] is topo
            )
            g = level_groups[level]
        g.sort_indices()
        if rec is not None:
            removed = topo.edge_ids[rec.removed]
            kind = rec.removed_kind
            priority = rec.priority
            skipped, skip_reason, skip_at = topo.edge_ids[rec.skipped], rec.skip_reason, rec.skip_at
        else:
            removed = np.zeros(0, dtype=np.int64)
            kind = np.zeros(0, dtype=np.int8)
            priority = torch.sum(feats * feats, 0).numpy()
            skipped, skip_reason, skip_at = removed, kind, removed
        a.update({
            f"stage{k}_kind": np.asarray(st.kind),
            f"stage{k}_edge_ids": topo.edge_ids,
            f"stage{k}_edges": topo.edges,
            f"stage{k}_faces": topology_faces(topo),
            f"stage{k}_vertices": topo.positions,
            f"stage{k}_vertex_mask": topo.vertex_mask,
            f"stage{k}_features": feats.numpy().astype(np.float32),
            f"stage{k}_priority": np.asarray(priority, dtype=np.float32),
            f"stage{k}_collapse_order": removed[kind == RemovalKind.COLLAPSED],
            f"stage{k}_removed_order": removed,
            f"stage{k}_removed_kind": kind.astype(np.int8),
            f"stage{k}_skipped": skipped.astype(np.int64),
            f"stage{k}_skip_reason": skip_reason.astype(np.int8),
            f"stage{k}_skip_at": skip_at.astype(np.int64),
            f"stage{k}_groups_indptr": g.indptr.astype(np.int64),
            f"stage{k}_groups_indices": g.indices.astype(np.int64),
        })
    cfg = asdict(model.config)
    meta = {
        "task": model.task, "model_name": model.name, "arch": model.config.arch, "config": cfg,
        "class_names": model.class_names, "label_values": model.label_values, "mesh_name": prep.mesh.name,
        "num_input_edges": e0, "notes": list(prep.mesh.notes),
    }
    a["meta"] = np.asarray(json.dumps(meta, sort_keys=True))
    a["num_stages"] = np.asarray(len(out.stages), dtype=np.int64)
    return Recording(a)
