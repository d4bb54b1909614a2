"""The app's attributions, resolution/survival colorings, model diffs and data-set surveys, without Streamlit.

Tiny random-weight models (tests/app_fixtures.py) on small generated meshes; values are checked by hand
or against a direct computation from the recording's merge groups.
"""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
from scipy.stats import spearmanr

from meshcnn_core import load_mesh
from meshcnn_core.analysis.explain import DeletionCurve, edge_attribution, resolve_target
from meshcnn_core.analysis.model_diff import Divergence, ModelDiff
from meshcnn_core.analysis.survey import MeshSurvey, aggregate, report_table_csv
from meshcnn_core.analysis.survey_run import survey
from meshcnn_core.mesh.io import write_obj
from tests.meshes import icosphere, torus
from viz_app import colorings, explain_figures, figures
from viz_app import dataset_service as dsvc
from viz_app import explain_service as esvc
from viz_app import service as svc
from viz_app.colorings import ColorChoice


@pytest.fixture(scope="module")
def models(tree):
    ck = tree["checkpoints"]
    return {
        n: svc.open_model(ck / f"{n}.pt", device="cpu")
        for n in ("a_classifier", "b_classifier", "c_segmenter")
    }


@pytest.fixture(scope="module")
def mesh(tree):
    return load_mesh(tree["samples"] / "ico_480.obj")


@pytest.fixture(scope="module")
def recs(models, mesh):
    return {n: svc.infer(m, mesh).recording for n, m in models.items()}


def make_cls_dataset(root, extra_class: bool = True):
    """A 3-class data set for the tiny classifiers: sphere, torus (one mesh each) and blob (two)."""
    for name, meshes in (
        ("sphere", [icosphere(2, seed=1)]),
        ("torus", [torus(16, 10, seed=2)]),
        ("blob", [icosphere(2, seed=7), torus(16, 10, seed=8)] if extra_class else []),
    ):
        (root / name / "test").mkdir(parents=True)
        for i, m in enumerate(meshes):
            write_obj(root / name / "test" / f"{name}{i}.obj", m)
    return root


# ---------------------------------------------------------------- group means and colorings


def test_group_mean_by_hand():
    indptr = np.array([0, 2, 3, 3])  # groups {0, 1}, {2}, {}
    indices = np.array([0, 1, 2])
    values = np.array([1.0, 3.0, 5.0])
    assert np.array_equal(colorings.group_mean(indptr, indices, values), [2.0, 5.0, 0.0])
    # overlapping groups: input edge 1 in both
    assert np.array_equal(colorings.group_mean([0, 2, 4], [0, 1, 1, 2], [2.0, 4.0, 8.0]), [3.0, 6.0])


@pytest.mark.parametrize("model", ["a_classifier", "c_segmenter"])
def test_input_values_at_stage_are_group_means(recs, model):
    rec = recs[model]
    values = np.arange(rec.num_input_edges, dtype=np.float64) ** 2
    assert np.array_equal(colorings.input_values_at_stage(rec, values, 0), values)  # the input: unchanged
    for k in range(1, rec.num_stages):
        st = rec.stage(k)
        want = [values[st.group(r)].mean() for r in range(st.num_edges)]
        assert np.allclose(colorings.input_values_at_stage(rec, values, k), want)
    with pytest.raises(ValueError, match="one value per input edge"):
        colorings.input_values_at_stage(rec, values[:-1], 1)


def test_attribution_coloring(recs):
    rec = recs["c_segmenter"]
    scores = np.zeros(rec.num_input_edges)
    scores[:10] = 1.0  # ten input edges matter
    cols = [colorings.edge_coloring(rec, k, ColorChoice("attribution", attribution=scores)) for k in range(5)]
    assert np.array_equal(cols[0].values, scores.astype(np.float32))
    assert cols[0].colorscale == colorings.HEAT and cols[0].title == "attribution"
    assert cols[2].title == "mean attribution"
    assert len({(c.cmin, c.cmax) for c in cols}) == 1 and all(
        c.fixed for c in cols
    )  # one range for all stages
    st = rec.stage(2)
    for r in range(st.num_edges):  # at a pooled stage: the share of the group's members among the ten
        assert cols[2].values[r] == pytest.approx(np.mean(st.group(r) < 10))
    own = colorings.edge_coloring(rec, 2, ColorChoice("attribution", fixed_scale=False, attribution=scores))
    assert own.fixed is False and np.array_equal(own.values, cols[2].values)
    with pytest.raises(ValueError, match="attribution of every input edge"):
        colorings.edge_coloring(rec, 0, ColorChoice("attribution"))
    assert colorings.quantities_for("classification", False)[:2] == ["activation", "attribution"]


