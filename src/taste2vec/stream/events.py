"""The app's event schema, version 1: what flows through the event log.

Every event carries an ``event_id`` (the idempotency key: a duplicate is the
same event delivered twice), a ``user`` (the partition key, so one person's
events stay in order on one partition) and an ``event_time`` (when it happened
on the device, timezone-aware, normalised to UTC). ``type`` selects the shape;
``schema_version`` lets a consumer refuse payloads from a future writer.

Parse untrusted bytes with :func:`parse_event`, which raises
:class:`~taste2vec.errors.SchemaError` naming the field; a worker sends such
payloads to the dead-letter path with that message as the reason.

The JSON Schema of version 1 is committed as ``docs/events.schema.json``; a test
keeps it equal to :func:`json_schema` (regenerate with
``python -m taste2vec.stream.events > docs/events.schema.json``).

>>> e = parse_event(b'{"type": "recommendation_clicked", "event_id": "e1", "user": "u1",'
...                 b' "event_time": "2026-01-01T08:00:00Z", "coffee": "c1"}')
>>> e.type, e.event_time.isoformat()
('recommendation_clicked', '2026-01-01T08:00:00+00:00')
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from taste2vec.errors import SchemaError
from taste2vec.schema.clock import check_floor
from taste2vec.schema.records import (
    ID_PATTERN,
    Context,
    Feedback,
    FeedbackSignal,
    Identifier,
    Metrics,
    TasteRecord,
    format_validation_error,
)

SCHEMA_VERSION: Literal[1] = 1
MAX_EVENT_BYTES = 64 * 1024
EventId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=ID_PATTERN)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, description="Event schema version.")
    event_id: EventId = Field(description="Globally unique; delivery is deduplicated on it.")
    user: Identifier = Field(description="Who; also the partition key.")
    event_time: datetime = Field(
        description="When it happened (device clock); naive is UTC. Refused before "
        "1990-01-01, and more than the allowed clock skew (5 minutes by default) ahead of "
        "the server clock (API) or of the log append time (stream worker)."
    )

    @field_validator("event_time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return check_floor(
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        )


class TastingLogged(_Event):
    """A tasting was logged (the stored :class:`TasteRecord`'s summary)."""

    type: Literal["tasting_logged"] = "tasting_logged"
    record: Identifier = Field(description="The tasting record's id.")
    coffee: Identifier | None = None
    metrics: Metrics = Field(default_factory=Metrics)
    context: Context | None = None
    vector: list[float] | None = Field(
        default=None,
        min_length=128,
        max_length=128,
        description="The tasting's 128-d taste vector, when the publisher computed it.",
    )


class FeedbackGiven(_Event):
    """A reaction to a coffee (mirrors :class:`Feedback`)."""

    type: Literal["feedback_given"] = "feedback_given"
    feedback: Identifier = Field(description="The feedback's id.")
    coffee: Identifier
    signal: FeedbackSignal
    rating: int | None = Field(default=None, ge=1, le=5, description="1-5, only with 'rated'.")

    @model_validator(mode="after")
    def _rating_iff_rated(self) -> FeedbackGiven:
        if (self.signal is FeedbackSignal.RATED) != (self.rating is not None):
            raise ValueError("rating (1 to 5) is given exactly when signal is 'rated'")
        return self


class RecommendationShown(_Event):
    type: Literal["recommendation_shown"] = "recommendation_shown"
    request: Identifier = Field(description="The recommendation request it belongs to.")
    coffees: list[Identifier] = Field(min_length=1, max_length=100)
    experiment: Identifier | None = Field(default=None, description="A/B experiment, if any.")
    arm: Identifier | None = Field(default=None, description="Experiment arm, if any.")
    model_version: Identifier | None = Field(
        default=None, description="The model version (weights hash) that ranked them."
    )


class RecommendationClicked(_Event):
    type: Literal["recommendation_clicked"] = "recommendation_clicked"
    coffee: Identifier
    request: Identifier | None = None
    experiment: Identifier | None = None
    arm: Identifier | None = None


class BoxShipped(_Event):
    type: Literal["box_shipped"] = "box_shipped"
    box: Identifier
    coffees: list[Identifier] = Field(min_length=1, max_length=20)
    experiment: Identifier | None = None
    arm: Identifier | None = None


class BoxRated(_Event):
    type: Literal["box_rated"] = "box_rated"
    box: Identifier
    rating: int = Field(ge=1, le=5, description="Overall satisfaction with the box, 1-5.")
    coffee: Identifier | None = Field(default=None, description="One coffee of it, if rated alone.")
    experiment: Identifier | None = None
    arm: Identifier | None = None


class _Subscription(_Event):
    plan: Identifier | None = Field(default=None, description="Subscription plan id.")
    experiment: Identifier | None = None
    arm: Identifier | None = None


class SubscriptionStarted(_Subscription):
    type: Literal["subscription_started"] = "subscription_started"


class SubscriptionPaused(_Subscription):
    type: Literal["subscription_paused"] = "subscription_paused"
    reason: str | None = Field(default=None, max_length=500)


class SubscriptionResumed(_Subscription):
    type: Literal["subscription_resumed"] = "subscription_resumed"


class SubscriptionCancelled(_Subscription):
    type: Literal["subscription_cancelled"] = "subscription_cancelled"
    reason: str | None = Field(default=None, max_length=500)


class SubscriptionRenewed(_Subscription):
    type: Literal["subscription_renewed"] = "subscription_renewed"


class LabSession(_Event):
    """A brew experiment in the Lab: a recipe, its variables and how it turned out."""

    type: Literal["lab_session"] = "lab_session"
    recipe: str = Field(min_length=1, max_length=200, description="Recipe name, e.g. 'V60 4:6'.")
    coffee: Identifier | None = None
    variables: Metrics = Field(
        default_factory=Metrics, description="Brew variables (water_temp_c, grind_size_um, ...)."
    )
    rating: int = Field(ge=1, le=5, description="How the result tasted, 1-5.")


Event = Annotated[
    TastingLogged
    | FeedbackGiven
    | RecommendationShown
    | RecommendationClicked
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
EVENT_TYPES: tuple[str, ...] = (
    "tasting_logged",
    "feedback_given",
    "recommendation_shown",
    "recommendation_clicked",
    "box_shipped",
    "box_rated",
    "subscription_started",
    "subscription_paused",
    "subscription_resumed",
    "subscription_cancelled",
    "subscription_renewed",
    "lab_session",
)
_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: bytes | str | dict[str, Any]) -> Event:
    """Validate one event; :class:`SchemaError` names what is wrong (dead-letter reason)."""
    if isinstance(data, bytes | str) and len(data) > MAX_EVENT_BYTES:
        raise SchemaError(f"event is {len(data)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        if isinstance(data, bytes | str):
            return _ADAPTER.validate_json(data)
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        error = format_validation_error(exc)
        text = str(error).split(": ", 1)[-1].replace("(record)", "(event)")
        raise SchemaError(f"invalid event: {text}", error.errors) from None


def encode_event(event: Event) -> bytes:
    """The canonical wire form: compact JSON, UTF-8."""
    return event.model_dump_json(exclude_none=True).encode()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of every event type (``docs/events.schema.json`` is generated from it)."""
    schema = _ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"Taste2Vec event, schema version {SCHEMA_VERSION}"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def from_record(record: TasteRecord, vector: list[float] | None = None) -> TastingLogged:
    """The ``tasting_logged`` event for a stored tasting (its id is derived, so it is stable)."""
    return TastingLogged(
        event_id=f"tasting:{record.id}",
        user=record.user,
        event_time=record.timestamp,
        record=record.id,
        coffee=record.coffee,
        metrics=record.metrics,
        context=record.context,
        vector=vector,
    )


def from_feedback(feedback: Feedback) -> FeedbackGiven:
    """The ``feedback_given`` event for a stored feedback (stable derived id)."""
    return FeedbackGiven(
        event_id=f"feedback:{feedback.id}",
        user=feedback.user,
        event_time=feedback.timestamp,
        feedback=feedback.id,
        coffee=feedback.coffee,
        signal=feedback.signal,
        rating=feedback.rating,
    )


if __name__ == "__main__":  # python -m taste2vec.stream.events > docs/events.schema.json
    import sys

    sys.stdout.write(json_schema_text())
