"""The data layer: MeshCNN-layout data sets, batching, augmentation and generated data sets.

Depends on :mod:`meshcnn_core.mesh` and nothing above it. Modules:

- :mod:`.datasets` -- scanning a data-set folder, cached augmented copies, batches.
- :mod:`.augment` -- MeshCNN's augmentations (vertex scaling, edge flips, vertex slides).
- :mod:`.icons`, :mod:`.cubes` -- the engraved-cubes classification set, generated from a seed.
- :mod:`.vases` -- vase handle / neck labels derived from the COSEG vase part labels.
- :mod:`.body_parts` -- which body part each ``human_seg`` label is, from how the labels touch.
- :mod:`.vase_shape` -- a procedural vase (handles optional) with part labels by construction.
- :mod:`.to_size` -- decimating a generated mesh to a model's input size, cleaned and checked.
"""
