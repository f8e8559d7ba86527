"""The transactional outbox: events committed with their writes, idempotent app events,
publication order and marking, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update

from taste2vec.errors import ConflictError, NotFoundError, SchemaError
from taste2vec.schema import Feedback, TasteRecord
from taste2vec.store import Store, create_store, migrate
from taste2vec.store._base import payload_hash
from taste2vec.store._engine import make_engine
from taste2vec.store._experiment_tables import ExperimentRow
from taste2vec.store._tables import FeedbackRow, OutboxRow, RecordRow, UserRow
from taste2vec.stream.events import (
    BoxRated,
    Event,
    RecommendationShown,
    SubscriptionPaused,
    from_feedback,
    from_record,
    parse_event,
)
from tests.store.helpers import T0, make_coffee, make_feedback, make_record

DAYS_8 = timedelta(days=8)


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
    assert not store.has_unpublished()
    for i in range(7):
        store.add_event(_paused(f"e{i}", minutes=-i))
    first = store.unpublished_events(limit=3)
    assert [r.event_id for r in first] == ["e0", "e1", "e2"]
    assert store.mark_published([r.seq for r in first]) == 3
    assert store.mark_published([first[0].seq]) == 0  # already published
    assert [r.event_id for r in store.unpublished_events()] == ["e3", "e4", "e5", "e6"]
    assert store.count_unpublished() == 4 and store.has_unpublished()
    rest = store.unpublished_events(limit=100)
    assert store.mark_published([r.seq for r in rest] + [10_000]) == 4
    assert store.unpublished_events() == [] and store.count_unpublished() == 0
    assert not store.has_unpublished()  # the relay's cheap idle probe agrees
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


# --------------------------------------------------------------------------- back-fill


def _old_database(url: str, records: list[TasteRecord], feedback: list[Feedback]) -> None:
    """A database at revision 0001 holding ``records`` and ``feedback`` (inserted in list
    order, so ``seq`` is list order) with the columns 0001's store wrote."""
    migrate(url, "0001")
    engine = make_engine(url)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            users = sorted({o.user for o in [*records, *feedback]})
            if users:
                conn.execute(insert(UserRow), [{"id": u, "created_at": now} for u in users])

            def common(obj: TasteRecord | Feedback) -> dict[str, Any]:
                payload = obj.model_dump(mode="json")
                return {
                    "id": obj.id,
                    "user_id": obj.user,
                    "coffee_id": obj.coffee,
                    "timestamp": obj.timestamp,
                    "payload": payload,
                    "payload_hash": payload_hash(payload),
                    "received_at": now,
                }

            if records:
                conn.execute(insert(RecordRow), [common(r) for r in records])
            if feedback:
                rows = [
                    common(f) | {"signal": f.signal.value, "rating": f.rating} for f in feedback
                ]
                conn.execute(insert(FeedbackRow), rows)
    finally:
        engine.dispose()


def test_upgrading_an_old_database_back_fills_the_outbox_in_event_time_order(
    store_url: str,
) -> None:
    rng = random.Random(7)  # noqa: S311 - test data
    # 2,500 rows: more than one batch of the migration; event times shuffled against
    # arrival, with ties inside a table and between the two tables.
    records = [
        make_record(f"r{i}", user=f"u{i % 7}", minutes=rng.randrange(300), metrics={"body": 5})
        for i in range(1500)
    ]
    feedback = [
        make_feedback(f"f{i}", f"c{i % 5}", user=f"u{i % 7}", minutes=rng.randrange(300))
        for i in range(1000)
    ]
    _old_database(store_url, records, feedback)
    migrate(store_url)

    by_time = sorted(
        [(r.timestamp, 0, i, from_record(r)) for i, r in enumerate(records)]
        + [(f.timestamp, 1, i, from_feedback(f)) for i, f in enumerate(feedback)],
        key=lambda t: t[:3],
    )
    expected: list[Event] = [t[3] for t in by_time]
    with create_store(store_url) as store:
        rows = store.unpublished_events(limit=10_000)
        assert [parse_event(r.payload) for r in rows] == expected
        assert [r.seq for r in rows] == sorted(r.seq for r in rows)
        assert all("vector" not in r.payload for r in rows)  # the relay enriches them
        assert store.count_unpublished() == len(expected)
        # Exactly what the store itself queues: repeats create nothing, same hash.
        assert store.add_record(records[0]).created is False
        assert store.add_event(from_record(records[0])).created is False
        assert store.add_event(from_feedback(feedback[0])).created is False
        assert store.count_unpublished() == len(expected)
        first = [(r.seq, r.event_id) for r in rows]

    migrate(store_url)  # at head already: a no-op
    with create_store(store_url) as store:
        again = store.unpublished_events(limit=10_000)
        assert [(r.seq, r.event_id) for r in again] == first


