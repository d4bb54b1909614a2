"""The size a model expects: MeshCNN's features depend on a mesh's size, so far-off meshes are scaled."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from meshcnn_core import CheckpointError, ClassifierConfig, MeshError
from meshcnn_core.checkpoint import build_model, checkpoint_dict, load_model, save_checkpoint
from meshcnn_core.mesh.edges import diagonal
from meshcnn_core.mesh.features import extract_features
from meshcnn_core.mesh.io import Mesh, write_obj
from meshcnn_core.mesh.repair import preflight_for_model
from meshcnn_core.mesh.size import InputSize, fit_size, input_size_of, input_size_of_files, shared_size
from meshcnn_core.mesh.topology import build_topology

from .meshes import icosphere

CFG = ClassifierConfig(
    nclasses=2, ncf=(8, 16), pool_res=(100, 80), ninput_edges=240, norm="group", num_groups=4
)


def _model_file(tmp_path, size: dict | None, name="m.pt"):
    torch.manual_seed(0)
    ck = checkpoint_dict(build_model(CFG), CFG, ["a", "b"], np.zeros(5), np.ones(5))
    if size is not None:
        ck["input_size"] = size
    path = tmp_path / name
    save_checkpoint(path, ck)
    return path


def test_input_size_of_diagonals():
    s = input_size_of([2.0, 1.0, 4.0, 3.0])
    assert (s.low, s.median, s.high, s.meshes) == (1.0, 2.5, 4.0, 4)
    assert s.accepts(1.0 / 1.25) and s.accepts(5.0) and not s.accepts(0.79) and not s.accepts(5.01)
    assert InputSize.from_dict(s.to_dict()) == s and InputSize.from_dict(None) is None
    for bad in ([], [1.0, 0.0], [np.nan]):
        with pytest.raises(ValueError):
            input_size_of(bad)
    for raw in ({"low": 1}, {"low": 3, "median": 2, "high": 4, "meshes": 1}, "big"):
        with pytest.raises(ValueError):
            InputSize.from_dict(raw)


@pytest.mark.parametrize(
    "raw",
    [
        {"low": 1, "median": 2, "high": 3, "meshes": float("inf")},
        {"low": 1e299, "median": 1e300, "high": 1e300, "meshes": 3},
        {"low": 1, "median": 2, "high": 3, "meshes": -4},
        {"low": 1, "median": 2, "high": 3, "meshes": True},
        {"low": "1", "median": 2, "high": 3, "meshes": 3},
        {"low": True, "median": 2, "high": 3, "meshes": 3},
        {"low": 0.0, "median": 2, "high": 3, "meshes": 3},
        {"low": 1, "median": float("nan"), "high": 3, "meshes": 3},
    ],
)
def test_hostile_input_sizes_are_refused_with_words(tmp_path, raw):
    with pytest.raises(ValueError):
        InputSize.from_dict(raw)
    with pytest.raises(CheckpointError, match="input_size entry is malformed"):
        load_model(_model_file(tmp_path, raw), device="cpu")


def test_stray_vertices_and_dropped_pieces_do_not_set_the_scale(tmp_path):
    mesh = icosphere(1, seed=0)
    d = diagonal(mesh.vertices)
    stray = Mesh(np.vstack([mesh.vertices, [[1000.0, 0, 0]]]), mesh.faces)  # a vertex no face uses
    assert fit_size(stray, input_size_of([d]))[1] is None
    assert fit_size(Mesh(np.zeros((3, 3)), [[0, 1, 2]]), input_size_of([d]))[1] is None  # flat: nothing to do
    model = load_model(_model_file(tmp_path, input_size_of([30.0, 35.0, 44.0]).to_dict()), device="cpu")
    far = icosphere(1, seed=1)
    two = Mesh(  # the model's piece (about 2 across) and a far, small second piece that preflight drops
        np.vstack([mesh.vertices, far.vertices * 0.1 + 500.0]),
        np.vstack([mesh.faces, far.faces + len(mesh.vertices)]),
    )
    res = preflight_for_model(two, model)
    assert diagonal(res.mesh.vertices) == pytest.approx(35.0, rel=0.05)
    assert sum(a.startswith("scaled by") for a in res.actions) == 2  # again after the piece was dropped


def test_fit_size_scales_far_meshes_about_their_center_and_keeps_the_rest():
    mesh = icosphere(1, seed=0)
    d = diagonal(mesh.vertices)
    same, words = fit_size(mesh, input_size_of([d * 0.9, d * 1.1]))
    assert same is mesh and words is None
    assert fit_size(mesh, None) == (mesh, None)
    target = input_size_of([30.0, 35.0, 40.0])
    scaled, words = fit_size(mesh, target)
    assert diagonal(scaled.vertices) == pytest.approx(35.0)
    np.testing.assert_array_equal(scaled.faces, mesh.faces)
    center = (mesh.vertices.min(0) + mesh.vertices.max(0)) / 2
    np.testing.assert_allclose((scaled.vertices.min(0) + scaled.vertices.max(0)) / 2, center, atol=1e-12)
    assert words.startswith(f"scaled by {35.0 / d:.3g} to a bounding-box diagonal of 35")
    assert words in scaled.notes
    # the point of it: MeshCNN's features change with size (its + 0.1), so the model must see its own
    f_small = extract_features(build_topology(mesh.vertices, mesh.faces).topology)
    f_big = extract_features(build_topology(scaled.vertices, scaled.faces).topology)
    assert np.abs(f_small - f_big).max() > 0.1


def test_shared_size_intersects_and_refuses_disjoint_sizes():
    a, b = input_size_of([1.8, 2.0, 2.4]), input_size_of([2.2, 2.5, 3.0])
    s = shared_size([a, None, b])
    assert (s.low, s.high) == (2.2, 2.4) and s.median == pytest.approx(2.25)
    assert shared_size([None, None]) is None and shared_size([a]) == a
    with pytest.raises(MeshError, match="trained on meshes of different sizes"):
        shared_size([a, input_size_of([30.0, 35.0, 44.0])])
    with pytest.raises(MeshError):  # near but apart: no size that both saw
        shared_size([input_size_of([1.0]), input_size_of([1.5])])
    for d in np.linspace(1.0, 3.5, 26):  # the shared range accepts only what every model accepts
        assert s.accepts(d) <= (a.accepts(d) and b.accepts(d))


def test_checkpoints_carry_the_size_and_refuse_a_malformed_one(tmp_path):
    size = input_size_of([30.0, 35.0, 44.0])
    assert load_model(_model_file(tmp_path, size.to_dict()), device="cpu").input_size == size
    assert load_model(_model_file(tmp_path, None, "old.pt"), device="cpu").input_size is None
    with pytest.raises(CheckpointError, match="input_size entry is malformed"):
        load_model(_model_file(tmp_path, {"low": -1, "median": 1, "high": 2, "meshes": 3}, "bad.pt"))


def test_preflight_for_model_scales_first_and_says_so(tmp_path):
    model = load_model(_model_file(tmp_path, input_size_of([30.0, 35.0, 44.0]).to_dict()), device="cpu")
    mesh = icosphere(2, seed=0)  # 960 edges: simplified too
    res = preflight_for_model(mesh, model)
    assert res.actions[0].startswith("scaled by") and res.changed
    assert diagonal(res.mesh.vertices) == pytest.approx(35.0, rel=0.05)
    assert 150 <= build_topology(res.mesh.vertices, res.mesh.faces)[0].num_edges <= 240
    plain = load_model(_model_file(tmp_path, None, "plain.pt"), device="cpu")
    assert not any(a.startswith("scaled") for a in preflight_for_model(mesh, plain).actions)


def test_service_fits_the_size_and_keeps_the_edges(tmp_path):
    from viz_app import service as svc

    big = load_model(_model_file(tmp_path, input_size_of([30.0, 35.0, 44.0]).to_dict()), device="cpu")
    mesh = icosphere(1, seed=0)  # 120 edges
    fit = svc.fit_mesh_to(mesh, 100, 240, size=big.input_size)
    assert fit.keeps_edges and len(fit.actions) == 1 and fit.actions[0].startswith("scaled by")
    np.testing.assert_array_equal(fit.mesh.faces, mesh.faces)
    res = svc.infer(big, mesh, fitted=fit)
    assert res.keeps_edges and res.actions == fit.actions
    unchanged = svc.fit_mesh_to(mesh, 100, 240, size=input_size_of([diagonal(mesh.vertices)]))
    assert unchanged.actions == () and unchanged.mesh is mesh and unchanged.keeps_edges
    simplified = svc.fit_mesh_to(icosphere(2, seed=0), 150, 240, size=big.input_size)
    assert not simplified.keeps_edges and simplified.actions[0].startswith("scaled by")
    small = dataclasses.replace(big, input_size=input_size_of([1.8, 2.0, 2.4]))
    with pytest.raises(MeshError, match="different sizes"):
        svc.model_size([big, small])


def test_input_size_of_files_and_the_command(tmp_path, capsys):
    from meshcnn_core.__main__ import main

    data = tmp_path / "data"
    for cname in ("a", "b"):
        for split in ("train", "test"):
            (data / cname / split).mkdir(parents=True)
    scales = []
    for i, s in enumerate((1.0, 2.0, 3.0)):
        m = icosphere(1, seed=i)
        m = Mesh(m.vertices * s, m.faces)
        scales.append(diagonal(m.vertices))
        write_obj(data / ("a" if i % 2 else "b") / "train" / f"m{i}.obj", m)
    write_obj(data / "a" / "test" / "t.obj", Mesh(icosphere(1).vertices * 50, icosphere(1).faces))
    files = sorted(data.glob("*/train/*.obj"))
    assert input_size_of_files(files).median == pytest.approx(np.median(scales), rel=1e-5)
    src = _model_file(tmp_path, None)
    out = tmp_path / "sized.pt"
    assert main(["input-size", "--model", str(src), "--data", str(data), "--out", str(out)]) == 0
    size = load_model(out, device="cpu").input_size
    assert size.meshes == 3 and size.high == pytest.approx(max(scales), rel=1e-5)  # the test split: not read
    ck_in, ck_out = torch.load(src, weights_only=True), torch.load(out, weights_only=True)
    assert all(torch.equal(ck_in["model"][k], ck_out["model"][k]) for k in ck_in["model"])
    capsys.readouterr()
    assert main(["input-size", "--model", str(src), "--data", str(data), "--out", str(src)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "write to a new file" in err[0]


def test_training_sizes_far_apart_form_groups_and_a_mesh_goes_to_the_nearest():
    s = input_size_of([1.6, 2.0, 2.3, 2.1, 250.0, 327.0, 300.0])  # the human-body set's two sizes
    assert [(g.low, g.high, g.meshes) for g in s.groups] == [(1.6, 2.3, 4), (250.0, 327.0, 3)]
    assert (s.low, s.high, s.meshes) == (1.6, 327.0, 7) and s.median == 2.3
    assert s.groups[0].median == pytest.approx(2.05) and s.groups[1].median == 300.0
    assert s.accepts(2.0) and s.accepts(300.0) and s.accepts(2.3 * 1.25) and s.accepts(250 / 1.25)
    assert not s.accepts(6.0) and not s.accepts(100.0)  # between the groups: neither saw it
    assert InputSize.from_dict(s.to_dict()) == s
    assert "groups" not in input_size_of([1.0, 1.9, 3.0]).to_dict()  # gaps under 2x: one range
    mesh = icosphere(1, seed=0)
    d = diagonal(mesh.vertices)
    for size, target in ((6.0, 2.05), (30.0, 300.0), (1000.0, 300.0), (0.1, 2.05)):
        scaled, words = fit_size(Mesh(mesh.vertices * size / d, mesh.faces), s)
        assert diagonal(scaled.vertices) == pytest.approx(target)
        assert "nearest of the training meshes' sizes (1.6-2.3, 250-327)" in words


@pytest.mark.parametrize(
    "groups",
    [
        [
            {"low": 1, "median": 1, "high": 3, "meshes": 1},
            {"low": 2, "median": 5, "high": 9, "meshes": 1},
        ],  # overlap
        [
            {"low": 5, "median": 5, "high": 9, "meshes": 1},
            {"low": 1, "median": 1, "high": 2, "meshes": 1},
        ],  # order
        [{"low": 1, "median": 1, "high": 2, "meshes": 1}],  # one group
        [
            {"low": 1, "median": 1, "high": 2, "meshes": 1},
            {"low": 5, "median": 5, "high": 8, "meshes": 1},
        ],  # short
        [
            {"low": 1, "median": 1, "high": 2, "meshes": 1, "groups": []},
            {"low": 5, "median": 5, "high": 9, "meshes": 1},
        ],
        [{"low": 1, "median": 1, "high": 2, "meshes": 1}] * 40,
        "1-2, 5-9",
    ],
)
def test_hostile_size_groups_are_refused(tmp_path, groups):
    raw = {"low": 1, "median": 2, "high": 9, "meshes": 2, "groups": groups}
    with pytest.raises(ValueError):
        InputSize.from_dict(raw)
    with pytest.raises(CheckpointError, match="input_size entry is malformed"):
        load_model(_model_file(tmp_path, raw), device="cpu")


def test_shared_size_of_grouped_sizes_keeps_what_every_model_saw():
    body = input_size_of([1.6, 2.0, 2.3, 250.0, 300.0, 327.0])
    small = input_size_of([1.8, 2.0, 2.2])
    s = shared_size([body, small])
    assert not s.groups and (s.low, s.high) == (1.8, 2.2)
    both = shared_size([body, input_size_of([2.0, 2.2, 2.4, 280.0, 400.0])])
    assert [(g.low, g.high) for g in both.groups] == [(2.0, 2.3), (280.0, 327.0)]
    assert not both.accepts(30.0) and both.accepts(2.1) and both.accepts(300.0)
    with pytest.raises(MeshError, match="different sizes"):
        shared_size([body, input_size_of([20.0, 30.0])])
    assert shared_size([None, body]) is body  # one model: its own size, groups and median as they are
    # two (hostile) sizes of 16 interleaved groups each overlap in 31 ranges: too many, said in words
    def grouped(ranges):
        groups = tuple(InputSize(lo, lo, hi, 1) for lo, hi in ranges)
        return InputSize(ranges[0][0], ranges[0][0], ranges[-1][1], 16, groups)

    a = grouped([(10 * k + 1.0, 10 * k + 2.0) for k in range(16)])
    b = grouped([(10 * k + 1.5, 10 * k + 11.2) for k in range(16)])
    with pytest.raises(MeshError, match="overlap in 31 separate ranges"):
        shared_size([a, b])
