"""meshcnn_core: a faithful, fast MeshCNN whose forward pass records every pooling stage.

Public API::

    model = load_model("checkpoints/shrec16_classifier.pt")   # device=None: CUDA if available
    mesh = load_mesh("sample_meshes/ant.obj")
    rec = record(model, mesh)                                  # a Recording
    rec.save("ant.npz"); rec2 = load_recording("ant.npz")
"""

from __future__ import annotations

from .analysis.explain import DeletionCurve, deletion_curve, edge_attribution
from .analysis.model_diff import ModelDiff, compare_recordings
from .analysis.survey import SurveyReport
from .checkpoint import LoadedModel, build_model, load_model
from .device import pick_device
from .errors import CheckpointError, MeshCNNError, MeshError, RecordingError
from .inference import record
from .inspection.conv_explain import ConvExplanation, explain_conv
from .inspection.lesson import lesson_summary
from .inspection.provenance import (
    EdgeFate,
    EdgeOrigin,
    PickedEdge,
    edge_by_id,
    edge_fate,
    edge_origin,
    nearest_edge,
)
from .inspection.replay import Replay, ReplayEvent, replay
from .mesh.check import check_mesh, require_ready
from .mesh.io import Mesh, load_mesh
from .mesh.repair import RepairResult, preflight, preflight_for_model
from .mesh.topology import MeshTopology, build_topology
from .nn.classifier import ClassifierConfig, MeshClassifier
from .nn.pool_events import PoolStatus, RemovalKind, SkipReason
from .nn.segmenter import MeshSegmenter, SegmenterConfig
from .recording import Recording, load_recording

__all__ = [
    "CheckpointError", "ClassifierConfig", "LoadedModel", "Mesh", "MeshCNNError", "MeshClassifier",
    "MeshError", "MeshSegmenter", "MeshTopology", "RecordingError", "SegmenterConfig", "build_model",
    "build_topology", "load_mesh", "load_model", "pick_device", "check_mesh", "require_ready",
    "RepairResult", "preflight", "preflight_for_model", "record", "load_recording", "Recording",
    "PoolStatus", "RemovalKind", "SkipReason",
    "EdgeOrigin", "EdgeFate", "PickedEdge", "edge_origin", "edge_fate", "nearest_edge", "edge_by_id",
    "Replay", "ReplayEvent", "replay", "ConvExplanation", "explain_conv", "lesson_summary",
    "edge_attribution", "deletion_curve", "DeletionCurve", "SurveyReport", "compare_recordings",
    "ModelDiff",
]
