"""The service publishes its events: outbox -> relay -> event log, at-least-once,
in order, enriched with vectors, surviving a log outage and a crash mid-publish."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from taste2vec.errors import StoreError
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.text import HFSentenceEncoder
from taste2vec.schema import Feedback, TasteRecord
from taste2vec.service import TasteService, seed_demo
from taste2vec.service.relay import EventBuffer, OutboxRelay
from taste2vec.store import Store, create_store
from taste2vec.stream.events import BoxRated, Event, LabSession, parse_event
from taste2vec.stream.log import EventLog
from tests.stream.conftest import FAST_CONSUMER, PARTITIONS, make_tansu_broker  # noqa: F401

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = create_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


def logged(log: EventLog) -> list[dict[str, object]]:
    """Every entry of the log, per partition in offset order, as JSON objects."""
    out: list[dict[str, object]] = []
    for partition in range(log.partitions):
        offset = 0
        while batch := log.read(partition, offset, 1000):
            out += [json.loads(e.value) | {"_key": e.key} for e in batch]
            offset = batch[-1].offset + 1
    return out


def _box(eid: str, user: str = "ana", rating: int = 4) -> BoxRated:
    return BoxRated(event_id=eid, user=user, event_time=T0, box="box-1", rating=rating)


class FlakyLog:
    """Wraps a log; the first ``failures`` appends raise, like a broker that is down."""

    def __init__(self, inner: EventLog, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.calls = 0

    @property
    def partitions(self) -> int:
        return self.inner.partitions

    def append(self, entries: Sequence[tuple[str, bytes]]) -> None:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("broker unavailable")
        self.inner.append(entries)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def _wait(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("condition not met within the deadline")


def test_relay_publishes_in_seq_order_keyed_by_user_and_marks(
    store: Store, event_log: EventLog
) -> None:
    store.add_record(TasteRecord(id="r1", user="ana", timestamp=T0, notes="plum"))
    for i in range(5):
        store.add_event(_box(f"b{i}", user="ana", rating=1 + i))
    store.add_event(_box("other", user="bob"))
    relay = OutboxRelay(store, event_log, interval_s=0.01).start()
    try:
        _wait(lambda: store.count_unpublished() == 0)
    finally:
        relay.stop()
    assert not relay.running
    entries = logged(event_log)
    ana = [e["event_id"] for e in entries if e["_key"] == "ana"]
    assert ana == ["tasting:r1", "b0", "b1", "b2", "b3", "b4"]  # one partition, in order
    assert [e["event_id"] for e in entries if e["_key"] == "bob"] == ["other"]
    assert all(parse_event({k: v for k, v in e.items() if k != "_key"}) for e in entries)
    assert relay.stats.published == 7


def test_a_log_outage_is_retried_and_nothing_is_dropped(store: Store, event_log: EventLog) -> None:
    flaky = FlakyLog(event_log, failures=3)
    for i in range(20):
        store.add_event(_box(f"b{i}"))
    relay = OutboxRelay(store, flaky, interval_s=0.01, batch=7).start()  # type: ignore[arg-type]
    try:
        _wait(lambda: store.count_unpublished() == 0)
        store.add_event(_box("late"))
        relay.notify()
        _wait(lambda: store.count_unpublished() == 0)
    finally:
        relay.stop()
    assert relay.stats.failures == 3 and flaky.calls > 3
    assert "broker unavailable" in (relay.stats.last_error or "")
    ids = [e["event_id"] for e in logged(event_log)]
    assert ids == [f"b{i}" for i in range(20)] + ["late"]  # no loss, no duplicate


def test_a_crash_between_append_and_mark_republishes(
    store: Store, event_log: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At-least-once: the rows appended before the crash are appended again; the
    stream worker deduplicates them by event_id."""
    for i in range(3):
        store.add_event(_box(f"b{i}"))
    relay = OutboxRelay(store, event_log)

    def crash(_: Sequence[int]) -> int:
        raise RuntimeError("killed before mark_published")

    monkeypatch.setattr(store, "mark_published", crash)
    with pytest.raises(RuntimeError):
        relay.publish_once()
    monkeypatch.undo()
    assert store.count_unpublished() == 3
    restarted = OutboxRelay(store, event_log)  # the next start of the service
    assert restarted.drain() == 3
    ids = [e["event_id"] for e in logged(event_log)]
    assert ids == ["b0", "b1", "b2", "b0", "b1", "b2"]
    assert len(set(ids)) == 3 and store.count_unpublished() == 0


