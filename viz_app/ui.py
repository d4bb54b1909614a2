"""Streamlit glue shared by the pages: caches, the sidebar (mesh, device), URL state, error boxes.

Widgets only draw and return plain values; the work is done by :mod:`viz_app.service`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import torch

from meshcnn_core import LoadedModel, Mesh, MeshCNNError

from . import service as svc

__all__ = [
    "MeshChoice", "ModelChoice", "cached_model", "cached_result", "cached_fit", "error_box", "init_state",
    "keep_valid", "sidebar_mesh", "sidebar_device", "model_options", "load_model_choice", "write_query", "page_header",
]


# ---------------------------------------------------------------- caches


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def cached_model(path: str, mtime: float, device: str) -> LoadedModel:
    """A shipped model (shared by every session: treat it as read-only)."""
    return svc.open_model(path, device=device)


@st.cache_resource(max_entries=4, show_spinner="Loading the uploaded model…")
def cached_uploaded_model(digest: str, device: str, _data: bytes) -> LoadedModel:
    """An uploaded model, keyed by the hash of its bytes."""
    return svc.load_uploaded_model(_data, device=device)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_mesh_file(key: str, path: str, mtime: float) -> Mesh:
    """A listed mesh file, parsed."""
    entry = svc.MeshEntry(key, key, Path(path), "sample")
    return svc.open_mesh(entry)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_upload_mesh(digest: str, filename: str, _data: bytes) -> Mesh:
    """An uploaded mesh, keyed by the hash of its bytes."""
    return svc.read_uploaded_mesh(_data, filename)


@st.cache_data(max_entries=32, show_spinner="Fitting the mesh to the model…")
def cached_fit(mesh_hash: str, lo: int, hi: int, _mesh: Mesh) -> svc.FittedMesh:
    """The mesh fitted (repaired/simplified when needed) to ``lo..hi`` edges."""
    return svc.fit_mesh_to(_mesh, lo, hi)


@st.cache_data(max_entries=16, show_spinner="Running the network and recording every stage…")
def cached_result(model_key: str, device: str, mesh_hash: str, _model: LoadedModel,
                  _fitted: svc.FittedMesh) -> svc.InferenceResult:
    """Inference keyed by (model, device, fitted-mesh hash); holds numpy arrays only."""
    return svc.infer(_model, _fitted.mesh, fitted=_fitted)


# ---------------------------------------------------------------- errors


@contextlib.contextmanager
def error_box():
    """Show our input errors (and anything unexpected) in an error box, never as a traceback."""
    try:
        yield
    except MeshCNNError as exc:
        st.error(str(exc), icon="⚠️")
    except Exception as exc:  # noqa: BLE001 - the page must keep working
        st.error(f"Something went wrong: {type(exc).__name__}: {str(exc)[:300]}", icon="⚠️")


def page_header(title: str, text: str) -> None:
    """A page title and a one-paragraph explanation."""
    st.title(title)
    st.markdown(text)


# ---------------------------------------------------------------- state and URL


_SHARED_KEYS = ("mesh_source", "sample_mesh", "dataset_root", "dataset_mesh", "device")


def init_state(prefix: str = "") -> svc.ViewState:
    """On a session's first run, seed widget state from the URL query (a shared link).

    ``prefix`` names the page's own widget keys (``"compare_"`` -> ``compare_stage``, ...).
    """
    for key in _SHARED_KEYS:  # keep sidebar choices when switching pages (widget state is per page)
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    if "_url_state" not in st.session_state:
        state = svc.decode_state(st.query_params.to_dict())
        st.session_state["_url_state"] = state
        if state.mesh:
            if state.mesh.startswith("data:"):
                st.session_state["mesh_source"] = "Data set"
                st.session_state["dataset_mesh"] = state.mesh
            else:
                st.session_state["mesh_source"] = "Sample meshes"
                st.session_state["sample_mesh"] = state.mesh
        if state.model:
            st.session_state["model"] = state.model
        if state.models:
            st.session_state["compare_models"] = list(state.models)
        given = st.query_params.to_dict()
        for key in ("stage", "color", "channel"):
            if key in given:
                st.session_state[prefix + key] = getattr(state, key)
    return st.session_state["_url_state"]


def write_query(state: svc.ViewState) -> None:
    """Put the current view into the URL (so the link reopens it)."""
    want = svc.encode_state(state)
    if st.query_params.to_dict() != want:
        st.query_params.from_dict(want)


def keep_valid(key: str, options: list, default) -> None:
    """Reset widget state ``key`` to ``default`` when its value is not among ``options``."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


