"""Tiny random-weight checkpoints, generated meshes and data-set folders for the app tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from meshcnn_core import ClassifierConfig, SegmenterConfig
from meshcnn_core.checkpoint import build_model, checkpoint_dict, save_checkpoint
from meshcnn_core.inference import prepare
from meshcnn_core.mesh.io import write_obj
from tests.meshes import icosphere, torus

CLS_CONFIG = ClassifierConfig(
    nclasses=3,
    ncf=(8, 16),
    pool_res=(400, 300),
    ninput_edges=500,
    norm="group",
    num_groups=4,
    resblocks=1,
    fc_n=16,
)
SEG_CONFIG = SegmenterConfig(nclasses=3, ncf=(8, 16, 16), pool_res=(400, 300), ninput_edges=500, resblocks=1)
CLASSES = ["sphere", "torus", "blob"]
PARTS = ["1", "2", "3"]


def make_checkpoint(path: Path, config, class_names: list[str], seed: int) -> Path:
    torch.manual_seed(seed)
    net = build_model(config)
    ckpt = checkpoint_dict(net, config, class_names, np.zeros(5), np.ones(5), {"note": "random test weights"})
    save_checkpoint(path, ckpt)
    return path


def seg_labels(mesh) -> np.ndarray:
    """Per-edge part labels 1..3 (by height), in MeshCNN's edge order."""
    topo = prepare(mesh).topology
    mid = topo.positions[topo.edges].mean(1)[:, 2]
    return 1 + np.digitize(mid, np.quantile(mid, [1 / 3, 2 / 3]))


def make_app_tree(root: Path) -> dict[str, Path]:
    """checkpoints/ (a classifier, a second classifier, a segmenter, with a card), sample_meshes/,
    a segmentation data set and a classification data set. Returns their folders."""
    ck = root / "checkpoints"
    ck.mkdir(parents=True)
    make_checkpoint(ck / "a_classifier.pt", CLS_CONFIG, CLASSES, 0)
    (ck / "a_classifier.md").write_text("# a_classifier\n\nRandom weights for tests.\n")
    make_checkpoint(ck / "b_classifier.pt", CLS_CONFIG, CLASSES, 1)
    make_checkpoint(ck / "c_segmenter.pt", SEG_CONFIG, PARTS, 2)
    samples = root / "samples"
    samples.mkdir()
    ico = icosphere(2, seed=1)  # 480 edges
    tor = torus(16, 10, seed=2)  # 480 edges
    big = icosphere(3, seed=3)  # 1920 edges: needs simplifying
    write_obj(samples / "ico_480.obj", ico)
    write_obj(samples / "torus_480.obj", tor)
    write_obj(samples / "big_1920.obj", big)
    seg = root / "segdata"
    for split, meshes in (("train", [ico]), ("test", [tor, icosphere(2, seed=5)])):
        (seg / split).mkdir(parents=True)
        for i, m in enumerate(meshes):
            write_obj(seg / split / f"m{split}{i}.obj", m)
            (seg / "seg").mkdir(exist_ok=True)
            np.savetxt(seg / "seg" / f"m{split}{i}.eseg", seg_labels(m), fmt="%d")
    cls = root / "clsdata"
    for name, m in (("sphere", ico), ("torus", tor)):
        (cls / name / "test").mkdir(parents=True)
        write_obj(cls / name / "test" / f"{name}0.obj", m)
    return {"checkpoints": ck, "samples": samples, "segdata": seg, "clsdata": cls}
