"""Test oracles, generators and simulators: tooling for the tests and benches, not the runtime.

Nothing in the runtime imports this package (``tests/test_layering.py`` fails if a module
outside it does; the one pending exception is listed in :mod:`taste2vec._layers`). It ships
in the wheel so the benches and tests of an installed package can use it.

- :mod:`.stream.reference`: the stream oracle, every stream output computed in one plain
  pass over a log (the reliability, scale-out, clock and adversarial tests compare the
  worker and the API with it).
- :mod:`.stream.generate`: a deterministic synthetic event stream with optional faults
  (stream tests, stream benches, the Flink parity test).
- :mod:`.recommend.baselines`: reference recommenders with no taste model (popularity,
  item-item kNN, random, ALS, content ridge/Rocchio) for the recommendation benches.
- :mod:`.recommend.taste2vec_recommender`: the runtime engine wrapped in the
  :class:`~taste2vec.recommend.protocol.Recommender` seam for the quality harness.
- :mod:`.recommend.synthetic`: a synthetic catalogue of any size for the speed benches.
- :mod:`.subscribers`: SIMULATED subscribers with hidden tastes and the
  recommendation-quality harness built on them.
- :mod:`.experiments`: seeded Monte Carlo of A/B experiments (peeking, power, CUPED,
  SRM) for ``tests/experiments`` and ``bench/experiment_stats.py``.
- :mod:`.stream.tansu`: a local Tansu broker (the Kafka API) for the Kafka tests and the
  stream benches.
- :mod:`.lexicon`: the lexicon's precision/recall on labelled sentences and coverage on
  real notes (``bench/lexicon_quality.py``).
"""
