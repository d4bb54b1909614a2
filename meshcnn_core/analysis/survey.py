"""What a model keeps across a data set: run it over a MeshCNN data-set folder and sum up.

:func:`survey` records every mesh of a split (the test split by default), reduces each recording
to a small :class:`MeshSurvey` (:func:`summarize_recording`) and adds them up
(:func:`aggregate`) into a :class:`SurveyReport`:

* classifiers: per class the accuracy, a confusion matrix, and which geometry survives: the share
  of the last stage's edges per dihedral-angle bin (sharp to flat) against the same share at the
  input; per mesh its survival map and whether it was right. The angle is the true angle between
  the two faces of an edge on the input mesh (180 degrees = flat), not MeshCNN's first feature,
  which its ``+ 0.1`` in the normal's division pulls towards 90 degrees on small meshes. Beside it,
  which *part of the shape* survives, pose-invariantly: the same shares per region bin of the
  normalized geodesic eccentricity (core, middle, extremities; :mod:`.regions`), their enrichment
  and the share of the class's meshes whose extremities lose ground;
* segmenters: per ground-truth part the share of its input edges still an edge of their own at
  each stage (:meth:`Recording.survival_depth`), the per-part accuracy (share of the part's
  edges predicted as it) and the confusion matrix (edges, rows = truth).

The per-mesh results go to a JSON-lines cache as they are made, so an interrupted survey resumes
where it stopped; entries are keyed by the model's weights and the mesh file's bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..checkpoint import LoadedModel
from ..data.datasets import MeshDataset, scan_dataset
from ..errors import MeshCNNError
from ..inference import record
from ..mesh.io import load_mesh
from ..recording import Recording
from .regions import (
    REGION_BINS,
    REGION_NAMES,
    RegionStats,
    geodesic_eccentricity,
    region_bin_labels,
    region_counts,
    region_stats,
)

__all__ = [
    "DIHEDRAL_BINS_DEG", "MeshSurvey", "SurveyReport", "summarize_recording", "aggregate", "survey",
    "model_fingerprint", "report_table_csv", "report_regions_text", "dihedral_bin_labels", "dihedral_angles",
]

#: Bin edges of the dihedral angle (degrees, 180 = flat), sharp to flat.
DIHEDRAL_BINS_DEG = (0.0, 120.0, 150.0, 165.0, 175.0, 180.0)
CACHE_VERSION = 2  # 2: per-mesh region counts

Progress = Callable[[int, int, str], None]


def dihedral_bin_labels() -> list[str]:
    """Names of the dihedral-angle bins, sharp to flat."""
    b = DIHEDRAL_BINS_DEG
    return [f"{b[i]:g}-{b[i + 1]:g} deg" for i in range(len(b) - 1)]


def dihedral_angles(vertices: np.ndarray, faces: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The angle between the two faces of each edge (pi = flat), from unit face normals.

    Faces are taken as oriented consistently; an edge with one face (a boundary) gets nan.

    Shapes: vertices ``(V, 3)``, faces ``(F, 3)``, edges ``(E, 2)`` -> ``(E,)`` float64 radians.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # (F, 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = n / np.linalg.norm(n, axis=1, keepdims=True)
    nv = len(v)
    pairs = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])  # (3F, 2)
    keys = pairs.min(1) * nv + pairs.max(1)  # (3F,)
    owner = np.tile(np.arange(len(f)), 3)  # (3F,)
    order = np.argsort(keys, kind="stable")
    keys, owner = keys[order], owner[order]
    e = np.asarray(edges, dtype=np.int64)
    want = e.min(1) * nv + e.max(1)  # (E,)
    first = np.searchsorted(keys, want)  # (E,)
    second = np.minimum(first + 1, len(keys) - 1)
    two = (second < len(keys)) & (keys[second] == want) & (second != first)
    f1, f2 = owner[np.minimum(first, len(keys) - 1)], owner[second]
    cos = np.clip(np.sum(n[f1] * n[f2], axis=1), -1.0, 1.0)
    return np.where(two, np.pi - np.arccos(cos), np.nan)


def _bin_counts(dihedral_rad: np.ndarray) -> np.ndarray:
    """``(B,)`` int64 edge counts per dihedral bin (nan left out); ``dihedral_rad`` ``(n,)``."""
    deg = np.degrees(np.asarray(dihedral_rad, dtype=np.float64))
    deg = deg[np.isfinite(deg)]
    idx = np.clip(np.searchsorted(DIHEDRAL_BINS_DEG, deg, side="right") - 1, 0, len(DIHEDRAL_BINS_DEG) - 2)
    return np.bincount(idx, minlength=len(DIHEDRAL_BINS_DEG) - 1).astype(np.int64)


@dataclass(frozen=True)
class MeshSurvey:
    """One mesh's part of a survey (arrays are plain numbers; JSON-ready via :meth:`to_dict`).

    Attributes:
        file: the mesh file, relative to the data-set folder.
        error: why the mesh could not be run (then every other field is empty), else None.
        survival: ``(E,)`` int, :meth:`Recording.survival_depth`.
        label: classifiers: the true class; segmenters: None.
        prediction: classifiers: the predicted class.
        probability: classifiers: the predicted class's probability.
        dihedral_input: classifiers: ``(B,)`` input edges per dihedral bin (boundary edges left out).
        dihedral_kept: classifiers: ``(B,)`` the last stage's edges per bin (angle on the input mesh).
        region_input: classifiers: ``(R,)`` input edges per region bin (:mod:`.regions`; edges off
            the mesh's largest piece left out).
        region_kept: classifiers: ``(R,)`` the last stage's edges per region bin.
        part_edges: segmenters: ``(P,)`` input edges per true part.
        part_kept: segmenters: ``(P, K)`` edges of each part still an edge of their own at stage k.
        confusion: segmenters: ``(P, P)`` edge counts, rows = truth.
    """

    file: str
    error: str | None = None
    survival: np.ndarray | None = None
    label: int | None = None
    prediction: int | None = None
    probability: float | None = None
    dihedral_input: np.ndarray | None = None
    dihedral_kept: np.ndarray | None = None
    region_input: np.ndarray | None = None
    region_kept: np.ndarray | None = None
    part_edges: np.ndarray | None = None
    part_kept: np.ndarray | None = None
    confusion: np.ndarray | None = None

    @property
    def correct(self) -> bool | None:
        """Classifiers: whether the prediction is right."""
        return None if self.label is None or self.prediction is None else self.label == self.prediction

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (arrays as lists)."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MeshSurvey:
        """Inverse of :meth:`to_dict`."""
        arrays = ("survival", "dihedral_input", "dihedral_kept", "region_input", "region_kept", "part_edges",
                  "part_kept", "confusion")
        return cls(**{k: (np.asarray(v, dtype=np.int64) if k in arrays and v is not None else v)
                      for k, v in d.items() if k in cls.__dataclass_fields__})


def _pooled_stages(rec: Recording) -> int:
    kinds = [str(rec.arrays[f"stage{k}_kind"]) for k in range(rec.num_stages)]
    return kinds.index("unpool") if "unpool" in kinds else len(kinds)


def summarize_recording(rec: Recording, label: int | np.ndarray, file: str = "") -> MeshSurvey:
    """Reduce one recording to what the survey adds up.

    Args:
        rec: a recording of the mesh.
        label: classifiers: the true class; segmenters: ``(E,)`` true part per input edge.
        file: the mesh file's name (kept for the report).

    Raises:
        MeshCNNError: segmentation labels of the wrong length or outside the parts.
    """
    depth = rec.survival_depth()  # (E,)
    if rec.task == "classification":
        last = _pooled_stages(rec) - 1
        dihedral = dihedral_angles(rec.input_vertices, rec.input_faces, rec.input_edges)  # (E,) radians
        ecc = geodesic_eccentricity(rec.input_vertices, rec.input_faces, rec.input_edges)  # (E,) in [0, 1]
        kept = rec.arrays[f"stage{last}_edge_ids"]
        pred = int(rec.prediction)
        return MeshSurvey(
            file=file, survival=depth, label=int(label), prediction=pred,
            probability=float(rec.probabilities[pred]), dihedral_input=_bin_counts(dihedral),
            dihedral_kept=_bin_counts(dihedral[kept]), region_input=region_counts(ecc),
            region_kept=region_counts(ecc[kept]),
        )
    labels = np.asarray(label, dtype=np.int64)
    p = len(rec.class_names)
    if labels.shape != depth.shape or labels.min(initial=0) < 0 or labels.max(initial=0) >= p:
        raise MeshCNNError(f"{file}: {len(depth)} labels in 0..{p - 1} expected, got shape {labels.shape}")
    k = _pooled_stages(rec)
    part_kept = np.stack([np.bincount(labels[depth >= s], minlength=p) for s in range(k)], axis=1)  # (P, K)
    confusion = np.zeros((p, p), dtype=np.int64)
    np.add.at(confusion, (labels, rec.prediction), 1)
    return MeshSurvey(
        file=file, survival=depth, part_edges=np.bincount(labels, minlength=p).astype(np.int64),
        part_kept=part_kept.astype(np.int64), confusion=confusion,
    )


@dataclass(frozen=True)
class SurveyReport:
    """A survey of one model over one split.

    Attributes:
        task: ``"classification"`` or ``"segmentation"``.
        class_names: classes (or parts).
        split: the split surveyed.
        meshes: per mesh results, errors included, in the data set's order.
        confusion: ``(C, C)`` int64, rows = truth (classifiers: meshes; segmenters: edges).
        class_accuracy: classifiers: ``(C,)`` per class share right (nan: no mesh); segmenters:
            ``(P,)`` per part share of its edges predicted right.
        class_counts: ``(C,)`` meshes (classifiers) or edges (segmenters) per true class.
        dihedral_input: classifiers: ``(C, B)`` share of the input edges per dihedral bin.
        dihedral_kept: classifiers: ``(C, B)`` the same for the last stage's edges.
        regions: classifiers: per class the region shares, enrichment and consistency
            (:class:`~meshcnn_core.analysis.regions.RegionStats`; meshes without region counts left out).
        part_survival: segmenters: ``(P, K)`` share of each part's input edges still an edge of
            their own at stage k.
        model_name: the model's name.
        data: the data-set folder.
    """

    task: str
    class_names: list[str]
    split: str
    meshes: list[MeshSurvey]
    confusion: np.ndarray
    class_accuracy: np.ndarray
    class_counts: np.ndarray
    dihedral_input: np.ndarray | None = None
    dihedral_kept: np.ndarray | None = None
    regions: RegionStats | None = None
    part_survival: np.ndarray | None = None
    model_name: str = ""
    data: str = ""

    @property
    def accuracy(self) -> float:
        """Classifiers: share of meshes right; segmenters: share of edges right."""
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else float("nan")

    @property
    def errors(self) -> list[MeshSurvey]:
        """The meshes that could not be run."""
        return [m for m in self.meshes if m.error is not None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (nan as None)."""
        def plain(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return [plain(x) for x in v.tolist()] if v.ndim else plain(v.item())
            if isinstance(v, list):
                return [plain(x) for x in v]
            if isinstance(v, float) and not np.isfinite(v):
                return None
            return v

        d = {k: plain(v) for k, v in self.__dict__.items() if k not in ("meshes", "regions")}
        d["accuracy"] = plain(self.accuracy)
        d["dihedral_bins_deg"] = list(DIHEDRAL_BINS_DEG)
        if self.regions is not None:
            d["regions"] = {"names": list(REGION_NAMES), "bins": list(REGION_BINS)}
            d["regions"] |= {k: plain(v) for k, v in self.regions.__dict__.items()}
        d["meshes"] = [m.to_dict() for m in self.meshes]
        return d


def _share(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.full(np.broadcast_shapes(num.shape, den.shape), np.nan), where=den > 0)


def aggregate(task: str, class_names: list[str], meshes: list[MeshSurvey], split: str = "test",
              model_name: str = "", data: str = "") -> SurveyReport:
    """Add per-mesh results up into a :class:`SurveyReport` (meshes with an error are left out)."""
    c = len(class_names)
    ok = [m for m in meshes if m.error is None]
    b = len(DIHEDRAL_BINS_DEG) - 1
    if task == "classification":
        confusion = np.zeros((c, c), dtype=np.int64)
        d_in = np.zeros((c, b), dtype=np.int64)
        d_kept = np.zeros((c, b), dtype=np.int64)
        for m in ok:
            confusion[m.label, m.prediction] += 1
            d_in[m.label] += m.dihedral_input
            d_kept[m.label] += m.dihedral_kept
        counts = confusion.sum(1)
        reg = [m for m in ok if m.region_input is not None and m.region_kept is not None]
        r = len(REGION_NAMES)
        regions = region_stats(
            np.array([m.label for m in reg], dtype=np.int64),
            np.array([m.region_input for m in reg], dtype=np.int64).reshape(-1, r),
            np.array([m.region_kept for m in reg], dtype=np.int64).reshape(-1, r),
            c,
        )
        return SurveyReport(
            task, list(class_names), split, list(meshes), confusion, _share(np.diag(confusion), counts),
            counts,
            dihedral_input=_share(d_in, d_in.sum(1, keepdims=True)),
            dihedral_kept=_share(d_kept, d_kept.sum(1, keepdims=True)), regions=regions,
            model_name=model_name, data=data,
        )
    confusion = sum((m.confusion for m in ok), np.zeros((c, c), dtype=np.int64))
    k = max((m.part_kept.shape[1] for m in ok), default=1)
    kept = sum((m.part_kept for m in ok), np.zeros((c, k), dtype=np.int64))
    edges = sum((m.part_edges for m in ok), np.zeros(c, dtype=np.int64))
    return SurveyReport(
        task, list(class_names), split, list(meshes), confusion, _share(np.diag(confusion), edges), edges,
        part_survival=_share(kept, edges[:, None]), model_name=model_name, data=data,
    )


def report_table_csv(report: SurveyReport) -> str:
    """The per-class (classifiers) or per-part (segmenters) table as CSV text."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    fmt = lambda v: "" if not np.isfinite(v) else f"{v:.4f}"  # noqa: E731
    if report.task == "classification":
        bins, reg = dihedral_bin_labels(), report.regions
        w.writerow([
            "class", "meshes", "accuracy", *[f"input {s}" for s in bins], *[f"last stage {s}" for s in bins],
            *[f"input {s}" for s in REGION_NAMES], *[f"last stage {s}" for s in REGION_NAMES],
            *[f"enrichment {s}" for s in REGION_NAMES], "share of meshes whose extremities drop",
            "std of mesh extremity enrichment",
        ])
        for i, name in enumerate(report.class_names):
            w.writerow([name, int(report.class_counts[i]), fmt(report.class_accuracy[i]),
                        *map(fmt, report.dihedral_input[i]), *map(fmt, report.dihedral_kept[i]),
                        *map(fmt, reg.input[i]), *map(fmt, reg.kept[i]), *map(fmt, reg.enrichment[i]),
                        fmt(reg.drop[i]), fmt(reg.std[i])])
    else:
        k = report.part_survival.shape[1]
        w.writerow(["part", "edges", "accuracy", *[f"kept at stage {s}" for s in range(k)]])
        for i, name in enumerate(report.class_names):
            w.writerow([name, int(report.class_counts[i]), fmt(report.class_accuracy[i]),
                        *map(fmt, report.part_survival[i])])
    return out.getvalue()


def report_regions_text(report: SurveyReport) -> str:
    """Classifiers: the per-class region table as aligned plain text (for the command line).

    Per class: the share of the input edges and of the last pooled stage's edges in each region
    bin, their ratio (enrichment), and in how many of the class's meshes the extremity share drops.
    Segmenters (no region table): an empty string.
    """
    reg = report.regions
    if report.task != "classification" or reg is None:
        return ""
    pct = lambda v: "-" if not np.isfinite(v) else f"{100 * v:.0f}"  # noqa: E731
    times = lambda v: "-" if not np.isfinite(v) else f"{v:.2f}"  # noqa: E731
    cells = lambda vals: "".join(f"{x:>6}" for x in vals)  # noqa: E731
    group = lambda title: f"{title:-^18}"  # noqa: E731
    short = [n[:4] for n in REGION_NAMES]
    lines = [
        "Where the last pooled stage's edges lie on the shape, by normalized geodesic eccentricity "
        "(mean distance along the surface to the rest of the mesh, 0 = most central, 1 = farthest tip; "
        f"{', '.join(region_bin_labels())}).",
        "input % / kept %: share of the class's input / last-stage edges per region; kept/input: their "
        "ratio; drops: meshes whose own extremity share falls; std: of the meshes' extremity ratios.",
        f"{'':<12}{'':>5}   {group(' input % ')}{group(' kept % ')}{group(' kept/input ')}",
        f"{'class':<12}{'acc%':>5}   {cells(short)}{cells(short)}{cells(short)}{'drops':>7}{'std':>6}",
    ]
    for i, name in enumerate(report.class_names):
        n = int(reg.meshes[i])
        drops = f"{round(reg.drop[i] * n)}/{n}" if n else "-"
        lines.append(
            f"{name[:12]:<12}{pct(report.class_accuracy[i]):>5}   {cells(map(pct, reg.input[i]))}"
            f"{cells(map(pct, reg.kept[i]))}{cells(map(times, reg.enrichment[i]))}"
            f"{drops:>7}{times(reg.std[i]):>6}"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- running over a folder


def model_fingerprint(model: LoadedModel) -> str:
    """A hash of the weights, config, normalization and class names (keys the cache)."""
    h = hashlib.blake2b(digest_size=16)
    for key, t in sorted(model.net.state_dict().items()):
        h.update(key.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    h.update(json.dumps([repr(model.config), model.class_names], sort_keys=True).encode())
    for a in (model.mean, model.std):
        h.update(np.asarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()


def _file_hash(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def _read_cache(cache: Path, header: dict) -> dict[tuple[str, str], dict]:
    """Entries of a cache file written for ``header``; a damaged or foreign file yields none."""
    if not cache.is_file():
        return {}
    found: dict[tuple[str, str], dict] = {}
    with cache.open(encoding="utf-8", errors="replace") as fh:
        lines = iter(fh)
        try:
            if json.loads(next(lines)) != header:
                return {}
        except (StopIteration, json.JSONDecodeError):
            return {}
        for line in lines:
            try:
                d = json.loads(line)
                found[(d["file"], d["sha"])] = d
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by an interruption
    return found


def _check_fits(model: LoadedModel, task: str, nclasses: int, root: Path) -> None:
    if model.task != task:
        raise MeshCNNError(f"{root}: a {task} data set, but the model is a {model.task} model")
    if model.config.nclasses != nclasses:
        have = model.config.nclasses
        raise MeshCNNError(f"{root}: {nclasses} classes in the data set, but the model has {have}")


def survey(
    model: LoadedModel,
    data: str | os.PathLike,
    *,
    split: str = "test",
    cache: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> SurveyReport:
    """Run ``model`` over a split of a MeshCNN data-set folder and add up what it keeps.

    Args:
        model: a loaded classifier or segmenter matching the data set.
        data: the data-set folder (see :func:`meshcnn_core.data.datasets.scan_dataset`).
        split: ``"test"`` or ``"train"``.
        cache: a JSON-lines file of per-mesh results; existing entries for the same model and
            mesh bytes are reused, new ones appended as they are made (None: no cache).
        progress: called as ``progress(done, total, file)`` after each mesh.

    A mesh that cannot be run is reported in :attr:`SurveyReport.errors`, not raised.

    Raises:
        MeshCNNError: not a data set, no meshes in the split, or the model does not fit it.
    """
    root = Path(data)
    info = scan_dataset(root)
    _check_fits(model, info.task, info.nclasses, root)
    if split not in info.files:
        raise MeshCNNError(f"unknown split {split!r} (expected train or test)")
    files = info.files[split]
    if not files:
        raise MeshCNNError(f"{root}: the {split} split has no meshes")
    header = {"cache_version": CACHE_VERSION, "model": model_fingerprint(model), "task": info.task,
              "classes": info.class_names}
    done: dict[tuple[str, str], dict] = {}
    fh = None
    if cache is not None:
        cache = Path(cache)
        done = _read_cache(cache, header)
        cache.parent.mkdir(parents=True, exist_ok=True)
        if not done:
            cache.write_text(json.dumps(header) + "\n", encoding="utf-8")
        fh = cache.open("a", encoding="utf-8")
    ds = MeshDataset(info, split) if info.task == "segmentation" else None
    results: list[MeshSurvey] = []
    try:
        for i, path in enumerate(files):
            rel = path.relative_to(root).as_posix()
            sha = _file_hash(path)
            hit = done.get((rel, sha))
            if hit is not None:
                results.append(MeshSurvey.from_dict(hit))
            else:
                try:
                    label = info.labels[split][i] if ds is None else ds[i].label
                    res = summarize_recording(record(model, load_mesh(path)), label, rel)
                except MeshCNNError as exc:
                    res = MeshSurvey(file=rel, error=" ".join(str(exc).split()) or type(exc).__name__)
                results.append(res)
                if fh is not None:
                    fh.write(json.dumps({**res.to_dict(), "sha": sha}) + "\n")
                    fh.flush()
            if progress is not None:
                progress(i + 1, len(files), rel)
    finally:
        if fh is not None:
            fh.close()
    names = model.class_names if info.task == "segmentation" else info.class_names  # a segmenter's part names
    return aggregate(info.task, names, results, split, model.name, str(root))
