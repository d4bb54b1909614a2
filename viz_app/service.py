"""The explorer's service layer: everything the pages do, as plain functions (no Streamlit here).

The pages call this module and draw what it returns. It gathers:

* listing what can be opened (re-exported from :mod:`viz_app.catalog`);
* reading uploads safely (:func:`read_uploaded_mesh`, :func:`load_uploaded_model`);
* fitting a mesh to one or more models (repairing/simplifying it when :mod:`meshcnn_core.mesh.repair`
  is installed) and running inference that records every stage (:func:`infer`), with a small
  LRU cache keyed by (model key, mesh hash, device) for callers outside Streamlit;
* comparing recordings (:func:`stage_overlaps`, :func:`kept_status`, from :mod:`viz_app.comparison`);
* the URL query state (:class:`ViewState`, :func:`encode_state`, :func:`decode_state`, from :mod:`viz_app.state`);
* figures and exports (re-exported from :mod:`viz_app.figures` and :mod:`viz_app.exports`).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshcnn_core import CheckpointError, LoadedModel, Mesh, MeshCNNError, MeshError, load_mesh, load_model
from meshcnn_core.inference import prepare, record
from meshcnn_core.mesh import repair as _repair
from meshcnn_core.mesh.io import load_mesh_bytes
from meshcnn_core.recording import Recording

from .catalog import (
    MESH_SUFFIXES,
    REPO_ROOT,
    DatasetListing,
    MeshEntry,
    ModelEntry,
    checkpoints_dir,
    dataset_dir,
    estimated_edges,
    ground_truth,
    list_dataset,
    list_models,
    list_sample_meshes,
    model_card,
    resolve_mesh_key,
    samples_dir,
)
from .comparison import StageOverlap, kept_status, same_input, stage_overlaps
from .exports import collapse_gif, figure_html, recording_npz, stage_mesh_obj, stage_mesh_ply, stage_png
from .figures import (
    QUANTITIES,
    EdgeColoring,
    default_camera,
    edge_coloring,
    kept_figure,
    line_arrays,
    prediction_figure,
    stage_figure,
    stage_label,
    stages_figure,
    survival_figure,
)
from .state import ViewState, decode_state, encode_state

__all__ = [
    # catalog
    "MESH_SUFFIXES", "REPO_ROOT", "DatasetListing", "MeshEntry", "ModelEntry", "checkpoints_dir", "dataset_dir",
    "estimated_edges", "ground_truth", "list_dataset", "list_models", "list_sample_meshes", "model_card",
    "resolve_mesh_key", "samples_dir",
    # figures and exports
    "QUANTITIES", "EdgeColoring", "default_camera", "edge_coloring", "kept_figure", "line_arrays",
    "prediction_figure", "stage_figure", "stages_figure", "survival_figure", "collapse_gif", "figure_html", "recording_npz",
    "stage_mesh_obj", "stage_mesh_ply", "stage_png",
    # this module
    "MAX_UPLOAD_MB", "open_model", "load_uploaded_model", "open_mesh", "read_uploaded_mesh",
    "FittedMesh", "fit_mesh", "fit_mesh_to", "model_limits", "InferenceResult", "infer", "ResultCache", "default_model", "default_mesh",
    "StageOverlap", "stage_overlaps", "kept_status", "same_input", "stage_label", "accuracy",
    "ViewState", "encode_state", "decode_state", "MeshCNNError",
]

MAX_UPLOAD_MB = 50


# ---------------------------------------------------------------- opening models and meshes


def open_model(path: str | Path, device: str | None = None) -> LoadedModel:
    """Load a checkpoint file (raises :class:`CheckpointError` with a readable message)."""
    return load_model(path, device=device)


def load_uploaded_model(data: bytes, device: str | None = None) -> LoadedModel:
    """Load an uploaded checkpoint from its bytes.

    The bytes go to a fixed file name inside a fresh temporary folder that is removed afterwards;
    the uploaded file's own name is never used as a path.
    """
    if not data:
        raise CheckpointError("the uploaded checkpoint is empty")
    if len(data) > MAX_UPLOAD_MB * 2**20:
        raise CheckpointError(f"the uploaded checkpoint is larger than {MAX_UPLOAD_MB} MB")
    with tempfile.TemporaryDirectory(prefix="meshcnn_upload_") as d:
        p = Path(d) / "uploaded.pt"
        p.write_bytes(data)
        model = load_model(p, device=device)
    model.name = "uploaded model"
    return model


def open_mesh(entry: MeshEntry) -> Mesh:
    """Read a listed mesh file (OBJs keep MeshCNN's edge order; polygons are triangulated)."""
    return load_mesh(entry.path, triangulate=True)


def _safe_display_name(filename: str) -> str:
    stem = Path(str(filename).replace("\\", "/")).stem
    clean = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60]
    return clean or "uploaded"


def read_uploaded_mesh(data: bytes, filename: str) -> Mesh:
    """Parse an uploaded mesh. ``filename`` only selects the format and a sanitized display name.

    Raises:
        MeshError: unsupported type, empty, too large, unreadable.
    """
    suffix = Path(str(filename)).suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise MeshError(f"unsupported file type {suffix or '(none)'!r}; upload one of {', '.join(MESH_SUFFIXES)}")
    if len(data) > MAX_UPLOAD_MB * 2**20:
        raise MeshError(f"the uploaded mesh is larger than {MAX_UPLOAD_MB} MB")
    return load_mesh_bytes(data, _safe_display_name(filename) + suffix, triangulate=True)


