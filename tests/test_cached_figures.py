"""Figures shared across sessions (viz_app.cached.figure): built once per content key, never mixed up."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
import pytest
import streamlit as st

from meshcnn_core import load_mesh
from viz_app import cached, figures
from viz_app import service as svc
from viz_app.colorings import ColorChoice, edge_coloring

BUILDS: list[tuple] = []  # the calls that reached a builder (not served from the cache)


def counted_stage_figure(rec, k, choice=figures.DEFAULT_COLORS, **kw) -> go.Figure:
    BUILDS.append((k, choice, kw))
    return figures.stage_figure(rec, k, choice, **kw)


def tiny(rec, i: int) -> go.Figure:
    BUILDS.append((i,))
    return go.Figure(layout=dict(title=str(i)))


@pytest.fixture
def fresh():
    st.cache_data.clear()
    st.cache_resource.clear()
    BUILDS.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


MODELS: dict = {}  # one loaded object per checkpoint, as cached.model gives every session


def _result(tree, name: str, key: str | None = None):
    if name not in MODELS:
        MODELS[name] = svc.open_model(tree["checkpoints"] / f"{name}.pt", device="cpu")
    model = MODELS[name]
    fit = svc.fit_mesh_to(load_mesh(tree["samples"] / "ico_480.obj"), *svc.model_limits([model]))
    return cached.result(key or name, "cpu", model, fit)


def test_a_shared_figure_is_built_once_and_equals_a_direct_build(tree, fresh):
    rec = _result(tree, "c_segmenter").recording
    choice = ColorChoice("label")
    first = cached.figure(counted_stage_figure, rec, 1, choice)
    assert isinstance(first, str)
    assert first == figures.stage_figure(rec, 1, choice).to_json()
    again = _result(tree, "c_segmenter").recording  # another session: the same shared result
    assert cached.figure(counted_stage_figure, again, 1, ColorChoice("label")) is first
    assert len(BUILDS) == 1


def test_a_result_is_shared_and_read_only(tree, fresh):
    rec = _result(tree, "c_segmenter").recording
    assert _result(tree, "c_segmenter").recording is rec
    arrays = [a for a in rec.arrays.values() if isinstance(a, np.ndarray)]
    assert arrays and not any(a.flags.writeable for a in arrays)
    with pytest.raises(ValueError):
        rec.stage(1).features[0, 0] = 1.0


def test_every_argument_and_coloring_field_is_part_of_the_key(tree, fresh):
    rec = _result(tree, "c_segmenter").recording
    n = rec.num_input_edges
    truth = np.arange(n) % 3
    other_truth = truth.copy()
    other_truth[0] = (other_truth[0] + 1) % 3
    base = ColorChoice("channel", channel=1, fixed_scale=True)
    variants = [
        (1, base, {}),
        (2, base, {}),
        (1, replace(base, channel=2), {}),
        (1, replace(base, fixed_scale=False), {}),
        (1, base, {"fit_stage": True}),
        (1, base, {"narrow": True, "height": 520}),
        (1, ColorChoice("truth", truth=truth), {}),
        (1, ColorChoice("truth", truth=other_truth), {}),  # one label differs: another figure
    ]
    out = [cached.figure(counted_stage_figure, rec, k, c, **kw) for k, c, kw in variants]
    assert len(BUILDS) == len(variants)
    assert len(set(out)) == len(variants)
    for (k, c, kw), js in zip(variants, out):
        assert js == figures.stage_figure(rec, k, c, **kw).to_json()


def test_results_of_other_models_do_not_share(tree, fresh):
    a = _result(tree, "a_classifier").recording
    b = _result(tree, "b_classifier").recording
    fa = cached.figure(counted_stage_figure, a, 0)
    fb = cached.figure(counted_stage_figure, b, 0)
    assert fa != fb and len(BUILDS) == 2


def test_a_recording_from_outside_the_caches_is_drawn_but_not_shared(tree, fresh):
    model = svc.open_model(tree["checkpoints"] / "a_classifier.pt", device="cpu")
    rec = svc.infer(model, load_mesh(tree["samples"] / "ico_480.obj")).recording
    fig = cached.figure(counted_stage_figure, rec, 0)
    assert isinstance(fig, go.Figure)
    cached.figure(counted_stage_figure, rec, 0)
    assert len(BUILDS) == 2


def test_the_figure_cache_is_bounded(tree, fresh):
    rec = _result(tree, "a_classifier").recording
    for i in range(cached.FIGURE_ENTRIES + 1):
        cached.figure(tiny, rec, i)
    assert len(BUILDS) == cached.FIGURE_ENTRIES + 1
    cached.figure(tiny, rec, cached.FIGURE_ENTRIES)  # the newest is kept
    assert len(BUILDS) == cached.FIGURE_ENTRIES + 1
    cached.figure(tiny, rec, 0)  # the oldest was dropped: built again
    assert len(BUILDS) == cached.FIGURE_ENTRIES + 2


def test_a_shared_result_is_one_object(tree, fresh):
    rec = _result(tree, "a_classifier").recording
    a = cached.shared(figures.prediction_figure, rec)
    assert isinstance(a, go.Figure)
    assert cached.shared(figures.prediction_figure, rec) is a
    assert cached.shared(figures.prediction_figure, rec, top=2) is not a
    assert a.to_json() == figures.prediction_figure(rec).to_json()


def test_a_shared_coloring_is_keyed_by_stage_and_choice(tree, fresh):
    rec = _result(tree, "c_segmenter").recording
    choice = ColorChoice("activation", fixed_scale=False)
    a = cached.shared(edge_coloring, rec, 1, choice)
    assert cached.shared(edge_coloring, rec, 1, ColorChoice("activation", fixed_scale=False)) is a
    b = cached.shared(edge_coloring, rec, 2, choice)
    c = cached.shared(edge_coloring, rec, 1, replace(choice, fixed_scale=True))
    assert b is not a and c is not a
    for got, k, ch in ((a, 1, choice), (b, 2, choice), (c, 1, replace(choice, fixed_scale=True))):
        want = edge_coloring(rec, k, ch)
        assert np.array_equal(got.values, want.values) and (got.cmin, got.cmax) == (want.cmin, want.cmax)


def test_a_model_loaded_again_gets_its_own_results_and_figures(tree, fresh):
    first = _result(tree, "a_classifier", key="same")
    fa = cached.figure(counted_stage_figure, first.recording, 0)
    other = svc.open_model(tree["checkpoints"] / "b_classifier.pt", device="cpu")  # the file replaced
    fit = svc.fit_mesh_to(load_mesh(tree["samples"] / "ico_480.obj"), *svc.model_limits([other]))
    second = cached.result("same", "cpu", other, fit)
    assert second.recording is not first.recording
    assert not np.array_equal(second.recording.logits, first.recording.logits)
    assert cached.figure(counted_stage_figure, second.recording, 0) != fa
