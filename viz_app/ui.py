"""Streamlit glue shared by the pages: the sidebar, state kept across pages and in the URL, error boxes.

The sidebar holds the device, the model and the mesh.

Widgets only draw and return plain values; the work is done by :mod:`viz_app.service` through the
caches of :mod:`viz_app.cached`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import streamlit as st

from meshcnn_core import LoadedModel, Mesh, MeshCNNError

from . import cached
from . import service as svc
from .catalog import (
    MESH_SUFFIXES,
    MeshEntry,
    ModelEntry,
    checkpoints_dir,
    dataset_dir,
    default_mesh,
    default_model,
    estimated_edges,
    fitting_sample,
    list_dataset,
    list_models,
    list_sample_meshes,
    samples_dir,
)
from .state import ViewState, decode_state, encode_state

__all__ = [
    "UPLOAD",
    "MeshChoice",
    "ModelChoice",
    "error_box",
    "page_header",
    "enter_page",
    "wrap_name",
    "init_state",
    "write_query",
    "keep_valid",
    "model_options",
    "model_label",
    "sidebar_device",
    "sidebar_model",
    "load_model_choice",
    "sidebar_model_section",
    "sidebar_mesh",
    "suggest_fitting_sample",
    "switch_to_fitting_sample",
    "link_notice",
]

UPLOAD = "upload:"
ERROR_ICON = ":material/error:"
# Kept when the user switches pages (Streamlit drops a widget's state on a page that does not draw it).
_SHARED_KEYS = (
    "mesh_source",
    "sample_mesh",
    "dataset_root",
    "dataset_mesh",
    "device",
    "model",
    "compare_models",
    "stage",
    "color",
    "channel",
    "fixed_scale",
    "fit_view",
    "in_browser",
)


# ---------------------------------------------------------------- errors and headers


@contextlib.contextmanager
def error_box():
    """Show our input errors (and anything unexpected) in an error box, never as a traceback."""
    try:
        yield
    except MeshCNNError as exc:
        st.error(str(exc), icon=ERROR_ICON)
    except Exception as exc:  # noqa: BLE001 - the page must keep working
        st.error(f"Something went wrong: {type(exc).__name__}: {str(exc)[:300]}", icon=ERROR_ICON)


def page_header(title: str, text: str) -> None:
    """A page title and a one-paragraph explanation."""
    st.title(title)
    st.markdown(text)


# ---------------------------------------------------------------- state across pages and in the URL


def enter_page(name: str) -> bool:
    """Record that page ``name`` runs; True when the previous run showed another page (or none)."""
    entered = st.session_state.get("_page") != name
    st.session_state["_page"] = name
    return entered


def wrap_name(name: str) -> str:
    """A model or file name that wraps at its underscores (never mid-word) in a narrow column."""
    return name.replace("_", "_\u200b")


def init_state() -> ViewState:
    """Keep the shared choices across pages; on a session's first run, seed them from the URL (a link).

    A link to a data-set mesh that this server cannot list leaves the sample meshes selected and
    remembers the link's mesh (see :func:`link_notice`).
    """
    for key in _SHARED_KEYS:  # re-assigning keeps a widget's value when another page is shown
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    if "_url_state" in st.session_state:
        return st.session_state["_url_state"]
    state = decode_state(st.query_params.to_dict())
    st.session_state["_url_state"] = state
    if state.mesh and state.mesh.startswith("data:"):
        st.session_state["_wanted_data_mesh"] = state.mesh
        if any(m.key == state.mesh for m in list_dataset(dataset_dir()).meshes):
            st.session_state["mesh_source"] = "Data set"
            st.session_state["dataset_mesh"] = state.mesh
        else:
            st.session_state["_missing_link"] = (state.mesh, state.dataset)
    elif state.mesh:
        st.session_state["mesh_source"] = "Sample meshes"
        st.session_state["sample_mesh"] = state.mesh
    if state.model:
        st.session_state["model"] = state.model
    if state.models:
        st.session_state["compare_models"] = list(state.models)
    given = st.query_params.to_dict()
    for key in ("stage", "color", "channel"):
        if key in given:
            st.session_state[key] = getattr(state, key)
    if "scale" in given:
        st.session_state["fixed_scale"] = state.fixed_scale
    return state


def link_notice() -> None:
    """Say how to open a link's data-set mesh that this server cannot find (a sample is shown meanwhile)."""
    missing = st.session_state.get("_missing_link")
    if not missing:
        return
    key, name = missing
    shown = key.split(":", 1)[1]
    where = f"the data set **{name}**" if name else "a data set"
    folder = dataset_dir()
    why = f"{folder} does not hold it" if folder else "no data-set folder is set on this server"
    st.warning(
        f"This link opens **{shown}** from {where}, but {why}. To see it, choose **Data set** under "
        "*Mesh* in the sidebar and type the folder of that data set (in MeshCNN's layout), or start the "
        "app with `MESHCNN_DATASET=<folder>`: the link's mesh is then selected. Meanwhile the page shows "
        "a sample mesh.",
        icon=":material/link_off:",
    )


