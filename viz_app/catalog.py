"""What the explorer can open: shipped checkpoints, sample meshes, and meshes of a data-set folder.

Folders come from environment variables (so tests and deployments can point elsewhere):

================================  ==============================================
``MESHCNN_CHECKPOINTS``           checkpoints folder (default ``<repo>/checkpoints``)
``MESHCNN_SAMPLES``               sample meshes folder (default ``<repo>/sample_meshes``)
``MESHCNN_DATASET``               a data set in MeshCNN's layout (optional)
================================  ==============================================

A sample mesh may come with per-edge part labels: ``<stem>.eseg`` beside it (one label per edge, in
MeshCNN's edge order, as in a segmentation data set's ``seg/`` folder).

Every entry has a ``key`` (``"sample:ant_750.obj"``, ``"data:test/0014.obj"``...) that is safe to put in
a URL: :func:`resolve_mesh_key` only ever maps a key back to a file that the listing itself produced, so
a hand-edited URL cannot name an arbitrary path.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshcnn_core.data.eseg import read_eseg
from meshcnn_core.data.vases import HANDLE_LABEL, NECK_LABEL
from meshcnn_core.errors import MeshError
from meshcnn_core.mesh.io import MESH_SUFFIXES
from meshcnn_core.recording import is_label_value

__all__ = [
    "REPO_ROOT",
    "MESH_SUFFIXES",
    "ModelEntry",
    "MeshEntry",
    "DatasetListing",
    "PartLabels",
    "VASE_PARTS",
    "Landing",
    "LANDING",
    "CompareLanding",
    "COMPARE_LANDING",
    "checkpoints_dir",
    "samples_dir",
    "dataset_dir",
    "list_models",
    "list_sample_meshes",
    "list_dataset",
    "resolve_mesh_key",
    "model_card",
    "ground_truth",
    "part_labels",
    "segmenter_part_names",
    "estimated_edges",
    "default_model",
    "default_mesh",
    "fitting_sample",
]

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ModelEntry:
    """A checkpoint file the app can open.

    Attributes:
        key: stable id (``"shipped:<file name>"``), used in the URL.
        name: display name (file stem).
        path: the ``.pt`` file.
        card: the model card beside it (``<stem>.md``), if any.
    """

    key: str
    name: str
    path: Path
    card: Path | None


@dataclass(frozen=True)
class MeshEntry:
    """A mesh file the app can open.

    Attributes:
        key: ``"sample:<file>"`` or ``"data:<split>/<file>"`` / ``"data:<class>/<split>/<file>"``.
        name: display name.
        path: the mesh file.
        source: ``"sample"`` or ``"dataset"``.
        label: classification data sets: the class (folder) name; else None.
        seg: the per-edge part labels (``.eseg`` file), if present: a segmentation data set's
            ``seg/<stem>.eseg``, or a sample's ``<stem>.eseg`` beside it.
    """

    key: str
    name: str
    path: Path
    source: str
    label: str | None = None
    seg: Path | None = None


@dataclass(frozen=True)
class DatasetListing:
    """Meshes of a data-set folder (``task`` is ``"classification"``, ``"segmentation"`` or ``""``)."""

    root: Path
    task: str
    meshes: tuple[MeshEntry, ...]
    message: str = ""


def _shipped(folder: str) -> Path:
    """``<repo>/<folder>`` in a checkout; else where an installed wheel put it (``<prefix>/share/...``)."""
    here = REPO_ROOT / folder
    if here.is_dir():
        return here
    return Path(sys.prefix) / "share" / "meshcnn-explorer" / folder


def checkpoints_dir() -> Path:
    """``$MESHCNN_CHECKPOINTS``, else the shipped ``checkpoints`` folder."""
    return Path(os.environ.get("MESHCNN_CHECKPOINTS") or _shipped("checkpoints"))


def samples_dir() -> Path:
    """``$MESHCNN_SAMPLES``, else the shipped ``sample_meshes`` folder."""
    return Path(os.environ.get("MESHCNN_SAMPLES") or _shipped("sample_meshes"))


def dataset_dir() -> str:
    """``$MESHCNN_DATASET`` (empty when unset)."""
    return os.environ.get("MESHCNN_DATASET", "").strip()


def list_models(folder: str | os.PathLike | None = None) -> list[ModelEntry]:
    """Checkpoints (``*.pt``) of ``folder`` (default :func:`checkpoints_dir`), sorted by name."""
    d = Path(folder) if folder is not None else checkpoints_dir()
    if not d.is_dir():
        return []
    out = []
    for p in sorted(d.glob("*.pt")):
        if p.is_file():
            card = p.with_suffix(".md")
            out.append(ModelEntry(f"shipped:{p.name}", p.stem, p, card if card.is_file() else None))
    return out


def model_card(entry: ModelEntry) -> str | None:
    """The model card's Markdown text, or None."""
    if entry.card is None:
        return None
    try:
        return entry.card.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