def test_upgrading_an_empty_old_database_queues_nothing(store_url: str) -> None:
    _old_database(store_url, [], [])
    with create_store(store_url) as store:
        assert store.unpublished_events() == []


# --------------------------------------------------------------------------- pruning


def _age_published(store: Store, event_ids: list[str], age: timedelta) -> None:
    """Pretend these rows were published ``age`` ago."""
    with store._write() as session:
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.event_id.in_(event_ids))
            .values(published_at=datetime.now(UTC) - age)
        )


def test_prune_deletes_old_published_rows_of_prunable_types_only(store: Store) -> None:
    store.upsert_coffees([make_coffee("c1")])
    store.add_record(make_record("r-old"))
    store.add_feedback(make_feedback("f-old", "c1"))
    store.add_event(_paused("app-old"))  # an app event: its row is its idempotency record
    store.add_record(make_record("r-recent"))
    store.add_record(make_record("r-unpublished"))
    shown = RecommendationShown(
        event_id="shown:q1", user="ana", event_time=T0, request="q1", coffees=["c1"]
    )
    store.add_event(shown)
    rows = {r.event_id: r.seq for r in store.unpublished_events()}
    store.mark_published([s for e, s in rows.items() if e != "tasting:r-unpublished"])
    _age_published(store, ["tasting:r-old", "feedback:f-old", "app-old", "shown:q1"], DAYS_8)
    _age_published(store, ["tasting:r-recent"], timedelta(days=6))
    # An unpublished row is never pruned, however old.
    with store._write() as session:
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.event_id == "tasting:r-unpublished")
            .values(created_at=datetime.now(UTC) - DAYS_8)
        )

    assert store.prune_outbox(timedelta(days=7)) == 3
    assert store.prune_outbox(timedelta(days=7)) == 0
    left = ["app-old", "tasting:r-recent", "tasting:r-unpublished"]
    assert [e for e in rows if store.get_event(e) is not None] == left
    assert [r.event_id for r in store.unpublished_events()] == ["tasting:r-unpublished"]

    # Idempotency survives: tastings and feedback by their own tables, app events by
    # their kept outbox row. Nothing is queued again.
    assert store.add_record(make_record("r-old")).created is False
    assert store.add_feedback(make_feedback("f-old", "c1")).created is False
    assert store.add_event(_paused("app-old")).created is False
    with pytest.raises(ConflictError):
        store.add_event(_paused("app-old", reason="other"))
    with pytest.raises(ConflictError):
        store.add_record(make_record("r-old", notes="different"))
    assert [r.event_id for r in store.unpublished_events()] == ["tasting:r-unpublished"]

    assert store.prune_outbox(timedelta(0)) == 1  # r-recent; the unpublished row stays
    assert store.count_unpublished() == 1
    with pytest.raises(SchemaError, match="must not be negative"):
        store.prune_outbox(timedelta(seconds=-1))


