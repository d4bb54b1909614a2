"""Running a survey over a MeshCNN data-set folder, with a resumable per-mesh cache.

:func:`survey` records every mesh of a split, reduces each to a :class:`~.survey.MeshSurvey` and
adds them up into a :class:`~.survey.SurveyReport` (:mod:`.survey`). The per-mesh results go to a
JSON-lines cache as they are made, so an interrupted survey resumes where it stopped; entries are
keyed by the model's weights and the mesh file's bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..checkpoint import LoadedModel
from ..data.datasets import MeshDataset, scan_dataset
from ..errors import MeshCNNError
from ..inference import record
from ..mesh.io import load_mesh
from .survey import MeshSurvey, SurveyReport, aggregate, summarize_recording

__all__ = ["survey", "model_fingerprint", "CACHE_VERSION", "Progress"]

CACHE_VERSION = 2  # 2: per-mesh region counts

Progress = Callable[[int, int, str], None]


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
