"""Recordings: what a forward pass did, stage by stage, as plain arrays; saved as ``.npz``.

File format (``format_version`` 2), one ``.npz`` (a zip of ``.npy`` arrays, no pickles):

=============================  ==========================================================
key                            content
=============================  ==========================================================
``format_version``             int, 2 (version-1 files load too: they lack the ``skip*`` keys)
``meta``                       JSON string: task, model name/config, class names, mesh name
``logits``                     classification ``(classes,)``; segmentation ``(E, classes)``
``probabilities``              softmax of ``logits`` over classes, same shape
``input_edges``                ``(E, 2)`` input vertex ids, MeshCNN's edge order
``input_vertices``             ``(V, 3)`` float64
``input_faces``                ``(F, 3)`` faces kept by MeshCNN's filter
``input_features``             ``(5, E)`` float64 raw (unnormalized) edge features
``edge_areas``                 ``(E,)`` MeshCNN's per-edge area weights
``num_stages``                 int ``K``
``stage{k}_kind``              ``"input"``, ``"pool"`` or ``"unpool"``
``stage{k}_edge_ids``          ``(E_k,)`` input edge id of each edge at stage k
``stage{k}_edges``             ``(E_k, 2)`` vertex ids (into the input vertex list)
``stage{k}_faces``             ``(F_k, 3)`` vertex ids
``stage{k}_vertices``          ``(V, 3)`` float64 positions at stage k (collapsed vertices moved)
``stage{k}_vertex_mask``       ``(V,)`` bool, vertices alive at stage k
``stage{k}_features``          ``(C_k, E_k)`` float32 activations on stage k's edges (those
                               entering the pooling that leaves stage k, if any)
``stage{k}_priority``          ``(E_k,)`` float32 squared feature norm (the pooling queue key)
``stage{k}_collapse_order``    input edge ids collapsed by the pooling leaving stage k, in order
``stage{k}_removed_order``     all input edge ids that pooling removed, in order
``stage{k}_removed_kind``      int8 :class:`~meshcnn_core.nn.pool_events.RemovalKind` per
                               removed edge (0 collapsed, 1 merged, 2 triplet)
``stage{k}_skipped``           input edge ids popped from the pooling queue and not collapsed,
                               in queue order (version 2)
``stage{k}_skip_reason``       int8 :class:`~meshcnn_core.nn.pool_events.SkipReason` per skip
                               (version 2)
``stage{k}_skip_at``           int64 per skip: removals made before it (``removed_order[:at]``
                               happened first); with the collapses (``COLLAPSED`` removals) it
                               gives the true order of the queue's pops (version 2)
``stage{k}_groups_indptr``     ``(E_k + 1,)`` CSR offsets
``stage{k}_groups_indices``    input edge ids merged into each edge at stage k (sorted)
=============================  ==========================================================

The ``skip*`` arrays and removal arrays are empty for stages that no pooling leaves.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import RecordingError

__all__ = ["Recording", "StageView", "load_recording", "label_values", "is_label_value", "FORMAT_VERSION"]

FORMAT_VERSION = 2
_STAGE_KEYS = (
    "kind", "edge_ids", "edges", "faces", "vertices", "vertex_mask", "features", "priority",
    "collapse_order", "removed_order", "removed_kind", "groups_indptr", "groups_indices",
)
_STAGE_KEYS_V2 = ("skipped", "skip_reason", "skip_at")  # added in version 2
_NO_SKIPS = {"skipped": np.int64, "skip_reason": np.int8, "skip_at": np.int64}
_TOP_KEYS = (
    "format_version", "meta", "logits", "probabilities", "input_edges", "input_vertices", "input_faces",
    "input_features", "edge_areas", "num_stages",
)


@dataclass(frozen=True)
class StageView:
    """One stage of a :class:`Recording` (arrays as documented in the module docstring)."""

    index: int
    kind: str
    edge_ids: np.ndarray
    edges: np.ndarray
    faces: np.ndarray
    vertices: np.ndarray
    vertex_mask: np.ndarray
    features: np.ndarray
    priority: np.ndarray
    collapse_order: np.ndarray
    removed_order: np.ndarray
    removed_kind: np.ndarray
    groups_indptr: np.ndarray
    groups_indices: np.ndarray
    skipped: np.ndarray
    skip_reason: np.ndarray
    skip_at: np.ndarray

    @property
    def num_edges(self) -> int:
        """Edge count ``E_k``."""
        return int(len(self.edge_ids))

    def group(self, row: int) -> np.ndarray:
        """Input edge ids merged into edge ``row`` of this stage."""
        return self.groups_indices[self.groups_indptr[row] : self.groups_indptr[row + 1]]

    def covered_input_edges(self, num_input_edges: int) -> np.ndarray:
        """``(E,)`` bool: input edges that belong to some group at this stage."""
        out = np.zeros(num_input_edges, dtype=bool)
        out[self.groups_indices] = True
        return out


@dataclass(frozen=True, eq=False)
class Recording:
    """Everything one forward pass did, as arrays. Build with :func:`meshcnn_core.record`."""

    arrays: dict[str, np.ndarray]

    @property
    def meta(self) -> dict[str, Any]:
        """Task, model, class names and mesh name."""
        return json.loads(str(self.arrays["meta"]))

    @property
    def task(self) -> str:
        """``"classification"`` or ``"segmentation"``."""
        return self.meta["task"]

    @property
    def class_names(self) -> list[str]:
        """Names of the output classes."""
        return list(self.meta["class_names"])

    @property
    def label_values(self) -> list[str]:
        """The ``.eseg`` label value of each class (a segmenter with named parts), else its names."""
        return label_values(self.meta, self.class_names, self.task)

    @property
    def format_version(self) -> int:
        """The file format version this recording was written with."""
        return int(self.arrays["format_version"])

    @property
    def input_edges(self) -> np.ndarray:
        """``(E, 2)`` input vertex ids of each input edge, MeshCNN's edge order."""
        return self.arrays["input_edges"]

    @property
    def num_input_edges(self) -> int:
        """Input edge count ``E``."""
        return int(len(self.arrays["input_edges"]))

    @property
    def input_vertices(self) -> np.ndarray:
        """``(V, 3)`` float64 input vertex positions."""
        return self.arrays["input_vertices"]

    @property
    def input_faces(self) -> np.ndarray:
        """``(F, 3)`` input faces (those kept by MeshCNN's filter)."""
        return self.arrays["input_faces"]

    @property
    def input_features(self) -> np.ndarray:
        """``(5, E)`` float64 raw (unnormalized) input edge features."""
        return self.arrays["input_features"]

    @property
    def edge_areas(self) -> np.ndarray:
        """``(E,)`` MeshCNN's per-edge area weights (used by its segmentation accuracy)."""
        return self.arrays["edge_areas"]

    @property
    def num_stages(self) -> int:
        """Number of stages ``K`` (input, pooled..., unpooled...)."""
        return int(self.arrays["num_stages"])

    @property
    def logits(self) -> np.ndarray:
        """Classification ``(classes,)``; segmentation ``(E, classes)``."""
        return self.arrays["logits"]

    @property
    def probabilities(self) -> np.ndarray:
        """Softmax of the logits over classes."""
        return self.arrays["probabilities"]

    @property
    def prediction(self) -> np.ndarray:
        """Predicted class index (classification: scalar array; segmentation: ``(E,)``)."""
        return np.argmax(self.logits, axis=-1)

    def stage(self, k: int) -> StageView:
        """Stage ``k`` (0 = input)."""
        if not 0 <= k < self.num_stages:
            raise IndexError(f"stage {k} out of range 0..{self.num_stages - 1}")
        a = self.arrays
        vals = {key: a[f"stage{k}_{key}"] for key in _STAGE_KEYS}
        for key, dtype in _NO_SKIPS.items():  # version-1 files: no skip log
            vals[key] = a[f"stage{k}_{key}"] if f"stage{k}_{key}" in a else np.zeros(0, dtype=dtype)
        vals["kind"] = str(vals["kind"])
        return StageView(index=k, **vals)

    def stages(self) -> list[StageView]:
        """All stages in order."""
        return [self.stage(k) for k in range(self.num_stages)]

    def survival_depth(self) -> np.ndarray:
        """``(E,)`` int: for each input edge, the deepest stage at which it is still an edge of its own.

        That is the largest ``k`` (input and pooled stages only) with the edge's id in
        ``stage{k}_edge_ids``: 0 for an edge removed by the first pooling, ``K_pool`` for one that
        reaches the bottom. (Every input edge is *merged* into some group down to the bottom, so
        group membership would make this map uniform.)
        """
        e = len(self.arrays["input_edges"])
        depth = np.zeros(e, dtype=np.int64)
        for k in range(self.num_stages):
            if str(self.arrays[f"stage{k}_kind"]) == "unpool":
                break
            depth[self.arrays[f"stage{k}_edge_ids"]] = k
        return depth

    def resolution(self, stage: int) -> np.ndarray:
        """``(E,)`` float64: for each input edge, how many input edges its edge at ``stage`` stands for.

        Groups overlap: MeshCNN copies a collapsed edge into the groups of the surviving edges on
        both its faces. So an input edge held by ``m`` groups counts ``1/m`` in each; a stage
        edge's size is the sum of its members' shares (the sizes of a stage add up to the input
        edges its groups cover), and an input edge gets the mean size of the groups that hold it
        (0 if none does). At the input every value is 1.

        Raises:
            IndexError: ``stage`` out of range.
        """
        st = self.stage(stage)
        e = len(self.arrays["input_edges"])
        rows = np.repeat(np.arange(st.num_edges), np.diff(st.groups_indptr))  # (nnz,)
        cols = st.groups_indices  # (nnz,)
        held = np.bincount(cols, minlength=e).astype(np.float64)  # (E,) groups holding each input edge
        share = 1.0 / held[cols]  # (nnz,)
        size = np.bincount(rows, weights=share, minlength=st.num_edges)  # (E_k,)
        total = np.bincount(cols, weights=size[rows], minlength=e)  # (E,)
        return np.divide(total, held, out=np.zeros(e), where=held > 0)

    def save(self, path: str | os.PathLike) -> None:
        """Write the ``.npz`` deterministically (same recording -> same bytes)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for key in sorted(self.arrays):
                info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w") as fh:
                    np.lib.format.write_array(fh, np.asarray(self.arrays[key]), allow_pickle=False)
        os.replace(tmp, path)

    def to_bytes(self) -> bytes:
        """The ``.npz`` file's bytes (for downloads)."""
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "rec.npz"
            self.save(p)
            return p.read_bytes()