# ---------------------------------------------------------------- sidebar: mesh and device


@dataclass(frozen=True)
class MeshChoice:
    """The mesh picked in the sidebar: its key for the URL (None for uploads), the mesh, the entry."""

    key: str | None
    mesh: Mesh
    entry: svc.MeshEntry | None


def sidebar_mesh(preferred_edges: int | None = None) -> MeshChoice | None:
    """Mesh source and mesh in the sidebar. Returns None (after an error box) if nothing is usable."""
    sb = st.sidebar
    sb.subheader("Mesh")
    sources = ["Sample meshes", "Data set", "Upload"]
    keep_valid("mesh_source", sources, "Sample meshes")
    source = sb.radio("Source", sources, key="mesh_source", horizontal=True, label_visibility="collapsed")
    if source == "Sample meshes":
        samples = svc.list_sample_meshes()
        if not samples:
            sb.warning(f"No sample meshes in {svc.samples_dir()}.")
            return None
        keys = [m.key for m in samples]
        default = svc.default_mesh(samples, preferred_edges)
        keep_valid("sample_mesh", keys, default.key)
        by_key = {m.key: m for m in samples}
        key = sb.selectbox("Sample mesh", keys, key="sample_mesh", format_func=lambda k: by_key[k].name)
        entry = by_key[key]
    elif source == "Data set":
        if "dataset_root" not in st.session_state:
            st.session_state["dataset_root"] = svc.dataset_dir()
        root = sb.text_input("Data-set folder", key="dataset_root",
                             help="A folder in MeshCNN's layout (e.g. shrec_16, coseg_vases); "
                                  "default: the MESHCNN_DATASET environment variable.")
        listing = svc.list_dataset(root)
        if not listing.meshes:
            sb.info(listing.message or "No meshes found.")
            return None
        by_key = {m.key: m for m in listing.meshes}
        keys = list(by_key)
        keep_valid("dataset_mesh", keys, keys[0])
        key = sb.selectbox(f"Mesh ({listing.task}, {len(keys)} files)", keys, key="dataset_mesh",
                           format_func=lambda k: by_key[k].name)
        entry = by_key[key]
    else:
        up = sb.file_uploader("Upload a mesh (.obj, .ply, .stl, .off)", type=["obj", "ply", "stl", "off"],
                              key="upload_mesh")
        if up is None:
            sb.info("Choose a file to upload.")
            return None
        data = up.getvalue()
        with error_box():
            mesh = cached_upload_mesh(svc.bytes_hash(data), up.name, data)
            return MeshChoice(None, mesh, None)
        return None
    with error_box():
        mesh = cached_mesh_file(entry.key, str(entry.path), entry.path.stat().st_mtime)
        return MeshChoice(entry.key, mesh, entry)
    return None


def sidebar_device() -> str:
    """The device to run on (CUDA only when present)."""
    options = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    keep_valid("device", options, "cuda" if "cuda" in options else "cpu")
    return st.sidebar.selectbox("Device", options, key="device",
                                help="CUDA is offered when a GPU is present; else the CPU runs the model.")


# ---------------------------------------------------------------- models


UPLOAD = "upload:"


@dataclass(frozen=True)
class ModelChoice:
    """A model picked by the user: its key (URL) and display name."""

    key: str
    name: str


def model_options() -> tuple[list[str], dict[str, svc.ModelEntry]]:
    """Keys of the shipped models (plus the upload option) and the entries by key."""
    entries = {m.key: m for m in svc.list_models()}
    return list(entries) + [UPLOAD], entries


def load_model_choice(key: str, entries: dict[str, svc.ModelEntry], device: str,
                      upload_slot: str = "upload_model") -> tuple[LoadedModel, str] | None:
    """Load the model with ``key`` (a shipped entry, or the uploaded checkpoint). Returns (model, cache key)."""
    if key == UPLOAD:
        up = st.sidebar.file_uploader("Upload a checkpoint (.pt)", type=["pt", "pth"], key=upload_slot)
        if up is None:
            st.info("Upload a MeshCNN Explorer checkpoint (.pt) in the sidebar.")
            return None
        data = up.getvalue()
        digest = svc.bytes_hash(data)
        with error_box():
            return cached_uploaded_model(digest, device, data), f"upload:{digest}"
        return None
    entry = entries[key]
    with error_box():
        return cached_model(str(entry.path), entry.path.stat().st_mtime, device), key
    return None


def model_label(key: str, entries: dict[str, svc.ModelEntry]) -> str:
    """Display name of a model option."""
    return "⬆ upload a checkpoint…" if key == UPLOAD else entries[key].name


__all__.append("model_label")
