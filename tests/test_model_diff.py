"""Comparing the poolings of two models on one mesh."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from meshcnn_core import ClassifierConfig
from meshcnn_core.analysis.model_diff import compare_recordings, spearman
from meshcnn_core.checkpoint import build_model, checkpoint_dict, load_model, save_checkpoint
from meshcnn_core.inference import record
from meshcnn_core.recording import _STAGE_KEYS, Recording

from .meshes import icosphere


def _fake(priorities, edge_ids, collapses, vertices=None):
    e = len(edge_ids[0])
    a = {"input_edges": np.stack([np.arange(e), np.arange(e) + 1], 1),
         "input_vertices": np.zeros((e + 1, 3)) if vertices is None else vertices,
         "num_stages": np.asarray(len(edge_ids)),
         "meta": np.asarray(json.dumps({"task": "classification", "class_names": []}))}
    for k, ids in enumerate(edge_ids):
        for key in _STAGE_KEYS:
            a[f"stage{k}_{key}"] = np.zeros(0)
        a[f"stage{k}_kind"] = np.asarray("input" if k == 0 else "pool")
        a[f"stage{k}_edge_ids"] = np.asarray(ids, dtype=np.int64)
        a[f"stage{k}_priority"] = np.asarray(priorities[k], dtype=np.float32)
        a[f"stage{k}_collapse_order"] = np.asarray(collapses[k] if k < len(collapses) else [], dtype=np.int64)
    return Recording(a)


def test_spearman_hand_checked():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks (1, 2, 3) vs (1, 3, 2): 1 - 6 * 2 / (3 * 8) = 0.5
    assert spearman([1, 2, 3], [5, 9, 7]) == pytest.approx(0.5)
    # ties get average ranks: (1.5, 1.5, 3) vs (1, 2, 3) -> 0.8660...
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(np.sqrt(3) / 2)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3])) and np.isnan(spearman([1], [2]))
    with pytest.raises(ValueError):
        spearman([1, 2], [1, 2, 3])


def test_compare_recordings_hand_checked():
    ids = [[0, 1, 2, 3, 4], [0, 2, 4], [2]]
    a = _fake([[1, 2, 3, 4, 5], [1, 2, 3], [1]], ids, [[3, 1], [0]])
    b = _fake([[5, 4, 3, 2, 1], [3, 2, 1], [1]], [[0, 1, 2, 3, 4], [0, 2, 3], [3]], [[3, 2], [0]])
    d = compare_recordings(a, b)
    assert [s.stage for s in d.stages] == [0, 1]  # the last stage has no pooling leaving it
    assert d.stages[0].common_edges == 5 and d.stages[0].spearman == pytest.approx(-1.0)
    # stage 1: common edges 0 and 2, priorities (1, 2) vs (3, 2): -1
    assert d.stages[1].common_edges == 2 and d.stages[1].spearman == pytest.approx(-1.0)
    dv = d.divergence
    assert (dv.stage, dv.position, dv.overall, dv.edge_a, dv.edge_b) == (0, 1, 1, 1, 2)
    assert d.shared_collapses == 1
    same = compare_recordings(a, a)
    assert same.divergence is None and same.shared_collapses == 3
    assert all(s.spearman == pytest.approx(1.0) for s in same.stages)
    # one sequence stops early in stage 1: divergence after the 3 shared collapses
    c = _fake([[1, 2, 3, 4, 5], [1, 2, 3], [1]], ids, [[3, 1], [0, 4]])
    dv = compare_recordings(a, c).divergence
    assert (dv.stage, dv.position, dv.overall, dv.edge_a, dv.edge_b) == (1, 1, 3, None, 4)


def test_compare_refuses_different_meshes():
    a = _fake([[1, 2]], [[0, 1]], [])
    b = _fake([[1, 2]], [[0, 1]], [], vertices=np.ones((3, 3)))
    with pytest.raises(ValueError, match="not of the same mesh"):
        compare_recordings(a, b)


def _model(tmp_path, seed):
    cfg = ClassifierConfig(nclasses=2, ncf=(8, 16, 16), pool_res=(400, 300, 200), ninput_edges=480,
                           norm="group", num_groups=4)
    torch.manual_seed(seed)
    path = tmp_path / f"m{seed}.pt"
    save_checkpoint(path, checkpoint_dict(build_model(cfg), cfg, ["a", "b"], np.zeros(5), np.ones(5)))
    return load_model(path, device="cpu")


def test_compare_two_real_models(tmp_path):
    mesh = icosphere(2, seed=2)
    ra, rb = record(_model(tmp_path, 0), mesh), record(_model(tmp_path, 1), mesh)
    same = compare_recordings(ra, ra)
    assert same.divergence is None and [s.stage for s in same.stages] == [0, 1, 2]
    assert same.shared_collapses == sum(len(ra.stage(k).collapse_order) for k in range(3))
    d = compare_recordings(ra, rb)
    assert d.stages[0].common_edges == 480
    assert all(-1 <= s.spearman <= 1 for s in d.stages)
    dv = d.divergence
    assert dv is not None
    ca, cb = ra.stage(dv.stage).collapse_order, rb.stage(dv.stage).collapse_order
    assert np.array_equal(ca[: dv.position], cb[: dv.position]) and dv.edge_a != dv.edge_b
