"""What a model keeps across a data set: a survey of every mesh of a split, per class or per part."""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from meshcnn_core.analysis.survey import SurveyReport, dihedral_bin_labels, report_table_csv
from meshcnn_core.analysis.survey_run import model_fingerprint, survey
from viz_app import dataset_service as dsvc
from viz_app import explain_cached as ecached
from viz_app import explain_figures as efigs
from viz_app import figures, ui
from viz_app import service as svc
from viz_app.catalog import checkpoints_dir, dataset_dir, model_card
from viz_app.colorings import depth_coloring
from viz_app.mesh_view import mesh_view

GALLERY_MAX = 8
ALL = -1  # the class picker's "all classes"
SURVIVAL_WORDS = (
    "the deepest pooled stage at which each input edge is still an edge of its own (dark: removed by the "
    "first pooling; bright: kept to the last stage)"
)


def _sidebar(entered: bool):
    """Model, data-set folder and split; returns ``(model choice, folder text, split)``."""
    options, entries = ui.model_options()
    st.sidebar.subheader("Model")
    device = ui.sidebar_device()
    key = ui.sidebar_model(entries, options, entered)
    loaded = ui.load_model_choice(key, entries, device)
    if loaded is not None and loaded.entry is not None and (card := model_card(loaded.entry)):
        with st.sidebar.expander("Model card"):
            st.markdown(card)
    st.sidebar.subheader("Data set")
    if "dataset_root" not in st.session_state:
        st.session_state["dataset_root"] = dataset_dir()
    root = st.sidebar.text_input(
        "Data-set folder",
        key="dataset_root",
        help="A folder in MeshCNN's layout (e.g. shrec_16, human_seg, coseg_vases); "
        "default: the MESHCNN_DATASET environment variable.",
    )
    ui.keep_valid("survey_split", list(dsvc.SPLITS), "test")
    split = st.sidebar.radio(
        "Split", list(dsvc.SPLITS), key="survey_split", horizontal=True, help="The test split by default."
    )
    return loaded, entries, root, split


def _run(model, check: dsvc.DatasetCheck, key: str, model_id: str) -> SurveyReport | None:
    """The run button, or the progress of a run (here or in another session); the report when done."""
    store = ecached.survey_store()
    name = check.info.root.name
    n = len(check.files)
    under_way = store.progress(key)
    if under_way is not None:
        st.info(
            f"Another session is running this survey ({under_way[0]} of {under_way[1]} meshes done). "
            "Press the button to look again; the report appears when it is done.",
            icon=":material/hourglass_top:",
        )
        st.button("Look again", key="survey_look", icon=":material/refresh:")
        return None
    st.markdown(
        f"The **{check.split}** split of **{name}** holds **{n}** meshes. The survey runs {model.name} on "
        "each one once, records it, and adds up what every stage kept. Meshes surveyed before, also by a run "
        "that was interrupted, are read back from the cache file instead of being run again."
    )
    if not st.button("Run the survey", key="survey_run", type="primary", icon=":material/play_arrow:"):
        return None
    if not store.begin(key, n):  # another session claimed it a moment ago, or finished it
        return store.get(key)
    bar = st.progress(0.0, text=f"0 of {n} meshes")
    report = None

    def progress(done: int, total: int, file: str) -> None:
        store.update(key, done, total)
        bar.progress(done / total, text=f"{done} of {total} meshes: {file}")

    try:
        cache = dsvc.survey_cache_file(model_id, check.info.root, check.split)
        report = survey(model, check.info.root, split=check.split, cache=cache, progress=progress)
    finally:  # also when the user leaves the page: the cache file keeps the meshes done so far
        store.finish(key, report)
    st.rerun()  # draw the page again, now with the report from the store
    return report


def _downloads(report: SurveyReport, base: str) -> None:
    c = st.columns([1, 1, 2])
    c[0].download_button(
        "Table (CSV)",
        report_table_csv(report),
        file_name=f"{base}_survey.csv",
        mime="text/csv",
        icon=":material/table:",
        on_click="ignore",
        width="stretch",
        help="The per-class (classifiers) or per-part (segmenters) table below.",
    )
    c[1].download_button(
        "Full report (JSON)",
        lambda: json.dumps(report.to_dict()),
        file_name=f"{base}_survey.json",
        mime="application/json",
        icon=":material/data_object:",
        on_click="ignore",
        width="stretch",
        help="Every mesh's result (survival depths included), as `python -m meshcnn_core survey` writes it.",
    )