def test_enrich_failure_publishes_without_vectors(store: Store, event_log: EventLog) -> None:
    store.add_record(TasteRecord(id="r1", user="ana", timestamp=T0))
    store.add_event(_box("b1"))

    def broken(events: Sequence[Event]) -> Sequence[Event]:
        raise RuntimeError("model unavailable")

    relay = OutboxRelay(store, event_log, enrich=broken)
    assert relay.drain() == 2
    assert relay.stats.enrich_failures == 1
    first = logged(event_log)[0]
    assert first["event_id"] == "tasting:r1" and "vector" not in first


def test_event_buffer_batches_into_the_outbox(store: Store) -> None:
    woken: list[int] = []
    buffer = EventBuffer(store, on_written=lambda: woken.append(1), interval_s=0.01).start()
    for i in range(50):
        buffer.put(_box(f"b{i}"))
    _wait(lambda: store.count_unpublished() == 50)
    buffer.put(_box("b0"))  # a repeat is idempotent
    buffer.stop()
    assert store.count_unpublished() == 50 and buffer.written == 51 and woken


def test_event_buffer_keeps_events_while_the_store_fails(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = EventBuffer(store, max_pending=3)
    for i in range(2):
        buffer.put(_box(f"b{i}"))

    def down(_: Sequence[Event]) -> list[object]:
        raise StoreError("database is down")

    monkeypatch.setattr(store, "add_events", down)
    with pytest.raises(StoreError):
        buffer.flush()
    for i in range(2, 4):
        buffer.put(_box(f"b{i}"))  # over the bound: the oldest is dropped and counted
    monkeypatch.undo()
    assert buffer.flush() == 3 and buffer.dropped == 1
    assert [r.event_id for r in store.unpublished_events()] == ["b1", "b2", "b3"]


@pytest.mark.slow
def test_service_publishes_vectors_shown_events_and_app_events(
    tiny_model_dir: Path, minilm: HFSentenceEncoder, tmp_path: Path, event_log: EventLog
) -> None:
    store = create_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        seed_demo(store, tmp_path / "keys.json")
        service = TasteService(store, Taste2Vec.load(tiny_model_dir, text_encoder=minilm))
        try:
            relay = service.start_publishing(event_log, interval_s=0.01)
            _wait(lambda: store.count_unpublished() == 0, timeout=60)  # the demo's history
            record = TasteRecord(id="svc-r1", user="new-user", timestamp=T0, notes="jasmine")
            assert service.add_record(record).created
            fb = Feedback(id="svc-f1", user="new-user", coffee="demo-002", signal="liked")
            assert service.add_feedback(fb).created
            lab = LabSession(
                event_id="lab-1", user="new-user", event_time=T0, recipe="V60 4:6", rating=4
            )
            assert service.add_event(lab).created and not service.add_event(lab).created
            recs = service.recommend("new-user", 3)
            request = service.recommendation_shown("new-user", [r.coffee_id for r in recs])
            _wait(lambda: store.count_unpublished() == 0 and store.get_event(f"shown:{request}"))
            assert relay.stats.published > 0
        finally:
            service.close()
        assert service.relay is None and not relay.running
        mine = [e for e in logged(event_log) if e["_key"] == "new-user"]
        by_id = {str(e["event_id"]): e for e in mine}
        assert set(by_id) == {"tasting:svc-r1", "feedback:svc-f1", "lab-1", f"shown:{request}"}
        vector = by_id["tasting:svc-r1"]["vector"]
        assert isinstance(vector, list) and len(vector) == 128
        shown = by_id[f"shown:{request}"]
        assert shown["type"] == "recommendation_shown" and shown["coffees"] == [
            r.coffee_id for r in recs
        ]
        demo = [e for e in logged(event_log) if str(e["_key"]).startswith("demo-")]
        assert len(demo) == len(list(store.all_records())) + len(list(store.all_feedback())) - 2
    finally:
        store.close()


@pytest.mark.slow
def test_relay_survives_a_kafka_broker_restart(
    store: Store,
    make_tansu_broker: Callable[[], Any],  # noqa: F811 - the fixture
) -> None:
    """A real broker (Tansu) is killed while the relay runs: appends fail, the rows stay
    unpublished and are retried with backoff; after the restart every one of them is in
    the log. (This Tansu build keeps its data in memory, so entries acknowledged before
    the kill are gone with it; the relay's guarantee is about its own rows.)"""
    from taste2vec.stream.log.kafka import KafkaLog

    broker = make_tansu_broker()
    kafka = KafkaLog(
        broker.bootstrap,
        "relay",
        PARTITIONS,
        producer_config={"message.timeout.ms": 2000},
        consumer_config=FAST_CONSUMER,
        timeout_s=5,
    )
    relay = OutboxRelay(store, kafka, interval_s=0.05, max_backoff_s=0.5).start()
    try:
        for i in range(10):
            store.add_event(_box(f"before-{i}", user=f"u{i % 3}"))
        _wait(lambda: store.count_unpublished() == 0, timeout=30)
        broker.kill()
        for i in range(20):
            store.add_event(_box(f"during-{i}", user=f"u{i % 3}"))
        relay.notify()
        _wait(lambda: relay.stats.failures >= 2, timeout=60)
        assert store.count_unpublished() == 20  # nothing marked while the log is down
        broker.start()
        kafka.ensure_topic()  # the memory-only broker lost the topic
        _wait(lambda: store.count_unpublished() == 0, timeout=60)
    finally:
        relay.stop()
        kafka.close()
    assert relay.stats.last_error is not None
    reopened = KafkaLog(broker.bootstrap, "relay", consumer_config=FAST_CONSUMER, timeout_s=5)
    try:
        ids = {str(e["event_id"]) for e in logged(reopened)}
    finally:
        reopened.close()
    assert {f"during-{i}" for i in range(20)} <= ids


def test_relay_prunes_published_rows_and_a_failing_prune_does_not_stop_it(
    store: Store, event_log: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add_record(TasteRecord(id="r1", user="ana", timestamp=T0))
    store.add_event(_box("b1"))  # an app event: kept as its idempotency record
    relay = OutboxRelay(
        store, event_log, interval_s=0.01, retention=timedelta(0), prune_every_s=0
    ).start()
    try:
        # Published, then pruned (the counter moves just after the delete commits).
        _wait(lambda: store.get_event("tasting:r1") is None and relay.stats.pruned >= 1)
        assert store.get_event("b1") is not None

        def broken(older_than: timedelta) -> int:
            raise StoreError("database is locked")

        monkeypatch.setattr(store, "prune_outbox", broken)
        _wait(lambda: relay.stats.prune_failures >= 1)
        store.add_record(TasteRecord(id="r2", user="ana", timestamp=T0))
        relay.notify()
        _wait(lambda: store.count_unpublished() == 0)  # still publishing
    finally:
        relay.stop()
    assert [e["event_id"] for e in logged(event_log)] == ["tasting:r1", "b1", "tasting:r2"]


def test_relay_without_retention_never_prunes(store: Store, event_log: EventLog) -> None:
    store.add_record(TasteRecord(id="r1", user="ana", timestamp=T0))
    relay = OutboxRelay(store, event_log, interval_s=0.01, prune_every_s=0).start()
    try:
        _wait(lambda: store.count_unpublished() == 0)
    finally:
        relay.stop()
    assert relay.prune() == 0 and store.get_event("tasting:r1") is not None


def test_the_embedded_worker_keeps_at_most_the_configured_keyed_states(
    event_log: EventLog, tmp_path: Path
) -> None:
    """T2V_STREAM_MAX_KEYS reaches the in-service stream worker (and its default is the
    stream worker's own)."""
    from taste2vec.config import Settings
    from taste2vec.service.stream import EmbeddedWorker
    from taste2vec.stream.worker import DEFAULT_MAX_KEYS

    assert Settings().stream_max_keys == DEFAULT_MAX_KEYS
    worker = EmbeddedWorker(event_log, tmp_path / "state.db", 300.0, max_keys=7)
    try:
        assert worker._first is not None and worker._first.max_keys == 7
    finally:
        worker.close()
    with pytest.raises(ValueError, match="stream_max_keys"):
        Settings(stream_max_keys=0)