def load_recording(path: str | os.PathLike) -> Recording:
    """Read a recording ``.npz``.

    Raises:
        RecordingError: missing, corrupt, not a recording, or a newer format version.
    """
    p = Path(path)
    if not p.is_file():
        raise RecordingError(f"{p}: no such recording file")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:
        raise RecordingError(f"{p.name}: not a readable .npz recording ({type(exc).__name__})") from None
    missing = [k for k in _TOP_KEYS if k not in arrays]
    if missing:
        raise RecordingError(f"{p.name}: not a MeshCNN Explorer recording (missing {', '.join(missing[:3])})")
    version = int(arrays["format_version"])
    if version > FORMAT_VERSION:
        raise RecordingError(
            f"{p.name}: format version {version} is newer than this program ({FORMAT_VERSION})"
        )
    n = int(arrays["num_stages"])
    for k in range(n):
        for key in _STAGE_KEYS + (_STAGE_KEYS_V2 if version >= 2 else ()):
            if f"stage{k}_{key}" not in arrays:
                raise RecordingError(f"{p.name}: stage {k} lacks {key!r}")
    return Recording(arrays)


def label_values(metadata: dict, class_names: list[str], task: str) -> list[str]:
    """The ``.eseg`` label value of each class of a model or recording.

    A segmenter's ``metadata["label_values"]`` when that is one distinct string per class, else
    ``class_names``; a classifier's classes are its class names (its metadata is not consulted).
    """
    values = metadata.get("label_values") if isinstance(metadata, dict) and task == "segmentation" else None
    ok = isinstance(values, list) and len(values) == len(class_names)
    ok = ok and all(isinstance(v, str) for v in values) and len(set(values)) == len(values)
    return list(values) if ok else list(class_names)


def is_label_value(name: str) -> bool:
    """Whether a class name is a bare ``.eseg`` label value (``"3"``) rather than a part's name."""
    return str(name).strip().lstrip("-").isdigit()
