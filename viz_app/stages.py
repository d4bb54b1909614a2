"""Names and facts about a recording's stages that several pages and figures need."""

from __future__ import annotations

from meshcnn_core.recording import Recording

__all__ = ["stage_label", "short_stage_label", "pooled_levels", "pooling_follows"]


def short_stage_label(rec: Recording, k: int) -> str:
    """``"input"``, ``"pool 2"``, ``"unpool 1"``."""
    st = rec.stage(k)
    if st.kind == "input":
        return "input"
    n = sum(1 for j in range(k + 1) if rec.stage(j).kind == st.kind)
    return f"{st.kind} {n}"


def stage_label(rec: Recording, k: int) -> str:
    """``"input · 750 edges"``, ``"pool 2 · 450 edges"``, ``"unpool 1 · 600 edges"``."""
    return f"{short_stage_label(rec, k)} · {rec.stage(k).num_edges} edges"


def pooled_levels(rec: Recording) -> list[int]:
    """Indices of the input stage and the pooled stages (the unpooled stages of a segmenter left out)."""
    return [k for k in range(rec.num_stages) if rec.stage(k).kind != "unpool"]


def pooling_follows(rec: Recording, k: int) -> bool:
    """Whether a pooling leaves stage ``k`` (so its lowest-priority edges are collapsed next)."""
    return k + 1 < rec.num_stages and rec.stage(k + 1).kind == "pool"
