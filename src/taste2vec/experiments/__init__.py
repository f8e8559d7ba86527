"""A/B experiments: the statistics that decide whether a challenger is promoted.

:mod:`taste2vec.experiments.stats` is pure numpy/scipy (no service, API or store
imports); see ``docs/experiments.md``.
"""
