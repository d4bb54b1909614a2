"""Data sets in MeshCNN's folder layouts, with augmented copies prepared once and cached on disk.

Two layouts are recognised (any folder in them works, not only the three MeshCNN sets):

* **classification**: ``<root>/<class>/train/*.obj`` and ``<root>/<class>/test/*.obj``; the
  classes are the sorted folder names.
* **segmentation**: ``<root>/train/*.obj``, ``<root>/test/*.obj``, ``<root>/seg/<stem>.eseg``
  (one hard label per edge, in MeshCNN's edge order), optionally ``<root>/sseg/<stem>.seseg``
  (one row of per-class soft labels per edge) and ``<root>/classes.txt`` (the label values).
  Labels are shifted by the smallest class value, as MeshCNN does (``labels - classes[0]``).

Each mesh is turned into a :class:`Sample` (topology, raw features, edge areas, labels). With
augmentation, ``num_aug`` copies per mesh are made (seeded) and cached as ``.npz`` in a cache
folder *outside* the data set, keyed by a hash of the mesh file's bytes, the augmentation
settings, the copy index, the seed and the code version: a changed file or setting never hits a
stale entry. Each epoch picks one copy per mesh, deterministically from ``(seed, epoch, index)``.
Copy 0 is the unaugmented mesh by default (``keep_original``), which is what MeshCNN's own cache
ends up doing; on SHREC-16 it matters (test accuracy roughly doubled early in training).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import MeshError
from ..mesh.features import extract_features, normalize_features
from ..mesh.io import load_mesh
from ..mesh.topology import MeshTopology, build_topology
from .augment import AUGMENT_VERSION, AugmentConfig, augment
from .eseg import ESEG_ROW_BYTES, mesh_labels, read_eseg

__all__ = [
    "DatasetInfo",
    "Sample",
    "Batch",
    "MeshDataset",
    "scan_dataset",
    "compute_mean_std",
    "collate",
    "default_cache_dir",
    "check_labels",
]

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``$MESHCNN_CACHE`` or ``~/.cache/meshcnn_explorer``."""
    return Path(os.environ.get("MESHCNN_CACHE") or Path.home() / ".cache" / "meshcnn_explorer")


@dataclass(frozen=True)
class DatasetInfo:
    """What a data-set folder holds.

    Attributes:
        root: the folder.
        task: ``"classification"`` or ``"segmentation"``.
        class_names: class (or part) names; for segmentation the label values as strings.
        files: ``{"train": [...], "test": [...]}`` mesh paths, sorted.
        labels: classification only: ``{"train": [...], "test": [...]}`` class index per file.
        label_offset: segmentation only: the smallest label value (subtracted from labels).
    """

    root: Path
    task: str
    class_names: list[str]
    files: dict[str, list[Path]]
    labels: dict[str, list[int]]
    label_offset: int = 0

    @property
    def nclasses(self) -> int:
        """Number of classes."""
        return len(self.class_names)


