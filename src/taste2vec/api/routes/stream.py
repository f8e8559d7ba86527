"""App events in, stream signals out: ``POST /v1/events``, ``GET /v1/users/{id}/signals``,
``GET /v1/coffees/{id}/stats``.

Posted events go to the store's outbox (acknowledged = committed), the relay
publishes them to the event log, and the stream worker folds them into the
per-user signals and per-coffee stats these routes read.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from taste2vec.api.deps import CoffeeIdPath, PrincipalDep, ServiceDep, UserIdPath, check_user
from taste2vec.api.schemas import error_responses, inline_json_schema, write_responses
from taste2vec.api.strict import type_errors
from taste2vec.errors import ConflictError, SchemaError
from taste2vec.service import TasteService
from taste2vec.store import AddResult
from taste2vec.stream.events import (
    BoxRated,
    BoxShipped,
    Event,
    LabSession,
    RecommendationClicked,
    SubscriptionCancelled,
    SubscriptionPaused,
    SubscriptionRenewed,
    SubscriptionResumed,
    SubscriptionStarted,
    parse_event,
)
from taste2vec.stream.state import StreamReader

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["events and signals"])

MAX_EVENTS = 1000
SERVICE_TYPES = {
    "tasting_logged": "POST the tasting to /v1/records; its tasting_logged event is derived",
    "feedback_given": "POST the feedback to /v1/feedback; its feedback_given event is derived",
    "recommendation_shown": "the service emits recommendation_shown itself for every "
    "recommendation it serves (it carries the response's request id)",
}

EVENT_EXAMPLE: dict[str, Any] = {
    "type": "box_rated",
    "event_id": "ana-box-2026-11-1",
    "user": "demo-ana",
    "event_time": "2026-11-25T09:00:00+09:00",
    "box": "box-2026-11",
    "rating": 4,
    "coffee": "demo-021",
}
BATCH_EXAMPLE: list[dict[str, Any]] = [
    EVENT_EXAMPLE,
    {
        "type": "recommendation_clicked",
        "event_id": "ana-click-1",
        "user": "demo-ana",
        "event_time": "2026-11-25T09:01:00+09:00",
        "coffee": "demo-007",
        "request": "3f0c9b6c5d7e4a0f8b1e2d3c4b5a6978",
    },
    {
        "type": "subscription_paused",
        "event_id": "ana-pause-1",
        "user": "demo-ana",
        "event_time": "2026-11-25T09:05:00+09:00",
        "reason": "travelling",
    },
]


class EventAccepted(BaseModel):
    """One event stored in the outbox (``created`` is false for an exact repeat)."""

    event_id: str
    created: bool


class EventStatus(BaseModel):
    """The outcome of one event of a batch, with the status it would have had alone."""

    index: int = Field(description="Position in the posted list.")
    event_id: str | None = Field(description="Its event_id (null when it had none).")
    status: int = Field(description="201 stored, 200 exact repeat, 409 conflict, 422 invalid.")
    created: bool = False
    detail: str | None = Field(default=None, description="Why, for 409 and 422.")


class EventBatchResult(BaseModel):
    created: int
    duplicates: int
    failed: int
    results: list[EventStatus]


# The events a client may post (the others are derived or emitted by the service). The
# single-event body is documented with their schema; it is validated by ``_parse`` so that a
# refusal names the event type and field the same way for one event and for a batch.
ClientEvent = Annotated[
    RecommendationClicked
    | BoxShipped
    | BoxRated
    | SubscriptionStarted
    | SubscriptionPaused
    | SubscriptionResumed
    | SubscriptionCancelled
    | SubscriptionRenewed
    | LabSession,
    Field(discriminator="type"),
]
CLIENT_EVENT_SCHEMA = inline_json_schema(ClientEvent)


def _parse(item: Any, service: TasteService) -> Event:
    if not isinstance(item, dict):
        raise SchemaError(f"an event must be a JSON object, got {type(item).__name__}")
    problems = type_errors(CLIENT_EVENT_SCHEMA, item, {})  # the schema's JSON types: no "4" for 4
    if problems:
        errors = [(field, why) for field, _, why in (p.partition(": ") for p in problems)]
        raise SchemaError(f"invalid event: {'; '.join(problems)}", errors)
    event = parse_event(item)
    service.check_time(event.event_time, "event_time")
    why = SERVICE_TYPES.get(event.type)
    if why is not None:
        raise SchemaError(f"{event.type} events are not accepted here: {why}", [("type", why)])
    return event


@router.post(
    "/events",
    status_code=201,
    summary="Record app events (one, or a batch)",
    description="One event object or a list of up to 1,000 (any type of the event schema "
    "except tasting_logged and feedback_given, which /v1/records and /v1/feedback derive, "
    "and recommendation_shown, which the service emits). Idempotent by event_id like "
    "/v1/records: one event answers 201 (stored), 200 (exact repeat) or 409 (same "
    "event_id, different content). A list answers 200 with a status per event (201, 200, "
    "409 or 422); the valid ones are stored even when others are not. A user key may "
    "post only its own user's events. The answer comes after the commit; the events reach "
    "the event log and the user's signals shortly after.",
    response_model=EventAccepted | EventBatchResult,
    responses={
        **write_responses(
            EventAccepted,
            "The event_id is stored with different content.",
            (403, "A user key may only post its own user's events (all of a batch)."),
            (
                413,
                f"More than {MAX_EVENTS:,} events in one batch, or a body over "
                "`T2V_MAX_BODY_BYTES`.",
            ),
        ),
        201: {"model": EventAccepted, "description": "One event, stored."},
        200: {
            "model": EventAccepted | EventBatchResult,
            "description": "One event that is an exact repeat (nothing changed), or a batch: "
            "each event's own status is in `results`.",
        },
    },
)
def post_events(
    body: Annotated[
        Annotated[dict[str, Any], WithJsonSchema(CLIENT_EVENT_SCHEMA)]
        | Annotated[
            list[Any],
            Field(  # the bounds are checked in the route: 422 when empty, 413 over
                description=f"A batch: 1 to {MAX_EVENTS:,} events, each validated on its own.",
                json_schema_extra={"minItems": 1, "maxItems": MAX_EVENTS},
            ),
        ],
        Body(
            openapi_examples={
                "one": {"summary": "one event", "value": EVENT_EXAMPLE},
                "batch": {"summary": "a batch", "value": BATCH_EXAMPLE},
            }
        ),
    ],
    service: ServiceDep,
    principal: PrincipalDep,
    response: Response,
) -> EventAccepted | EventBatchResult:
    if isinstance(body, dict):
        event = _parse(body, service)
        check_user(principal, event.user)
        result = service.add_event(event)
        if not result.created:
            response.status_code = 200
        return EventAccepted(event_id=event.event_id, created=result.created)
    if not body:
        raise SchemaError("the batch is empty: post one event or a non-empty list")
    if len(body) > MAX_EVENTS:
        raise HTTPException(413, f"{len(body)} events in one batch; the limit is {MAX_EVENTS}")
    parsed: list[tuple[int, Event]] = []
    statuses: dict[int, EventStatus] = {}
    for i, item in enumerate(body):
        try:
            parsed.append((i, _parse(item, service)))
        except SchemaError as exc:
            eid = item.get("event_id") if isinstance(item, dict) else None
            statuses[i] = EventStatus(
                index=i, event_id=eid if isinstance(eid, str) else None, status=422, detail=str(exc)
            )
    for _, event in parsed:  # all or nothing for authorisation
        check_user(principal, event.user)
    outcomes = service.add_events([e for _, e in parsed]) if parsed else []
    for (i, event), outcome in zip(parsed, outcomes, strict=True):
        if isinstance(outcome, ConflictError):
            statuses[i] = EventStatus(
                index=i, event_id=event.event_id, status=409, detail=str(outcome)
            )
        else:
            assert isinstance(outcome, AddResult)  # noqa: S101
            statuses[i] = EventStatus(
                index=i,
                event_id=event.event_id,
                status=201 if outcome.created else 200,
                created=outcome.created,
            )
    results = [statuses[i] for i in range(len(body))]
    response.status_code = 200
    return EventBatchResult(
        created=sum(r.status == 201 for r in results),
        duplicates=sum(r.status == 200 for r in results),
        failed=sum(r.status >= 400 for r in results),
        results=results,
    )


# --------------------------------------------------------------------------- reading
class RatingStats(BaseModel):
    count: int
    mean: float | None
    variance: float | None = Field(description="Population variance of the ratings.")


class UserSignalsOut(BaseModel):
    """What the stream worker knows about a user, as of ``as_of`` (the largest event time
    it has seen, not the wall clock)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "user": "demo-ana",
                    "as_of": "2026-11-25T09:05:00Z",
                    "n_events": 14,
                    "first_event": "2026-11-01T08:00:00Z",
                    "last_event": "2026-11-25T09:05:00Z",
                    "tastings_vector": None,
                    "n_tastings_vectors": 6,
                    "rating": {"count": 5, "mean": 4.2, "variance": 0.56},
                    "rating_trend_per_week": 0.3,
                    "n_feedback": 8,
                    "skip_streak": 0,
                    "subscription_status": "paused",
                    "pause_streak": 1,
                    "paused_days": 0.0,
                    "renewals": 2,
                    "experiments": {"exp-1": "b"},
                    "last_engagement": "2026-11-25T09:01:00Z",
                    "days_since_last_engagement": 0.003,
                    "lab_sessions_total": 3,
                    "lab_sessions_30d": 1,
                    "churn_risk": 0.21,
                    "churn_rule": "rule-v1",
                }
            ]
        },
    )

    user: str
    as_of: str = Field(description="Event time the derived values refer to (ISO-8601 UTC).")
    n_events: int
    first_event: str | None
    last_event: str | None
    tastings_vector: list[float] | None = Field(
        description="Time-decayed mean of the 128-d vectors of the user's tastings "
        "(half-life 30 days): what they have been drinking. Not the recommender's taste "
        "model, which also learns from feedback (GET /v1/users/{id}/profile). Null before "
        "a tasting with a vector."
    )
    n_tastings_vectors: int
    rating: RatingStats
    rating_trend_per_week: float | None = Field(
        description="Slope of the daily mean rating over the last 28 days, points per week."
    )
    n_feedback: int
    skip_streak: int = Field(description="Consecutive 'skipped' reactions, latest first.")
    subscription_status: str | None
    pause_streak: int
    paused_days: float | None
    renewals: int
    experiments: dict[str, str] = Field(description="Experiment -> arm the user is in.")
    last_engagement: str | None
    days_since_last_engagement: float | None
    lab_sessions_total: int
    lab_sessions_30d: int
    churn_risk: float = Field(
        description="0-1, from the trained churn model (the registry's taste2vec-churn "
        "champion) or, without one, the documented rule; churn_rule names which."
    )
    churn_rule: str = Field(description="'taste2vec-churn/<version>' or 'rule-v1'.")


