"""Fixtures shared by the app's tests: a generated tree of tiny models, meshes and data sets."""

from __future__ import annotations

import pytest

from tests.app_fixtures import make_app_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Tiny checkpoints, sample meshes and data sets (see :func:`tests.app_fixtures.make_app_tree`)."""
    return make_app_tree(tmp_path_factory.mktemp("app"))


@pytest.fixture
def env(tree, monkeypatch):
    """Point the app at the generated tree; clear Streamlit's caches around each test."""
    import streamlit as st

    monkeypatch.setenv("MESHCNN_CHECKPOINTS", str(tree["checkpoints"]))
    monkeypatch.setenv("MESHCNN_SAMPLES", str(tree["samples"]))
    monkeypatch.setenv("MESHCNN_DATASET", str(tree["segdata"]))
    monkeypatch.setenv("MESHCNN_DEVICE", "cpu")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield tree
    st.cache_data.clear()
    st.cache_resource.clear()
