"""Edge bundles: Taste2Vec on the phone (LiteRT/TFLite or ONNX), without a server.

- :mod:`taste2vec.edge.runtime`: the torch-free reference runtime (``EdgeRuntime``);
- :mod:`taste2vec.edge.spec`: formats, file names, tolerances, the input/output spec;
- :mod:`taste2vec.edge.registry`: bundles by model version and alias, on disk;
- :mod:`taste2vec.edge.graph` / :mod:`taste2vec.edge.export`: the exportable graph and
  ``taste2vec export`` (torch);
- :mod:`taste2vec.edge.parity`: the parity gate against the cloud model (torch).

Importing this package imports nothing heavy; see ``docs/edge.md`` for the format.
"""
