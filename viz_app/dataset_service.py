"""What the data-set page asks for, as plain functions (no Streamlit, no Plotly).

The survey itself is :func:`meshcnn_core.analysis.survey_run.survey` (the code behind ``python -m meshcnn_core
survey``); this module checks that a model fits a data-set folder (:func:`check_dataset`), names the
survey's resumable cache file (:func:`survey_cache_file`), keeps finished reports for every session
(:class:`SurveyStore`) and turns a :class:`~meshcnn_core.analysis.survey.SurveyReport` into the page's tables,
per-class shares and gallery (:func:`class_table`, :func:`region_table`, :func:`part_table`,
:func:`dihedral_shares`, :func:`region_left_out`, :func:`class_gallery`, :func:`gallery_mesh`).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from meshcnn_core import LoadedModel, MeshCNNError
from meshcnn_core.analysis.regions import REGION_NAMES
from meshcnn_core.analysis.survey import SurveyReport, dihedral_bin_labels
from meshcnn_core.data.datasets import DatasetInfo, default_cache_dir, scan_dataset
from meshcnn_core.inference import prepare
from meshcnn_core.mesh.io import load_mesh

__all__ = [
    "SPLITS",
    "DatasetCheck",
    "check_dataset",
    "scan",
    "survey_cache_file",
    "survey_key",
    "SurveyStore",
    "stage_names",
    "class_table",
    "region_table",
    "region_left_out",
    "part_table",
    "dihedral_shares",
    "GalleryItem",
    "class_gallery",
    "GalleryMesh",
    "gallery_mesh",
]

SPLITS = ("test", "train")


def scan(root: str | Path) -> DatasetInfo | str:
    """The data set at ``root``, or a sentence saying why it is not one (never raises)."""
    text = str(root).strip()
    if not text:
        return (
            "no data-set folder set: type one in the sidebar, or start the app with MESHCNN_DATASET=<folder>"
        )
    r = Path(text).expanduser()
    if not r.is_dir():
        return f"{r}: no such folder"
    try:
        return scan_dataset(r)
    except (MeshCNNError, OSError) as exc:
        return " ".join(str(exc).split()) or f"{r}: not a data set in MeshCNN's layout"


@dataclass(frozen=True)
class DatasetCheck:
    """Whether a model can be surveyed on a split of a data set.

    Attributes:
        info: the scanned data set.
        split: ``"test"`` or ``"train"``.
        files: the split's mesh files.
        problem: why the survey cannot run (then the page says so instead), else None.
        note: something true to know before reading the report (e.g. class names differ), else None.
        stamp: changes when the split's files change (count, newest modification, total size).
    """

    info: DatasetInfo
    split: str
    files: tuple[Path, ...]
    problem: str | None
    note: str | None
    stamp: str


def check_dataset(model: LoadedModel, info: DatasetInfo, split: str = "test") -> DatasetCheck:
    """Check ``model`` against the data set (task, number of classes, split not empty)."""
    files = tuple(info.files.get(split, []))
    problem = note = None
    if split not in SPLITS:
        problem = f"unknown split {split!r}: choose test or train"
    elif model.task != info.task:
        problem = (
            f"{info.root.name} is a {info.task} data set, but {model.name} is a {model.task} model: "
            "pick a model of the same kind"
        )
    elif model.config.nclasses != info.nclasses:
        problem = (
            f"{info.root.name} has {info.nclasses} classes, but {model.name} has {model.config.nclasses}: "
            "pick the model trained on this data set"
        )
    elif not files:
        problem = f"the {split} split of {info.root.name} has no meshes"
    elif list(model.label_values) != list(info.class_names) and model.task == "classification":
        note = (  # a classifier's label values are its class names
            f"The model's class names ({', '.join(model.class_names[:4])}, …) differ from the data set's "
            f"({', '.join(info.class_names[:4])}, …); the report uses the data set's, matched by position."
        )
    elif list(model.label_values) != list(info.class_names):
        note = (  # a segmenter's names may be words; its label values are what must match
            f"The model's part label values ({', '.join(model.label_values[:4])}, …) differ from the data "
            f"set's ({', '.join(info.class_names[:4])}, …); the report matches them by position and uses "
            "the model's part names."
        )
    stats = [(p.stat().st_mtime_ns, p.stat().st_size) for p in files if p.is_file()]
    stamp = f"{len(files)}:{max((s[0] for s in stats), default=0)}:{sum(s[1] for s in stats)}"
    return DatasetCheck(info, split, files, problem, note, stamp)


def survey_cache_file(model_id: str, root: Path, split: str) -> Path:
    """The survey's JSON-lines cache for a model, data set and split (under ``$MESHCNN_CACHE``).

    ``model_id``: what identifies the model file (its resolved path, or an upload's hash). The survey
    itself keys every entry by the model's weights and the mesh's bytes, so a stale file is never used.
    """
    key = f"{Path(root).resolve()}|{split}|{model_id}"
    name = hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
    return default_cache_dir() / "survey" / f"{name}.jsonl"


def survey_key(fingerprint: str, check: DatasetCheck) -> str:
    """The key of a finished report in the :class:`SurveyStore` (model weights, folder, split, files)."""
    return f"{fingerprint}|{Path(check.info.root).resolve()}|{check.split}|{check.stamp}"


@dataclass
class SurveyStore:
    """Finished survey reports and surveys under way, shared by every session of the server.

    One survey of a key runs at a time: :meth:`begin` says whether the caller may run it; the others see
    its progress (:meth:`progress`) and find the report once it is :meth:`finish`-ed.
    """

    reports: dict[str, SurveyReport] = field(default_factory=dict)
    running: dict[str, tuple[int, int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    max_reports: int = 16

    def get(self, key: str) -> SurveyReport | None:
        """The finished report, or None."""
        with self.lock:
            return self.reports.get(key)

    def begin(self, key: str, total: int) -> bool:
        """Claim the survey of ``key``: False when another session runs it (or it is done)."""
        with self.lock:
            if key in self.running or key in self.reports:
                return False
            self.running[key] = (0, total)
            return True

    def update(self, key: str, done: int, total: int) -> None:
        """Record progress of a claimed survey."""
        with self.lock:
            self.running[key] = (done, total)

    def progress(self, key: str) -> tuple[int, int] | None:
        """``(done, total)`` of a survey under way, or None."""
        with self.lock:
            return self.running.get(key)

    def finish(self, key: str, report: SurveyReport | None) -> None:
        """Release a claimed survey and keep its report (None: it stopped; its cache file keeps its work)."""
        with self.lock:
            self.running.pop(key, None)
            if report is not None:
                if len(self.reports) >= self.max_reports:
                    self.reports.pop(next(iter(self.reports)))
                self.reports[key] = report


# ---------------------------------------------------------------- the report as tables


def stage_names(n: int) -> list[str]:
    """``["input", "pool 1", ..., "pool n-1"]``: the pooled stages a survival depth counts."""
    return ["input"] + [f"pool {k}" for k in range(1, n)]


def _pct(v: float) -> float:
    return round(100 * float(v), 1) if np.isfinite(v) else float("nan")


def class_table(report: SurveyReport) -> pd.DataFrame:
    """Classifiers: per class the meshes, the accuracy and the dihedral-angle shares (in %).

    The shares are those of the input edges and of the last stage's edges in each dihedral-angle bin.
    """
    bins = dihedral_bin_labels()
    rows = []
    for i, name in enumerate(report.class_names):
        row = {"class": name, "meshes": int(report.class_counts[i])}
        row["accuracy %"] = _pct(report.class_accuracy[i])
        row |= {f"input {b} %": _pct(v) for b, v in zip(bins, report.dihedral_input[i])}
        row |= {f"kept {b} %": _pct(v) for b, v in zip(bins, report.dihedral_kept[i])}
        rows.append(row)
    return pd.DataFrame(rows)


def region_table(report: SurveyReport) -> pd.DataFrame:
    """Classifiers: per class where on the shapes the last pooled stage's edges lie (geodesic regions).

    Columns: per region bin (extremities, middle, core of the normalized geodesic eccentricity) the
    ratio of the last stage's share of edges to the input's, the consistency of the extremity ratio
    over the class's meshes (how many drop below 1; its std), then the shares themselves (in %).
    """
    reg = report.regions
    rows = []
    for i, name in enumerate(report.class_names):
        n = int(reg.meshes[i])
        row: dict = {"class": name}
        ratios = zip(REGION_NAMES[::-1], reg.enrichment[i][::-1])  # extremities first
        row |= {f"{r} kept/input": round(float(v), 2) for r, v in ratios}
        row["extremities drop in"] = f"{round(float(reg.drop[i]) * n)} of {n}" if n else "–"
        row["std of extremity ratio"] = round(float(reg.std[i]), 2)
        row |= {f"input {r} %": _pct(v) for r, v in zip(REGION_NAMES, reg.input[i])}
        row |= {f"kept {r} %": _pct(v) for r, v in zip(REGION_NAMES, reg.kept[i])}
        rows.append(row)
    return pd.DataFrame(rows)


def region_left_out(report: SurveyReport) -> tuple[int, int]:
    """``(edges, meshes)``: input edges off their mesh's largest piece (no region), and their meshes."""
    off = [
        len(m.survival) - int(m.region_input.sum())
        for m in report.meshes
        if m.error is None and m.region_input is not None and m.survival is not None
    ]
    return int(sum(off)), int(sum(1 for x in off if x > 0))


def part_table(report: SurveyReport) -> pd.DataFrame:
    """Segmenters: per ground-truth part its edges, the accuracy and what survives (in %).

    What survives: the share of the part's input edges still an edge of their own at each pooled stage.
    """
    names = stage_names(report.part_survival.shape[1])
    rows = []
    for i, name in enumerate(report.class_names):
        row = {"part": name, "edges": int(report.class_counts[i])}
        row["accuracy %"] = _pct(report.class_accuracy[i])
        row |= {f"kept at {s} %": _pct(v) for s, v in zip(names, report.part_survival[i])}
        rows.append(row)
    return pd.DataFrame(rows)


def dihedral_shares(report: SurveyReport, cls: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(input, kept)``: shares of the input edges and of the last stage's edges per dihedral bin.

    ``cls`` None: over every mesh of every class (counts added up, then shared). Shapes: ``(B,)`` each,
    summing to 1 (nan when there are no edges).
    """
    if cls is not None:
        return report.dihedral_input[cls], report.dihedral_kept[cls]
    ok = [m for m in report.meshes if m.error is None]
    b = len(dihedral_bin_labels())
    inp = sum((m.dihedral_input for m in ok), np.zeros(b, dtype=np.int64)).astype(np.float64)
    kept = sum((m.dihedral_kept for m in ok), np.zeros(b, dtype=np.int64)).astype(np.float64)
    share = lambda c: c / c.sum() if c.sum() else np.full(b, np.nan)  # noqa: E731
    return share(inp), share(kept)


@dataclass(frozen=True)
class GalleryItem:
    """One mesh of a class in the gallery.

    Attributes:
        file: the mesh file, relative to the data-set folder.
        correct: whether the model got it right.
        predicted: the predicted class's name.
        probability: its probability.
        survival: ``(E,)`` the survival depth of each input edge.
    """

    file: str
    correct: bool
    predicted: str
    probability: float
    survival: np.ndarray


def class_gallery(report: SurveyReport, cls: int) -> list[GalleryItem]:
    """The meshes of class ``cls`` that ran, misclassified first (then in the data set's order)."""
    items = [
        GalleryItem(
            m.file, bool(m.correct), report.class_names[m.prediction], float(m.probability), m.survival
        )
        for m in report.meshes
        if m.error is None and m.label == cls
    ]
    return sorted(items, key=lambda g: g.correct)  # stable: data-set order within each group


@dataclass(frozen=True)
class GalleryMesh:
    """A data-set mesh as the survey saw it.

    Shapes: ``vertices (V, 3)``, ``faces (F, 3)``, ``edges (E, 2)`` in MeshCNN's edge order (the order
    of a :class:`GalleryItem`'s survival depths).
    """

    vertices: np.ndarray
    faces: np.ndarray
    edges: np.ndarray


def gallery_mesh(root: Path, file: str) -> GalleryMesh:
    """Read ``root / file`` as the survey does (no forward pass).

    Raises:
        MeshCNNError: the file is not below ``root`` or cannot be read.
    """
    base = Path(root).resolve()
    path = (base / file).resolve()
    if base not in path.parents:
        raise MeshCNNError(f"{file}: not a file of the data set {base.name}")
    prep = prepare(load_mesh(path))
    return GalleryMesh(prep.topology.positions, prep.faces, prep.topology.edges)
