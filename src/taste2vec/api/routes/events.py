"""Tasting records and feedback: idempotent by the client-supplied id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from taste2vec.api.deps import PrincipalDep, ServiceDep, check_user
from taste2vec.api.schemas import FEEDBACK_EXAMPLE, RECORD_EXAMPLE, Accepted
from taste2vec.schema import Feedback, TasteRecord

router = APIRouter(prefix="/v1", tags=["tastings and feedback"])


@router.post(
    "/records",
    status_code=201,
    summary="Log a tasting",
    description="201 when stored, 200 when the same id was already stored with the same "
    "content, 409 when the id exists with different content. The response comes only "
    "after the record is committed.",
)
def post_record(
    record: Annotated[TasteRecord, Body(examples=[RECORD_EXAMPLE])],
    service: ServiceDep,
    principal: PrincipalDep,
    response: Response,
) -> Accepted:
    check_user(principal, record.user)
    result = service.add_record(record)
    if not result.created:
        response.status_code = 200
    return Accepted(id=record.id, created=result.created)


@router.get("/users/{user_id}/records", summary="A user's tastings, oldest first")
def get_records(
    user_id: str,
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
    description="liked / disliked / rated (1-5) / skipped. Idempotent by id like /records. "
    "The user's next recommendations reflect it.",
)
def post_feedback(
    feedback: Annotated[Feedback, Body(examples=[FEEDBACK_EXAMPLE])],
    service: ServiceDep,
    principal: PrincipalDep,
    response: Response,
) -> Accepted:
    check_user(principal, feedback.user)
    result = service.add_feedback(feedback)
    if not result.created:
        response.status_code = 200
    return Accepted(id=feedback.id, created=result.created)