_EDGES_IN_NAME = re.compile(r"_(\d+)$")


def estimated_edges(entry: MeshEntry) -> int | None:
    """Edge count from a ``*_<edges>`` file name (the sample meshes), else None (no file read)."""
    m = _EDGES_IN_NAME.search(entry.path.stem)
    return int(m.group(1)) if m else None


def list_sample_meshes(folder: str | os.PathLike | None = None) -> list[MeshEntry]:
    """Mesh files (:data:`MESH_SUFFIXES`) of ``folder`` (default :func:`samples_dir`), sorted by name."""
    d = Path(folder) if folder is not None else samples_dir()
    if not d.is_dir():
        return []
    out = []
    for p in sorted(d.iterdir()):
        if p.is_file() and p.suffix.lower() in MESH_SUFFIXES:
            seg = p.with_suffix(".eseg")
            out.append(
                MeshEntry(f"sample:{p.name}", p.stem, p, "sample", None, seg if seg.is_file() else None)
            )
    return out


def _objs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.obj") if p.is_file()) if folder.is_dir() else []


def list_dataset(root: str | os.PathLike | None = None, *, limit: int = 5000) -> DatasetListing:
    """Meshes of a data set in MeshCNN's layout, test split first.

    * segmentation: ``<root>/{test,train}/*.obj`` with labels in ``<root>/seg/<stem>.eseg``;
    * classification: ``<root>/<class>/{test,train}/*.obj`` (the class is the folder name).

    Never raises: a missing or unrecognised folder gives an empty listing with a ``message``.
    """
    if root is None:
        root = dataset_dir()
    if not str(root).strip():
        return DatasetListing(Path("."), "", (), "no data-set folder set")
    r = Path(root).expanduser()
    if not r.is_dir():
        return DatasetListing(r, "", (), f"{r}: no such folder")
    meshes: list[MeshEntry] = []
    if (r / "seg").is_dir() and ((r / "train").is_dir() or (r / "test").is_dir()):
        for split in ("test", "train"):
            for p in _objs(r / split):
                seg = r / "seg" / f"{p.stem}.eseg"
                meshes.append(
                    MeshEntry(
                        f"data:{split}/{p.name}",
                        f"{p.stem} ({split})",
                        p,
                        "dataset",
                        None,
                        seg if seg.is_file() else None,
                    )
                )
        task = "segmentation"
    else:
        try:
            classes = sorted(
                d for d in r.iterdir() if d.is_dir() and ((d / "test").is_dir() or (d / "train").is_dir())
            )
        except OSError as exc:
            return DatasetListing(r, "", (), f"{r}: cannot be read ({exc.strerror})")
        for split in ("test", "train"):
            for c in classes:
                for p in _objs(c / split):
                    meshes.append(
                        MeshEntry(
                            f"data:{c.name}/{split}/{p.name}",
                            f"{c.name}/{p.stem} ({split})",
                            p,
                            "dataset",
                            c.name,
                        )
                    )
        task = "classification" if classes else ""
    if not meshes:
        return DatasetListing(
            r, "", (), f"{r}: no meshes in MeshCNN's layout (<class>/test/*.obj or test/*.obj + seg/)"
        )
    return DatasetListing(r, task, tuple(meshes[:limit]))