def _gallery(report: SurveyReport, check: dsvc.DatasetCheck, cls: int, levels: int) -> None:
    if cls == ALL:
        items = [
            g for c in range(len(report.class_names)) for g in dsvc.class_gallery(report, c) if not g.correct
        ]
        what = "Misclassified meshes of every class"
    else:
        items = dsvc.class_gallery(report, cls)
        order = ", misclassified first" if not all(g.correct for g in items) else ", all classified right"
        what = f"The meshes of **{report.class_names[cls]}**{order}"
    if not items:
        st.markdown("No mesh of this split is misclassified." if cls == ALL else "No mesh of this class ran.")
        return
    shown = items[:GALLERY_MAX]
    more = f" (the first {len(shown)} of {len(items)})" if len(items) > len(shown) else ""
    st.markdown(f"{what}{more}, colored by their survival map: {SURVIVAL_WORDS}.")
    names = dsvc.stage_names(levels)
    chips = depth_coloring(np.arange(levels), names)
    st.markdown(
        "Deepest stage kept: "
        + " ".join(
            f'<span style="display:inline-block;width:0.9em;height:0.9em;border-radius:2px;'
            f'background:{chips.colorscale[2 * i][1]};vertical-align:middle"></span> {n}&nbsp;'
            for i, n in enumerate(names)
        ),
        unsafe_allow_html=True,
    )
    cols = st.columns(4)
    for i, g in enumerate(shown):
        with cols[i % 4]:
            name, p = g.file.split("/")[-1], f"{100 * g.probability:.0f}%"
            if g.correct:
                st.markdown(f":green[:material/check_circle:] **{name}** · {g.predicted} ({p})")
            else:
                st.markdown(f":red[:material/cancel: **{name}** · predicted {g.predicted} ({p})]")
            mesh = ecached.gallery_mesh(check.info.root, g.file)
            col = depth_coloring(g.survival, names)
            fig = figures.edges_figure(mesh.vertices, mesh.faces, mesh.edges, col, height=320)
            # one legend above instead of a colorbar each; thinner lines for a small view
            fig.update_traces(line_showscale=False, line_width=2.5, selector=dict(name="edges"))
            mesh_view(fig, key=f"gallery_{i}", group="survey_gallery")
    st.caption("Drag a view to turn it: every view of the gallery turns with it.")


def _regions(report: SurveyReport) -> None:
    """Per class: which part of the shape (core, middle, extremities) the last pooled stage keeps."""
    st.subheader("Which part of the shape survives")
    st.markdown(
        "Each input edge gets a **geodesic eccentricity**: its mean distance along the mesh's edges to the "
        "rest of the surface (vertices weighted by their area), rescaled per mesh from 0 (the most central "
        "edge) to 1 (the farthest tip, such as the end of a leg or a tail). Bending a shape without "
        "stretching it leaves these distances unchanged, so a part falls in the same region in every pose "
        "of a class. Per class, "
        "the table compares the share of the input edges in the **core** (0–⅓), **middle** (⅓–⅔) and "
        "**extremities** (⅔–1) with the share of the edges left at the last pooled stage: *kept/input* "
        "below 1 means the network pools that region away faster than the rest. *Extremities drop in* "
        "counts the class's meshes whose own extremity share falls; *std of extremity ratio* is the spread "
        "(standard deviation) of each mesh's own extremity kept/input over the class's meshes."
    )
    reg = report.regions
    ext = reg.enrichment[:, -1] if reg is not None else np.full(len(report.class_names), np.nan)
    if np.isfinite(ext).any():
        order = [int(i) for i in np.argsort(np.where(np.isfinite(ext), ext, np.inf), kind="stable")]
        low, high = order[0], [i for i in order if np.isfinite(ext[i])][-1]
        drops = lambda i: f"drops in {round(reg.drop[i] * reg.meshes[i])} of {reg.meshes[i]} meshes"  # noqa: E731
        st.markdown(
            f"The last stage keeps the extremities least in **{report.class_names[low]}** "
            f"({ext[low]:.2f}× their input share; {drops(low)}) and most in **{report.class_names[high]}** "
            f"({ext[high]:.2f}×; {drops(high)})."
        )
        st.dataframe(
            dsvc.region_table(report), hide_index=True, height=min(38 + 35 * len(report.class_names), 420)
        )
        edges, meshes = dsvc.region_left_out(report)
        if edges:
            st.caption(
                f"{edges} input edges of {meshes} meshes lie off their mesh's largest connected piece "
                "(no distance along the surface reaches them) and are left out of the table."
            )
    else:
        st.markdown("No mesh of this report has region counts.")


def _classifier(report: SurveyReport, check: dsvc.DatasetCheck, levels: int) -> None:
    st.subheader("Per class")
    st.dataframe(
        dsvc.class_table(report), hide_index=True, height=min(38 + 35 * len(report.class_names), 420)
    )
    st.subheader("Which geometry survives")
    names = report.class_names
    options = [ALL] + list(range(len(names)))
    ui.keep_valid("survey_class", options, ALL)
    cls = st.selectbox(
        "Class",
        options,
        key="survey_class",
        format_func=lambda c: (
            "all classes" if c == ALL else f"{names[c]} ({int(report.class_counts[c])} meshes)"
        ),
    )
    inp, kept = dsvc.dihedral_shares(report, None if cls == ALL else cls)
    left, right = st.columns([1.2, 1], gap="large")
    with left:
        st.plotly_chart(
            efigs.dihedral_figure(dihedral_bin_labels(), inp, kept),
            key="dihedral_chart",
            config={"displayModeBar": False},
        )
    with right:
        st.markdown(
            "Each edge's **dihedral angle** is the angle between its two faces on the input mesh "
            "(180° = flat). The bars compare the share of the input edges in each angle bin with the share "
            "of the edges left at the last pooled stage: bins that grow are geometry the network keeps"
            + ("" if cls == ALL else " for this class")
            + ", bins that shrink are collapsed first."
        )
        sharp = inp[:2].sum() if np.isfinite(inp).all() else float("nan")
        sharp_kept = kept[:2].sum() if np.isfinite(kept).all() else float("nan")
        if np.isfinite(sharp) and np.isfinite(sharp_kept):
            st.markdown(
                f"Edges sharper than 150°: **{100 * sharp:.1f}%** of the input, **{100 * sharp_kept:.1f}%** "
                "of the last stage."
            )
    _gallery(report, check, cls, levels)
    _regions(report)
    st.subheader("Confusion matrix")
    st.plotly_chart(
        efigs.confusion_figure(names, report.confusion, "meshes", height=max(360, 22 * len(names) + 160)),
        key="confusion_chart",
        config={"displayModeBar": False},
    )


