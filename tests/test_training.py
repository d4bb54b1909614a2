"""Training, augmentation, data sets and evaluation on tiny generated data sets (no downloads)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from meshcnn_core.checkpoint import load_model
from meshcnn_core.data.augment import AugmentConfig, augment, flip_edges, scale_vertices, slide_vertices
from meshcnn_core.data.datasets import MeshDataset, collate, compute_mean_std, scan_dataset
from meshcnn_core.evaluate import main as evaluate_main
from meshcnn_core.mesh.features import extract_features
from meshcnn_core.mesh.io import Mesh, write_obj
from meshcnn_core.mesh.topology import build_topology, check_gemm_invariant
from meshcnn_core.train import TrainConfig, export, train

from .meshes import icosphere, torus

# ---------------------------------------------------------------- tiny data sets


def _sphere(seed: int) -> Mesh:
    return icosphere(1, jitter=0.04, seed=seed)  # 120 edges


def _torus(seed: int) -> Mesh:
    return torus(8, 5, jitter=0.04, seed=seed)  # 120 edges


@pytest.fixture(scope="module")
def cls_root(tmp_path_factory) -> Path:
    """``<class>/train|test/*.obj``: jittered spheres vs tori, 6 train + 2 test each."""
    root = tmp_path_factory.mktemp("cls")
    for cname, make in (("sphere", _sphere), ("torus", _torus)):
        for split, seeds in (("train", range(6)), ("test", range(100, 102))):
            (root / cname / split).mkdir(parents=True)
            for s in seeds:
                write_obj(root / cname / split / f"{cname}{s}.obj", make(s))
    return root


@pytest.fixture(scope="module")
def seg_root(tmp_path_factory) -> Path:
    """``train|test/*.obj`` + ``seg/*.eseg`` (labels 1/2 by edge-midpoint x sign) + ``sseg``."""
    root = tmp_path_factory.mktemp("seg")
    for d in ("train", "test", "seg", "sseg"):
        (root / d).mkdir()
    for split, seeds in (("train", range(6)), ("test", range(100, 102))):
        for s in seeds:
            m = _torus(s)
            write_obj(root / split / f"t{s}.obj", m)
            topo, _, _ = build_topology(np.array(m.vertices), m.faces)
            mid = m.vertices[topo.edges].mean(axis=1)  # (E, 3)
            hard = np.where(mid[:, 0] > 0, 2, 1)
            np.savetxt(root / "seg" / f"t{s}.eseg", hard, fmt="%d")
            np.savetxt(root / "sseg" / f"t{s}.seseg", np.eye(2)[hard - 1], fmt="%.6f")
    return root


CLS_MODEL = {
    "ncf": [8, 16],
    "pool_res": [100, 80],
    "ninput_edges": 130,
    "norm": "group",
    "num_groups": 4,
    "resblocks": 1,
    "fc_n": 16,
}
SEG_MODEL = {"ncf": [8, 16], "pool_res": [90], "ninput_edges": 130, "resblocks": 1}


def _cfg(root: Path, out: Path, cache: Path, model: dict, **kw) -> TrainConfig:
    base = dict(
        data=str(root),
        name="tiny",
        out_dir=str(out),
        model=model,
        augment={"flip_edges": 0.2, "slide_verts": 0.2},
        num_aug=2,
        lr=5e-3,
        batch_size=4,
        niter=3,
        niter_decay=1,
        seed=0,
        threads=1,
        cache_dir=str(cache),
    )
    base.update(kw)
    return TrainConfig(**base)


def _closed_manifold(faces: np.ndarray) -> bool:
    und = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(und, axis=0, return_counts=True)
    oriented = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return bool((counts == 2).all()) and len(np.unique(oriented, axis=0)) == len(oriented)


# ---------------------------------------------------------------- loader


def test_scan_both_layouts(cls_root, seg_root):
    info = scan_dataset(cls_root)
    assert info.task == "classification" and info.class_names == ["sphere", "torus"]
    assert len(info.files["train"]) == 12 and len(info.files["test"]) == 4
    assert info.labels["train"] == [0] * 6 + [1] * 6
    seg = scan_dataset(seg_root)
    assert seg.task == "segmentation" and seg.class_names == ["1", "2"] and seg.label_offset == 1
    ds = MeshDataset(seg, "train")
    s = ds[0]
    assert s.label.shape == (s.topology.num_edges,) and set(np.unique(s.label)) == {0, 1}
    assert s.soft.shape == (s.topology.num_edges, 2) and (s.soft[np.arange(len(s.label)), s.label] == 1).all()
    b = collate([ds[0], ds[1]], np.zeros(5), np.ones(5), 130)
    assert b.x.shape == (2, 5, 130) and b.labels.shape == (2, 130) and (b.labels[:, 120:] == -1).all()


def test_scan_rejects_other_folders(tmp_path):
    from meshcnn_core.errors import MeshError

    with pytest.raises(MeshError, match="neither"):
        scan_dataset(tmp_path)
    with pytest.raises(MeshError, match="no such"):
        scan_dataset(tmp_path / "missing")


def test_mean_std_is_meshcnn_average(cls_root):
    info = scan_dataset(cls_root)
    ds = MeshDataset(info, "train")
    mean, std = compute_mean_std(ds, 130)
    f = [np.pad(ds[i].features, ((0, 0), (0, 10))) for i in range(len(ds))]
    assert np.allclose(mean, np.mean([x.mean(1) for x in f], axis=0))
    assert np.allclose(std, np.mean([x.std(1) for x in f], axis=0))


# ---------------------------------------------------------------- augmentation invariants


def test_flips_keep_a_valid_closed_manifold():
    m = icosphere(2, jitter=0.01, seed=3)
    faces_in = np.array(m.faces)
    out = flip_edges(m.vertices, m.faces, 0.2, np.random.default_rng(0))
    assert np.array_equal(m.faces, faces_in)  # input untouched
    assert out.shape == m.faces.shape and not np.array_equal(out, m.faces)
    assert _closed_manifold(out)
    topo, kept, _ = build_topology(np.array(m.vertices), out)
    topo0, _, _ = build_topology(np.array(m.vertices), m.faces)
    assert len(kept) == len(out) and topo.num_edges == topo0.num_edges  # edge count unchanged
    assert check_gemm_invariant(topo) and np.isfinite(extract_features(topo)).all()


def test_slides_and_scaling_keep_connectivity_and_finite_features():
    m = icosphere(2, jitter=0.01, seed=4)
    vs = slide_vertices(m.vertices, m.faces, 0.2, np.random.default_rng(1))
    moved = np.linalg.norm(vs - m.vertices, axis=1) > 0
    assert 0 < moved.sum() <= int(0.2 * len(vs))
    sc = scale_vertices(vs, np.random.default_rng(2))
    topo, kept, _ = build_topology(sc, m.faces)
    assert len(kept) == len(m.faces) and np.isfinite(extract_features(topo)).all()
    a = augment(m.vertices, m.faces, AugmentConfig(True, 0.2, 0.2), np.random.default_rng(7))
    b = augment(m.vertices, m.faces, AugmentConfig(True, 0.2, 0.2), np.random.default_rng(7))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])  # seeded


def test_cache_is_keyed_by_content_and_settings(cls_root, tmp_path):
    info = scan_dataset(cls_root)
    aug = AugmentConfig(flip_edges=0.2, slide_verts=0.2)
    ds = MeshDataset(info, "train", augment=aug, num_aug=3, cache_dir=tmp_path, keep_original=False)
    first = [ds[0]]
    n_files = len(list(tmp_path.glob("*.npz")))
    again = ds[0]
    assert n_files == 1 and len(list(tmp_path.glob("*.npz"))) == 1
    assert np.array_equal(first[0].features, again.features)
    copies = {ds.copy_index(0)}
    for epoch in range(1, 12):
        ds.set_epoch(epoch)
        copies.add(ds.copy_index(0))
        ds[0]
    assert copies == {0, 1, 2} and len(list(tmp_path.glob("*.npz"))) == 3
    other = MeshDataset(
        info,
        "train",
        augment=AugmentConfig(flip_edges=0.1),
        num_aug=3,
        cache_dir=tmp_path,
        keep_original=False,
    )
    other[0]
    assert len(list(tmp_path.glob("*.npz"))) == 4  # other settings: a new entry, never a stale one


def test_copy_zero_is_the_original_mesh(cls_root):
    info = scan_dataset(cls_root)
    ds = MeshDataset(info, "train", augment=AugmentConfig(flip_edges=0.2, slide_verts=0.2), num_aug=4)
    clean = MeshDataset(info, "train")
    seen = set()
    for epoch in range(40):
        ds.set_epoch(epoch)
        c = ds.copy_index(1)
        if c in seen:
            continue
        seen.add(c)
        same = np.array_equal(ds[1].features, clean[1].features)
        assert same == (c == 0)
    assert seen == {0, 1, 2, 3}


# ---------------------------------------------------------------- training


def _metrics(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


def test_training_lowers_the_loss_and_resume_continues(cls_root, tmp_path):
    cache = tmp_path / "cache"
    cfg = _cfg(cls_root, tmp_path / "a", cache, CLS_MODEL, niter=4, niter_decay=2)
    train(cfg, progress=False)
    rows = _metrics(tmp_path / "a")
    assert [r["epoch"] for r in rows] == list(range(1, 7))
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert (tmp_path / "a" / "best.pt").is_file()
    # the same run, stopped after 3 epochs and resumed, ends identical
    cfg_b = _cfg(cls_root, tmp_path / "b", cache, CLS_MODEL, niter=4, niter_decay=2)
    train(cfg_b, stop_epoch=3, progress=False)
    assert torch.load(tmp_path / "b" / "last.pt", weights_only=True)["epoch"] == 3
    train(cfg_b, resume=True, progress=False)
    rows_b = _metrics(tmp_path / "b")
    assert [r["epoch"] for r in rows_b] == list(range(1, 7))
    for ra, rb in zip(rows, rows_b):
        assert ra["loss"] == pytest.approx(rb["loss"], rel=1e-5) and ra["test_acc"] == rb["test_acc"]
    wa = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["model"]
    wb = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["model"]
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)


def test_segmentation_training_and_evaluate_output(seg_root, tmp_path, capsys):
    cfg = _cfg(
        seg_root,
        tmp_path / "s",
        tmp_path / "cache",
        SEG_MODEL,
        augment={"slide_verts": 0.2},
        niter=3,
        niter_decay=0,
    )
    train(cfg, progress=False)
    rows = _metrics(tmp_path / "s")
    assert (
        rows[-1]["loss"] < rows[0]["loss"] and 0 <= rows[-1]["test_acc"] <= 1 and "test_acc_hard" in rows[-1]
    )
    capsys.readouterr()
    shipped = tmp_path / "seg.pt"
    export(tmp_path / "s" / "best.pt", shipped)
    ck = torch.load(shipped, weights_only=True)
    assert "optimizer" not in ck and "scheduler" not in ck and "rng" not in ck
    assert [r["epoch"] for r in ck["metadata"]["history"]] == [1, 2, 3]  # the whole run, from last.pt
    model = load_model(shipped)
    assert model.task == "segmentation" and model.class_names == ["1", "2"]
    code = evaluate_main(
        ["--model", str(shipped), "--data", str(seg_root), "--cache-dir", str(tmp_path / "cache")]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "split: test (2 meshes)" in out and "accuracy: " in out and "hard_edge_accuracy: " in out
    assert "confusion matrix (edges" in out
    matrix = [line.split() for line in out.splitlines()[-2:]]
    assert sum(int(v) for row in matrix for v in row[1:]) == 2 * 120  # every test edge once


def test_evaluate_classification_and_bad_input(cls_root, tmp_path, capsys):
    cfg = _cfg(cls_root, tmp_path / "c", tmp_path / "cache", CLS_MODEL, niter=1, niter_decay=0)
    train(cfg, progress=False)
    capsys.readouterr()
    code = evaluate_main(["--model", str(tmp_path / "c" / "last.pt"), "--data", str(cls_root), "--json"])
    r = json.loads(capsys.readouterr().out)
    assert code == 0 and r["count"] == 4 and np.array(r["confusion"]).sum() == 4
    assert r["accuracy"] == pytest.approx(_metrics(tmp_path / "c")[-1]["test_acc"])
    code = evaluate_main(["--model", str(tmp_path / "missing.pt"), "--data", str(cls_root)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    code = evaluate_main(["--model", str(tmp_path / "c" / "last.pt"), "--data", str(tmp_path / "nowhere")])
    assert code == 2


# ---------------------------------------------------------------- DistributedDataParallel


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, cfg: TrainConfig) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    train(cfg, progress=False)


def test_ddp_two_gloo_processes(cls_root, tmp_path):
    out = tmp_path / "ddp"
    cfg = _cfg(cls_root, out, tmp_path / "cache", CLS_MODEL, niter=2, niter_decay=0)
    mp.spawn(_ddp_worker, args=(2, _free_port(), cfg), nprocs=2, join=True)
    rows = _metrics(out)
    assert [r["epoch"] for r in rows] == [1, 2]  # rank 0 alone writes
    assert sorted(p.name for p in out.glob("*.pt")) == ["best.pt", "last.pt"]
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 2


# ---------------------------------------------------------------- loader, world size, warm start


def test_prefetching_loader_gives_the_same_batches(cls_root, tmp_path):
    from meshcnn_core.train import make_loader

    info = scan_dataset(cls_root)
    ds = MeshDataset(info, "train", augment=AugmentConfig(flip_edges=0.2), num_aug=2, cache_dir=tmp_path)
    ds.set_epoch(3)
    runs = []
    for workers in (0, 1):
        cfg = _cfg(cls_root, tmp_path / "x", tmp_path, CLS_MODEL, workers=workers)
        runs.append(list(make_loader(ds, cfg, np.zeros(5), np.ones(5), 130, shuffle=True, epoch=3)))
    assert [b.names for b in runs[0]] == [b.names for b in runs[1]] and len(runs[0]) == 3
    assert all(torch.equal(a.x, b.x) and torch.equal(a.labels, b.labels) for a, b in zip(*runs))


def test_per_process_batch_splits_the_global_batch():
    from meshcnn_core.train import per_process_batch

    assert [per_process_batch(12, w) for w in (1, 2, 3, 4, 6)] == [12, 6, 4, 3, 2]
    with pytest.raises(ValueError, match="world size 5 does not divide batch_size 12"):
        per_process_batch(12, 5)


def test_warm_start_checks_network_and_classes(cls_root, tmp_path):
    from meshcnn_core.train import load_warm_start, model_config

    train(
        _cfg(cls_root, tmp_path / "w", tmp_path / "cache", CLS_MODEL, niter=1, niter_decay=0), progress=False
    )
    ck_path = str(tmp_path / "w" / "last.pt")
    mcfg = model_config("classification", 2, CLS_MODEL)
    assert load_warm_start(ck_path, mcfg, ["sphere", "torus"])["epoch"] == 1
    with pytest.raises(ValueError, match="another network config"):
        load_warm_start(
            ck_path, model_config("classification", 2, {**CLS_MODEL, "fc_n": 8}), ["sphere", "torus"]
        )
    with pytest.raises(ValueError, match="has classes"):
        load_warm_start(ck_path, mcfg, ["a", "b"])
    cfg = _cfg(
        cls_root, tmp_path / "w2", tmp_path / "cache", CLS_MODEL, niter=1, niter_decay=0, init_from=ck_path
    )
    train(cfg, progress=False)
    meta = torch.load(tmp_path / "w2" / "last.pt", weights_only=True)["metadata"]
    assert meta["init_from"] == ck_path


# ---------------------------------------------------------------- bad input: one line, exit 2


def _main_error(argv: list[str], capsys) -> str:
    from meshcnn_core.train import main

    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def _write_config(path: Path, cfg: TrainConfig) -> str:
    from dataclasses import asdict

    path.write_text(json.dumps(asdict(cfg)))
    return str(path)


def test_config_naming_a_missing_data_set(cls_root, tmp_path, capsys):
    cfg = _cfg(tmp_path / "no_such_set", tmp_path / "o", tmp_path / "cache", CLS_MODEL)
    line = _main_error([_write_config(tmp_path / "c.json", cfg), "--no-progress"], capsys)
    assert "no_such_set does not exist" in line and not (tmp_path / "o").exists()


def test_label_files_that_do_not_match_the_meshes(seg_root, tmp_path, capsys):
    import shutil

    bad = tmp_path / "seg_bad"
    shutil.copytree(seg_root, bad)
    eseg = bad / "seg" / "t101.eseg"  # a test mesh: caught before any training
    eseg.write_text("\n".join(eseg.read_text().split()[:-5]) + "\n")
    cfg = _cfg(bad, tmp_path / "o", tmp_path / "cache", SEG_MODEL, niter=1, niter_decay=0)
    line = _main_error([_write_config(tmp_path / "c.json", cfg), "--no-progress"], capsys)
    assert "t101.eseg has 115 labels but test/t101.obj has 120 edges" in line and "does not match" in line
    assert not (tmp_path / "o" / "last.pt").exists()


def test_resume_from_a_checkpoint_of_another_config(cls_root, tmp_path, capsys):
    out = tmp_path / "r"
    train(_cfg(cls_root, out, tmp_path / "cache", CLS_MODEL, niter=1, niter_decay=0), progress=False)
    before = (out / "last.pt").read_bytes()
    other = _cfg(cls_root, out, tmp_path / "cache", {**CLS_MODEL, "ncf": [8, 8]}, niter=2, niter_decay=0)
    line = _main_error([_write_config(tmp_path / "c.json", other), "--resume", "--no-progress"], capsys)
    assert "resume:" in line and "another network config" in line and "another out_dir" in line
    assert (out / "last.pt").read_bytes() == before  # untouched


def test_world_size_that_does_not_divide_the_batch(cls_root, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")  # checked before any process group is set up
    cfg = _cfg(cls_root, tmp_path / "o", tmp_path / "cache", CLS_MODEL, batch_size=4)
    line = _main_error([_write_config(tmp_path / "c.json", cfg), "--no-progress"], capsys)
    assert "world size 3 does not divide batch_size 4" in line


def test_snapshot_epochs_keep_loadable_weights_of_those_epochs(cls_root, tmp_path):
    from meshcnn_core.checkpoint import load_model
    from meshcnn_core.train import snapshot_path

    out = tmp_path / "s"
    cfg = _cfg(cls_root, out, tmp_path / "cache", CLS_MODEL, niter=2, niter_decay=1, snapshot_epochs=[1, 3])
    train(cfg, progress=False)
    assert sorted(p.name for p in out.glob("snapshot_*.pt")) == ["snapshot_e001.pt", "snapshot_e003.pt"]
    s1 = torch.load(snapshot_path(out, 1), weights_only=True)
    s3 = torch.load(snapshot_path(out, 3), weights_only=True)
    last = torch.load(out / "last.pt", weights_only=True)
    assert "optimizer" not in s1 and "rng" not in s1  # the shipped form
    assert s1["input_size"]["meshes"] == 12 and last["input_size"] == s1["input_size"]  # the train split
    assert s1["metadata"]["checkpoint_epoch"] == 1 and [r["epoch"] for r in s1["metadata"]["history"]] == [1]
    assert all(torch.equal(s3["model"][k], last["model"][k]) for k in last["model"])  # epoch 3 is the last
    assert any(not torch.equal(s1["model"][k], s3["model"][k]) for k in s1["model"])  # training moved on
    loaded = load_model(snapshot_path(out, 1))  # what the app opens
    assert loaded.class_names == ["sphere", "torus"]


def test_snapshot_epochs_outside_the_schedule(cls_root, tmp_path, capsys):
    from dataclasses import asdict

    raw = asdict(_cfg(cls_root, tmp_path / "o", tmp_path / "cache", CLS_MODEL, niter=2, niter_decay=1))
    path = tmp_path / "c.json"
    path.write_text(json.dumps({**raw, "snapshot_epochs": [0, 2, 9]}))
    line = _main_error([str(path), "--no-progress"], capsys)
    assert "snapshot_epochs [0, 9] outside the schedule: epochs run from 1 to 3" in line
    path.write_text(json.dumps({**raw, "snapshot_epochs": "5"}))
    assert "must be a list of epoch numbers" in _main_error([str(path), "--no-progress"], capsys)
    assert not (tmp_path / "o").exists()


def test_snapshots_added_on_resume_say_which_epochs_were_passed(cls_root, tmp_path, capsys):
    out = tmp_path / "r"
    cfg = _cfg(cls_root, out, tmp_path / "cache", CLS_MODEL, niter=2, niter_decay=1)
    train(cfg, stop_epoch=2, progress=False)
    later = _cfg(cls_root, out, tmp_path / "cache", CLS_MODEL, niter=2, niter_decay=1, snapshot_epochs=[1, 3])
    capsys.readouterr()
    train(later, resume=True, progress=False)
    assert "no snapshot for epochs [1]: the run had passed them" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("snapshot_*.pt")) == ["snapshot_e003.pt"]


# ---------------------------------------------------------------- part names


def test_part_names_name_a_segmenters_label_values(seg_root, tmp_path, capsys):
    from meshcnn_core.inference import record
    from meshcnn_core.mesh.io import load_mesh
    from meshcnn_core.train import load_warm_start, model_config

    out = tmp_path / "named"
    cfg = _cfg(
        seg_root, out, tmp_path / "cache", SEG_MODEL, niter=1, niter_decay=0, part_names=["left", "right"]
    )
    train(cfg, progress=False)
    ck = torch.load(out / "last.pt", weights_only=True)
    assert ck["class_names"] == ["left", "right"] and ck["metadata"]["label_values"] == ["1", "2"]
    shipped = tmp_path / "named.pt"
    export(out / "best.pt", shipped)
    model = load_model(shipped)
    assert model.class_names == ["left", "right"] and model.label_values == ["1", "2"]
    rec = record(model, load_mesh(seg_root / "test" / "t100.obj"))
    assert rec.class_names == ["left", "right"] and rec.label_values == ["1", "2"]
    capsys.readouterr()
    assert (
        evaluate_main(
            ["--model", str(shipped), "--data", str(seg_root), "--cache-dir", str(tmp_path / "cache")]
        )
        == 0
    )
    header = capsys.readouterr().out.splitlines()[-3].split()
    assert header == ["left", "right"]
    # a segmenter's parts only need to be as many: a warm start ignores what they are called
    assert load_warm_start(str(shipped), model_config("segmentation", 2, SEG_MODEL), ["1", "2"])
    with pytest.raises(ValueError, match="another network config"):  # another number of parts
        load_warm_start(str(shipped), model_config("segmentation", 3, SEG_MODEL), ["1", "2", "3"])
    with pytest.raises(ValueError, match=r"part label values \['1', '2'\], the data set \['0', '1'\]"):
        load_warm_start(str(shipped), model_config("segmentation", 2, SEG_MODEL), ["0", "1"])  # other labels


def test_part_names_that_do_not_fit(seg_root, cls_root, tmp_path, capsys):
    cfg = _cfg(seg_root, tmp_path / "o", tmp_path / "cache", SEG_MODEL, niter=1, niter_decay=0)
    cfg.part_names = ["a", "b", "c"]
    line = _main_error([_write_config(tmp_path / "c.json", cfg), "--no-progress"], capsys)
    assert "part_names has 3 names but the data set has 2 label values (1, 2)" in line
    cfg = _cfg(cls_root, tmp_path / "o", tmp_path / "cache", CLS_MODEL, niter=1, niter_decay=0)
    cfg.part_names = ["a", "b"]
    line = _main_error([_write_config(tmp_path / "c.json", cfg), "--no-progress"], capsys)
    assert "drop part_names" in line
    cfg = _cfg(seg_root, tmp_path / "o", tmp_path / "cache", SEG_MODEL, niter=1, niter_decay=0)
    raw = json.loads(_write_config(tmp_path / "c.json", cfg) and (tmp_path / "c.json").read_text())
    raw["part_names"] = ["arm", "arm "]
    (tmp_path / "c.json").write_text(json.dumps(raw))
    assert "part_names must be distinct" in _main_error([str(tmp_path / "c.json"), "--no-progress"], capsys)
    raw["part_names"] = "a,b"
    (tmp_path / "c.json").write_text(json.dumps(raw))
    line = _main_error([str(tmp_path / "c.json"), "--no-progress"], capsys)
    assert "part_names must be a list of non-empty names" in line
    assert not (tmp_path / "o" / "last.pt").exists()


def test_export_renames_the_parts_of_a_shipped_segmenter(seg_root, cls_root, tmp_path, capsys):
    from meshcnn_core.train import main

    train(
        _cfg(seg_root, tmp_path / "s", tmp_path / "cache", SEG_MODEL, niter=2, niter_decay=0), progress=False
    )
    shipped, renamed = tmp_path / "seg.pt", tmp_path / "seg_named.pt"
    export(tmp_path / "s" / "best.pt", shipped)
    capsys.readouterr()
    assert main(["export", str(shipped), str(renamed), "--part-names", "left, right"]) == 0
    before, after = torch.load(shipped, weights_only=True), torch.load(renamed, weights_only=True)
    assert after["class_names"] == ["left", "right"] and after["metadata"]["label_values"] == ["1", "2"]
    assert (
        after["metadata"]["history"] == before["metadata"]["history"]
        and len(before["metadata"]["history"]) == 2
    )
    assert after["metadata"]["best_test_acc"] == before["metadata"]["best_test_acc"]
    assert all(torch.equal(before["model"][k], after["model"][k]) for k in before["model"])
    # renaming again keeps the original label values
    assert main(["export", str(renamed), str(renamed), "--part-names", "l,r"]) == 0
    assert torch.load(renamed, weights_only=True)["metadata"]["label_values"] == ["1", "2"]
    line = _main_error(["export", str(shipped), str(tmp_path / "x.pt"), "--part-names", "a,b,c"], capsys)
    assert "3 part names for a segmenter with 2 parts (1, 2)" in line
    line = _main_error(["export", str(shipped), str(tmp_path / "x.pt"), "--part-names", "a,a"], capsys)
    assert "one distinct, non-empty name per part" in line
    train(
        _cfg(cls_root, tmp_path / "c", tmp_path / "cache", CLS_MODEL, niter=1, niter_decay=0), progress=False
    )
    line = _main_error(
        ["export", str(tmp_path / "c" / "best.pt"), str(tmp_path / "x.pt"), "--part-names", "a,b"], capsys
    )
    assert "part names are for segmenters" in line
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    line = _main_error(["export", str(tmp_path / "junk.pt"), str(tmp_path / "x.pt")], capsys)
    assert "junk.pt" in line
    assert not (tmp_path / "x.pt").exists()