def resolve_mesh_key(key: str, samples: list[MeshEntry], dataset: DatasetListing | None) -> MeshEntry | None:
    """The listed entry with this key, or None (keys are never turned into paths directly)."""
    pool = list(samples) + (list(dataset.meshes) if dataset is not None else [])
    return next((m for m in pool if m.key == key), None)


def _read_eseg(path: Path, num_edges: int) -> np.ndarray | None:
    """``(E,)`` int64 label values of an ``.eseg`` file, or None when :func:`read_eseg` refuses it."""
    try:
        return read_eseg(path, num_edges)
    except MeshError:
        return None


def ground_truth(
    entry: MeshEntry, class_names: list[str], num_edges: int, task: str | None = None
) -> np.ndarray | int | None:
    """Ground truth for a mesh, in the model's class indices, or None when unknown.

    Classification: the index of the class folder's name in ``class_names``. Segmentation: ``(E,)``
    int64 per-edge labels from the ``.eseg`` file, mapped through ``class_names`` (MeshCNN stores label
    values such as ``1..4``: pass the model's ``label_values``). None when the file is missing, does
    not have ``num_edges`` rows, or holds values the model does not know.

    Args:
        entry: the listed mesh.
        class_names: the model's class names (classification) or label values (segmentation).
        num_edges: the input edges of the recording (an ``.eseg`` file must have as many rows).
        task: the model's task when known. For ``"classification"`` an ``.eseg`` file is never used
            (it holds part labels, not the model's classes); for ``"segmentation"`` a class folder is not.
    """
    if entry.label is not None and task != "segmentation":
        return class_names.index(entry.label) if entry.label in class_names else None
    if entry.seg is None or task == "classification":
        return None
    values = _read_eseg(entry.seg, num_edges)
    if values is None:
        return None
    lookup = {name: i for i, name in enumerate(class_names)}
    out = np.array([lookup.get(str(v), -1) for v in values.tolist()], dtype=np.int64)
    return None if (out < 0).any() else out


# COSEG vases' part labels (measured in meshcnn_core.data.vases: 1 neck, 2 handle, 3 body, 4 base).
VASE_PARTS = {NECK_LABEL: "neck", HANDLE_LABEL: "handle", 3: "body", 4: "base"}


@dataclass(frozen=True)
class PartLabels:
    """The ground-truth part of every input edge of a mesh, as its ``.eseg`` file stores it.

    Attributes:
        values: ``(E,)`` int64 label values (e.g. ``1..4``), in MeshCNN's edge order.
        names: display name of each value present (``"neck"``... for COSEG vases, else ``"part 3"``).
    """

    values: np.ndarray
    names: dict[int, str]


def _is_vase(entry: MeshEntry) -> bool:
    """A COSEG vase: a sample named ``vase…`` or a mesh of a data-set folder named ``…vase…``."""
    where = entry.path.stem if entry.source == "sample" else entry.path.parent.parent.name
    return "vase" in where.lower()


def segmenter_part_names(recordings: Sequence) -> dict[int, str]:
    """``{label value: part name}`` of the first segmenter recording whose parts have names, else ``{}``.

    A segmenter trained with ``part_names`` (e.g. the human-body one: 1 head, 2 hand, ...) says what
    the ``.eseg`` values of meshes of its data set mean.
    """
    for rec in recordings:
        if rec.task == "segmentation" and rec.class_names != rec.label_values:
            return {int(v): n for v, n in zip(rec.label_values, rec.class_names) if is_label_value(v)}
    return {}


def part_labels(entry: MeshEntry, num_edges: int, known: dict[int, str] | None = None) -> PartLabels | None:
    """The mesh's per-edge part labels (its ``.eseg`` file), or None if it has none that fit.

    None when there is no file, it cannot be read, or it does not have ``num_edges`` rows. The raw
    values are kept (a classifier's classes have nothing to do with them). Parts get the COSEG vase
    names (:data:`VASE_PARTS`) when the mesh is a vase and every value is one of them. ``known``
    (:func:`segmenter_part_names`) names the values first, when it names every value present.
    """
    if entry.seg is None:
        return None
    values = _read_eseg(entry.seg, num_edges)
    if values is None:
        return None
    present = sorted(set(values.tolist()))
    vase = _is_vase(entry) and set(present) <= set(VASE_PARTS)
    if known and set(present) <= set(known):
        names = {v: known[v] for v in present}
    else:
        names = {v: VASE_PARTS[v] if vase else f"part {v}" for v in present}
    values.flags.writeable = False
    return PartLabels(values, names)


