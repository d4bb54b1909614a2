"""benchmarks/bench_vase_pair.py: the overlap measure by hand, and its accuracy against ``evaluate``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from meshcnn_core.data.eseg import read_eseg

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT.parent / "shared" / "datasets" / "coseg_vases"


def _bench():
    """The benchmark script as a module (registered, so that its dataclass can be made)."""
    if "bench_vase_pair" in sys.modules:
        return sys.modules["bench_vase_pair"]
    path = ROOT / "benchmarks" / "bench_vase_pair.py"
    spec = importlib.util.spec_from_file_location("bench_vase_pair", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_vase_pair"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_overlap_beyond_chance_by_hand():
    b = _bench()
    a = np.arange(10)
    assert b.overlap_beyond_chance(a, a, 20) == 1.0
    # two random halves of 20 share 5 edges on average: 5 shared is chance, none is -1
    assert b.overlap_beyond_chance(a, np.arange(5, 15), 20) == 0.0
    assert b.overlap_beyond_chance(a, np.arange(10, 20), 20) == -1.0
    assert b.jaccard(a, np.arange(5, 15)) == pytest.approx(5 / 15)


@pytest.mark.dataset
@pytest.mark.skipif(not SRC.is_dir(), reason="../shared/datasets/coseg_vases not present")
def test_accuracy_from_recordings_matches_evaluate(tmp_path):
    from meshcnn_core.checkpoint import load_model
    from meshcnn_core.data.vases import derive_vase_tasks
    from meshcnn_core.mesh.io import load_mesh

    b = _bench()
    derive_vase_tasks(SRC, tmp_path)
    models = {k: load_model(ROOT / "checkpoints" / f"vase_{k}_classifier.pt") for k in ("handle", "neck")}
    files = sorted((SRC / "test").glob("*.obj"))
    rows = [b.measure(models, load_mesh(f), read_eseg(SRC / "seg" / f"{f.stem}.eseg")) for f in files]
    for line in b.accuracy_lines(rows, models, tmp_path):
        ours, theirs = line.split("% of ")[0].split(": ")[-1], line.split(": ")[-1].split("%")[0]
        assert ours == theirs, line  # two code paths (record vs batched evaluate) give the same accuracy
    for r in rows:
        assert (r.h.kept[0] == 1).all() and (np.diff(r.h.kept, axis=0) <= 0).all()  # kept shares only fall
        assert r.beyond[0] == 1.0 and all(-1 <= x <= 1 for x in r.beyond)
