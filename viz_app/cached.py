"""The Streamlit caches over :mod:`viz_app.service`: models and results are shared resources, meshes data.

Keys are what identifies the content (file path and modification time, bytes hash, mesh hash, device);
arguments whose names start with ``_`` are not hashed by Streamlit (the key already identifies them).

The 3D views' figures are shared too (:func:`figure`): a figure is built and serialized once per
(recording, builder, stage, coloring, options) and every session that shows the same view gets the same
JSON text, so thirty students on one model and mesh cost one figure build, not thirty
(``benchmarks/bench_load.py``). :func:`shared` does the same for other pure results (2D charts,
colorings) as shared read-only objects.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from meshcnn_core import LoadedModel, Mesh
from meshcnn_core.mesh.size import InputSize
from meshcnn_core.recording import Recording

from . import service as svc
from .catalog import MeshEntry, ModelEntry

__all__ = [
    "model",
    "uploaded_model",
    "mesh",
    "uploaded_mesh",
    "fitted",
    "result",
    "figure",
    "shared",
    "model_id",
    "FIGURE_ENTRIES",
]

T = TypeVar("T")
FIGURE_ENTRIES = 128  # serialized figures kept (typically 0.1-0.3 MB each; all stages in one: ~1 MB)


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def _model(path: str, mtime: float, device: str) -> LoadedModel:
    return svc.open_model(path, device=device)


def model(entry: ModelEntry, device: str) -> LoadedModel:
    """A listed model (shared by every session: treat it as read-only)."""
    return _model(str(entry.path), entry.path.stat().st_mtime, device)


@st.cache_resource(max_entries=4, show_spinner="Loading the uploaded model…")
def uploaded_model(digest: str, device: str, _data: bytes) -> LoadedModel:
    """An uploaded checkpoint, keyed by the hash of its bytes."""
    return svc.load_uploaded_model(_data, device=device)


@st.cache_data(max_entries=32, show_spinner=False)
def _mesh(key: str, path: str, mtime: float) -> Mesh:
    return svc.open_mesh(MeshEntry(key, key, Path(path), "sample"))


def mesh(entry: MeshEntry) -> Mesh:
    """A listed mesh file, parsed."""
    return _mesh(entry.key, str(entry.path), entry.path.stat().st_mtime)


@st.cache_data(max_entries=8, show_spinner=False)
def uploaded_mesh(digest: str, filename: str, _data: bytes) -> Mesh:
    """An uploaded mesh, keyed by the hash of its bytes."""
    return svc.read_uploaded_mesh(_data, filename)


@st.cache_data(max_entries=32, show_spinner="Fitting the mesh to the model…")
def _fitted(
    mesh_hash: str, lo: int, hi: int, size_key: tuple | None, _mesh: Mesh, _size: InputSize | None
) -> svc.FittedMesh:
    return svc.fit_mesh_to(_mesh, lo, hi, size=_size)


def fitted(mesh: Mesh, lo: int, hi: int, size: InputSize | None = None) -> svc.FittedMesh:
    """``mesh`` fitted to ``lo..hi`` edges and to ``size`` (scaled, repaired, simplified when needed)."""
    key = None if size is None else tuple(size.to_dict().values())
    return _fitted(mesh.content_hash(), lo, hi, key, mesh, size)


@st.cache_resource(max_entries=16, show_spinner="Running the network and recording every stage…")
def _result(
    model_key: str, device: str, mesh_hash: str, _model: LoadedModel, _fitted: svc.FittedMesh
) -> svc.InferenceResult:
    res = svc.infer(_model, _fitted.mesh, fitted=_fitted)
    for a in res.recording.arrays.values():  # one object for every session: make it read-only
        if isinstance(a, np.ndarray):
            a.flags.writeable = False
    return res


def result(model_key: str, device: str, model: LoadedModel, fit: svc.FittedMesh) -> svc.InferenceResult:
    """A recorded forward pass of ``model`` (identified by ``model_key`` and ``device``) on ``fit``.

    One object shared by every session (its arrays are read-only), remembered with its key so that
    :func:`figure` can share the figures drawn from it. The key also names the loaded model object, so
    a checkpoint file replaced on disk (loaded again by :func:`model`) never gets the old results.
    """
    key = (model_id(model_key, model), device, fit.mesh.content_hash())
    res = _result(*key, model, fit)
    with _KEYS_LOCK:
        _RECORDING_KEYS[res.recording] = key
    return res


# ---------------------------------------------------------------- figures shared by every session

# Each recording handed out by `result` -> the key of its result. Weak keys: an entry goes away with the
# recording (when the result cache drops it).
_RECORDING_KEYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_KEYS_LOCK = threading.Lock()


_MODEL_TOKENS: dict[int, tuple[weakref.ref, int]] = {}  # id(model) -> (the model, its number)
_MODEL_COUNT = itertools.count()


def model_id(model_key: str, model: LoadedModel) -> str:
    """A cache key for a loaded model: its catalog key plus the loaded object's token.

    A checkpoint file replaced on disk is loaded again by :func:`model` (new modification time), so
    the new object gets a new id and nothing computed with the old weights is served for it.
    """
    return f"{model_key}#{_model_token(model)}"


def _model_token(model: LoadedModel) -> int:
    """A number for each loaded model object (models are cached, so one per file version and device)."""
    with _KEYS_LOCK:
        entry = _MODEL_TOKENS.get(id(model))
        if entry is None or entry[0]() is not model:
            entry = (weakref.ref(model), next(_MODEL_COUNT))
            _MODEL_TOKENS[id(model)] = entry
        return entry[1]


class _Unkeyable(Exception):
    """An argument that no content key describes (the figure is then built for this run only)."""


def _token(value) -> object:
    """A hashable, content-based stand-in for a figure builder's argument."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, Recording):
        with _KEYS_LOCK:
            key = _RECORDING_KEYS.get(value)
        if key is None:
            raise _Unkeyable("a recording that no cached result handed out")
        return ("recording", *key)
    if isinstance(value, np.ndarray):
        a = np.ascontiguousarray(value)
        digest = hashlib.blake2b(a.view(np.uint8).reshape(-1), digest_size=16).hexdigest()
        return ("array", a.dtype.str, a.shape, digest)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, *(_token(v) for v in value))
    if isinstance(value, dict):
        return ("dict", *sorted((str(k), _token(v)) for k, v in value.items()))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (type(value).__qualname__, *((f.name, _token(getattr(value, f.name))) for f in fields))
    raise _Unkeyable(f"no content key for a {type(value).__name__}")


