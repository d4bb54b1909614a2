"""The data layer: MeshCNN-layout data sets, batching and augmentation.

Depends on :mod:`meshcnn_core.mesh` and nothing above it. Modules:

- :mod:`.datasets` -- scanning a data-set folder, cached augmented copies, batches.
- :mod:`.augment` -- MeshCNN's augmentations (vertex scaling, edge flips, vertex slides).
"""
