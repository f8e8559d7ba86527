"""Schema validation: bad, missing and out-of-range values get errors naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import ValidationError

from taste2vec.errors import SchemaError
from taste2vec.schema import (
    METRIC_NAMES,
    METRICS,
    Context,
    Feedback,
    FeedbackSignal,
    Metrics,
    TasteRecord,
    parse_coffee,
    parse_feedback,
    parse_record,
)


def test_exactly_twenty_named_metrics_with_units_and_seed_ten_first() -> None:
    assert len(METRICS) == 20
    assert len(set(METRIC_NAMES)) == 20
    seed = {"water_temp_c", "grind_size_um", "brew_ratio", "brew_time_s", "acidity"}
    seed |= {"sweetness", "bitterness", "body", "aftertaste", "balance"}
    assert seed <= set(METRIC_NAMES)
    assert all(m.unit and m.low < m.high and m.description for m in METRICS)
    assert set(Metrics.model_fields) == set(METRIC_NAMES)


def test_missing_metrics_are_masked_not_zero() -> None:
    m = Metrics(acidity=0.0, body=7.5)
    values, mask = m.to_arrays()
    assert mask.sum() == 2
    i_acid, i_body, i_sweet = (METRIC_NAMES.index(n) for n in ("acidity", "body", "sweetness"))
    assert mask[i_acid] == 1 and values[i_acid] == 0.0  # a real zero stays observed
    assert mask[i_body] == 1 and values[i_body] == 7.5
    assert mask[i_sweet] == 0
    assert m.observed() == {"acidity": 0.0, "body": 7.5}


@pytest.mark.parametrize(
    ("field", "value", "expect"),
    [
        ("acidity", 11, "metrics.acidity"),
        ("acidity", -0.1, "metrics.acidity"),
        ("water_temp_c", 130, "0 to 100 °C"),
        ("brew_ratio", 0.5, "1 to 30"),
        ("grind_size_um", "coarse", "metrics.grind_size_um"),
        ("body", float("nan"), "finite"),
        ("body", float("inf"), "metrics.body"),
    ],
)
def test_out_of_range_metric_names_field_and_range(field: str, value: object, expect: str) -> None:
    with pytest.raises(SchemaError) as info:
        parse_record({"id": "r1", "user": "u1", "metrics": {field: value}})
    assert expect in str(info.value)
    assert info.value.errors[0][0] == f"metrics.{field}"


def test_unknown_fields_and_metrics_are_rejected() -> None:
    with pytest.raises(SchemaError, match="metrics.sourness"):
        parse_record({"id": "r1", "user": "u1", "metrics": {"sourness": 3}})
    with pytest.raises(SchemaError, match="colour"):
        parse_record({"id": "r1", "user": "u1", "colour": "brown"})


def test_required_and_malformed_ids() -> None:
    with pytest.raises(SchemaError, match="id: Field required"):
        parse_record({"user": "u1"})
    with pytest.raises(SchemaError, match="user"):
        parse_record({"id": "r1", "user": "has space"})
    with pytest.raises(SchemaError, match="id"):
        parse_record({"id": "", "user": "u1"})


def test_notes_length_limit() -> None:
    with pytest.raises(SchemaError, match="notes"):
        parse_record({"id": "r1", "user": "u1", "notes": "x" * 5001})


def test_context_enums_and_ranges() -> None:
    ctx = Context(hour=7, social_setting="friends", location_type="cafe")  # type: ignore[arg-type]
    assert ctx.social_setting is not None and ctx.social_setting.value == "friends"
    with pytest.raises(ValidationError, match="social_setting"):
        Context(social_setting="crowd")  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match=r"context\.hour"):
        parse_record({"id": "r", "user": "u", "context": {"hour": 24}})
    with pytest.raises(SchemaError, match=r"context\.humidity_pct"):
        parse_record({"id": "r", "user": "u", "context": {"humidity_pct": 101}})
    assert set(Context.model_fields) == {
        "hour",
        "weekday",
        "weather_temp_c",
        "humidity_pct",
        "mood",
        "stress",
        "energy",
        "hunger",
        "social_setting",
        "location_type",
    }


def test_timestamps_are_normalised_to_utc() -> None:
    kst = timezone(timedelta(hours=9))
    rec = parse_record({"id": "r", "user": "u", "timestamp": datetime(2026, 1, 1, 9, tzinfo=kst)})
    assert rec.timestamp == datetime(2026, 1, 1, 0, tzinfo=UTC)
    naive = parse_record({"id": "r", "user": "u", "timestamp": "2026-01-01T09:00:00"})
    assert naive.timestamp.tzinfo is not None and naive.timestamp.hour == 9


def test_json_round_trip_is_lossless() -> None:
    rec = TasteRecord(
        id="r1",
        user="u1",
        notes="자몽, 꿀, bright",
        metrics=Metrics(acidity=7, water_temp_c=93),
        context=Context(hour=8, mood=6),
    )
    assert parse_record(rec.model_dump_json()) == rec
    assert json.loads(rec.model_dump_json())["metrics"]["sweetness"] is None


def test_feedback_rating_rules() -> None:
    fb = parse_feedback({"id": "f", "user": "u", "coffee": "c", "signal": "rated", "rating": 5})
    assert fb.preference == 1.0
    with pytest.raises(SchemaError, match="rating"):
        parse_feedback({"id": "f", "user": "u", "coffee": "c", "signal": "rated"})
    with pytest.raises(SchemaError, match="rating"):
        parse_feedback({"id": "f", "user": "u", "coffee": "c", "signal": "rated", "rating": 6})
    with pytest.raises(SchemaError, match="rating is only allowed"):
        parse_feedback({"id": "f", "user": "u", "coffee": "c", "signal": "liked", "rating": 4})
    with pytest.raises(SchemaError, match="signal"):
        parse_feedback({"id": "f", "user": "u", "coffee": "c", "signal": "meh"})
    prefs = [
        Feedback(id="f", user="u", coffee="c", signal=s).preference
        for s in (FeedbackSignal.LIKED, FeedbackSignal.DISLIKED, FeedbackSignal.SKIPPED)
    ]
    assert prefs == [1.0, -1.0, -0.25]


def test_coffee_validation() -> None:
    c = parse_coffee({"id": "c1", "name": "Kenya AA", "process": "washed", "stock": 3})
    assert c.stock == 3 and c.metrics.acidity is None
    with pytest.raises(SchemaError, match="stock"):
        parse_coffee({"id": "c1", "name": "x", "stock": -1})
    with pytest.raises(SchemaError, match="process"):
        parse_coffee({"id": "c1", "name": "x", "process": "sun-dried-ish"})


def test_records_are_immutable() -> None:
    rec = TasteRecord(id="r", user="u")
    with pytest.raises(ValidationError):
        rec.notes = "changed"  # type: ignore[misc]
    values, _ = rec.metrics.to_arrays()
    values[0] = 99.0
    assert rec.metrics.water_temp_c is None
    assert np.all(rec.metrics.to_arrays()[1] == 0)


def test_schema_docs_match_the_code() -> None:
    from pathlib import Path

    from taste2vec.schema.docs import render

    doc = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
    assert doc.read_text() == render(), (
        "regenerate: python -m taste2vec.schema.docs > docs/schema.md"
    )


def test_range_hint_only_for_fields_under_metrics() -> None:
    from taste2vec.schema.records import _range_hint

    assert "allowed: 0 to 10" in _range_hint(("metrics", "acidity"))
    assert _range_hint(("body",)) == ""  # e.g. a request body, not the metric 'body'
    assert _range_hint(("rating",)) == ""
