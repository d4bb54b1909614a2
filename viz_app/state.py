"""The URL query state: what a shared link reopens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .figures import QUANTITIES

__all__ = ["ViewState", "encode_state", "decode_state"]


@dataclass(frozen=True)
class ViewState:
    """What a shared link reopens: model key(s), mesh key, stage index, color quantity, channel."""

    model: str | None = None
    mesh: str | None = None
    stage: int = 0
    color: str = "activation"
    channel: int = 0
    models: tuple[str, ...] = ()  # the compare page's models


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
        models=tuple(m for m in (_first(params.get("models")) or "").split(",") if m)[:8],
    )
