"""Recommenders: ranked coffee ids for a subscriber, fitted on the catalogue and all feedback.

:mod:`.protocol` defines the :class:`~taste2vec.recommend.protocol.Recommender` seam every
recommender implements; :mod:`.baselines` holds the reference baselines (popularity,
item-item kNN, random, and implicit ALS from the ``bench`` extra).
"""
