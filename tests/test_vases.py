"""Handle / neck labels derived from the COSEG vases' part labels (needs ../shared/datasets/coseg_vases)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meshcnn_core.data.datasets import scan_dataset
from meshcnn_core.data.vases import HANDLE_LABEL, NECK_LABEL, derive_vase_tasks, part_statistics
from meshcnn_core.mesh.io import load_mesh
from meshcnn_core.mesh.topology import build_topology

SRC = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "coseg_vases"
pytestmark = [pytest.mark.dataset,
              pytest.mark.skipif(not SRC.is_dir(), reason="../shared/datasets/coseg_vases not present")]


def test_handle_and_neck_labels_follow_the_geometry():
    stats = {s.label: s for s in part_statistics(SRC)}
    handle, neck = stats[HANDLE_LABEL], stats[NECK_LABEL]
    assert handle.holes_without == 0  # a vase with a through-hole always has the handle label
    assert handle.radius == max(s.radius for s in stats.values())  # the part farthest from the axis
    assert neck.height > 0.8 and neck.radius == min(s.radius for s in stats.values())  # top, narrowest
    assert 0 < handle.presence < 1 and 0 < neck.presence < 1  # both tasks have two classes


def test_derived_sets_keep_the_split_and_the_labels(tmp_path):
    folders = derive_vase_tasks(SRC, tmp_path)
    for task, part, label in (("vase_handle", "handle", HANDLE_LABEL), ("vase_neck", "neck", NECK_LABEL)):
        info = scan_dataset(folders[task])
        assert info.class_names == [part, f"no_{part}"]
        for split in ("train", "test"):
            assert len(info.files[split]) == len(list((SRC / split).glob("*.obj")))
            for path, y in list(zip(info.files[split], info.labels[split]))[::9]:
                seg = np.loadtxt(SRC / "seg" / f"{path.stem}.eseg").astype(int)
                assert (y == 0) == bool((seg == label).any())
                mesh = load_mesh(path)
                assert build_topology(mesh.vertices, mesh.faces)[0].num_edges == 1500
