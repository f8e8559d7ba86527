"""Recommenders: ranked coffee ids for a subscriber, fitted on the catalogue and all feedback.

:mod:`.protocol` defines the :class:`~taste2vec.recommend.protocol.Recommender` seam every
recommender implements. The reference baselines it is compared with (popularity, item-item
kNN, random, content ridge/Rocchio, and implicit ALS from the ``bench`` extra) are bench
tooling and live in :mod:`taste2vec.sim.recommend.baselines`, outside the runtime.
"""