def test_resolution_coloring(recs):
    rec = recs["a_classifier"]
    for k in (1, 2):
        col = colorings.resolution_coloring(rec, k)
        sizes = rec.resolution(k)
        assert np.allclose(2.0**col.values, np.maximum(sizes, 1.0), rtol=1e-6)  # log2 of the group sizes
        assert col.cmin == 0.0 and col.cmax == pytest.approx(np.log2(max(sizes.max(), 2)))
        assert col.ticktext[:3] == ("1", "2", "4") and 2.0 ** col.tickvals[2] == pytest.approx(4)
        assert f"pool {k}" in col.title
        # the sizes at a stage add up to the covered input edges (each held edge split 1/m over its groups)
        st = rec.stage(k)
        held = np.bincount(st.groups_indices, minlength=rec.num_input_edges)
        sizes = [np.sum(1.0 / held[st.group(r)]) for r in range(st.num_edges)]
        assert sum(sizes) == pytest.approx((held > 0).sum())
    assert len(np.unique(rec.resolution(2))) > 1  # not a one-color map


def test_depth_coloring_and_survival(recs):
    col = colorings.depth_coloring(np.array([0, 2, 1]), ["input", "pool 1", "pool 2"])
    assert col.tickvals == (0.0, 1.0, 2.0) and col.ticktext == ("input", "pool 1", "pool 2")
    assert (col.cmin, col.cmax) == (-0.5, 2.5) and np.array_equal(col.values, [0, 2, 1])
    rec = recs["a_classifier"]
    surv = colorings.survival_coloring(rec)
    assert set(np.unique(surv.values).tolist()) == {0.0, 1.0, 2.0}  # every stage value occurs
    fig = figures.survival_figure(rec)
    assert np.array_equal(np.asarray(fig.data[1].line.color)[0::3], rec.survival_depth().astype(np.float32))


def test_edges_figure_draws_any_mesh(recs):
    rec = recs["a_classifier"]
    col = colorings.resolution_coloring(rec, 2)
    fig = figures.edges_figure(rec.input_vertices, rec.input_faces, rec.input_edges, col, height=300)
    assert len(fig.data[1].x) == 3 * rec.num_input_edges and fig.layout.height == 300
    assert np.array_equal(np.asarray(fig.data[1].line.color)[0::3], col.values)


# ---------------------------------------------------------------- targets, attribution, deletion check


def test_targets_of_a_classifier(recs):
    rec = recs["a_classifier"]
    p = rec.probabilities
    opts = esvc.target_options(rec)
    assert [o.index for o in opts] == list(np.argsort(-p, kind="stable"))
    assert esvc.default_target(rec) == int(np.argmax(p)) == opts[0].index
    assert "predicted" in opts[0].label and "predicted" not in opts[1].label
    assert opts[0].label.endswith(f"{100 * p[opts[0].index]:.1f}%)")


def test_targets_of_a_segmenter_match_the_library(recs, models, mesh):
    rec = recs["c_segmenter"]
    counts = np.bincount(rec.prediction, minlength=3)
    opts = esvc.target_options(rec)
    assert [o.index for o in opts] == [int(i) for i in np.argsort(-counts, kind="stable") if counts[i]]
    assert opts[0].label == f"part {rec.class_names[opts[0].index]} ({counts[opts[0].index]} edges)"
    assert esvc.default_target(rec) == resolve_target(models["c_segmenter"], mesh).index


@pytest.mark.parametrize("model", ["a_classifier", "c_segmenter"])
def test_attribution_and_deletion_check(models, recs, mesh, model):
    m, rec = models[model], recs[model]
    t = esvc.default_target(rec)
    scores = esvc.attribution(m, mesh, "grad_input", t)
    assert scores.shape == (rec.num_input_edges,) and np.isfinite(scores).all() and (scores >= 0).all()
    assert np.array_equal(scores, edge_attribution(m, mesh, target=t, method="grad_input"))
    curve = esvc.deletion(m, mesh, scores, t)
    assert np.array_equal(curve.fractions, esvc.FRACTIONS) and curve.random.shape == (5, len(esvc.FRACTIONS))
    assert np.array_equal(curve.hidden, np.rint(np.asarray(esvc.FRACTIONS) * rec.num_input_edges))
    if rec.task == "classification":  # nothing hidden: the recorded probability
        assert curve.base == pytest.approx(float(rec.probabilities[t]), abs=1e-5)
    else:
        part = rec.prediction == t
        assert curve.base == pytest.approx(float(rec.probabilities[part, t].mean()), abs=1e-5)


