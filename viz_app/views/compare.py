"""Compare: two or more models on the same mesh, side by side, one stage slider, same camera."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from viz_app import service as svc
from viz_app import ui

MAX_MODELS = 4


def _summary(rec) -> str:
    if rec.task == "classification":
        p = rec.probabilities.reshape(-1)
        i = int(rec.prediction)
        return f"predicts **{rec.class_names[i]}** ({100 * p[i]:.0f}%)"
    parts = len(set(rec.prediction.tolist()))
    return f"segments into **{parts}** of {len(rec.class_names)} parts"


def _overlap(names: list[str], recs: list, k: int, uirev: str) -> None:
    st.subheader("Which input edges did each model keep?")
    st.markdown("At each stage a model keeps some of the input edges (the others were collapsed or merged). "
                "The **Jaccard index** is |kept by both| / |kept by either|: 1 means both models pooled alike.")
    c1, c2 = st.columns(2)
    ia = c1.selectbox("Model A", range(len(names)), index=0, format_func=names.__getitem__, key="cmp_a")
    ib = c2.selectbox("Model B", range(len(names)), index=1, format_func=names.__getitem__, key="cmp_b")
    a, b = recs[ia], recs[ib]
    if not svc.same_input(a, b):
        st.info(f"{names[ia]} and {names[ib]} ran on different versions of the mesh; pick two models that share one.")
        return
    rows = svc.stage_overlaps(a, b)
    table = pd.DataFrame([{"stage": svc.stage_label(a, r.stage).split(" ·")[0], f"kept by {names[ia]}": r.kept_a,
                           f"kept by {names[ib]}": r.kept_b, "kept by both": r.both,
                           "Jaccard": round(r.jaccard, 3)} for r in rows])
    left, right = st.columns([1, 1.6])
    left.dataframe(table, hide_index=True)
    kk = min(k, rows[-1].stage)
    status = svc.kept_status(a, b, kk)
    right.caption(f"Input edges at stage {kk}: orange = kept by {names[ia]} only, blue = kept by {names[ib]} only.")
    right.plotly_chart(svc.kept_figure(status, a, (names[ia], names[ib]), uirevision=uirev, height=520),
                       key="kept_fig", config={"displaylogo": False})


def _use_sample(key: str) -> None:
    st.session_state["sample_mesh"] = key


def _suggest_bigger_sample(choice, lo: int) -> None:
    """A one-click switch to a finer sample of the same shape when the mesh is too small for a model."""
    if choice.entry is None or choice.entry.source != "sample":
        return
    edges = svc.estimated_edges(choice.entry)
    if edges is None or edges >= lo:
        return
    stem = choice.entry.name.rsplit("_", 1)[0]
    bigger = [m for m in svc.list_sample_meshes()
              if m.name.rsplit("_", 1)[0] == stem and (svc.estimated_edges(m) or 0) >= lo]
    if bigger:
        target = min(bigger, key=lambda m: svc.estimated_edges(m) or 0)
        c1, c2 = st.columns([3, 1])
        c1.warning(f"{choice.entry.name} has fewer edges than some of these models need ({lo}).", icon="ℹ️")
        c2.button(f"Use {target.name}", on_click=_use_sample, args=(target.key,), key="use_bigger")


def main() -> None:
    """Draw the compare page."""
    ui.init_state(prefix="compare_")
    ui.page_header(
        "Compare models",
        "Run several models on the **same mesh** and walk through their stages together: one slider, "
        "the same camera for every view. Below, see how much the input edges the models keep overlap.",
    )
    _, entries = ui.model_options()
    if len(entries) < 2:
        st.warning(f"Comparing needs at least two models; {svc.checkpoints_dir()} holds {len(entries)}. "
                   "The stage browser works with one.")
        return
    device = ui.sidebar_device()
    keys = list(entries)
    if "compare_models" not in st.session_state or not all(k in keys for k in st.session_state["compare_models"]):
        st.session_state["compare_models"] = keys[:2]
    chosen = st.multiselect("Models", keys, key="compare_models", max_selections=MAX_MODELS,
                            format_func=lambda k: entries[k].name)
    if len(chosen) < 2:
        st.info("Choose at least two models.")
        return
    loaded = [ui.load_model_choice(k, entries, device) for k in chosen]
    if any(x is None for x in loaded):
        return
    models = [m for m, _ in loaded]
    lo, hi = svc.model_limits(models)
    shared = lo <= hi
    choice = ui.sidebar_mesh(hi if shared else max(m.config.ninput_edges for m in models))
    if choice is None:
        return
    h = choice.mesh.content_hash()
    if not shared:  # e.g. a 750-edge classifier and a 1500-edge segmenter
        st.caption("ℹ️ These models take meshes of different sizes, so each runs on its own version of the mesh "
                   "(simplified to fit it when needed: pick a large sample mesh). The edge-overlap comparison "
                   "needs models that share a mesh.")
    _suggest_bigger_sample(choice, lo)
    results: list = []
    errors: list[str | None] = []
    for m, mk in loaded:  # one failing model must not hide the others
        try:
            fit = ui.cached_fit(h, lo, hi, choice.mesh) if shared else \
                ui.cached_fit(h, *svc.model_limits([m]), choice.mesh)
            results.append((ui.cached_result(mk, device, fit.mesh.content_hash(), m, fit), fit))
            errors.append(None)
        except svc.MeshCNNError as exc:
            results.append(None)
            errors.append(str(exc))
    ok = [r for r, _ in (x for x in results if x is not None)]
    if not ok:
        for e in errors:
            st.error(e, icon="⚠️")
        return
    with ui.error_box():
        actions = list(dict.fromkeys(a for x in results if x is not None for a in x[1].actions))
        st.caption(f"Mesh **{choice.mesh.name}** · inference on {ok[0].device}: " + ", ".join(
            f"{m.name} {1000 * x[0].seconds:.0f} ms" for m, x in zip(models, results) if x is not None))
        if actions:
            with st.expander(f"The mesh was adapted to fit the models ({len(actions)} steps)"):
                st.markdown("\n".join(f"- {a}" for a in actions))
        n = max(r.recording.num_stages for r in ok)
        if int(st.session_state.get("compare_stage", 0)) > n - 1:
            st.session_state["compare_stage"] = n - 1
        colors = [q for q in svc.QUANTITIES if q not in ("label", "channel")]
        ui.keep_valid("compare_color", colors, "activation")
        c1, c2, c3 = st.columns([3, 1.2, 1])
        k = c1.select_slider("Stage", options=list(range(n)), key="compare_stage",
                             format_func=lambda j: "input" if j == 0 else f"stage {j}")
        color = c2.selectbox("Color edges by", colors, key="compare_color", format_func=svc.QUANTITIES.get)
        fit_view = c3.toggle("Zoom to stage", key="compare_fit", help="Frame each stage's mesh instead of the input's")
        st.caption("All views share one camera; the house icon in a view's toolbar brings it back.")
        uirev = f"compare|{h}|{fit_view}"
        cols = st.columns(len(models))
        for i, (col, m, x, err) in enumerate(zip(cols, models, results, errors)):
            col.markdown(f"#### {m.name}")
            if x is None:
                col.error(err, icon="⚠️")
                continue
            rec = x[0].recording
            kk = min(k, rec.num_stages - 1)
            col.markdown(f"{_summary(rec)} · {svc.stage_label(rec, kk)}" + (" (its last stage)" if kk < k else ""))
            col.plotly_chart(svc.stage_figure(rec, kk, color, uirevision=uirev, height=520, fit_stage=fit_view),
                             key=f"cmp_fig_{i}", config={"displaylogo": False})
        ui.write_query(svc.ViewState(mesh=choice.key, stage=k, color=color, models=tuple(chosen)))
        good = [(m.name, x[0].recording) for m, x in zip(models, results) if x is not None]
        if len(good) >= 2:
            _overlap([g[0] for g in good], [g[1] for g in good], k, uirev)

main()