def test_prune_works_in_batches_through_a_large_backlog(store: Store) -> None:
    events = [
        RecommendationShown(
            event_id=f"shown:{i}", user=f"u{i % 9}", event_time=T0, request=str(i), coffees=["c"]
        )
        for i in range(1234)
    ]
    store.add_events(events)
    store.mark_published([r.seq for r in store.unpublished_events(limit=2000)][:1200])
    assert store.prune_outbox(timedelta(0)) == 1200  # > one 500-row batch
    assert [r.event_id for r in store.unpublished_events(limit=2000)] == [
        f"shown:{i}" for i in range(1200, 1234)
    ]
    assert store.get_event("shown:0") is None


def test_prune_keeps_what_a_running_experiment_reads(store: Store) -> None:
    """An experiment may run longer than the retention: rows published since the oldest
    active experiment started stay until it ends."""
    shown = [
        RecommendationShown(
            event_id=f"shown:x{i}", user="ana", event_time=T0, request=f"x{i}", coffees=["c"]
        )
        for i in range(2)
    ]
    store.add_events(shown)
    store.mark_published([r.seq for r in store.unpublished_events()])
    _age_published(store, ["shown:x0"], timedelta(days=30))  # before the experiment
    with store._write() as session:  # an experiment that started 10 days ago
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.event_id == "shown:x1")
            .values(published_at=datetime.now(UTC) - DAYS_8)
        )
    exp = store.create_experiment(
        experiment_id="exp-long",
        model_name="taste2vec",
        control_version="1",
        treatment_version="2",
        treatment_share=0.1,
        salt="s",
        config={},
        created_by="test",
    )
    with store._write() as session:
        session.execute(
            update(ExperimentRow)
            .where(ExperimentRow.id == exp.id)
            .values(created_at=datetime.now(UTC) - timedelta(days=10))
        )
    assert store.prune_outbox(timedelta(days=7)) == 1  # x0 only: x1 is the experiment's
    assert store.get_event("shown:x1") is not None and store.get_event("shown:x0") is None
    with store._write() as session:  # the experiment ends
        session.execute(
            update(ExperimentRow).where(ExperimentRow.id == exp.id).values(active_model=None)
        )
    assert store.prune_outbox(timedelta(days=7)) == 1
    assert store.get_event("shown:x1") is None


def test_prune_keeps_a_running_experiments_pre_period(store: Store) -> None:
    """The controller's CUPED covariate reads the ``pre_period_s`` before an experiment's
    start (7 days by default): those rows stay while it is active."""
    shown = [
        RecommendationShown(
            event_id=f"shown:pre{i}", user="ana", event_time=T0, request=f"pre{i}", coffees=["c"]
        )
        for i in range(3)
    ]
    store.add_events(shown)
    store.mark_published([r.seq for r in store.unpublished_events()])
    _age_published(store, ["shown:pre0"], timedelta(days=20))  # before any pre-period
    _age_published(store, ["shown:pre1"], timedelta(days=14))  # in the default pre-period
    _age_published(store, ["shown:pre2"], timedelta(days=12))  # in both pre-periods
    for ident, config, days in (("exp-pre", {}, 10), ("exp-short", {"pre_period_s": 86400}, 10)):
        exp = store.create_experiment(
            experiment_id=ident,
            model_name=ident,
            control_version="1",
            treatment_version="2",
            treatment_share=0.1,
            salt="s",
            config=config,
            created_by="test",
        )
        with store._write() as session:
            session.execute(
                update(ExperimentRow)
                .where(ExperimentRow.id == exp.id)
                .values(created_at=datetime.now(UTC) - timedelta(days=days))
            )
    assert store.prune_outbox(timedelta(days=7)) == 1  # pre0 only
    assert store.get_event("shown:pre0") is None and store.get_event("shown:pre1") is not None
    with store._write() as session:  # the 7-day one ends: only the 1-day pre-period is kept
        session.execute(
            update(ExperimentRow).where(ExperimentRow.id == "exp-pre").values(active_model=None)
        )
    assert store.prune_outbox(timedelta(days=7)) == 2
    assert store.get_event("shown:pre1") is None and store.get_event("shown:pre2") is None
    with store._write() as session:
        session.execute(
            update(ExperimentRow).where(ExperimentRow.id == "exp-short").values(active_model=None)
        )