def _curve(attributed, random, name="snake"):
    return DeletionCurve(
        fractions=np.array([0.0, 0.1]),
        hidden=np.array([0, 48]),
        target=3,
        target_name=name,
        attributed=np.array(attributed),
        random=np.array(random),
        seeds=np.arange(len(random)),
    )


def test_verdict_by_hand():
    v = esvc.verdict(_curve([0.9, 0.3], [[0.9, 0.8], [0.9, 0.7]]), "classification")
    assert v.beats and v.drop == pytest.approx(0.6) and v.random_drop == pytest.approx(0.15)
    assert v.ratio == pytest.approx(4.0)
    assert (
        "P(snake) is 0.90" in v.text and "lowers it by **0.60**" in v.text and "lowers it by 0.15" in v.text
    )
    assert "**4.0×** the random drop" in v.text and "mean of 2 random orders" in v.text
    worse = esvc.verdict(_curve([0.9, 0.85], [[0.9, 0.5]]), "classification")
    assert not worse.beats and "does **not** beat random" in worse.text
    rises = esvc.verdict(_curve([0.5, 0.6], [[0.5, 0.55]], "2"), "segmentation")  # hiding raises it
    assert (
        "raises it by **0.10**" in rises.text and "P(part 2) is 0.50, its mean over the edges" in rises.text
    )
    assert not rises.beats and "does **not** beat random" in rises.text  # it rose more than at random
    flat = esvc.verdict(_curve([0.9, 0.5], [[0.9, 0.9]]), "classification")
    assert (
        flat.level == "clear"
        and np.isnan(flat.ratio)
        and "Hiding random edges does not lower it" in flat.text
    )
    slight = esvc.verdict(_curve([0.9, 0.6], [[0.9, 0.7]]), "classification")  # 0.3 vs 0.2: 1.5x
    assert slight.level == "slight" and slight.beats and "**1.5×** the random drop" in slight.text
    assert "not by much" in slight.text
    erased = esvc.verdict(_curve([0.95, 0.01], [[0.95, 0.32]]), "classification")  # 0.94 vs 0.63: 1.5x
    assert (
        erased.level == "clear"
        and "all but erases the prediction" in erased.text
        and "**1.5×**" in erased.text
    )
    tiny = esvc.verdict(_curve([0.3, 0.295], [[0.3, 0.299]]), "classification")  # better, but by nothing
    assert tiny.level == "none" and "barely changes the prediction" in tiny.text
    assert v.level == "clear" and worse.level == "none"


# ---------------------------------------------------------------- model diff


def test_diff_of_a_model_with_itself(recs):
    rec = recs["c_segmenter"]
    rows, diff = esvc.diff_rows(rec, rec)
    assert [r.label for r in rows] == ["input", "pool 1", "pool 2"]
    assert all(r.jaccard == 1.0 for r in rows)
    assert [r.spearman for r in rows] == [
        pytest.approx(1.0),
        pytest.approx(1.0),
        None,
    ]  # no pooling after pool 2
    n = sum(len(rec.stage(k).collapse_order) for k in (0, 1))
    assert diff.divergence is None and diff.shared_collapses == n
    assert esvc.divergence_text(diff, rec, ("A", "B")) == (
        f"**A** and **B** collapse the same edges in the same order: all {n} collapses agree."
    )


def test_diff_between_two_models(recs):
    a, b = recs["a_classifier"], recs["b_classifier"]
    rows, diff = esvc.diff_rows(a, b)
    for r in rows[:2]:
        ids_a, ids_b = a.stage(r.stage).edge_ids, b.stage(r.stage).edge_ids
        both, ia, ib = np.intersect1d(ids_a, ids_b, return_indices=True)
        assert r.both == len(both) and r.kept_a == len(ids_a)
        want = spearmanr(a.stage(r.stage).priority[ia], b.stage(r.stage).priority[ib]).statistic
        assert r.spearman == pytest.approx(want)
    d = diff.divergence
    ca, cb = a.stage(0).collapse_order, b.stage(0).collapse_order
    first = int(np.flatnonzero(ca != cb)[0])  # random weights: they part in the first pooling
    assert (d.stage, d.position, d.edge_a, d.edge_b) == (0, first, int(ca[first]), int(cb[first]))


def test_divergence_text_by_hand(recs):
    rec = recs["a_classifier"]
    diff = ModelDiff([], Divergence(stage=1, position=4, overall=31, edge_a=7, edge_b=None), 31)
    assert esvc.divergence_text(diff, rec, ("A", "B")) == (
        "The collapse sequences agree for the first **31** collapses and part at collapse 5 of the pooling "
        "to pool 2: A collapses edge 7, B nothing more (its pooling has stopped) (input edge ids)."
    )
    first = ModelDiff([], Divergence(stage=0, position=0, overall=0, edge_a=3, edge_b=9), 0)
    assert esvc.divergence_text(first, rec, ("A", "B")).startswith(
        "The collapse sequences differ from the very first collapse (collapse 1 of the pooling to pool 1)"
    )