def write_query(state: ViewState) -> None:
    """Put the current view into the URL (so the link reopens it)."""
    want = encode_state(state)
    if st.query_params.to_dict() != want:
        st.query_params.from_dict(want)


def keep_valid(key: str, options: list, default) -> None:
    """Reset widget state ``key`` to ``default`` when its value is not among ``options``."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


# ---------------------------------------------------------------- sidebar: device and model


def sidebar_device() -> str:
    """The device to run on: ``MESHCNN_DEVICE`` when set and usable, else CUDA when present, else the CPU."""
    choice = svc.default_device()
    keep_valid("device", list(choice.options), choice.default)
    if choice.note:
        st.sidebar.warning(choice.note, icon=":material/memory:")
    return st.sidebar.selectbox(
        "Device",
        list(choice.options),
        key="device",
        help="Starts on MESHCNN_DEVICE when it is set, else on CUDA when a GPU is present, else on the CPU.",
    )


@dataclass(frozen=True)
class ModelChoice:
    """The model picked in the sidebar: the loaded model, its cache key, its listing entry (None: upload)."""

    model: LoadedModel
    key: str
    entry: ModelEntry | None


def model_options() -> tuple[list[str], dict[str, ModelEntry]]:
    """Keys of the shipped models (plus the upload option) and the entries by key."""
    entries = {m.key: m for m in list_models()}
    return list(entries) + [UPLOAD], entries


def model_label(key: str, entries: dict[str, ModelEntry]) -> str:
    """Display name of a model option."""
    return "Upload a checkpoint…" if key == UPLOAD else entries[key].name


def sidebar_model(entries: dict[str, ModelEntry], options: list[str], entered: bool = False) -> str:
    """The model selectbox; returns the chosen key.

    The choice is shared with the compare page: coming from it (``entered``), a model that is not among
    the compared ones gives way to the first compared model.
    """
    compare = [k for k in st.session_state.get("compare_models", []) if k in entries]
    if compare and (
        st.session_state.get("model") not in options
        or (entered and st.session_state.get("model") not in compare)
    ):
        st.session_state["model"] = compare[0]
    default = default_model(list(entries.values()))
    keep_valid("model", options, default.key if default else UPLOAD)
    return st.sidebar.selectbox("Model", options, key="model", format_func=lambda k: model_label(k, entries))


def load_model_choice(
    key: str, entries: dict[str, ModelEntry], device: str, upload_slot: str = "upload_model"
) -> ModelChoice | None:
    """Load the model with ``key`` (a shipped entry, or the uploaded checkpoint); None after an error box."""
    if key == UPLOAD:
        up = st.sidebar.file_uploader("Upload a checkpoint (.pt)", type=["pt", "pth"], key=upload_slot)
        if up is None:
            st.info("Upload a MeshCNN Explorer checkpoint (.pt) in the sidebar.")
            return None
        data = up.getvalue()
        digest = svc.bytes_hash(data)
        with error_box():
            return ModelChoice(cached.uploaded_model(digest, device, data), f"upload:{digest}", None)
        return None
    entry = entries[key]
    with error_box():
        return ModelChoice(cached.model(entry, device), key, entry)
    return None


def sidebar_model_section(entered: bool) -> tuple[str, str, ModelChoice | None]:
    """The sidebar's Model section of a one-model page: ``(model key, device, loaded model or None)``.

    Warns on the page when no checkpoint is listed (an upload still works).
    """
    options, entries = model_options()
    if not entries:
        st.warning(
            f"No shipped model yet: {checkpoints_dir()} holds no .pt checkpoint. "
            "Upload a checkpoint in the sidebar."
        )
    st.sidebar.subheader("Model")
    device = sidebar_device()
    key = sidebar_model(entries, options, entered)
    return key, device, load_model_choice(key, entries, device)


# ---------------------------------------------------------------- sidebar: mesh


@dataclass(frozen=True)
class MeshChoice:
    """The mesh picked in the sidebar: its key for the URL (None for uploads), the mesh, the entry."""

    key: str | None
    mesh: Mesh
    entry: MeshEntry | None
    dataset: str | None = None  # the data-set folder's name, for links


def _upload_choice(sb) -> MeshChoice | None:
    types = [s.lstrip(".") for s in MESH_SUFFIXES]
    up = sb.file_uploader(
        f"Upload a mesh ({', '.join(MESH_SUFFIXES)}; at most {svc.MAX_UPLOAD_MB} MB)",
        type=types,
        key="upload_mesh",
    )
    if up is not None:
        data = up.getvalue()
        st.session_state["_uploaded_mesh"] = (up.name, svc.bytes_hash(data), data)
    elif "_uploaded_mesh" in st.session_state:  # uploaded on the other page: still in use here
        sb.caption(
            f"Using **{st.session_state['_uploaded_mesh'][0]}**, uploaded earlier; choose a file to "
            "replace it."
        )
    else:
        sb.info("Choose a file to upload.")
        return None
    name, digest, data = st.session_state["_uploaded_mesh"]
    with error_box():
        return MeshChoice(None, cached.uploaded_mesh(digest, name, data), None)
    return None


def sidebar_mesh(preferred_edges: int | None = None) -> MeshChoice | None:
    """Mesh source and mesh in the sidebar. Returns None (after a message) if nothing is usable."""
    sb = st.sidebar
    sb.subheader("Mesh")
    sources = ["Sample meshes", "Data set", "Upload"]
    keep_valid("mesh_source", sources, "Sample meshes")
    source = sb.radio("Source", sources, key="mesh_source", horizontal=True, label_visibility="collapsed")
    dataset = None
    if source == "Upload":
        return _upload_choice(sb)
    if source == "Sample meshes":
        samples = list_sample_meshes()
        if not samples:
            sb.warning(f"No sample meshes in {samples_dir()}.")
            return None
        by_key = {m.key: m for m in samples}
        keep_valid("sample_mesh", list(by_key), default_mesh(samples, preferred_edges).key)
        key = sb.selectbox(
            "Sample mesh", list(by_key), key="sample_mesh", format_func=lambda k: by_key[k].name
        )
    else:
        if "dataset_root" not in st.session_state:
            st.session_state["dataset_root"] = dataset_dir()
        root = sb.text_input(
            "Data-set folder",
            key="dataset_root",
            help="A folder in MeshCNN's layout (e.g. shrec_16, coseg_vases); "
            "default: the MESHCNN_DATASET environment variable.",
        )
        listing = list_dataset(root)
        if not listing.meshes:
            sb.info(listing.message or "No meshes found.")
            return None
        by_key = {m.key: m for m in listing.meshes}
        wanted = st.session_state.get("_wanted_data_mesh")
        keep_valid("dataset_mesh", list(by_key), wanted if wanted in by_key else next(iter(by_key)))
        if st.session_state["dataset_mesh"] == wanted:
            st.session_state.pop("_missing_link", None)
        key = sb.selectbox(
            f"Mesh ({listing.task}, {len(by_key)} files)",
            list(by_key),
            key="dataset_mesh",
            format_func=lambda k: by_key[k].name,
        )
        dataset = listing.root.name
    entry = by_key[key]
    with error_box():
        return MeshChoice(entry.key, cached.mesh(entry), entry, dataset)
    return None


def _use_sample(key: str) -> None:
    st.session_state["sample_mesh"] = key


def suggest_fitting_sample(choice: MeshChoice, lo: int, hi: int, who: str = "this model") -> None:
    """When a sample mesh does not fit ``lo..hi`` edges, offer the same shape at a size that does."""
    if choice.entry is None:
        return
    target = fitting_sample(choice.entry, list_sample_meshes(), lo, hi)
    if target is None:
        return
    c1, c2 = st.columns([3, 1], vertical_alignment="center")
    c1.warning(
        f"{choice.entry.name} has {estimated_edges(choice.entry)} edges; {who} takes {lo}–{hi}. "
        f"The same shape comes at a size that fits: {target.name}.",
        icon=":material/straighten:",
    )
    c2.button(f"Use {target.name}", on_click=_use_sample, args=(target.key,), key="use_fitting")


def switch_to_fitting_sample(model_key: str, lo: int, hi: int) -> str | None:
    """Select the same shape at a size that fits when the model changed and the selected sample does not fit.

    Call before the sidebar is drawn. Returns the new sample's name, or None (nothing changed).
    """
    last = st.session_state.get("_last_model")
    st.session_state["_last_model"] = model_key
    if (
        last is None
        or last == model_key
        or st.session_state.get("mesh_source", "Sample meshes") != "Sample meshes"
    ):
        return None
    samples = list_sample_meshes()
    entry = next((m for m in samples if m.key == st.session_state.get("sample_mesh")), None)
    target = fitting_sample(entry, samples, lo, hi) if entry is not None else None
    if target is None:
        return None
    st.session_state["sample_mesh"] = target.key
    return target.name
