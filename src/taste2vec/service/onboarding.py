"""A new user's onboarding, without HTTP: what to ask, the answer stored so far, and the
check of a new answer (``api/routes/onboarding.py`` turns these into the
``/v1/users/{id}/onboarding`` routes; :meth:`TasteService.onboard` stores an answer).

What to ask: the flavour families of the served model's lexicon and the archetype coffees
of its catalogue snapshot (chosen to span the catalogue's main taste axes). The answer so
far: the stored families, and the user's onboarding ratings of the current archetypes
(rated feedback with the deterministic ids of :func:`onboarding_feedback_id`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from taste2vec.errors import NotFoundError, SchemaError
from taste2vec.service.core import TasteService, onboarding_feedback_id

__all__ = ["OnboardingQuestion", "answer_so_far", "check_answer", "question"]


@dataclass(frozen=True)
class OnboardingQuestion:
    """The families one may pick and the archetype coffees to rate, ``(id, name)``."""

    families: list[str]
    archetypes: list[tuple[str, str]]


def question(service: TasteService) -> OnboardingQuestion:
    snap = service.engine.snapshot
    return OnboardingQuestion(
        families=list(snap.model.lexicon.families),
        archetypes=[(c, snap.coffees[snap.pos[c]].name) for c in snap.archetypes],
    )


def answer_so_far(service: TasteService, user: str) -> tuple[list[str], dict[str, int]]:
    """The stored families and the onboarding ratings of the current archetype coffees."""
    ratings = {}
    for coffee in service.engine.snapshot.archetypes:
        fb = service.store.get_feedback(onboarding_feedback_id(user, coffee))
        if fb is not None and fb.rating is not None:
            ratings[coffee] = fb.rating
    return service.store.onboarding_families(user), ratings


def check_answer(
    service: TasteService, families: Sequence[str] | None, ratings: Mapping[str, int] | None
) -> None:
    """Refuse an answer naming a family the model's lexicon does not have
    (:class:`SchemaError`, one error per family) or a coffee not in the catalogue
    (:class:`NotFoundError`, as for feedback)."""
    known = service.engine.snapshot.model.lexicon.families
    problems = [
        (f"families.{i}", f"unknown flavour family {f!r}; choose from {list(known)}")
        for i, f in enumerate(families or [])
        if f not in known
    ]
    if problems:
        raise SchemaError("invalid onboarding answer", problems)
    unknown = [c for c in sorted(ratings or {}) if service.store.get_coffee(c) is None]
    if unknown:
        raise NotFoundError(f"coffee(s) {unknown} not in the catalogue")
