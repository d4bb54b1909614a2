"""Naming the human_seg labels from how they touch (hand-built evidence, a tiny set, the real set)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from meshcnn_core.data.body_parts import HUMAN_SEG_PARTS, BodyEvidence, body_evidence, derive_body_parts
from meshcnn_core.errors import MeshCNNError
from meshcnn_core.mesh.io import write_obj
from meshcnn_core.mesh.topology import build_topology

from .meshes import torus

REPO = Path(__file__).resolve().parents[1]
HUMAN = REPO.parent / "shared" / "datasets" / "human_seg"

# a body whose labels are shuffled: torso 2, head 7, arm 5-1-8 (upper, fore, hand), leg 3-6-4
TORSO, HEAD, ARM, LEG = 2, 7, (5, 1, 8), (3, 6, 4)
BODY = {
    (TORSO, HEAD),
    (TORSO, ARM[0]),
    (ARM[0], ARM[1]),
    (ARM[1], ARM[2]),
    (TORSO, LEG[0]),
    (LEG[0], LEG[1]),
    (LEG[1], LEG[2]),
}


def _evidence(pairs, arm_nearer=(True, True, True), extra=None) -> BodyEvidence:
    """3 meshes; every pair in ``pairs`` touches on all; distance from the head: arms 1-3, legs 2-4."""
    labels = tuple(range(1, 9))
    touching = {tuple(sorted(p)): 3 for p in pairs}
    touching.update(extra or {})
    d = np.full((3, 8, 8), np.nan)
    for m, near in enumerate(arm_nearer):
        for k in range(3):
            arm_d, leg_d = (1.0 + k, 2.0 + k) if near else (2.0 + k, 1.0 + k)
            d[m, HEAD - 1, ARM[k] - 1], d[m, HEAD - 1, LEG[k] - 1] = arm_d, leg_d
    return BodyEvidence(3, touching, d, labels)


def test_names_follow_the_contacts_whatever_the_values():
    names = derive_body_parts(_evidence(BODY, extra={(1, 3): 1}))  # a stray contact on one mesh: ignored
    assert names == {
        2: "torso",
        7: "head",
        5: "upper arm",
        1: "forearm",
        8: "hand",
        3: "thigh",
        6: "lower leg",
        4: "foot",
    }


def test_arms_are_the_limb_nearer_the_head():
    names = derive_body_parts(_evidence(BODY, arm_nearer=(False, False, False)))
    assert [names[v] for v in ARM] == ["thigh", "lower leg", "foot"]
    assert [names[v] for v in LEG] == ["upper arm", "forearm", "hand"]


def test_labels_that_are_not_a_body_are_refused():
    with pytest.raises(MeshCNNError, match="cannot be told apart"):
        derive_body_parts(_evidence(BODY, arm_nearer=(True, False, True)))
    with pytest.raises(MeshCNNError, match="not labels that touch like"):
        derive_body_parts(_evidence(BODY - {(ARM[1], ARM[2])}))  # the hand touches nothing always
    with pytest.raises(MeshCNNError, match="not labels that touch like"):
        derive_body_parts(_evidence(BODY | {(HEAD, ARM[0])}))  # a head that touches an arm


def test_evidence_of_a_tiny_set(tmp_path):
    # a torus cut in four quarter rings: labels 1..4 around its main axis
    for d in ("train", "test", "seg"):
        (tmp_path / d).mkdir()
    for split, seed in (("train", 0), ("test", 1)):
        m = torus(8, 5, jitter=0.0, seed=seed)
        write_obj(tmp_path / split / f"t{seed}.obj", m)
        topo = build_topology(np.array(m.vertices), m.faces).topology
        mid = m.vertices[np.asarray(topo.edges)].mean(axis=1)
        angle = np.arctan2(mid[:, 1], mid[:, 0]) + np.pi
        np.savetxt(
            tmp_path / "seg" / f"t{seed}.eseg", 1 + np.minimum((angle / (np.pi / 2)).astype(int), 3), fmt="%d"
        )
    ev = body_evidence(tmp_path)
    assert ev.meshes == 2 and ev.labels == (1, 2, 3, 4)
    assert ev.always_touching() == {(1, 2), (2, 3), (3, 4), (1, 4)}
    assert set(ev.touching) == ev.always_touching()
    assert ev.distance.shape == (2, 4, 4) and np.isfinite(ev.distance).all()
    assert (
        ev.distance[0, 0, 2] > ev.distance[0, 0, 1] and ev.distance[0, 0, 2] > ev.distance[0, 0, 3]
    )  # across
    with pytest.raises(MeshCNNError, match="4 labels, not 8"):
        derive_body_parts(ev)


@pytest.mark.dataset
@pytest.mark.skipif(not HUMAN.is_dir(), reason="../shared/datasets/human_seg not present")
def test_the_human_seg_labels_are_named_as_the_configs_and_checkpoint_say():
    names = derive_body_parts(body_evidence(HUMAN))
    assert tuple(names.values()) == HUMAN_SEG_PARTS and list(names) == list(range(1, 9))
    for cfg in sorted((REPO / "configs").glob("human_seg*.json")):
        assert json.loads(cfg.read_text())["part_names"] == list(HUMAN_SEG_PARTS), cfg.name
    from meshcnn_core.checkpoint import load_model

    model = load_model(REPO / "checkpoints" / "human_seg_segmenter.pt", device="cpu")
    assert model.class_names == list(HUMAN_SEG_PARTS) and model.label_values == [str(v) for v in range(1, 9)]
