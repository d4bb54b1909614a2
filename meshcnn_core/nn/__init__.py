"""The network layer: MeshConv, MeshPool (with its compiled kernel), MeshUnpool and the two networks.

Depends on :mod:`meshcnn_core.mesh` (topology) and nothing above it. Modules:

- :mod:`.conv` -- MeshConv (one GEMM over the one-ring gather, hand-written backward).
- :mod:`.pool_events` -- the kinds of removals and skips a pooling makes (IntEnums).
- :mod:`.pool_kernel` -- MeshCNN's edge-collapse rules, compiled (numba) in named steps over flat arrays.
- :mod:`.pool` -- MeshPool: features + topology -> features, pooled topology, :class:`PoolRecord`.
- :mod:`.unpool` -- MeshUnpool, which consumes a :class:`PoolRecord`.
- :mod:`.trace` -- what a forward pass records (stages).
- :mod:`.classifier`, :mod:`.segmenter` -- MeshCNN's classifier and U-Net with typed configs.
"""
