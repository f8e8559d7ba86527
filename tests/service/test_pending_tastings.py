"""A tasting runs no model on its write path. A cached user's state takes the tastings
stored through this process at its next read, in one model call (``_Cached.pending``);
the relay embeds the published ``tasting_logged`` events in one batch."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.text import HFSentenceEncoder
from taste2vec.schema import TasteRecord
from taste2vec.service import TasteService, seed_demo
from taste2vec.service.core import HISTORY
from taste2vec.service.relay import OutboxRelay
from taste2vec.store import Store, create_store
from taste2vec.stream.log import EventLog

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
USER = "embed-once"


def _record(rid: str, notes: str = "jasmine and bergamot, very bright", i: int = 0) -> TasteRecord:
    return TasteRecord(
        id=rid, user=USER, timestamp=T0 + timedelta(minutes=i), notes=notes,
        metrics={"acidity": 8},
    )  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = create_store(f"sqlite:///{tmp_path / 'store.db'}")
    seed_demo(opened, tmp_path / "keys.json")
    yield opened
    opened.close()


def _published(log: EventLog, event_id: str) -> dict[str, Any]:
    for partition in range(log.partitions):
        offset = 0
        while batch := log.read(partition, offset, 1000):
            for entry in batch:
                value: dict[str, Any] = json.loads(entry.value)
                if value["event_id"] == event_id:
                    return value
            offset = batch[-1].offset + 1
    raise AssertionError(f"{event_id} was not published")


def _counting(model: Taste2Vec, monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """Every model call's output, in order (the instance's ``embed``, as the write path,
    the engine and the relay call it)."""
    calls: list[np.ndarray] = []
    embed = model.embed

    def counted(records: Sequence[TasteRecord], *args: Any, **kwargs: Any) -> np.ndarray:
        out = embed(records, *args, **kwargs)
        calls.append(out)
        return out

    monkeypatch.setattr(model, "embed", counted)
    return calls


def _relay_held(service: TasteService, event_log: EventLog) -> OutboxRelay:
    """Publishing on, but the relay's loop stopped: the test runs its passes."""
    relay = service.start_publishing(event_log, interval_s=0.01)
    service.stop_loop("outbox-relay")  # its stop hook publishes the demo's history
    relay.drain(timeout_s=60)
    return relay


def _wait(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


Cached = tuple[TasteService, list[np.ndarray]]


@pytest.fixture
def cached(
    tiny_model_dir: Path, minilm: HFSentenceEncoder, store: Store, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cached]:
    """A service whose state of USER is cached, and its model's calls from then on."""
    model = Taste2Vec.load(tiny_model_dir, text_encoder=minilm)
    service = TasteService(store, model)
    try:
        service.recommend(USER, 3)
        yield service, _counting(model, monkeypatch)
    finally:
        service.close()


@pytest.mark.slow
def test_a_cached_users_tastings_are_embedded_by_the_next_read_in_one_call(
    cached: Cached,
) -> None:
    service, calls = cached
    records = [_record(f"pending-{i}", notes=f"plum, cocoa and {i} raisins", i=i) for i in range(3)]
    for record in records:
        assert service.add_record(record).created
    assert calls == []  # the write path ran no model
    assert not service.add_record(records[0]).created  # a retry adds nothing pending
    state = service._user_state(USER)
    assert len(calls) == 1 and len(calls[0]) == 3  # one call for the three
    assert {r.id for r in records} <= set(state.tastings)
    service._user_state(USER)
    assert len(calls) == 1  # nothing pending any more
    incremental = state.vector()
    with service._lock:
        del service._states[USER]  # rebuilt from the store: the same taste vector
    rebuilt = service._user_state(USER).vector()
    assert incremental is not None and rebuilt is not None
    np.testing.assert_allclose(incremental, rebuilt, atol=1e-6)


@pytest.mark.slow
def test_the_relay_embeds_the_published_tastings_in_one_batch(
    cached: Cached, store: Store, event_log: EventLog
) -> None:
    service, calls = cached
    relay = _relay_held(service, event_log)
    calls.clear()  # the demo's history, published by _relay_held
    records = [_record(f"batch-{i}", notes=f"cherry and {i} almonds", i=i) for i in range(4)]
    for record in records:
        assert service.add_record(record).created
    assert calls == []
    assert relay.drain() >= 4
    assert len(calls) == 1 and len(calls[0]) == 4  # one batch for the relay's pass
    stored = store.records_by_id([r.id for r in records])
    model = service.holder.snapshot().model
    for record in records:
        event = _published(event_log, f"tasting:{record.id}")
        alone = model.embed([stored[record.id]])[0]  # up to float32 rounding of a batch
        np.testing.assert_allclose(event["vector"], alone, atol=1e-6)


@pytest.mark.slow
def test_past_history_pending_tastings_the_cached_state_is_rebuilt_instead(
    cached: Cached,
) -> None:
    service, calls = cached
    for i in range(HISTORY + 1):
        assert service.add_record(_record(f"many-{i}", notes=f"note {i}", i=i)).created
    assert calls == [] and USER not in service._states  # dropped, not grown
    state = service._user_state(USER)  # rebuilt from the store's last HISTORY tastings
    assert f"many-{HISTORY}" in state.tastings
    assert len(calls) == 1 and len(calls[0]) == HISTORY


@pytest.mark.slow
def test_an_uncached_users_tasting_is_published_with_its_vector(
    tiny_model_dir: Path, minilm: HFSentenceEncoder, store: Store, event_log: EventLog
) -> None:
    service = TasteService(store, Taste2Vec.load(tiny_model_dir, text_encoder=minilm))
    try:
        relay = service.start_publishing(event_log, interval_s=0.01)
        assert service.add_record(_record("uncached-1").model_copy(update={"user": "x"})).created
        assert "x" not in service._states
        _wait(lambda: store.count_unpublished() == 0, timeout=60)
        assert relay.stats.enrich_failures == 0
        assert len(_published(event_log, "tasting:uncached-1")["vector"]) == 128
    finally:
        service.close()