@st.cache_resource(max_entries=FIGURE_ENTRIES, show_spinner=False)
def _figure_json(key: tuple, _build: Callable[[], go.Figure]) -> str:
    return _build().to_json()


@st.cache_resource(max_entries=FIGURE_ENTRIES, show_spinner=False)
def _shared(key: tuple, _build: Callable[[], object]) -> object:
    return _build()


def _key(builder: Callable, args: tuple, kwargs: dict) -> tuple:
    return (builder.__module__, builder.__qualname__, _token(args), _token(kwargs))


def figure(builder: Callable[..., go.Figure], *args, **kwargs) -> str | go.Figure:
    """``builder(*args, **kwargs)`` (a :mod:`viz_app.figures` function) as JSON shared by every session.

    The key is the builder's name and a content key of each argument: recordings by the key of the
    result that handed them out (:func:`result`), arrays by a hash of their bytes, colorings and other
    dataclasses field by field, so any field a coloring gains is part of the key. An argument without
    such a key (e.g. a recording made outside these caches) gets the figure built for this run only.

    Returns:
        The figure's Plotly JSON (what :func:`viz_app.mesh_view.mesh_view` sends), or the figure itself
        when it cannot be shared.
    """
    try:
        key = _key(builder, args, kwargs)
    except _Unkeyable:
        return builder(*args, **kwargs)
    return _figure_json(key, lambda: builder(*args, **kwargs))


def shared(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` of a pure function as one object shared by every session.

    Keyed as :func:`figure`; e.g. a 2D chart for ``st.plotly_chart`` (which copies it before sending) or
    a coloring. Treat the result as read-only: other sessions hold the same object.
    """
    try:
        key = _key(fn, args, kwargs)
    except _Unkeyable:
        return fn(*args, **kwargs)
    return _shared(key, lambda: fn(*args, **kwargs))