class CoffeeStatsOut(BaseModel):
    """What the stream worker counted for a coffee (all users, all partitions)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "coffee": "demo-021",
                    "n_feedback": 12,
                    "n_likes": 7,
                    "n_dislikes": 2,
                    "n_skips": 1,
                    "n_clicks": 4,
                    "like_rate": 0.583,
                    "rating": {"count": 5, "mean": 4.0, "variance": 0.8},
                    "rating_trend_per_week": -0.1,
                    "last_rating_day": "2026-11-25",
                }
            ]
        },
    )

    coffee: str
    n_feedback: int
    n_likes: int
    n_dislikes: int
    n_skips: int
    n_clicks: int
    like_rate: float | None
    rating: RatingStats
    rating_trend_per_week: float | None
    last_rating_day: str | None


def _reader(request: Request) -> StreamReader:
    reader: StreamReader | None = getattr(request.app.state, "stream_reader", None)
    if reader is None:
        raise HTTPException(503, "the stream state is not available yet; try again shortly")
    return reader


@router.get(
    "/users/{user_id}/signals",
    summary="A user's stream signals: tastings vector, ratings, subscription, churn risk",
    description="Read from the stream worker's state: the rolling vector of the user's "
    "tastings (`tastings_vector`; the recommender's taste model is /profile), rating "
    "stats and trend, skip/pause streaks, days since last engagement, Lab usage and the "
    "churn risk (the registered churn model, else rule-v1). New events show up within "
    "about a second. 404 until the stream has seen an event of this user.",
    responses=error_responses(
        (403, "A user key may only read its own user's signals."),
        (404, "The stream has no event of this user yet."),
        (503, "The stream state is not available yet (the service is starting)."),
    ),
)
def user_signals(user_id: UserIdPath, request: Request, principal: PrincipalDep) -> UserSignalsOut:
    check_user(principal, user_id)
    found = _reader(request).user_signals(user_id)
    if found is None:
        raise HTTPException(
            404, f"the stream has no event of user {user_id!r} yet (new events take ~1 s)"
        )
    return UserSignalsOut.model_validate(found)


@router.get(
    "/coffees/{coffee_id}/stats",
    summary="A coffee's stream stats: reactions, ratings and their trend",
    description="Feedback counts, like rate, clicks, rating stats and the 28-day rating "
    "trend, summed over everyone. Any valid key may read them (they are aggregates). 404 "
    "until an event mentioned the coffee.",
    responses=error_responses(
        (404, "No event has mentioned this coffee yet."),
        (503, "The stream state is not available yet (the service is starting)."),
    ),
)
def coffee_stats(
    coffee_id: CoffeeIdPath, request: Request, principal: PrincipalDep
) -> CoffeeStatsOut:
    found = _reader(request).coffee_stats(coffee_id)
    if found is None:
        raise HTTPException(404, f"the stream has no event about coffee {coffee_id!r} yet")
    return CoffeeStatsOut.model_validate(found)
