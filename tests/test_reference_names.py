"""The importer maps the original MeshCNN's parameter names onto ours, for both networks.

The name/shape lists below were read from the original code (``ranahanocka/MeshCNN``,
``models/networks.py``: ``MeshConvNet`` and ``MeshEncoderDecoder``) by building its networks with the
same small configs and printing ``state_dict()`` names and shapes. They are data, not its code.
"""

from __future__ import annotations

import torch

from meshcnn_core import ClassifierConfig, SegmenterConfig, build_model
from meshcnn_core.reference_import import map_reference_state_dict

# MeshConvNet(group norm, 4 groups; nf0 5, conv_res [8, 16, 16], 4 classes, input 480,
# pool_res [400, 300, 200], fc_n 100, 1 resblock)
ORIGINAL_CLASSIFIER = {
    "conv0.conv0.conv.weight": (8, 5, 1, 5),
    "conv0.bn1.weight": (8,),
    "conv0.bn1.bias": (8,),
    "conv0.bn1.running_mean": (8,),
    "conv0.bn1.running_var": (8,),
    "conv0.bn1.num_batches_tracked": (),
    "conv0.conv1.conv.weight": (8, 8, 1, 5),
    "norm0.weight": (8,),
    "norm0.bias": (8,),
    "conv1.conv0.conv.weight": (16, 8, 1, 5),
    "conv1.bn1.weight": (16,),
    "conv1.bn1.bias": (16,),
    "conv1.bn1.running_mean": (16,),
    "conv1.bn1.running_var": (16,),
    "conv1.bn1.num_batches_tracked": (),
    "conv1.conv1.conv.weight": (16, 16, 1, 5),
    "norm1.weight": (16,),
    "norm1.bias": (16,),
    "conv2.conv0.conv.weight": (16, 16, 1, 5),
    "conv2.bn1.weight": (16,),
    "conv2.bn1.bias": (16,),
    "conv2.bn1.running_mean": (16,),
    "conv2.bn1.running_var": (16,),
    "conv2.bn1.num_batches_tracked": (),
    "conv2.conv1.conv.weight": (16, 16, 1, 5),
    "norm2.weight": (16,),
    "norm2.bias": (16,),
    "fc1.weight": (100, 16),
    "fc1.bias": (100,),
    "fc2.weight": (4, 100),
    "fc2.bias": (4,),
}

# MeshEncoderDecoder(down_convs [5, 8, 16], up_convs [16, 8, 3], blocks 1, transfer_data True)
ORIGINAL_SEGMENTER = {
    "encoder.convs.0.conv1.conv.weight": (8, 5, 1, 5),
    "encoder.convs.0.conv1.conv.bias": (8,),
    "encoder.convs.0.conv2.0.conv.weight": (8, 8, 1, 5),
    "encoder.convs.0.conv2.0.conv.bias": (8,),
    "encoder.convs.1.conv1.conv.weight": (16, 8, 1, 5),
    "encoder.convs.1.conv1.conv.bias": (16,),
    "encoder.convs.1.conv2.0.conv.weight": (16, 16, 1, 5),
    "encoder.convs.1.conv2.0.conv.bias": (16,),
    "decoder.final_conv.up_conv.conv.weight": (3, 8, 1, 5),
    "decoder.final_conv.up_conv.conv.bias": (3,),
    "decoder.final_conv.conv1.conv.weight": (3, 3, 1, 5),
    "decoder.final_conv.conv1.conv.bias": (3,),
    "decoder.final_conv.conv2.0.conv.weight": (3, 3, 1, 5),
    "decoder.final_conv.conv2.0.conv.bias": (3,),
    "decoder.up_convs.0.up_conv.conv.weight": (8, 16, 1, 5),
    "decoder.up_convs.0.up_conv.conv.bias": (8,),
    "decoder.up_convs.0.conv1.conv.weight": (8, 16, 1, 5),
    "decoder.up_convs.0.conv1.conv.bias": (8,),
    "decoder.up_convs.0.conv2.0.conv.weight": (8, 8, 1, 5),
    "decoder.up_convs.0.conv2.0.conv.bias": (8,),
}


def _check(original: dict, config) -> None:
    ours = build_model(config).state_dict()
    fake = {k: torch.zeros(shape) for k, shape in original.items()}
    mapped = map_reference_state_dict(fake)
    assert sorted(mapped) == sorted(ours), sorted(set(mapped) ^ set(ours))
    for k, v in mapped.items():
        assert tuple(v.shape) == tuple(ours[k].shape), k
    # and DataParallel's "module." prefix is dropped
    prefixed = map_reference_state_dict({"module." + k: v for k, v in fake.items()})
    assert sorted(prefixed) == sorted(ours)


def test_classifier_names_of_the_original_map_onto_ours():
    _check(
        ORIGINAL_CLASSIFIER,
        ClassifierConfig(
            nclasses=4,
            ncf=(8, 16, 16),
            pool_res=(400, 300, 200),
            ninput_edges=480,
            norm="group",
            num_groups=4,
            resblocks=1,
            fc_n=100,
        ),
    )


def test_segmenter_names_of_the_original_map_onto_ours():
    _check(
        ORIGINAL_SEGMENTER,
        SegmenterConfig(nclasses=3, ncf=(8, 16), pool_res=(400,), ninput_edges=480, resblocks=1),
    )


def test_an_unknown_name_is_not_silently_mapped_onto_a_parameter():
    mapped = map_reference_state_dict({"conv9.something.weight": torch.zeros(1)})
    ours = build_model(
        ClassifierConfig(
            nclasses=4,
            ncf=(8, 16, 16),
            pool_res=(400, 300, 200),
            ninput_edges=480,
            norm="group",
            num_groups=4,
        )
    ).state_dict()
    assert not set(mapped) & set(ours)
