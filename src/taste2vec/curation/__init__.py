"""Subscription-box curation: who receives which coffees next month (issue 13, item 3).

:mod:`.instance` states the problem (affinity, diversity and exploration, under stock,
plan size, exclusions and no-repeat), :mod:`.exact` solves it exactly as a MILP (HiGHS),
:mod:`.greedy` at scale (Lagrangian prices on stock, greedy boxes, repair). See
``docs/curation.md``.
"""

from __future__ import annotations

from taste2vec.curation.exact import ExactResult, solve_exact
from taste2vec.curation.greedy import solve_greedy
from taste2vec.curation.instance import (
    FILL,
    Instance,
    Value,
    Weights,
    box_value,
    evaluate,
    shortfalls,
    violations,
)

__all__ = [
    "FILL",
    "ExactResult",
    "Instance",
    "Value",
    "Weights",
    "box_value",
    "evaluate",
    "shortfalls",
    "solve_exact",
    "solve_greedy",
    "violations",
]
