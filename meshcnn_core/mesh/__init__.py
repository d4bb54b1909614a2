"""The mesh layer: reading meshes, MeshCNN's edge topology and features, checks and repair.

Depends on nothing else in the package but :mod:`meshcnn_core.errors`. Modules:

- :mod:`.io` -- :class:`Mesh`, reading/writing mesh files, the one OBJ writer and name sanitizer.
- :mod:`.topology` -- MeshCNN's edge order and one-ring (``edges``, ``gemm``, ``sides``), immutable.
- :mod:`.features` -- the 5 edge features.
- :mod:`.edges` -- the undirected edge table of a face array (shared by checks and repair).
- :mod:`.check` -- read-only diagnosis of a mesh for MeshCNN.
- :mod:`.actions` -- the structured record of one repair step.
- :mod:`.cleanup` -- the repair steps that keep face order (and with it MeshCNN's edge order).
- :mod:`.simplify` -- quadric decimation that keeps thin parts and borders; midpoint subdivision.
- :mod:`.fidelity` -- Hausdorff and mean surface distance between a mesh and its simplification.
- :mod:`.repair` -- the preflight: checks, repair (MeshFix where needed), fitting to a model's size.
- :mod:`.size` -- the physical size a model expects (its training meshes' diagonals) and scaling to it.
"""
