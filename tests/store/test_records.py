"""Tasting records: idempotent ingestion, conflicts, ordering, limits, big and Korean text."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from taste2vec.errors import ConflictError, NotFoundError, SchemaError, StoreError
from taste2vec.schema import TasteRecord
from taste2vec.schema.records import MAX_NOTES_CHARS
from taste2vec.store import Store
from tests.store.helpers import T0, make_coffee, make_record


def test_add_then_duplicate_returns_stored_record_not_created(store: Store) -> None:
    record = make_record("r1", notes="jammy blueberry", metrics={"acidity": 7})
    first = store.add_record(record)
    again = store.add_record(make_record("r1", notes="jammy blueberry", metrics={"acidity": 7.0}))
    assert first.created is True and first.record == record
    assert again.created is False and again.record == record
    assert store.get_record("r1") == record
    assert len(store.records_for_user("ana")) == 1


def test_same_instant_in_another_time_zone_is_the_same_record(store: Store) -> None:
    store.add_record(make_record("r1"))
    seoul = T0.astimezone(timezone(timedelta(hours=9)))
    retry = TasteRecord(id="r1", user="ana", timestamp=seoul)
    assert store.add_record(retry).created is False


@pytest.mark.parametrize(
    "changed",
    [{"notes": "different"}, {"user": "bob"}, {"minutes": 1}, {"metrics": {"body": 3}}],
)
def test_same_id_with_different_content_is_a_conflict(store: Store, changed: dict) -> None:
    store.add_record(make_record("r1"))
    with pytest.raises(ConflictError, match="'r1' already exists with different content"):
        store.add_record(make_record("r1", **changed))
    assert store.get_record("r1") == make_record("r1")
    assert isinstance(ConflictError("x"), StoreError)


def test_out_of_order_arrivals_are_stored_and_read_in_event_order(store: Store) -> None:
    for rid, minutes in [("late", 30), ("early", 0), ("middle", 10), ("earliest", -60)]:
        assert store.add_record(make_record(rid, minutes=minutes)).created
    ids = [r.id for r in store.records_for_user("ana")]
    assert ids == ["earliest", "early", "middle", "late"]


def test_ties_on_timestamp_keep_arrival_order(store: Store) -> None:
    for rid in ["b", "a", "c"]:
        store.add_record(make_record(rid, minutes=5))
    assert [r.id for r in store.records_for_user("ana")] == ["b", "a", "c"]


def test_limit_and_before_give_the_latest_window_oldest_first(store: Store) -> None:
    for i in range(10):
        store.add_record(make_record(f"r{i}", minutes=i))
    store.add_record(make_record("other", user="bob", minutes=3))
    assert [r.id for r in store.records_for_user("ana", limit=3)] == ["r7", "r8", "r9"]
    window = store.records_for_user("ana", limit=3, before=T0 + timedelta(minutes=5))
    assert [r.id for r in window] == ["r2", "r3", "r4"]
    assert store.records_for_user("nobody") == []


def test_user_created_implicitly_and_unknown_coffee_rejected_by_id(store: Store) -> None:
    assert store.get_user("newbie") is None
    store.add_record(make_record("r1", user="newbie"))
    assert store.get_user("newbie") is not None
    with pytest.raises(NotFoundError, match="unknown coffee 'no-such-coffee'"):
        store.add_record(make_record("r2", coffee="no-such-coffee"))
    assert store.get_record("r2") is None
    store.upsert_coffees([make_coffee("c1")])
    assert store.add_record(make_record("r2", coffee="c1")).record.coffee == "c1"


def test_records_survive_deleting_their_coffee(store: Store) -> None:
    store.upsert_coffees([make_coffee("c1")])
    store.add_record(make_record("r1", coffee="c1"))
    assert store.delete_coffee("c1")
    assert store.get_record("r1") == make_record("r1", coffee="c1")
    # A retry of it is still the same write (200), and a different one still a conflict.
    assert store.add_record(make_record("r1", coffee="c1")).created is False
    with pytest.raises(ConflictError):
        store.add_record(make_record("r1", coffee="c1", notes="something else"))
    with pytest.raises(NotFoundError):  # a new id for the gone coffee: unknown
        store.add_record(make_record("r9", coffee="c1"))


def test_five_thousand_char_korean_note_and_context_round_trip(store: Store) -> None:
    korean = "자몽과 재스민, 꿀 같은 단맛. 산미가 밝고 바디는 가볍다. "
    notes = (korean * 200)[:MAX_NOTES_CHARS].strip()
    record = make_record(
        "kr-1",
        user="user-kr",
        notes=notes,
        metrics={"acidity": 7.25, "water_temp_c": 93.5, "brew_ratio": 16.0},
        context={"hour": 8, "mood": 6.5, "location_type": "home", "social_setting": "alone"},
    )
    store.add_record(record)
    stored = store.get_record("kr-1")
    assert stored == record
    assert stored is not None and stored.notes == notes and len(stored.notes) >= 4990
    assert store.add_record(record).created is False


def test_all_records_iterates_everything_in_arrival_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("taste2vec.store._events._BATCH", 4)
    ids = [f"r{i:02d}" for i in range(11)]
    for i, rid in enumerate(ids):
        store.add_record(make_record(rid, minutes=-i))
    assert [r.id for r in store.all_records()] == ids


def test_add_record_refuses_other_types(store: Store) -> None:
    with pytest.raises(SchemaError, match="takes a TasteRecord"):
        store.add_record({"id": "r1", "user": "ana"})  # type: ignore[arg-type]
