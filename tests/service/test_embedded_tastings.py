"""A tasting is embedded once: the vector the write path computes for a cached user's state
is the one its ``tasting_logged`` event is published with (``service.embedded``), as long
as the record and the model version are the same; otherwise the relay computes it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.text import HFSentenceEncoder
from taste2vec.schema import TasteRecord
from taste2vec.service import TasteService, seed_demo
from taste2vec.service.embedded import EmbeddedTastings
from taste2vec.service.relay import OutboxRelay
from taste2vec.store import Store, create_store
from taste2vec.stream.log import EventLog

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
USER = "embed-once"


def _record(rid: str, notes: str = "jasmine and bergamot, very bright") -> TasteRecord:
    return TasteRecord(id=rid, user=USER, timestamp=T0, notes=notes, metrics={"acidity": 8})


def test_the_cache_gives_a_vector_only_for_the_same_record_and_model_version() -> None:
    cache = EmbeddedTastings(max_size=2)
    vec = np.arange(128, dtype=np.float32)
    cache.put(_record("a"), 3, vec)
    assert cache.take(_record("a"), 3) is vec and len(cache) == 0  # taken once
    cache.put(_record("a"), 3, vec)
    assert cache.take(_record("a"), 4) is None  # another model version
    cache.put(_record("a"), 3, vec)
    assert cache.take(_record("a", notes="other notes"), 3) is None  # other content
    for rid in ("a", "b", "c"):
        cache.put(_record(rid), 3, vec)
    assert len(cache) == 2 and cache.take(_record("a"), 3) is None  # the oldest left
    entry = cache.put(_record("b"), 3, vec)
    newer = cache.put(_record("b"), 3, vec)
    cache.discard(entry)  # an older entry's discard leaves the newer one
    assert cache.take(_record("b"), 3) is newer.vector
    assert (cache.reused, cache.computed) == (2, 3)
    with pytest.raises(ValueError, match="at least 1"):
        EmbeddedTastings(max_size=0)


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


@pytest.mark.slow
def test_a_cached_users_tasting_is_embedded_once(
    tiny_model_dir: Path,
    minilm: HFSentenceEncoder,
    store: Store,
    event_log: EventLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = Taste2Vec.load(tiny_model_dir, text_encoder=minilm)
    service = TasteService(store, model)
    try:
        relay = _relay_held(service, event_log)
        service.recommend(USER, 3)  # the user's state is cached from here on
        calls = _counting(model, monkeypatch)
        before = (service.embedded.reused, service.embedded.computed)  # the demo's history
        record = _record("once-1")
        assert service.add_record(record).created
        assert len(calls) == 1  # the write path's embedding, used by the state too
        assert record.id in service._user_state(USER).tastings
        assert relay.drain() >= 1
        assert len(calls) == 1  # the relay did not run the model again
        assert (service.embedded.reused, service.embedded.computed) == (before[0] + 1, before[1])
        event = _published(event_log, "tasting:once-1")
        assert event["vector"] == [float(x) for x in calls[0][0]]
        # the same as the relay would have computed (up to float32 rounding of a batch)
        again = model.embed([store.records_by_id(["once-1"])["once-1"]])[0]
        np.testing.assert_allclose(event["vector"], again, atol=1e-6)

        assert not service.add_record(record).created  # a retry: nothing left behind
        assert len(service.embedded) == 0
    finally:
        service.close()


@pytest.mark.slow
def test_the_relay_embeds_again_after_a_model_swap(
    tiny_model_dir: Path,
    minilm: HFSentenceEncoder,
    store: Store,
    event_log: EventLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = TasteService(store, Taste2Vec.load(tiny_model_dir, text_encoder=minilm))
    try:
        relay = _relay_held(service, event_log)
        service.recommend(USER, 3)
        before = (service.embedded.reused, service.embedded.computed)  # the demo's history
        assert service.add_record(_record("swap-1")).created
        assert len(service.embedded) == 1
        swapped = Taste2Vec.load(tiny_model_dir, text_encoder=minilm)
        service.holder.swap(swapped)  # promoted between the write and its publication
        calls = _counting(swapped, monkeypatch)
        relay.drain()
        assert len(calls) == 1 and len(calls[0]) == 1  # the new model embedded the tasting
        assert (service.embedded.reused, service.embedded.computed) == (before[0], before[1] + 1)
        event = _published(event_log, "tasting:swap-1")
        assert event["vector"] == [float(x) for x in calls[0][0]]
    finally:
        service.close()


@pytest.mark.slow
def test_without_a_relay_or_for_an_uncached_user_nothing_is_kept(
    tiny_model_dir: Path, minilm: HFSentenceEncoder, store: Store, event_log: EventLog
) -> None:
    service = TasteService(store, Taste2Vec.load(tiny_model_dir, text_encoder=minilm))
    try:
        service.recommend(USER, 3)
        assert service.add_record(_record("no-relay-1")).created  # not publishing
        assert len(service.embedded) == 0
        relay = service.start_publishing(event_log, interval_s=0.01)
        assert service.add_record(_record("uncached-1").model_copy(update={"user": "x"})).created
        assert len(service.embedded) == 0  # user x has no cached state: the relay embeds
        _wait(lambda: store.count_unpublished() == 0, timeout=60)
        assert relay.stats.enrich_failures == 0
        assert len(_published(event_log, "tasting:uncached-1")["vector"]) == 128
    finally:
        service.close()
