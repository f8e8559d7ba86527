"""The seam every recommender implements, and a check of what it returns.

A recommender is fitted on the whole catalogue and **all** feedback of all users so far,
then asked for the ``k`` best coffee ids for one user, never naming a coffee in
``exclude`` (typically what the user already reacted to). ``fit`` replaces whatever an
earlier ``fit`` learnt, so one instance can be refitted as feedback accumulates. Users
who gave no feedback (cold users) must still get recommendations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from taste2vec.errors import ModelError
from taste2vec.schema import Coffee, Feedback

__all__ = ["Recommender", "check_recommendations"]


@runtime_checkable
class Recommender(Protocol):
    """Fit on the catalogue and all feedback; recommend coffee ids for one user, best first."""

    name: str

    def fit(self, catalogue: Sequence[Coffee], feedback: Sequence[Feedback]) -> None:
        """Learn from the catalogue and all feedback of all users so far (replaces old state)."""
        ...

    def recommend(self, user: str, k: int, exclude: set[str]) -> list[str]:
        """At most ``k`` distinct catalogue ids not in ``exclude``, best first."""
        ...


def check_recommendations(
    name: str, ids: Sequence[str], k: int, exclude: set[str], catalogue_ids: set[str]
) -> None:
    """Raise :class:`ModelError` unless ``ids`` honour the :class:`Recommender` contract."""
    problems = []
    if len(ids) > k:
        problems.append(f"returned {len(ids)} ids for k={k}")
    if len(set(ids)) != len(ids):
        problems.append("returned duplicate ids")
    if excluded := [i for i in ids if i in exclude]:
        problems.append(f"returned excluded ids {excluded[:3]}")
    if unknown := [i for i in ids if i not in catalogue_ids]:
        problems.append(f"returned ids not in the catalogue {unknown[:3]}")
    if problems:
        raise ModelError(
            f"recommender {name!r} broke the Recommender contract: " + "; ".join(problems)
        )
