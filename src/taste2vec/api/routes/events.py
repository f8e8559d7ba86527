"""Tasting records and feedback: idempotent by the client-supplied id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from taste2vec.api.deps import PrincipalDep, ServiceDep, UserIdPath, check_user
from taste2vec.api.schemas import (
    FEEDBACK_EXAMPLE,
    RECORD_EXAMPLE,
    Accepted,
    error_responses,
    write_responses,
)
from taste2vec.api.strict import json_types_of
from taste2vec.schema import Feedback, TasteRecord

router = APIRouter(prefix="/v1", tags=["tastings and feedback"])


@router.post(
    "/records",
    status_code=201,
    summary="Log a tasting",
    description="Idempotent by the client's `id`: 201 when stored, 200 when the same id "
    "was already stored with the same content (a retry; nothing changes), 409 when the id "
    "exists with different content. The response comes only after the record is "
    "committed. A user key may log only its own user's tastings.",
    responses=write_responses(
        Accepted,
        "This id is stored with different content.",
        (403, "A user key may only log its own user's tastings."),
        (404, "The `coffee` is not in the catalogue."),
    ),
)
def post_record(
    record: Annotated[TasteRecord, Body(examples=[RECORD_EXAMPLE]), json_types_of(TasteRecord)],
    service: ServiceDep,
    principal: PrincipalDep,
    response: Response,
) -> Accepted:
    check_user(principal, record.user)
    result = service.add_record(record)
    if not result.created:
        response.status_code = 200
    return Accepted(id=record.id, created=result.created)


@router.get(
    "/users/{user_id}/records",
    summary="A user's tastings, oldest first",
    description="An empty list for a user with no tastings.",
    responses=error_responses((403, "A user key may only read its own user's tastings.")),
)
def get_records(
    user_id: UserIdPath,
    service: ServiceDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TasteRecord]:
    check_user(principal, user_id)
    return service.store.records_for_user(user_id, limit=limit)


@router.post(
    "/feedback",
    status_code=201,
    summary="Say what you thought of a coffee",
    description="liked / disliked / rated (1-5) / skipped. Idempotent by `id` like "
    "/v1/records: 201 stored, 200 exact repeat, 409 same id with different content. "
    "The user's next recommendations reflect it.",
    responses=write_responses(
        Accepted,
        "This id is stored with different content.",
        (403, "A user key may only give its own user's feedback."),
        (404, "The `coffee` is not in the catalogue."),
    ),
)
def post_feedback(
    feedback: Annotated[Feedback, Body(examples=[FEEDBACK_EXAMPLE]), json_types_of(Feedback)],
    service: ServiceDep,
    principal: PrincipalDep,
    response: Response,
) -> Accepted:
    check_user(principal, feedback.user)
    result = service.add_feedback(feedback)
    if not result.created:
        response.status_code = 200
    return Accepted(id=feedback.id, created=result.created)
