"""The Streamlit caches over :mod:`viz_app.service`: models are shared resources, meshes and results data.

Keys are what identifies the content (file path and modification time, bytes hash, mesh hash, device);
arguments whose names start with ``_`` are not hashed by Streamlit (the key already identifies them).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from meshcnn_core import LoadedModel, Mesh

from . import service as svc
from .catalog import MeshEntry, ModelEntry

__all__ = ["model", "uploaded_model", "mesh", "uploaded_mesh", "fitted", "result"]


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
def _fitted(mesh_hash: str, lo: int, hi: int, _mesh: Mesh) -> svc.FittedMesh:
    return svc.fit_mesh_to(_mesh, lo, hi)


def fitted(mesh: Mesh, lo: int, hi: int) -> svc.FittedMesh:
    """``mesh`` fitted (repaired/simplified when needed) to ``lo..hi`` edges."""
    return _fitted(mesh.content_hash(), lo, hi, mesh)


@st.cache_data(max_entries=16, show_spinner="Running the network and recording every stage…")
def _result(
    model_key: str, device: str, mesh_hash: str, _model: LoadedModel, _fitted: svc.FittedMesh
) -> svc.InferenceResult:
    return svc.infer(_model, _fitted.mesh, fitted=_fitted)


def result(model_key: str, device: str, model: LoadedModel, fit: svc.FittedMesh) -> svc.InferenceResult:
    """A recorded forward pass of ``model`` (identified by ``model_key`` and ``device``) on ``fit``."""
    return _result(model_key, device, fit.mesh.content_hash(), model, fit)
