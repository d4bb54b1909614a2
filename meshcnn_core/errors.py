"""The exception types that meshcnn_core raises for bad input.

Every problem with a file a user hands us (a mesh, a checkpoint, a recording) surfaces as one of
these, with a message that names the problem and what to do about it. Callers (the CLI, the app)
catch :class:`MeshCNNError` and show the message; they never show a traceback.
"""

from __future__ import annotations

__all__ = ["MeshCNNError", "MeshError", "CheckpointError", "RecordingError"]


class MeshCNNError(ValueError):
    """Base class of every input error meshcnn_core raises on purpose."""


class MeshError(MeshCNNError):
    """A mesh cannot be read or processed (non-manifold, degenerate, too small, unreadable...)."""


class CheckpointError(MeshCNNError):
    """A checkpoint cannot be loaded (corrupt, untrusted pickle, other architecture, missing keys...)."""


class RecordingError(MeshCNNError):
    """A recording file is missing, corrupt or of an unknown format version."""
