"""The transactional outbox: events committed with their writes, idempotent app events,
publication order and marking, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from taste2vec.errors import ConflictError, NotFoundError, SchemaError
from taste2vec.store import Store
from taste2vec.stream.events import (
    BoxRated,
    SubscriptionPaused,
    from_feedback,
    from_record,
    parse_event,
)
from tests.store.helpers import T0, make_coffee, make_feedback, make_record


def _paused(eid: str, user: str = "ana", minutes: float = 0, **extra: object) -> SubscriptionPaused:
    return SubscriptionPaused(
        event_id=eid, user=user, event_time=T0 + timedelta(minutes=minutes), **extra
    )


def test_a_stored_record_and_feedback_queue_their_events(store: Store) -> None:
    store.upsert_coffees([make_coffee("c1")])
    record = make_record("r1", coffee="c1", metrics={"acidity": 7})
    feedback = make_feedback("f1", "c1", signal="rated", rating=4)
    store.add_record(record)
    store.add_feedback(feedback)
    rows = store.unpublished_events()
    assert [r.event_id for r in rows] == ["tasting:r1", "feedback:f1"]
    assert [r.event_type for r in rows] == ["tasting_logged", "feedback_given"]
    assert parse_event(rows[0].payload) == from_record(record)
    assert parse_event(rows[1].payload) == from_feedback(feedback)
    assert rows[0].user_id == "ana" and rows[0].seq < rows[1].seq
    assert store.get_event("feedback:f1") == from_feedback(feedback)


def test_a_repeated_write_queues_its_event_once(store: Store) -> None:
    store.upsert_coffees([make_coffee("c1")])
    for _ in range(3):
        store.add_record(make_record("r1"))
        store.add_feedback(make_feedback("f1", "c1"))
    assert [r.event_id for r in store.unpublished_events()] == ["tasting:r1", "feedback:f1"]


def test_a_refused_write_queues_no_event(store: Store) -> None:
    store.add_record(make_record("r1"))
    with pytest.raises(ConflictError):
        store.add_record(make_record("r1", notes="different"))
    with pytest.raises(NotFoundError):  # unknown coffee: the whole transaction rolls back
        store.add_record(make_record("r2", coffee="no-such-coffee"))
    with pytest.raises(NotFoundError):
        store.add_feedback(make_feedback("f1", "no-such-coffee"))
    assert [r.event_id for r in store.unpublished_events()] == ["tasting:r1"]
    assert store.get_record("r2") is None and store.get_feedback("f1") is None


def test_a_failed_outbox_insert_rolls_the_record_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Atomicity the other way round: no record is committed without its event."""

    def broken(*_: object) -> bool:
        raise RuntimeError("outbox write failed")

    monkeypatch.setattr("taste2vec.store._events.stage_event", broken)
    with pytest.raises(RuntimeError, match="outbox write failed"):
        store.add_record(make_record("r1"))
    assert store.get_record("r1") is None
    assert store.unpublished_events() == []


def test_add_event_is_idempotent_by_event_id(store: Store) -> None:
    event = _paused("e1", reason="travelling")
    first = store.add_event(event)
    again = store.add_event(_paused("e1", reason="travelling"))
    assert first.created is True and first.record == event
    assert again.created is False and again.record == event
    assert store.get_user("ana") is not None  # created implicitly, like records
    with pytest.raises(ConflictError, match="'e1' already exists with different content"):
        store.add_event(_paused("e1", reason="other"))
    assert store.get_event("e1") == event
    assert store.count_unpublished() == 1


def test_add_events_reports_per_event(store: Store) -> None:
    store.add_event(_paused("e1"))
    box = BoxRated(event_id="b1", user="bob", event_time=T0, box="box-1", rating=4)
    out = store.add_events([_paused("e1"), box, _paused("e1", reason="changed"), box])
    assert [getattr(o, "created", None) for o in out] == [False, True, None, False]
    assert isinstance(out[2], ConflictError)
    assert [r.event_id for r in store.unpublished_events()] == ["e1", "b1"]


def test_add_event_refuses_other_objects(store: Store) -> None:
    with pytest.raises(SchemaError, match="takes a taste2vec.stream.events event"):
        store.add_event({"event_id": "x"})  # type: ignore[arg-type]


def test_unpublished_in_seq_order_with_limit_and_mark_published(store: Store) -> None:
    # Event time does not matter for publication order: arrival (seq) does.
    for i in range(7):
        store.add_event(_paused(f"e{i}", minutes=-i))
    first = store.unpublished_events(limit=3)
    assert [r.event_id for r in first] == ["e0", "e1", "e2"]
    assert store.mark_published([r.seq for r in first]) == 3
    assert store.mark_published([first[0].seq]) == 0  # already published
    assert [r.event_id for r in store.unpublished_events()] == ["e3", "e4", "e5", "e6"]
    assert store.count_unpublished() == 4
    rest = store.unpublished_events(limit=100)
    assert store.mark_published([r.seq for r in rest] + [10_000]) == 4
    assert store.unpublished_events() == [] and store.count_unpublished() == 0
    with pytest.raises(SchemaError):
        store.unpublished_events(limit=0)


def test_a_gap_committed_later_is_still_published(store: Store) -> None:
    """The relay selects by "unpublished", not "after the last seq": a row whose
    transaction commits after a later seq was published is not skipped."""
    store.add_event(_paused("e1"))
    store.add_event(_paused("e2"))
    rows = store.unpublished_events()
    store.mark_published([rows[1].seq])  # e2 first, as if e1's commit had been late
    assert [r.event_id for r in store.unpublished_events()] == ["e1"]


def test_concurrent_adds_of_one_event_create_it_once(store: Store) -> None:
    barrier = threading.Barrier(4)

    def add(_: int) -> bool:
        barrier.wait()
        return store.add_event(_paused("same", user="carol")).created

    with ThreadPoolExecutor(4) as pool:
        created = list(pool.map(add, range(4)))
    assert created.count(True) == 1
    assert [r.event_id for r in store.unpublished_events()] == ["same"]


def test_add_events_in_bulk_keeps_order_and_in_batch_repeats(store: Store) -> None:
    events = [_paused(f"bulk-{i}", user=f"user-{i % 50}") for i in range(600)]
    changed = _paused("bulk-0", user="user-0", reason="changed")
    out = store.add_events([*events, events[5], changed])
    assert [getattr(o, "created", None) for o in out] == [True] * 600 + [False, None]
    assert isinstance(out[-1], ConflictError)
    assert [r.event_id for r in store.unpublished_events(limit=1000)] == [
        e.event_id for e in events
    ]
    assert store.get_user("user-49") is not None
    assert store.add_events([]) == []
