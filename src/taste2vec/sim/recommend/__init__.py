"""Recommendation bench tooling.

- :mod:`.baselines`: reference recommenders with no taste model.
- :mod:`.taste2vec_recommender`: the runtime engine behind the
  :class:`~taste2vec.recommend.protocol.Recommender` seam, for the quality harness.
- :mod:`.synthetic`: a synthetic catalogue of any size for the speed benches.
"""