def _segmenter(report: SurveyReport) -> None:
    st.subheader("Which parts survive")
    k = report.part_survival.shape[1]
    stages = dsvc.stage_names(k)
    last = report.part_survival[:, -1]
    if k > 1 and np.isfinite(last).any():
        order = np.argsort(-np.nan_to_num(last, nan=-1.0), kind="stable")
        best, worst = order[0], order[np.isfinite(last[order])][-1]
        st.markdown(
            f"At the last pooled stage ({stages[-1]}) the network still has **{100 * last[best]:.0f}%** "
            f"of the input edges of part **{report.class_names[best]}** as edges of their own, and "
            f"**{100 * last[worst]:.0f}%** of part **{report.class_names[worst]}**."
        )
    left, right = st.columns([1.4, 1], gap="large")
    with left:
        st.plotly_chart(
            efigs.part_survival_figure(report.class_names, stages, report.part_survival),
            key="part_survival_chart",
            config={"displayModeBar": False},
        )
    with right:
        st.markdown(
            "Each line is one **ground-truth part** over all meshes of the split: the share of its input "
            "edges that are still edges of their own (not yet collapsed or merged into another) at each "
            "pooled stage. Parts whose lines stay high are regions the network keeps in detail; parts whose "
            "lines fall early are collapsed first."
        )
    st.dataframe(dsvc.part_table(report), hide_index=True)
    st.caption(
        "Per ground-truth part: its input edges over all meshes, the share of them predicted right "
        "(accuracy), and the share still an edge of their own at each pooled stage."
    )
    st.subheader("Confusion matrix (edges)")
    st.plotly_chart(
        efigs.confusion_figure(report.class_names, report.confusion, "edges"),
        key="confusion_chart",
        config={"displayModeBar": False},
    )


def _report(report: SurveyReport, check: dsvc.DatasetCheck, model) -> None:
    ok = len(report.meshes) - len(report.errors)
    c = st.columns(3)
    c[0].metric("Accuracy", f"{100 * report.accuracy:.1f}%" if np.isfinite(report.accuracy) else "–")
    c[1].metric("Meshes surveyed", f"{ok} of {len(report.meshes)}")
    c[2].metric("Split", f"{check.split} · {check.info.root.name}")
    st.caption(
        "Accuracy: share of meshes classified right."
        if report.task == "classification"
        else "Accuracy: share of input edges labelled right (not weighted by edge area)."
    )
    if report.errors:
        with st.expander(f"{len(report.errors)} meshes could not be run"):
            st.markdown("\n".join(f"- {m.file}: {m.error}" for m in report.errors))
    _downloads(report, svc.safe_name(f"{model.name}_{check.info.root.name}_{check.split}"))
    if report.task == "classification":
        _classifier(report, check, len(model.config.pool_res) + 1)
    else:
        _segmenter(report)


def main() -> None:
    """Draw the data-set page."""
    entered = ui.enter_page("dataset")
    ui.init_state()
    ui.page_header(
        "What a model keeps across a data set",
        "One mesh shows where a network pools; a whole data set shows what it **keeps**. This page runs a "
        "model over every mesh of a split of a data-set folder and adds up, per class or per part, how "
        "accurate it is and which edges are still there after the last pooling.",
    )
    loaded, entries, root, split = _sidebar(entered)
    if not entries and loaded is None:
        st.warning(
            f"No shipped model yet: {checkpoints_dir()} holds no .pt checkpoint. Upload one in the sidebar."
        )
    if loaded is None:
        return
    model = loaded.model
    info = ecached.dataset(root)
    if isinstance(info, str):
        st.info(f"{info}.", icon=":material/folder_open:")
        return
    check = dsvc.check_dataset(model, info, split)
    if check.problem:
        st.warning(f"{check.problem}.", icon=":material/block:")
        return
    if check.note:
        st.caption(check.note)
    with ui.error_box():
        key = dsvc.survey_key(model_fingerprint(model), check)
        report = ecached.survey_store().get(key)
        if report is None:
            model_id = str(loaded.entry.path.resolve()) if loaded.entry is not None else loaded.key
            report = _run(model, check, key, model_id)
        if report is not None:
            _report(report, check, model)


main()