# ---------------------------------------------------------------- what the app opens on


@dataclass(frozen=True)
class Landing:
    """The view the explorer opens on when a link names nothing (change it here, in one place).

    Attributes:
        model: checkpoint file name in :func:`checkpoints_dir`.
        mesh: sample mesh file name in :func:`samples_dir`.
        stage: the stage shown first (clamped to the model's last stage).
        color: the edge coloring shown first (a key of :data:`viz_app.colorings.QUANTITIES`).
    """

    model: str
    mesh: str
    stage: int
    color: str


# The engraved-cubes classifier on a cube of its generated test split (a ring engraved in one face),
# which it classifies correctly (99%): its pooling collapses the flat faces and keeps the engraving, which is
# 32% of the input edges, 69% of the edges at pool 3 (300 edges, where the view opens) and 76% at pool 4
# (benchmarks/bench_story.py).
LANDING = Landing(model="cubes_classifier.pt", mesh="cube_ring_750.obj", stage=3, color="activation")


@dataclass(frozen=True)
class CompareLanding:
    """The compare page's view when nothing names its models (change it here, in one place).

    Attributes:
        models: checkpoint file names in :func:`checkpoints_dir`, compared side by side (those listed).
        mesh: sample mesh file name in :func:`samples_dir`.
        stage: the stage shown first (clamped to the models' last stage).
    """

    models: tuple[str, ...]
    mesh: str
    stage: int


# The handle and the neck classifiers (both take 1500 edges, so their kept edges can be compared) on a
# generated COSEG-style vase with handles and a neck whose .eseg gives each edge's part. The page opens at
# pool 3, where the handle classifier keeps 72% of the handle edges and the neck classifier 42%
# (benchmarks/bench_vase_pair.py; the cards say which parts of MeshCNN's story do not show).
COMPARE_LANDING = CompareLanding(
    models=("vase_handle_classifier.pt", "vase_neck_classifier.pt"), mesh="vase_handle_neck_1500.obj", stage=3
)


def default_model(models: Sequence[ModelEntry], landing: Landing = LANDING) -> ModelEntry | None:
    """The landing model when it is listed, else a classifier (by name), else the first model."""
    if not models:
        return None
    for m in models:
        if m.path.name == landing.model:
            return m
    for m in models:
        if "class" in m.name.lower() or "shrec" in m.name.lower():
            return m
    return models[0]


def default_mesh(meshes: Sequence[MeshEntry], ninput_edges: int | None,
                 landing: Landing = LANDING) -> MeshEntry | None:
    """The largest sample that fits ``ninput_edges`` (the landing mesh among equals), else the first.

    Edge counts come from the file names (``*_<edges>``); no file is read.
    """
    if not meshes:
        return None
    fits = [(e, m) for m in meshes if (e := estimated_edges(m)) is not None
            and (ninput_edges is None or e <= ninput_edges)]
    if not fits:
        return meshes[0]
    best = max(e for e, _ in fits)
    largest = [m for e, m in fits if e == best]
    return next((m for m in largest if m.path.name == landing.mesh), largest[0])


def fitting_sample(entry: MeshEntry, samples: Sequence[MeshEntry], lo: int, hi: int) -> MeshEntry | None:
    """The largest sample of the same shape as ``entry`` whose edge count lies in ``lo..hi``, or None.

    Same shape: the same name before ``_<edges>``. None also when ``entry`` already fits or is not a sample.
    """
    if entry.source != "sample" or (e := estimated_edges(entry)) is None or lo <= e <= hi:
        return None
    stem = entry.name.rsplit("_", 1)[0]
    fits = [
        (n, m)
        for m in samples
        if m.name.rsplit("_", 1)[0] == stem and (n := estimated_edges(m)) is not None and lo <= n <= hi
    ]
    return max(fits, key=lambda t: t[0])[1] if fits else None
