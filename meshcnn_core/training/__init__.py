"""Training MeshCNN models (MeshCNN's recipe); the command line is :mod:`meshcnn_core.train`.

Modules, lowest first:

- :mod:`.config` -- :class:`TrainConfig` (the JSON config as a dataclass) and the lr schedule.
- :mod:`.distributed` -- each process's share of the batch under ``torchrun``, sums over processes.
- :mod:`.steps` -- batches, the loss, MeshCNN's accuracies.
- :mod:`.run_files` -- checkpoints read back and checked against the run, RNG state, metrics, export.
- :mod:`.loop` -- :func:`train`, one run from its config (or its ``last.pt``) to its last epoch.
"""