def _meshes(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.obj") if p.is_file())


def _read_classes_txt(path: Path) -> list[int]:
    return [int(float(t)) for t in path.read_text().split()]


def scan_dataset(root: str | os.PathLike) -> DatasetInfo:
    """Find the layout of a data-set folder and list its meshes.

    Raises:
        MeshError: the folder does not exist or is in neither layout.
    """
    root = Path(root)
    if not root.is_dir():
        raise MeshError(f"{root}: no such data-set folder")
    if (root / "train").is_dir() and (root / "seg").is_dir():
        files = {s: _meshes(root / s) for s in ("train", "test")}
        if (root / "classes.txt").is_file():
            classes = _read_classes_txt(root / "classes.txt")
        else:  # MeshCNN: the label values found in all the seg files
            values: set[int] = set()
            for p in sorted((root / "seg").glob("*.eseg")):
                values.update(np.unique(read_eseg(p)).tolist())
            classes = sorted(values)
        if not classes:
            raise MeshError(f"{root}: no classes.txt and no labels in seg/*.eseg")
        return DatasetInfo(root, "segmentation", [str(c) for c in classes], files, {}, int(classes[0]))
    class_dirs = sorted(
        d for d in root.iterdir() if d.is_dir() and ((d / "train").is_dir() or (d / "test").is_dir())
    )
    if not class_dirs:
        raise MeshError(
            f"{root}: neither a classification layout (<class>/train|test/*.obj) nor a segmentation "
            "layout (train|test/*.obj with seg/*.eseg)"
        )
    files: dict[str, list[Path]] = {"train": [], "test": []}
    labels: dict[str, list[int]] = {"train": [], "test": []}
    for ci, d in enumerate(class_dirs):
        for split in ("train", "test"):
            found = _meshes(d / split)
            files[split] += found
            labels[split] += [ci] * len(found)
    return DatasetInfo(root, "classification", [d.name for d in class_dirs], files, labels)


@dataclass(frozen=True)
class Sample:
    """One (possibly augmented) mesh ready for a network.

    Attributes:
        topology: its edge topology (``E`` edges).
        features: ``(5, E)`` float64 raw (unnormalized) features.
        edge_areas: ``(E,)`` MeshCNN's per-edge area weights (sum 1).
        label: classification: the class index; segmentation: ``(E,)`` int64 hard labels.
        soft: segmentation: ``(E, C)`` int64 0/1 soft labels (MeshCNN's ``sseg > 0``); else None.
        name: the mesh file's stem.
    """

    topology: MeshTopology
    features: np.ndarray
    edge_areas: np.ndarray
    label: Any
    soft: np.ndarray | None
    name: str


def _cache_key(path: Path, aug: AugmentConfig | None, copy: int, seed: int) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(path.read_bytes())
    settings = {
        "aug": aug.as_dict() if aug else None,
        "copy": copy,
        "seed": seed,
        "augment_version": AUGMENT_VERSION,
        "cache_version": CACHE_VERSION,
    }
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()


_TOPO_FIELDS = ("edges", "gemm", "sides", "ve_indptr", "ve_indices", "positions", "vertex_mask", "edge_ids")


def _prepare(path: Path, aug: AugmentConfig | None, copy: int, seed: int) -> dict[str, np.ndarray]:
    mesh = load_mesh(path)
    vs, fs = mesh.vertices, mesh.faces
    if aug is not None and aug.active:
        digest = hashlib.blake2b(path.read_bytes(), digest_size=8).digest()
        rng = np.random.default_rng([seed, copy, int.from_bytes(digest, "little")])
        vs, fs = augment(vs, fs, aug, rng)
    topo, _, areas = build_topology(vs, fs)
    arrays = {name: getattr(topo, name) for name in _TOPO_FIELDS}
    arrays["features"] = extract_features(topo)
    arrays["edge_areas"] = np.asarray(areas)
    return arrays


def load_prepared(
    path: Path, aug: AugmentConfig | None, copy: int, seed: int, cache_dir: Path | None
) -> tuple[MeshTopology, np.ndarray, np.ndarray]:
    """Topology, raw features ``(5, E)`` and edge areas ``(E,)`` of one copy (cached on disk)."""
    arrays = None
    if cache_dir is not None:
        file = cache_dir / f"{_cache_key(path, aug, copy, seed)}.npz"
        if file.is_file():
            try:
                with np.load(file) as z:
                    arrays = {k: z[k] for k in z.files}
            except Exception:  # a damaged entry is rebuilt
                arrays = None
        if arrays is None:
            arrays = _prepare(path, aug, copy, seed)
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = file.with_name(f"{file.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, file)
    else:
        arrays = _prepare(path, aug, copy, seed)
    topo = MeshTopology(**{name: arrays[name] for name in _TOPO_FIELDS})
    return topo, arrays["features"], arrays["edge_areas"]


class MeshDataset(torch.utils.data.Dataset):
    """One split of a data set, as :class:`Sample` items.

    Args:
        info: from :func:`scan_dataset`.
        split: ``"train"`` or ``"test"``.
        augment: augmentations (None or inactive: the meshes as they are, one copy).
        num_aug: number of augmented copies per mesh.
        cache_dir: where prepared copies are cached (None: no disk cache).
        seed: seed of the augmentations and of the per-epoch copy choice.
        keep_original: copy 0 is the mesh itself, unaugmented. This is what MeshCNN ends up doing:
            its mean/std pass writes the unaugmented mesh to the cache file of copy 0, which
            training then reuses, so one copy in ``num_aug`` is clean.
    """

    def __init__(
        self,
        info: DatasetInfo,
        split: str,
        *,
        augment: AugmentConfig | None = None,
        num_aug: int = 1,
        cache_dir: str | os.PathLike | None = None,
        seed: int = 0,
        keep_original: bool = True,
    ) -> None:
        if split not in info.files:
            raise MeshError(f"unknown split {split!r} (expected train or test)")
        self.info, self.split, self.seed = info, split, int(seed)
        self.augment = augment if augment is not None and augment.active else None
        self.num_aug = max(1, int(num_aug)) if self.augment is not None else 1
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.files = info.files[split]
        self.keep_original = bool(keep_original)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.files)

    def set_epoch(self, epoch: int) -> None:
        """Choose which augmented copy each mesh uses this epoch."""
        self.epoch = int(epoch)

    def copy_index(self, index: int) -> int:
        """The augmented copy of mesh ``index`` for the current epoch."""
        if self.num_aug == 1:
            return 0
        return int(np.random.default_rng([self.seed, self.epoch, index]).integers(self.num_aug))

    def __getitem__(self, index: int) -> Sample:
        path = self.files[index]
        copy = self.copy_index(index)
        aug = None if copy == 0 and self.keep_original else self.augment
        topo, feats, areas = load_prepared(
            path, aug, copy if aug is not None else 0, self.seed, self.cache_dir
        )
        if self.info.task == "classification":
            return Sample(topo, feats, areas, int(self.info.labels[self.split][index]), None, path.stem)
        hard, soft = self._seg_labels(path, topo.num_edges)
        return Sample(topo, feats, areas, hard, soft, path.stem)

    def _seg_labels(self, path: Path, num_edges: int) -> tuple[np.ndarray, np.ndarray]:
        root, nc = self.info.root, self.info.nclasses
        seg = root / "seg" / f"{path.stem}.eseg"
        hard = mesh_labels(root, path, num_edges) - self.info.label_offset
        if hard.min() < 0 or hard.max() >= nc:
            raise MeshError(f"{seg.name}: labels outside the {nc} classes {self.info.class_names}")
        sseg = root / "sseg" / f"{path.stem}.seseg"
        if sseg.is_file():
            soft = _read_soft_labels(sseg, num_edges, nc)
        else:  # no soft labels: the hard ones, one-hot
            soft = np.eye(nc, dtype=np.int64)[hard]
        return hard, soft


def _read_soft_labels(path: Path, num_edges: int, nc: int) -> np.ndarray:
    """``(E, C)`` int64 0/1 soft labels of a ``.seseg`` file (one row per edge, one column per class).

    Raises:
        MeshError: unreadable, far too large, not numbers, or not ``num_edges`` rows of ``nc`` columns.
    """
    if path.stat().st_size > ESEG_ROW_BYTES * nc * max(num_edges, 1):
        raise MeshError(f"{path.name}: far too large for {num_edges} rows of {nc} soft labels")
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError:
        raise MeshError(f"{path.name}: not rows of numbers, one row of {nc} soft labels per edge") from None
    if values.shape != (num_edges, nc):
        raise MeshError(
            f"{path.name}: {values.shape[0]} rows of {values.shape[1]} soft labels, expected "
            f"{num_edges} rows (one per edge) of {nc} (one per class)"
        )
    return (values > 0).astype(np.int64)


def check_labels(dataset: MeshDataset) -> None:
    """Check every segmentation label file of a split against its (unaugmented) mesh.

    Raises:
        MeshError: the first file that is missing, unreadable, of another length than its mesh's
            edge count, or with labels outside the classes.
    """
    if dataset.info.task != "segmentation":
        return
    for path in dataset.files:
        topo, _, _ = load_prepared(path, None, 0, dataset.seed, dataset.cache_dir)
        dataset._seg_labels(path, topo.num_edges)


def compute_mean_std(dataset: MeshDataset, ninput_edges: int) -> tuple[np.ndarray, np.ndarray]:
    """MeshCNN's input normalization: the average over meshes of the per-mesh mean and std.

    As in MeshCNN, each mesh's features are first zero-padded to ``ninput_edges`` (the padding
    counts), and the meshes are taken as they are (copy 0 without augmentation).

    Shapes: ``-> (5,), (5,)`` float64.
    """
    plain = MeshDataset(dataset.info, dataset.split, cache_dir=dataset.cache_dir, seed=dataset.seed)
    mean = np.zeros(5)
    std = np.zeros(5)
    for i in range(len(plain)):
        topo, feats, _ = load_prepared(plain.files[i], None, 0, plain.seed, plain.cache_dir)
        padded = np.zeros((feats.shape[0], max(ninput_edges, feats.shape[1])))
        padded[:, : feats.shape[1]] = feats
        mean += padded.mean(axis=1)
        std += padded.std(axis=1)
    n = max(len(plain), 1)
    return mean / n, std / n


@dataclass
class Batch:
    """A collated batch.

    Attributes:
        x: ``(B, 5, ninput_edges)`` float32 normalized features.
        topologies: B topologies.
        labels: classification ``(B,)`` int64; segmentation ``(B, ninput_edges)`` int64, -1 padded.
        soft: segmentation ``(B, ninput_edges, C)`` int64 0/1, -1 padded; else None.
        edge_areas: B arrays ``(E_b,)``.
        names: B mesh names.
    """

    x: torch.Tensor
    topologies: list[MeshTopology]
    labels: torch.Tensor
    soft: torch.Tensor | None
    edge_areas: list[np.ndarray]
    names: list[str]


def collate(samples: list[Sample], mean: np.ndarray, std: np.ndarray, ninput_edges: int) -> Batch:
    """Normalize, pad and stack samples into a :class:`Batch`."""
    x = np.stack([normalize_features(s.features, mean, std, ninput_edges) for s in samples])  # (B, 5, N)
    if isinstance(samples[0].label, int):
        labels = torch.tensor([s.label for s in samples], dtype=torch.long)
        soft = None
    else:
        nc = samples[0].soft.shape[1]
        lab = np.full((len(samples), ninput_edges), -1, dtype=np.int64)
        sft = np.full((len(samples), ninput_edges, nc), -1, dtype=np.int64)
        for b, s in enumerate(samples):
            lab[b, : len(s.label)] = s.label
            sft[b, : len(s.label)] = s.soft
        labels, soft = torch.from_numpy(lab), torch.from_numpy(sft)
    return Batch(
        torch.from_numpy(x),
        [s.topology for s in samples],
        labels,
        soft,
        [s.edge_areas for s in samples],
        [s.name for s in samples],
    )
