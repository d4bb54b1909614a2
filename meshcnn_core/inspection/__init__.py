"""Following one mesh through a network, for researchers and teachers; reads a :class:`Recording`.

Modules:

- :mod:`.provenance` -- which input edges an edge stands for, where an input edge went, picking.
- :mod:`.replay` -- one pooling layer's collapses and skips in their real order.
- :mod:`.conv_explain` -- one edge's MeshConv computed by hand from its one-ring.
- :mod:`.lesson` -- a walk-through of one recording as Markdown (features, convolution, pooling, unpooling).
"""