def default_model(models: Sequence[ModelEntry]) -> ModelEntry | None:
    """The model the app opens on: a classifier when its name says so, else the first one."""
    if not models:
        return None
    for m in models:
        if "class" in m.name.lower() or "shrec" in m.name.lower():
            return m
    return models[0]


def default_mesh(meshes: Sequence[MeshEntry], ninput_edges: int | None) -> MeshEntry | None:
    """The largest sample mesh (by the edge count in its name) that fits ``ninput_edges``, else the first."""
    if not meshes:
        return None
    if ninput_edges is not None:
        fitting = [(e, m) for m in meshes if (e := estimated_edges(m)) is not None and e <= ninput_edges]
        if fitting:
            best = max(e for e, _ in fitting)
            return next(m for e, m in fitting if e == best)
    return meshes[0]


# ---------------------------------------------------------------- fitting and inference


@dataclass(frozen=True)
class FittedMesh:
    """A mesh ready for some models, and what was done to it (empty when it went in unchanged)."""

    mesh: Mesh
    actions: tuple[str, ...]


def model_limits(models: Sequence[LoadedModel]) -> tuple[int, int]:
    """``(fewest, most)`` input edges a mesh may have to suit every model of ``models``."""
    if not models:
        raise ValueError("need at least one model")
    hi = min(int(m.config.ninput_edges) for m in models)
    lo = max(int(m.config.pool_res[0]) for m in models)
    return lo, hi


def fit_mesh(mesh: Mesh, models: Sequence[LoadedModel], *, allow_repair: bool = True) -> FittedMesh:
    """Make ``mesh`` acceptable to every model of ``models`` (one shared mesh, so stages compare)."""
    lo, hi = model_limits(models)
    return fit_mesh_to(mesh, lo, hi, allow_repair=allow_repair)


def fit_mesh_to(mesh: Mesh, lo: int, hi: int, *, allow_repair: bool = True) -> FittedMesh:
    """Make ``mesh`` have between ``lo`` and ``hi`` edges and be processable.

    A mesh that already fits is returned unchanged (keeping MeshCNN's edge order, so data-set labels
    still line up). Otherwise, when :mod:`meshcnn_core.mesh.repair` is installed, it is repaired and
    simplified to at most ``hi`` edges; else a :class:`MeshError` says why not.
    """
    if lo > hi:
        raise MeshError(f"these models cannot share a mesh: one takes at most {hi} edges, another pools to {lo} first")
    approx = 3 * len(mesh.faces) // 2  # a closed triangle mesh's edge count, known without any topology
    if approx > 2 * hi + 1000:  # clearly too big: do not build a topology we would throw away
        problem = f"{mesh.name}: about {approx} edges, but the model takes {lo}..{hi}"
    else:
        try:
            e = prepare(mesh).topology.num_edges
            problem = None if lo <= e <= hi else f"{mesh.name}: {e} edges, but the model takes {lo}..{hi}"
        except MeshError as exc:
            problem = str(exc)
    if problem is None:
        return FittedMesh(mesh, ())
    if not allow_repair:
        raise MeshError(problem)
    result = _repair.preflight(mesh, target_edges=hi, min_edges=lo)
    return FittedMesh(result.mesh, tuple(result.actions))


@dataclass(frozen=True)
class InferenceResult:
    """A recorded forward pass and how it went.

    Attributes:
        recording: every stage, as arrays (numpy only: safe to cache and pickle).
        seconds: wall time of the forward pass and recording.
        device: where it ran (``"cpu"``, ``"cuda:0"``).
        actions: what was done to the mesh to fit the model (empty: used as given).
    """

    recording: Recording
    seconds: float
    device: str
    actions: tuple[str, ...]


def infer(model: LoadedModel, mesh: Mesh, *, fitted: FittedMesh | None = None) -> InferenceResult:
    """Fit ``mesh`` to ``model`` (unless ``fitted`` is given) and record a forward pass.

    Raises:
        MeshCNNError: the mesh cannot be used (the message says why).
    """
    fit = fitted if fitted is not None else fit_mesh(mesh, [model])
    t0 = time.perf_counter()
    rec = record(model, fit.mesh)
    return InferenceResult(rec, time.perf_counter() - t0, str(model.device), fit.actions)


class ResultCache:
    """A small LRU of :class:`InferenceResult` keyed by ``(model key, mesh hash, device)``."""

    def __init__(self, maxsize: int = 16) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[tuple, InferenceResult] = OrderedDict()

    def get_or_run(self, model_key: str, model: LoadedModel, mesh: Mesh) -> InferenceResult:
        key = (model_key, mesh.content_hash(), str(model.device))
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
            return hit
        res = infer(model, mesh)
        self._items[key] = res
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)
        return res

    def clear(self) -> None:
        self._items.clear()


def accuracy(rec: Recording, truth: np.ndarray | int | None) -> dict[str, float] | None:
    """Accuracy against ground truth: ``{"edges": ..., "area": ...}`` (segmentation) or ``{"correct": 0/1}``."""
    if truth is None:
        return None
    if rec.task == "classification":
        return {"correct": float(int(rec.prediction) == int(truth))}
    truth = np.asarray(truth)
    pred = rec.prediction
    if truth.shape != pred.shape:
        return None
    hit = pred == truth
    areas = np.asarray(rec.edge_areas, dtype=np.float64)
    return {"edges": float(hit.mean()), "area": float((areas * hit).sum() / max(areas.sum(), 1e-12))}


def bytes_hash(data: bytes) -> str:
    """A short content hash for uploaded bytes (cache keys)."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


__all__.append("bytes_hash")
