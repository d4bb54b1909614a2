"""Per ground-truth part, the share of its edges a model keeps: hand-built recordings, checked by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from meshcnn_core.analysis.part_keep import mean_part_keep, part_keep
from meshcnn_core.recording import _STAGE_KEYS, Recording


def _rec(edge_ids: list[list[int]], kinds: list[str]) -> Recording:
    """A recording whose only content is which input edges each stage keeps."""
    e = len(edge_ids[0])
    a = {
        "input_edges": np.zeros((e, 2), dtype=np.int64),
        "num_stages": np.asarray(len(kinds)),
        "meta": np.asarray(json.dumps({"task": "classification", "class_names": ["a", "b"]})),
    }
    for k, (ids, kind) in enumerate(zip(edge_ids, kinds)):
        for key in _STAGE_KEYS:
            a[f"stage{k}_{key}"] = np.zeros(0)
        a[f"stage{k}_kind"] = np.asarray(kind)
        a[f"stage{k}_edge_ids"] = np.asarray(ids, dtype=np.int64)
    return Recording(a)


# 8 input edges: part 1 = edges 0-3, part 2 = edges 4-5, part 4 = edges 6-7
LABELS = np.array([1, 1, 1, 1, 2, 2, 4, 4])


def test_kept_share_per_part_and_stage_by_hand():
    rec = _rec([list(range(8)), [0, 1, 4, 5, 6], [4, 5], [0, 1, 2, 3]], ["input", "pool", "pool", "unpool"])
    t = part_keep(rec, LABELS)
    assert t.parts.tolist() == [1, 2, 4] and t.part_edges.tolist() == [4, 2, 2]
    assert t.stage_edges.tolist() == [8, 5, 2]  # the unpool stage is not a kept set
    np.testing.assert_allclose(t.kept, [[1, 1, 1], [0.5, 1, 0.5], [0, 1, 0]])
    # stage 1 keeps 2 + 2 + 1 edges of parts 1, 2, 4: shares 2/5, 2/5, 1/5 against 4/8, 2/8, 2/8
    np.testing.assert_allclose(t.share_of_stage()[1], [0.4, 0.4, 0.2])
    np.testing.assert_allclose(t.enrichment()[1], [0.8, 1.6, 0.8])
    np.testing.assert_allclose(t.enrichment()[0], [1, 1, 1])
    np.testing.assert_allclose(t.share_of_stage().sum(axis=1), 1)


def test_labels_must_match_the_edges():
    rec = _rec([list(range(8))], ["input"])
    with pytest.raises(ValueError, match="7 part labels for a mesh of 8 edges"):
        part_keep(rec, LABELS[:7])


def test_mean_over_meshes_counts_only_meshes_with_the_part():
    a = part_keep(_rec([list(range(8)), [0, 4, 5, 6]], ["input", "pool"]), LABELS)
    b = part_keep(_rec([list(range(4)), [0, 1, 2]], ["input", "pool"]), np.array([1, 1, 4, 4]))
    mean, n = mean_part_keep([a, b], np.array([1, 2, 4]))
    assert n.tolist() == [2, 1, 2]
    # part 1: a keeps 1/4, b keeps 2/2; part 2: only a (2/2); part 4: a 1/2, b 1/2
    np.testing.assert_allclose(mean[1], [(0.25 + 1.0) / 2, 1.0, 0.5])
    np.testing.assert_allclose(mean[0], [1, 1, 1])
    mean3, n3 = mean_part_keep([b], np.array([2]))
    assert n3.tolist() == [0] and np.isnan(mean3).all()
    with pytest.raises(ValueError, match="different numbers of stages"):
        mean_part_keep([a, part_keep(_rec([list(range(8))], ["input"]), LABELS)], np.array([1]))