# ---------------------------------------------------------------- charts


def test_deletion_figure():
    curve = _curve([0.9, 0.3], [[0.9, 0.8], [0.9, 0.6]])
    fig = explain_figures.deletion_figure(curve, "P(snake)")
    by_name = {t.name: t for t in fig.data}
    assert np.allclose(by_name["highest attribution first"].y, [0.9, 0.3])
    assert np.allclose(by_name["random edges (mean)"].y, [0.9, 0.7])
    assert np.allclose(by_name["range of 2 random orders"].y, [0.9, 0.6])  # the band's lower edge
    assert list(by_name["highest attribution first"].x) == [0.0, 10.0]
    assert fig.layout.yaxis.title.text == "P(snake)"


def test_survey_charts():
    fig = explain_figures.dihedral_figure(["a", "b"], np.array([0.25, 0.75]), np.array([0.5, 0.5]))
    assert np.allclose(fig.data[0].y, [25, 75]) and np.allclose(fig.data[1].y, [50, 50])
    assert fig.layout.yaxis.range[1] == pytest.approx(75 * 1.12)  # fits the tallest bar
    fig = explain_figures.part_survival_figure(
        ["1", "2"], ["input", "pool 1"], np.array([[1.0, 0.5], [1.0, 0.2]])
    )
    assert [t.name for t in fig.data] == ["part 1", "part 2"] and np.allclose(fig.data[1].y, [100, 20])
    named = explain_figures.part_survival_figure(["head", "7"], ["input"], np.array([[1.0], [1.0]]))
    assert [t.name for t in named.data] == ["head", "part 7"]  # a named part is written as its name
    fig = explain_figures.confusion_figure(["x", "y"], np.array([[3, 1], [0, 0]]), "meshes")
    assert np.allclose(fig.data[0].z, [[75, 25], [0, 0]])  # rows as shares; an empty row stays 0
    assert np.array_equal(fig.data[0].customdata, [[3, 1], [0, 0]])


# ---------------------------------------------------------------- data-set survey


def _cls(file, label, pred, prob=0.6, d_in=(1, 1, 0, 0, 2), d_kept=(1, 0, 0, 0, 1)):
    return MeshSurvey(
        file=file,
        survival=np.array([0, 1, 2]),
        label=label,
        prediction=pred,
        probability=prob,
        dihedral_input=np.array(d_in),
        dihedral_kept=np.array(d_kept),
    )


def test_class_tables_by_hand():
    meshes = [
        _cls("a/test/a0.obj", 0, 0),
        _cls("a/test/a1.obj", 0, 1, 0.9),
        _cls("b/test/b0.obj", 1, 1),
        MeshSurvey(file="b/test/bad.obj", error="not a mesh"),
    ]
    report = aggregate("classification", ["a", "b"], meshes)
    table = dsvc.class_table(report)
    assert list(table["class"]) == ["a", "b"] and list(table["meshes"]) == [2, 1]
    assert list(table["accuracy %"]) == [50.0, 100.0]
    assert table.loc[0, "input 0-120 deg %"] == 25.0 and table.loc[0, "kept 175-180 deg %"] == 50.0
    inp, kept = dsvc.dihedral_shares(report)  # all classes: counts added, then shared
    assert np.allclose(inp, [0.25, 0.25, 0, 0, 0.5]) and np.allclose(kept, [0.5, 0, 0, 0, 0.5])
    gallery = dsvc.class_gallery(report, 0)
    assert [g.file for g in gallery] == ["a/test/a1.obj", "a/test/a0.obj"]  # misclassified first
    assert not gallery[0].correct and gallery[0].predicted == "b" and gallery[0].probability == 0.9
    assert dsvc.class_gallery(report, 1)[0].file == "b/test/b0.obj"  # the broken mesh is left out
    assert "a,2,0.5000" in report_table_csv(report)


