"""What the explorer's pages ask for, as plain functions (no Streamlit, no Plotly here).

* **models**: :func:`open_model`, :func:`load_uploaded_model`, :func:`default_device`;
* **meshes**: :func:`open_mesh`, :func:`read_uploaded_mesh`, and fitting a mesh to one or more models
  (:func:`model_limits`, :func:`fit_mesh`, :func:`fit_mesh_to`: repaired and simplified when needed);
* **recordings and results**: :func:`infer` (a recorded forward pass, :class:`InferenceResult`) and
  :func:`accuracy` against ground truth;
* small helpers the caches and downloads need: :func:`bytes_hash`, :func:`safe_name`.

What can be opened is listed by :mod:`viz_app.catalog`; figures, colorings, exports, comparisons and
the URL state have their own modules, and the Streamlit caches over this module are in
:mod:`viz_app.cached`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from meshcnn_core import CheckpointError, LoadedModel, Mesh, MeshError, load_mesh, load_model
from meshcnn_core.analysis.ood import OodScore, assess_recording
from meshcnn_core.device import pick_device
from meshcnn_core.inference import prepare, record
from meshcnn_core.mesh import repair as _repair
from meshcnn_core.mesh.edges import estimate_edges
from meshcnn_core.mesh.io import MESH_SUFFIXES, load_mesh_bytes, safe_name
from meshcnn_core.mesh.size import InputSize, fit_size, shared_size
from meshcnn_core.recording import Recording

from .catalog import MeshEntry

__all__ = [
    "MAX_UPLOAD_MB",
    "DeviceChoice",
    "default_device",
    "open_model",
    "load_uploaded_model",
    "open_mesh",
    "read_uploaded_mesh",
    "safe_name",
    "bytes_hash",
    "FittedMesh",
    "model_limits",
    "fit_mesh",
    "model_size",
    "fit_mesh_to",
    "InferenceResult",
    "infer",
    "Accuracy",
    "accuracy",
]

MAX_UPLOAD_MB = 50


# ---------------------------------------------------------------- models


@dataclass(frozen=True)
class DeviceChoice:
    """The devices the app offers and the one it starts on.

    Attributes:
        options: ``"cpu"``, plus ``"cuda"`` when a GPU is present, plus ``MESHCNN_DEVICE`` when it names
            another usable device (``"cuda:1"``).
        default: ``MESHCNN_DEVICE`` when set and usable, else CUDA when present, else the CPU.
        note: why ``MESHCNN_DEVICE`` was not followed (empty when it was, or is unset).
    """

    options: tuple[str, ...]
    default: str
    note: str = ""


def default_device() -> DeviceChoice:
    """The device choice, honouring ``MESHCNN_DEVICE`` (as :func:`meshcnn_core.device.pick_device` does)."""
    options = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    wanted = os.environ.get("MESHCNN_DEVICE", "").strip()
    try:
        dev = pick_device(wanted or None)
    except (ValueError, RuntimeError) as exc:  # asks for CUDA without one, or is not a device name
        fallback = "cuda" if "cuda" in options else "cpu"
        return DeviceChoice(
            tuple(options),
            fallback,
            f"MESHCNN_DEVICE={wanted!r} is not usable here ({exc}); running on {fallback}",
        )
    name = str(dev)  # "cpu", "cuda", "cuda:1"
    if name not in options:
        options.append(name)
    return DeviceChoice(tuple(options), name)


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
        model = load_model(p, device=device, shown="the uploaded checkpoint")  # not our temporary file
    model.name = "uploaded model"
    return model


# ---------------------------------------------------------------- meshes


def open_mesh(entry: MeshEntry) -> Mesh:
    """Read a listed mesh file (OBJs keep MeshCNN's edge order; polygons are triangulated)."""
    return load_mesh(entry.path, triangulate=True)


def bytes_hash(data: bytes) -> str:
    """A short content hash for uploaded bytes (cache keys)."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def read_uploaded_mesh(data: bytes, filename: str) -> Mesh:
    """Parse an uploaded mesh. ``filename`` only selects the format and a sanitized display name.

    Raises:
        MeshError: unsupported type, empty, too large, unreadable.
    """
    suffix = Path(str(filename)).suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise MeshError(
            f"unsupported file type {suffix or '(none)'!r}; upload one of {', '.join(MESH_SUFFIXES)}"
        )
    if len(data) > MAX_UPLOAD_MB * 2**20:
        raise MeshError(f"the uploaded mesh is larger than {MAX_UPLOAD_MB} MB")
    name = safe_name(Path(str(filename).replace("\\", "/")).stem, "uploaded")
    return load_mesh_bytes(data, name + suffix, triangulate=True)


# ---------------------------------------------------------------- fitting and inference


@dataclass(frozen=True)
class FittedMesh:
    """A mesh ready for some models, and what was done to it (empty when it went in unchanged).

    ``keeps_edges``: the mesh has the given mesh's edges in MeshCNN's order (unchanged, or only
    scaled), so per-edge ground truth of the file still lines up.
    """

    mesh: Mesh
    actions: tuple[str, ...]
    keeps_edges: bool = True


def model_limits(models: Sequence[LoadedModel]) -> tuple[int, int]:
    """``(fewest, most)`` input edges a mesh may have to suit every model of ``models``."""
    if not models:
        raise ValueError("need at least one model")
    hi = min(int(m.config.ninput_edges) for m in models)
    lo = max(int(m.config.pool_res[0]) for m in models)
    return lo, hi


def model_size(models: Sequence[LoadedModel]) -> InputSize | None:
    """The mesh size every model of ``models`` accepts (None: no checkpoint says).

    Raises:
        MeshError: they were trained on meshes of sizes no one mesh suits.
    """
    return shared_size([m.input_size for m in models])


def fit_mesh(mesh: Mesh, models: Sequence[LoadedModel], *, allow_repair: bool = True) -> FittedMesh:
    """Make ``mesh`` acceptable to every model of ``models`` (one shared mesh, so stages compare)."""
    lo, hi = model_limits(models)
    return fit_mesh_to(mesh, lo, hi, size=model_size(models), allow_repair=allow_repair)


def fit_mesh_to(
    mesh: Mesh, lo: int, hi: int, *, size: InputSize | None = None, allow_repair: bool = True
) -> FittedMesh:
    """Make ``mesh`` have between ``lo`` and ``hi`` edges, the size ``size`` expects, and be processable.

    A mesh far from ``size`` (the training meshes' bounding-box diagonals) is first scaled to it
    (:func:`meshcnn_core.mesh.size.fit_size`; MeshCNN's features depend on a mesh's size); scaling
    keeps the edge order. A mesh that then fits is returned as it is (keeping MeshCNN's edge order,
    so data-set labels still line up). Otherwise it is repaired and simplified to ``lo..hi`` edges by
    :func:`meshcnn_core.mesh.repair.preflight` (each step listed in ``actions``), or, with
    ``allow_repair=False`` or when that fails, a :class:`MeshError` says why not.
    """
    mesh, scaled = fit_size(mesh, size)
    done = (scaled,) if scaled else ()
    if lo > hi:
        raise MeshError(
            f"these models cannot share a mesh: one takes at most {hi} edges, another pools to {lo} first"
        )
    approx = estimate_edges(len(mesh.faces))
    if approx > 2 * hi + 1000:  # clearly too big: do not build a topology we would throw away
        problem = f"{mesh.name}: about {approx} edges, but the model takes {lo}..{hi}"
    else:
        try:
            e = prepare(mesh).topology.num_edges
            problem = None if lo <= e <= hi else f"{mesh.name}: {e} edges, but the model takes {lo}..{hi}"
        except MeshError as exc:
            problem = str(exc)
    if problem is None:
        return FittedMesh(mesh, done, keeps_edges=True)
    if not allow_repair:
        raise MeshError(problem)
    result = _repair.preflight_sized(mesh, size, target_edges=hi, min_edges=lo)  # mesh already scaled once
    return FittedMesh(result.mesh, done + tuple(result.actions), keeps_edges=False)


@dataclass(frozen=True)
class InferenceResult:
    """A recorded forward pass and how it went.

    Attributes:
        recording: every stage, as arrays (numpy only: safe to cache and pickle).
        seconds: wall time of the forward pass and recording.
        device: where it ran (``"cpu"``, ``"cuda:0"``).
        actions: what was done to the mesh to fit the model (empty: used as given).
        ood: how unlike the model's training data the mesh is (None: the checkpoint stores no
            statistics, e.g. segmenters).
        keeps_edges: the recording's input edges are the given mesh's, in order (see
            :class:`FittedMesh`).
    """

    recording: Recording
    seconds: float
    device: str
    actions: tuple[str, ...]
    ood: OodScore | None = None
    keeps_edges: bool = True

    def reliability(self, task: str) -> tuple[str, bool]:
        """``(sentence, warn)`` to show beside the prediction: the out-of-distribution verdict."""
        if self.ood is not None:
            return self.ood.words()[0].upper() + self.ood.words()[1:] + ".", self.ood.unusual
        if task == "classification":
            return "No out-of-distribution statistics are stored in this checkpoint.", False
        return "No out-of-distribution score: it is computed for classifiers only.", False


def infer(model: LoadedModel, mesh: Mesh, *, fitted: FittedMesh | None = None) -> InferenceResult:
    """Fit ``mesh`` to ``model`` (unless ``fitted`` is given) and record a forward pass.

    Raises:
        MeshCNNError: the mesh cannot be used (the message says why).
    """
    fit = fitted if fitted is not None else fit_mesh(mesh, [model])
    t0 = time.perf_counter()
    rec = record(model, fit.mesh)
    seconds = time.perf_counter() - t0
    ood = assess_recording(model.ood, rec)
    return InferenceResult(rec, seconds, str(model.device), fit.actions, ood, fit.keeps_edges)


@dataclass(frozen=True)
class Accuracy:
    """How a prediction compares with the ground truth.

    Attributes:
        correct: classification: whether the predicted class is the true one (None for segmentation).
        edges: segmentation: share of input edges labelled right (None for classification).
        area: segmentation: the same weighted by MeshCNN's edge areas (its reported accuracy).
    """

    correct: bool | None = None
    edges: float | None = None
    area: float | None = None


def accuracy(rec: Recording, truth: np.ndarray | int | None) -> Accuracy | None:
    """The prediction of ``rec`` against ``truth`` (class index, or ``(E,)`` labels); None without truth."""
    if truth is None:
        return None
    if rec.task == "classification":
        return Accuracy(correct=int(rec.prediction) == int(truth))
    truth = np.asarray(truth)
    pred = rec.prediction
    if truth.shape != pred.shape:
        return None
    hit = pred == truth
    areas = np.asarray(rec.edge_areas, dtype=np.float64)
    return Accuracy(edges=float(hit.mean()), area=float((areas * hit).sum() / max(areas.sum(), 1e-12)))
