"""The event schema: every type validates, bad payloads are refused with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from taste2vec.errors import SchemaError
from taste2vec.schema import Feedback, TasteRecord
from taste2vec.stream.events import (
    EVENT_TYPES,
    MAX_EVENT_BYTES,
    SCHEMA_VERSION,
    encode_event,
    from_feedback,
    from_record,
    json_schema,
    json_schema_text,
    parse_event,
)

BASE = {"event_id": "e1", "user": "u1", "event_time": "2026-03-01T08:30:00Z"}
EXAMPLES: dict[str, dict[str, Any]] = {
    "tasting_logged": {"record": "r1", "coffee": "c1", "metrics": {"acidity": 7}},
    "feedback_given": {"feedback": "f1", "coffee": "c1", "signal": "rated", "rating": 4},
    "recommendation_shown": {
        "request": "q1",
        "coffees": ["c1", "c2"],
        "experiment": "x",
        "arm": "a",
    },
    "recommendation_clicked": {"coffee": "c1", "request": "q1", "experiment": "x", "arm": "a"},
    "box_shipped": {"box": "b1", "coffees": ["c1", "c2", "c3"]},
    "box_rated": {"box": "b1", "rating": 5, "coffee": "c2"},
    "subscription_started": {"plan": "monthly"},
    "subscription_paused": {"reason": "travelling"},
    "subscription_resumed": {},
    "subscription_cancelled": {"reason": "too expensive"},
    "subscription_renewed": {"plan": "monthly"},
    "lab_session": {"recipe": "V60 4:6", "variables": {"water_temp_c": 93}, "rating": 4},
}


def test_every_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == 12


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_round_trip(kind: str) -> None:
    event = parse_event({**BASE, "type": kind, **EXAMPLES[kind]})
    assert event.type == kind
    assert event.schema_version == SCHEMA_VERSION
    wire = encode_event(event)
    again = parse_event(wire)
    assert again == event
    assert encode_event(again) == wire  # canonical


def test_event_time_is_normalised_to_utc() -> None:
    seoul = timezone(timedelta(hours=9))
    event = parse_event(
        {
            **BASE,
            "type": "subscription_started",
            "event_time": datetime(2026, 3, 1, 17, 30, tzinfo=seoul),
        }
    )
    assert event.event_time == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    naive = parse_event(
        {**BASE, "type": "subscription_started", "event_time": "2026-03-01T08:30:00"}
    )
    assert naive.event_time.tzinfo is UTC


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**BASE, "type": "no_such_type"}, "does not match any of the expected tags"),
        ({**BASE, "type": "box_rated", "box": "b1", "rating": 9}, "box_rated.rating"),
        (
            {"type": "subscription_started", "user": "u1", "event_time": "2026-03-01T08:30:00Z"},
            "event_id",
        ),
        ({**BASE, "type": "subscription_started", "user": "bad id!"}, "user"),
        ({**BASE, "type": "subscription_started", "event_time": "yesterday"}, "event_time"),
        ({**BASE, "type": "subscription_started", "surprise": 1}, "surprise"),
        ({**BASE, "type": "subscription_started", "schema_version": 2}, "schema_version"),
        (
            {**BASE, "type": "feedback_given", "feedback": "f", "coffee": "c", "signal": "meh"},
            "signal",
        ),
    ],
)
def test_bad_payloads_name_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(SchemaError) as err:
        parse_event(json.dumps(payload).encode())
    assert str(err.value).startswith("invalid event: ")
    assert field in str(err.value)


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b"null", b"\xff\xfe"])
def test_garbage_is_refused(raw: bytes) -> None:
    with pytest.raises(SchemaError, match="invalid event"):
        parse_event(raw)


def test_huge_payload_is_refused_before_parsing() -> None:
    raw = json.dumps({**BASE, "type": "subscription_paused", "reason": "x" * MAX_EVENT_BYTES})
    with pytest.raises(SchemaError, match="limit"):
        parse_event(raw.encode())


def test_events_from_stored_objects_have_stable_ids() -> None:
    record = TasteRecord(id="r" * 128, user="u1", coffee="c1", notes="cherry")
    feedback = Feedback(id="f1", user="u1", coffee="c1", signal="rated", rating=2)
    tasting = from_record(record, vector=[0.0] * 128)
    assert tasting.event_id == "tasting:" + "r" * 128
    assert tasting.event_time == record.timestamp
    assert from_record(record, vector=[0.0] * 128) == tasting
    reaction = from_feedback(feedback)
    assert (reaction.event_id, reaction.rating, reaction.signal) == ("feedback:f1", 2, "rated")
    with pytest.raises(ValueError):
        from_record(record, vector=[0.0] * 3)  # a taste vector has 128 numbers


def test_json_schema_is_committed_and_current() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "events.schema.json"
    assert doc.read_text(encoding="utf-8") == json_schema_text(), (
        "regenerate: python -m taste2vec.stream.events > docs/events.schema.json"
    )
    schema = json_schema()
    tags = set(schema["discriminator"]["mapping"])
    assert tags == set(EVENT_TYPES)


@pytest.mark.parametrize(("signal", "rating"), [("rated", None), ("liked", 4)])
def test_feedback_rating_only_with_rated(signal: str, rating: int | None) -> None:
    payload = {**BASE, "type": "feedback_given", "feedback": "f", "coffee": "c", "signal": signal}
    with pytest.raises(SchemaError, match="exactly when signal is 'rated'"):
        parse_event({**payload, "rating": rating})