def test_part_table_by_hand():
    seg = MeshSurvey(
        file="m.obj",
        survival=np.array([0, 1, 2, 2]),
        part_edges=np.array([2, 2]),
        part_kept=np.array([[2, 1, 0], [2, 2, 2]]),
        confusion=np.array([[1, 1], [0, 2]]),
    )
    report = aggregate("segmentation", ["1", "2"], [seg])
    table = dsvc.part_table(report)
    assert list(table.columns) == [
        "part",
        "edges",
        "accuracy %",
        "kept at input %",
        "kept at pool 1 %",
        "kept at pool 2 %",
    ]
    assert list(table.iloc[0, 2:]) == [50.0, 100.0, 50.0, 0.0] and list(table.iloc[1, 2:]) == [100.0] * 4
    assert dsvc.stage_names(3) == ["input", "pool 1", "pool 2"]


def test_check_dataset(tree, models, tmp_path):
    seg = dsvc.scan(tree["segdata"])
    assert dsvc.check_dataset(models["c_segmenter"], seg).problem is None
    # a segmenter with named parts matches the data set by its label values, not its names
    values = list(seg.class_names)
    words = [f"region {v}" for v in values]
    named = dataclasses.replace(models["c_segmenter"], class_names=words, metadata={"label_values": values})
    assert dsvc.check_dataset(named, seg).note is None
    other = dataclasses.replace(named, metadata={"label_values": [str(int(v) + 5) for v in values]})
    assert "part label values" in dsvc.check_dataset(other, seg).note
    assert (
        "segmentation data set, but a_classifier is a classification model"
        in dsvc.check_dataset(models["a_classifier"], seg).problem
    )
    two = dsvc.scan(tree["clsdata"])  # sphere and torus: two classes, the model has three
    assert "has 2 classes, but a_classifier has 3" in dsvc.check_dataset(models["a_classifier"], two).problem
    three = dsvc.scan(make_cls_dataset(tmp_path / "cls"))
    ok = dsvc.check_dataset(models["a_classifier"], three)
    assert ok.problem is None and len(ok.files) == 4
    assert "differ from the data set's" in ok.note  # sorted folders: blob, sphere, torus
    assert (
        dsvc.check_dataset(models["a_classifier"], three, "train").problem
        == "the train split of cls has no meshes"
    )
    assert dsvc.scan("").startswith("no data-set folder set")
    assert dsvc.scan(tmp_path / "nowhere").endswith("no such folder")
    assert isinstance(dsvc.scan(tmp_path), str)  # a folder that is not a data set: a sentence, no exception


def test_survey_key_follows_the_files(tree, models, tmp_path):
    root = tmp_path / "seg"
    shutil.copytree(tree["segdata"], root)
    m = models["c_segmenter"]
    key = dsvc.survey_key("fp", dsvc.check_dataset(m, dsvc.scan(root)))
    assert key == dsvc.survey_key("fp", dsvc.check_dataset(m, dsvc.scan(root)))
    shutil.copy(root / "train" / "mtrain0.obj", root / "test" / "mtest9.obj")
    (root / "seg" / "mtest9.eseg").write_text((root / "seg" / "mtrain0.eseg").read_text())
    assert dsvc.survey_key("fp", dsvc.check_dataset(m, dsvc.scan(root))) != key
    assert dsvc.survey_key("other", dsvc.check_dataset(m, dsvc.scan(root))) != key


def test_survey_cache_file_lives_in_the_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MESHCNN_CACHE", str(tmp_path / "c"))
    a = dsvc.survey_cache_file("/m.pt", tmp_path, "test")
    assert a.parent == tmp_path / "c" / "survey" and a.suffix == ".jsonl"
    assert (
        a
        != dsvc.survey_cache_file("/m.pt", tmp_path, "train")
        != dsvc.survey_cache_file("/n.pt", tmp_path, "test")
    )


def test_survey_store_runs_one_survey_per_key():
    store = dsvc.SurveyStore(max_reports=2)
    assert store.begin("k", 10) and not store.begin("k", 10)  # a second session waits
    store.update("k", 3, 10)
    assert store.progress("k") == (3, 10) and store.get("k") is None
    store.finish("k", None)  # stopped: nothing kept, may run again
    assert store.progress("k") is None and store.begin("k", 10)
    store.finish("k", "report")
    assert store.get("k") == "report" and not store.begin("k", 10)  # done: nothing to run
    store.finish("k2", "r2")
    store.finish("k3", "r3")
    assert store.get("k") is None and store.get("k3") == "r3"  # at most two kept, the oldest goes


def test_gallery_mesh_matches_the_survey(tree, models, tmp_path):
    root = make_cls_dataset(tmp_path / "cls")
    report = survey(models["a_classifier"], root)
    for m in report.meshes:
        g = dsvc.gallery_mesh(root, m.file)
        assert g.edges.shape == (len(m.survival), 2) and g.faces.shape[1] == 3
    with pytest.raises(Exception, match="not a file of the data set"):
        dsvc.gallery_mesh(root, "../../etc/passwd")
