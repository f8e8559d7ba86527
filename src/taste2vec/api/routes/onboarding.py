"""Onboarding: a new user's short answer, so the first recommendations are not blind.

``GET /v1/users/{id}/onboarding`` lists what to ask: the flavour families to pick from and
the archetype coffees to rate (chosen from the catalogue's structured attributes to span
its main taste axes), with the answer stored so far. ``POST`` stores the answer: up to
three favourite families and/or 1-5 ratings of coffees (the archetypes, or any catalogue
coffee). Ratings become ordinary rated feedback with deterministic ids, so a retry is the
same write; families are stored and become a prior on the user's taste model.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from taste2vec.api.deps import PrincipalDep, ServiceDep, UserIdPath, check_user
from taste2vec.api.schemas import error_responses, write_responses
from taste2vec.api.strict import json_types_of
from taste2vec.lexicon.extractor import load_lexicon
from taste2vec.service.onboarding import answer_so_far, check_answer, question

router = APIRouter(prefix="/v1/users", tags=["users"])

MAX_FAMILIES = 3
MAX_RATINGS = 10

FAMILIES = load_lexicon().families  # the names one can pick (the bundled flavour wheel)
EXAMPLE: dict[str, Any] = {
    "families": ["Fruity", "Floral"],
    "ratings": {"demo-001": 5, "demo-050": 2},
}


class OnboardingAnswer(BaseModel):
    """At least one of ``families`` and ``ratings``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [EXAMPLE],
            # _something, in the schema: non-empty families or non-empty ratings
            "anyOf": [
                {
                    "required": ["families"],
                    "properties": {"families": {"type": "array", "minItems": 1}},
                },
                {
                    "required": ["ratings"],
                    "properties": {"ratings": {"type": "object", "minProperties": 1}},
                },
            ],
        },
    )

    families: list[str] | None = Field(
        default=None,
        max_length=MAX_FAMILIES,
        description="Up to 3 favourite flavour families, distinct, by name (see GET).",
        json_schema_extra={"uniqueItems": True, "items": {"enum": list(FAMILIES)}},
    )
    ratings: dict[str, Annotated[int, Field(ge=1, le=5)]] | None = Field(
        default=None,
        max_length=MAX_RATINGS,
        description="Coffee id -> rating 1-5, up to 10 (the archetype coffees from GET).",
    )

    @model_validator(mode="after")
    def _something(self) -> OnboardingAnswer:
        if not self.families and not self.ratings:
            raise ValueError("give at least one of `families` and `ratings`")
        if self.families is not None and len(set(self.families)) != len(self.families):
            raise ValueError("`families` must be distinct")
        return self


class ArchetypeCoffee(BaseModel):
    coffee_id: str
    name: str


class Onboarding(BaseModel):
    """What to ask, and what the user answered so far."""

    user: str
    families: list[str] = Field(description="Every flavour family one can pick.")
    archetypes: list[ArchetypeCoffee] = Field(description="The coffees to rate.")
    chosen_families: list[str]
    ratings: dict[str, int] = Field(description="The user's onboarding ratings so far.")


class OnboardingStored(BaseModel):
    user: str
    created: bool = Field(description="False for an exact repeat (nothing changed).")
    families: list[str]
    ratings: dict[str, int]


@router.get(
    "/{user_id}/onboarding",
    summary="What to ask a new user, and their answer so far",
    responses=error_responses((403, "A user key may only read its own user.")),
)
def get_onboarding(user_id: UserIdPath, service: ServiceDep, principal: PrincipalDep) -> Onboarding:
    check_user(principal, user_id)
    ask = question(service)
    families, ratings = answer_so_far(service, user_id)
    return Onboarding(
        user=user_id,
        families=ask.families,
        archetypes=[ArchetypeCoffee(coffee_id=c, name=name) for c, name in ask.archetypes],
        chosen_families=families,
        ratings=ratings,
    )


@router.post(
    "/{user_id}/onboarding",
    status_code=201,
    summary="Answer the onboarding: favourite flavour families and/or ratings",
    description="Idempotent: 201 when something new was stored, 200 for an exact repeat. "
    "Families replace the ones stored before; each rating is stored once as rated "
    "feedback (a different rating for a coffee already rated at onboarding is a 409: "
    "send feedback to change it). The next recommendations use the answer at once.",
    responses=write_responses(
        OnboardingStored,
        "A coffee was already rated differently at onboarding.",
        (403, "A user key may only answer for its own user."),
        (404, "A rated coffee is not in the catalogue."),
    ),
)
def post_onboarding(
    user_id: UserIdPath,
    answer: Annotated[OnboardingAnswer, Body(examples=[EXAMPLE]), json_types_of(OnboardingAnswer)],
    service: ServiceDep,
    principal: PrincipalDep,
    response: Response,
) -> OnboardingStored:
    check_user(principal, user_id)
    check_answer(service, answer.families, answer.ratings)  # 422 / 404 (as for feedback)
    created = service.onboard(user_id, answer.families, answer.ratings or {})
    if not created:
        response.status_code = 200
    families, _ = answer_so_far(service, user_id)
    return OnboardingStored(
        user=user_id, created=created, families=families, ratings=dict(answer.ratings or {})
    )
