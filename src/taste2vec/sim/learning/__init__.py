"""Bench tooling for the online learner: :mod:`.measure`, the end-to-end personalisation
measurement on simulated subscribers (``python -m taste2vec.sim.learning.measure``)."""
