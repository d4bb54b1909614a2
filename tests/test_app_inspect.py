"""The inspect and teaching pages, driven by streamlit.testing.v1.AppTest on tiny random checkpoints.

Every number the pages show is compared with the library's own answer for the same recording.
"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from meshcnn_core import load_mesh, load_model
from meshcnn_core.inference import record
from meshcnn_core.inspection.conv_explain import explain_conv
from meshcnn_core.inspection.lesson import default_lesson_edge
from meshcnn_core.inspection.replay import replay
from viz_app import inspect_service as isvc
from viz_app import lesson_service as lsvc

APP = str(Path(__file__).resolve().parents[1] / "viz_app" / "app.py")
INSPECT = "views/inspect.py"
TEACH = "views/teach.py"


def recording(tree, model: str, mesh: str = "ico_480.obj"):
    m = load_model(tree["checkpoints"] / model, device="cpu")
    return m, record(m, load_mesh(tree["samples"] / mesh, triangulate=True))


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(page).run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown] + [c.value for c in at.caption]


# ---------------------------------------------------------------- inspect


def test_inspect_follows_an_edge_both_ways(env):
    model, rec = recording(env, "a_classifier.pt")
    at = open_page(INSPECT)
    assert at.title[0].value == "Inspect an edge"
    edge = default_lesson_edge(rec)
    assert at.number_input(key="inspect_edge").value == edge
    assert at.select_slider(key="inspect_stage").value == 1
    assert isvc.edge_focus(rec, 1, edge).sentence in texts(at)  # the first collapsed edge, carried at stage 1
    assert isvc.fate_summary(rec, isvc.edge_focus(rec, 1, edge).fate) in texts(at)
    table = at.dataframe[0].value
    assert list(table["itself an edge"]) == ["yes", "no", "no"] and len(table) == rec.num_stages
    survivor = int(rec.stage(2).edge_ids[0])  # an edge that is still itself at the last stage
    at.number_input(key="inspect_edge").set_value(survivor).run()
    assert_clean(at)
    focus = isvc.edge_focus(rec, 1, survivor)
    assert focus.row is not None and focus.sentence in texts(at)
    at.select_slider(key="inspect_stage").set_value(0).run()
    assert_clean(at)
    assert (
        f"Edge {survivor} is an edge of stage 0 (input · 480 edges); its group holds only itself."
        in texts(at)
    )
    assert list(at.dataframe[0].value["itself an edge"]) == ["yes", "yes", "yes"]


def test_inspect_replay_steps_in_order(env):
    _, rec = recording(env, "a_classifier.pt")
    at = open_page(INSPECT)
    at.session_state["inspect_tab"] = "Collapse replay"
    at.run()
    assert_clean(at)
    assert at.selectbox(key="inspect_replay_layer").value == 1  # the pooling after the chosen stage
    rp = replay(rec, 1)
    assert isvc.replay_summary(rp) in texts(at)
    assert f"**Step 1 of {len(rp.events)}**" in texts(at) and isvc.event_sentence(rp.events[0]) in texts(at)
    at.button(key="inspect_replay_next").click().run()
    at.button(key="inspect_replay_next").click().run()
    assert_clean(at)
    assert f"**Step 3 of {len(rp.events)}**" in texts(at) and isvc.event_sentence(rp.events[2]) in texts(at)
    at.button(key="inspect_replay_back").click().run()
    assert isvc.event_sentence(rp.events[1]) in texts(at)
    at.toggle(key="inspect_replay_only").set_value(True).run()
    assert_clean(at)
    assert f"**Collapse 1 of {len(rp.collapses)}**" in texts(at)
    assert isvc.event_sentence(rp.collapses[0]) in texts(at)
    at.selectbox(key="inspect_replay_layer").set_value(0).run()
    assert_clean(at)
    assert isvc.replay_summary(replay(rec, 0)) in texts(at)
    assert len(at.dataframe[0].value) == len(replay(rec, 0).events)  # the table of every step


def test_inspect_explainer_numbers(env):
    model, rec = recording(env, "a_classifier.pt")
    at = open_page(INSPECT)
    at.session_state["inspect_tab"] = "MeshConv explainer"
    at.run()
    assert_clean(at)
    edge = default_lesson_edge(rec)
    for channel in (0, 5):
        if channel:
            at.number_input(key="inspect_conv_channel").set_value(channel).run()
            assert_clean(at)
        ex = explain_conv(model, rec, edge, channel)
        assert any(t.endswith(f"= **{ex.output:.4g}**") for t in texts(at))
        own = [c for c in texts(at) if c.startswith("The network's own first layer gives")]
        assert own and f"{ex.output:.4g}" in own[0]
    assert isvc.feature_table(ex) in texts(at) and isvc.terms_table(ex) in texts(at)
    assert isvc.contributions_table(ex) in texts(at)


def test_inspect_a_segmenter_through_unpooling(env):
    _, rec = recording(env, "c_segmenter.pt")
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"model": "shipped:c_segmenter.pt"})
    at.switch_page(INSPECT).run()
    assert_clean(at)
    last = rec.num_stages - 1
    at.select_slider(key="inspect_stage").set_value(last).run()
    assert_clean(at)
    edge = at.number_input(key="inspect_edge").value
    assert isvc.edge_focus(rec, last, edge).sentence in texts(at)
    assert len(at.dataframe[0].value) == rec.num_stages == 5


# ---------------------------------------------------------------- teaching mode


def test_teach_walks_through_the_lesson_without_the_sidebar(env):
    model, rec = recording(env, "c_segmenter.pt")
    at = open_page(TEACH)
    assert at.title[0].value == "How a mesh network sees a mesh"
    assert len(at.sidebar.selectbox) == 0 and len(at.sidebar.radio) == 0  # nothing to set there
    assert at.selectbox(key="teach_model").value == "shipped:c_segmenter.pt"
    assert at.selectbox(key="teach_mesh").value == "sample:ico_480.obj"
    steps = lsvc.lesson_steps("segmentation")
    edge = default_lesson_edge(rec)
    assert at.number_input(key="teach_edge").value == edge
    for i, step in enumerate(steps):
        assert at.header[0].value == step.title
        assert at.button(key="teach_back_top").disabled == (i == 0)
        assert at.button(key="teach_next_top").disabled == (i == len(steps) - 1)
        if step.name == "Convolution":
            assert any(t.endswith(f"= **{explain_conv(model, rec, edge).output:.4g}**") for t in texts(at))
        if step.name == "Collapses":
            assert isvc.event_sentence(replay(rec, 0).events[0]) in texts(at)
            at.button(key="teach_replay_next").click().run()
            assert isvc.event_sentence(replay(rec, 0).events[1]) in texts(at)
        if step.name == "Pooled":
            assert isvc.edge_focus(rec, 2, edge).sentence in texts(at)
        if step.name == "Summary":
            assert len(at.get("download_button")) == 2
            assert any(f"Following edge {edge}." in t for t in texts(at))
        if i < len(steps) - 1:
            at.button(key="teach_next_bottom").click().run()
            assert_clean(at)
    at.button(key="teach_back_top").click().run()
    assert at.header[0].value == steps[-2].title


def test_teach_settings_change_the_lesson(env):
    _, rec = recording(env, "a_classifier.pt", "torus_480.obj")
    at = open_page(TEACH)
    at.selectbox(key="teach_model").set_value("shipped:a_classifier.pt").run()
    at.selectbox(key="teach_mesh").set_value("sample:torus_480.obj").run()
    assert_clean(at)
    assert at.number_input(key="teach_edge").value == default_lesson_edge(rec)  # a new lesson's default edge
    at.number_input(key="teach_edge").set_value(17).run()
    at.session_state["teach_step"] = 1
    at.run()
    assert_clean(at)
    assert at.header[0].value == "2. Five numbers per edge"
    assert at.metric[0].value.endswith("°")  # the followed edge's dihedral angle, in degrees
    exact = isvc.exact_features(rec)[:, 17]
    assert at.metric[0].value == f"{exact[0] * 180 / 3.141592653589793:.1f}°"
    at.radio(key="teach_feature_source").set_value("MeshCNN's").run()
    assert at.metric[0].value == f"{rec.input_features[0, 17] * 180 / 3.141592653589793:.1f}°"
    at.session_state["teach_step"] = 6
    at.run()
    assert_clean(at)
    assert at.header[0].value == "7. The result: a class for the whole mesh"
    assert at.metric[0].value == rec.class_names[int(rec.prediction)]
