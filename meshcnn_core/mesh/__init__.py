"""The mesh layer: reading meshes, MeshCNN's edge topology and features, checks and repair.

Depends on nothing else in the package but :mod:`meshcnn_core.errors`. Modules:

- :mod:`.io` -- :class:`Mesh` and reading/writing mesh files.
- :mod:`.topology` -- MeshCNN's edge order and one-ring (``edges``, ``gemm``, ``sides``), immutable.
- :mod:`.features` -- the 5 edge features.
- :mod:`.check` -- read-only diagnosis of a mesh for MeshCNN.
- :mod:`.repair` -- repair and simplification to a model's input size.
"""
