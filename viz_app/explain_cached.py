"""Streamlit caches for attributions, deletion checks and surveys, shared by every session of the server.

``st.cache_data`` is one cache per server process, and Streamlit computes a missing value under a lock per
key: however many sessions ask for the attribution of one (model, mesh, method, target) at once, one runs
the backward passes and the others wait for its result. Arguments whose names start with ``_`` are not
hashed (the key already identifies them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from meshcnn_core import LoadedModel, Mesh
from meshcnn_core.analysis.explain import DeletionCurve
from meshcnn_core.data.datasets import DatasetInfo

from . import cached
from . import dataset_service as dsvc
from . import explain_service as esvc

__all__ = ["attribution", "deletion", "survey_store", "dataset", "gallery_mesh"]


@st.cache_data(max_entries=64, show_spinner="Computing the attribution (backward passes)…")
def _attribution(
    model_key: str, device: str, mesh_hash: str, method: str, target: int, _model: LoadedModel, _mesh: Mesh
) -> np.ndarray:
    return esvc.attribution(_model, _mesh, method, target)


def attribution(
    model_key: str, device: str, model: LoadedModel, mesh: Mesh, method: str, target: int
) -> np.ndarray:
    """``(E,)`` attribution of ``target`` on ``mesh`` (the fitted mesh the recording ran on).

    Keyed by the loaded model object too (:func:`viz_app.cached.model_id`): a replaced checkpoint file
    never gets the old weights' attributions.
    """
    key = cached.model_id(model_key, model)
    return _attribution(key, device, mesh.content_hash(), method, int(target), model, mesh)


@st.cache_data(max_entries=64, show_spinner="Checking the attribution: hiding edges and running the model…")
def _deletion(
    model_key: str,
    device: str,
    mesh_hash: str,
    method: str,
    target: int,
    _model: LoadedModel,
    _mesh: Mesh,
    _scores: np.ndarray,
) -> DeletionCurve:
    return esvc.deletion(_model, _mesh, _scores, target)


def deletion(
    model_key: str, device: str, model: LoadedModel, mesh: Mesh, method: str, target: int, scores: np.ndarray
) -> DeletionCurve:
    """The deletion check of the attribution ``scores`` (those of ``method`` and ``target``)."""
    key = cached.model_id(model_key, model)
    return _deletion(key, device, mesh.content_hash(), method, int(target), model, mesh, scores)


@st.cache_resource
def survey_store() -> dsvc.SurveyStore:
    """Finished survey reports and surveys under way (one store for the whole server)."""
    return dsvc.SurveyStore()


@st.cache_data(max_entries=8, ttl=60, show_spinner=False)
def dataset(root: str) -> DatasetInfo | str:
    """The data set at ``root`` (or why not), read again at most once a minute."""
    return dsvc.scan(root)


@st.cache_data(max_entries=256, show_spinner=False)
def _gallery_mesh(root: str, file: str, mtime: float) -> dsvc.GalleryMesh:
    return dsvc.gallery_mesh(Path(root), file)


def gallery_mesh(root: Path, file: str) -> dsvc.GalleryMesh:
    """A data-set mesh as the survey read it (keyed by its modification time)."""
    return _gallery_mesh(str(root), file, (Path(root) / file).stat().st_mtime)
