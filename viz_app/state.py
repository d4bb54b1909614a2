"""The URL query state: what a shared link reopens.

Values come from strangers' links: :func:`decode_state` accepts anything and falls back to defaults;
keys are looked up in the app's own listings (never turned into paths).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .colorings import QUANTITIES

__all__ = ["ViewState", "encode_state", "decode_state"]


@dataclass(frozen=True)
class ViewState:
    """What a shared link reopens.

    Attributes:
        model: the stage browser's model key.
        mesh: the mesh key (``"sample:..."``, ``"data:..."``); None for an upload.
        stage, color, channel: the stage index, the coloring (a key of ``QUANTITIES``) and its channel.
        fixed_scale: one color range over all stages (False: each stage's own range).
        models: the compare page's model keys.
        dataset: for a ``data:`` mesh, the data-set folder's name, so a server without that folder can
            say which data set the link needs (only shown as text, never used as a path).
    """

    model: str | None = None
    mesh: str | None = None
    stage: int = 0
    color: str = "activation"
    channel: int = 0
    fixed_scale: bool = True
    models: tuple[str, ...] = ()
    dataset: str | None = None


def encode_state(state: ViewState) -> dict[str, str]:
    """Query parameters for ``state`` (None fields are left out)."""
    out = {"stage": str(int(state.stage)), "color": state.color}
    if state.model:
        out["model"] = state.model
    if state.models:
        out["models"] = ",".join(state.models)
    if state.mesh:
        out["mesh"] = state.mesh
    if state.color == "channel":
        out["channel"] = str(int(state.channel))
    if not state.fixed_scale:
        out["scale"] = "stage"
    if state.dataset and state.mesh and state.mesh.startswith("data:"):
        out["dataset"] = state.dataset
    return out


def _first(v) -> str | None:
    if isinstance(v, (list, tuple)):
        v = v[0] if v else None
    return None if v is None else str(v)


def _int(v, default: int) -> int:
    try:
        return max(0, int(str(v)))
    except (TypeError, ValueError):
        return default


def decode_state(params: Mapping[str, object]) -> ViewState:
    """Parse query parameters leniently: anything malformed falls back to the default."""
    color = _first(params.get("color")) or "activation"
    return ViewState(
        model=_first(params.get("model")) or None,
        mesh=_first(params.get("mesh")) or None,
        stage=_int(_first(params.get("stage")), 0),
        color=color if color in QUANTITIES else "activation",
        channel=_int(_first(params.get("channel")), 0),
        fixed_scale=_first(params.get("scale")) != "stage",
        models=tuple(m for m in (_first(params.get("models")) or "").split(",") if m)[:8],
        dataset=_name(_first(params.get("dataset"))),
    )


def _name(v: str | None) -> str | None:
    """A data-set folder name for display: printable, no path separators, at most 60 characters."""
    if not v:
        return None
    clean = "".join(c for c in v if c.isalnum() or c in "-_. ")[:60].strip(". ")
    return clean or None
