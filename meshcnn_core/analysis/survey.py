"""What a model keeps across a data set: per-mesh summaries and their sum over a split.

Each recording of a data-set mesh is reduced to a small :class:`MeshSurvey`
(:func:`summarize_recording`); :func:`aggregate` adds them up into a :class:`SurveyReport`
(:func:`meshcnn_core.analysis.survey_run.survey` runs a model over a folder and does both):

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
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MeshCNNError
from ..recording import Recording
from .dihedral import DIHEDRAL_BINS_DEG, dihedral_angles, dihedral_bin_counts, dihedral_bin_labels
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
    "DIHEDRAL_BINS_DEG", "MeshSurvey", "SurveyReport", "summarize_recording", "aggregate",
    "report_table_csv", "report_regions_text", "dihedral_bin_labels", "dihedral_angles",
]

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
            probability=float(rec.probabilities[pred]), dihedral_input=dihedral_bin_counts(dihedral),
            dihedral_kept=dihedral_bin_counts(dihedral[kept]), region_input=region_counts(ecc),
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
