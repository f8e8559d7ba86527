"""The worker's dedup: ids live in memory only until their checkpoint is confirmed, then
in the state store's ``dedup`` table (looked up per batch). Every case below must count an
event id once, whether its first copy is pending, in a checkpoint whose COMMIT is in
flight, in a checkpoint that failed, or durable (after a checkpoint or a restart)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from taste2vec.sim.stream.generate import generate
from taste2vec.sim.stream.reference import batch_aggregate
from taste2vec.stream.log import SQLiteLog
from taste2vec.stream.state import StateStore, StreamReader
from taste2vec.stream.worker import (
    DEFAULT_ALLOWED_LATENESS_S,
    DEFAULT_OUT_OF_ORDERNESS_S,
    StreamWorker,
    run_to_end,
)
from tests.stream.worker_helpers import all_entries, consume, failed_checkpoint

PARTS = 4
T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)


def _rating(i: int, user: str = "u1") -> tuple[str, bytes]:
    body = {
        "type": "box_rated",
        "event_id": f"r-{user}-{i}",
        "user": user,
        "event_time": (T0 + timedelta(seconds=10 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "box": f"b{i}",
        "rating": 4,
    }
    return user, json.dumps(body).encode()


def _worker(log: SQLiteLog, state: Path, **kw: Any) -> StreamWorker:
    """A worker that checkpoints only when told to."""
    return StreamWorker(
        log, state, checkpoint_every=10**9, checkpoint_interval_s=1e9, poll_timeout_s=0.01, **kw
    )


def _counters(worker: StreamWorker) -> dict[str, int]:
    out: dict[str, int] = {}
    for ps in worker.parts.values():
        for k, v in ps.counters.items():
            out[k] = out.get(k, 0) + v
    return out


def _in_memory(worker: StreamWorker) -> int:
    return sum(len(ps.unsaved_ids) for ps in worker.parts.values())


def test_a_confirmed_checkpoint_empties_memory_and_a_duplicate_after_it_counts_once(
    tmp_path: Path,
) -> None:
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    firsts = [_rating(i, f"u{i % 7}") for i in range(40)]
    log.append(firsts)
    with _worker(log, tmp_path / "state.db") as w:
        consume(w, 40)
        assert _in_memory(w) == 40  # pending: not durable yet
        w.checkpoint()
        assert _in_memory(w) == 0  # all in the dedup table now
        log.append(firsts[:10] + [_rating(99)])  # ten re-deliveries and one new event
        consume(w, 51)
        c = _counters(w)
        assert (c["valid"], c["duplicates"]) == (41, 10)
        assert _in_memory(w) == 1  # only the new, pending one
        w.checkpoint()
        assert _in_memory(w) == 0
    assert StreamReader(tmp_path / "state.db").snapshot() == batch_aggregate(all_entries(log))


def test_a_fresh_worker_loads_no_ids_and_still_counts_a_redelivery_once(tmp_path: Path) -> None:
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    firsts = [_rating(i, f"u{i % 5}") for i in range(30)]
    log.append(firsts)
    state = tmp_path / "state.db"
    with _worker(log, state) as w:
        consume(w, 30)
        w.checkpoint()
    log.append(firsts[::3])  # re-deliveries of ten of them, seen only by the next worker
    with _worker(log, state) as w:
        w.step()  # joins the group: loads every partition's checkpoint
        assert w.parts and _in_memory(w) <= w.stats["entries"]
        consume(w, 10)
        c = _counters(w)
        assert (c["entries"], c["valid"], c["duplicates"]) == (40, 30, 10)
        w.checkpoint()
    assert StreamReader(state).snapshot() == batch_aggregate(all_entries(log))


def test_load_does_not_read_the_dedup_ids_into_memory(tmp_path: Path) -> None:
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    log.append([_rating(i, f"u{i % 5}") for i in range(30)])
    state = tmp_path / "state.db"
    run_to_end(log, state)
    store = StateStore(state)
    try:
        ooo, lateness = (
            round(DEFAULT_OUT_OF_ORDERNESS_S * 1e6),
            round(DEFAULT_ALLOWED_LATENESS_S * 1e6),
        )
        loaded = [store.load(p, ooo, lateness) for p in range(PARTS)]
        assert sum(len(ps.unsaved_ids) for ps in loaded) == 0
        # ... yet every id is there to be looked up
        ids = {f"r-u{i % 5}-{i}" for i in range(30)}
        assert set().union(*(store.durable_ids(p, ids) for p in range(PARTS))) == ids
    finally:
        store.close()


def test_the_same_id_twice_in_one_batch_counts_once(tmp_path: Path) -> None:
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    a, b = _rating(1), _rating(2)
    log.append([a, b, a, a, b])
    with _worker(log, tmp_path / "state.db") as w:
        consume(w, 5)
        c = _counters(w)
        assert (c["valid"], c["duplicates"]) == (2, 3)
        w.checkpoint()
    assert StreamReader(tmp_path / "state.db").snapshot() == batch_aggregate(all_entries(log))


def test_an_id_whose_commit_is_in_flight_is_a_duplicate_and_lookups_do_not_wait(
    tmp_path: Path,
) -> None:
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    firsts = [_rating(i) for i in range(20)]
    log.append(firsts)
    w = _worker(log, tmp_path / "state.db")
    release = threading.Event()
    waited_out: list[bool] = []
    finish = w.store._finish

    def held_commit(*args: Any) -> list[int]:  # the COMMIT waits until released
        waited_out.append(not release.wait(60))
        return finish(*args)

    w.store._finish = held_commit  # type: ignore[method-assign]
    try:
        consume(w, 20)
        w._checkpoint_async()  # its COMMIT is now held in the background thread
        assert w._inflight is not None and not w._inflight.done()
        assert _in_memory(w) == 20  # in flight: still in memory
        log.append(firsts[:5] + [_rating(50)])
        w.process(w.consumer.poll(100, 1.0))  # looks up rating 50 while the COMMIT is held
        assert w._inflight is not None and not w._inflight.done()
    finally:
        release.set()
    w._collect()
    assert waited_out == [False]  # the lookup did not wait for the COMMIT (no deadlock)
    c = _counters(w)
    assert (c["valid"], c["duplicates"]) == (21, 5)
    assert _in_memory(w) == 1  # the confirmed checkpoint's ids left memory
    w.checkpoint()
    assert _in_memory(w) == 0
    w.close()
    assert StreamReader(tmp_path / "state.db").snapshot() == batch_aggregate(all_entries(log))


@pytest.mark.parametrize("pipelined", [True, False])
def test_ids_of_a_failed_checkpoint_stay_in_memory_and_count_once(
    tmp_path: Path, pipelined: bool
) -> None:
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    firsts = [_rating(i) for i in range(15)]
    log.append(firsts)
    state = tmp_path / "state.db"
    with _worker(log, state) as w:
        consume(w, 15)
        failed_checkpoint(w, pipelined)
        assert _in_memory(w) == 15  # requeued: pending again
        ids = {f"r-u1-{i}" for i in range(15)}
        assert not any(w.store.durable_ids(p, ids) for p in range(PARTS))  # rolled back
        log.append(firsts[:4])
        consume(w, 19)
        assert _counters(w)["duplicates"] == 4
        w.checkpoint()  # writes the requeued ids too
        assert _in_memory(w) == 0
        log.append(firsts[4:6])
        consume(w, 21)
        c = _counters(w)
        assert (c["valid"], c["duplicates"]) == (15, 6)
        w.checkpoint()
    assert StreamReader(state).snapshot() == batch_aggregate(all_entries(log))


def test_a_fenced_partition_is_dropped_with_its_ids(tmp_path: Path) -> None:
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    log.append([_rating(i, f"u{i}") for i in range(12)])
    state = tmp_path / "state.db"
    w = _worker(log, state)
    consume(w, 12)
    other = StateStore(state)
    try:
        [other.load(p, w.ooo_us, w.lateness_us) for p in range(PARTS)]  # a new owner
    finally:
        other.close()
    assert _in_memory(w) == 12
    assert sorted(w.checkpoint()) == list(range(PARTS))  # nothing of theirs written
    assert not w.parts  # dropped, with their ids
    w.close()


def test_memory_holds_only_unconfirmed_ids_on_a_generated_stream(tmp_path: Path) -> None:
    entries = generate(3000, seed=5, disorder_s=300, duplicates=0.05, late=0.02, malformed=0.01)
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    log.append(entries)
    state = tmp_path / "state.db"
    with StreamWorker(log, state, batch_size=250, checkpoint_every=400) as w:
        peak = 0
        for _ in range(1000):
            if w.stats["entries"] >= len(entries):
                break
            w.step()
            peak = max(peak, _in_memory(w))
        w.checkpoint()
        assert _in_memory(w) == 0
        assert w.stats["checkpoints"] > 3
        # at most the ids of the pending entries plus those of the checkpoint in flight
        assert peak <= 2 * 400 + 250
        valid = _counters(w)["valid"]
    assert valid > 2 * 400 + 250  # so the bound above is below "every id"
    assert StreamReader(state).snapshot() == batch_aggregate(all_entries(log))


def test_durable_ids_looks_up_more_ids_than_one_statement_takes(tmp_path: Path) -> None:
    log = SQLiteLog(tmp_path / "events.db", 1)
    log.append([_rating(i) for i in range(1200)])
    state = tmp_path / "state.db"
    run_to_end(log, state)
    store = StateStore(state)
    try:
        asked = {f"r-u1-{i}" for i in range(1300)}
        assert store.durable_ids(0, asked) == {f"r-u1-{i}" for i in range(1200)}
        assert store.durable_ids(1, asked) == set()  # another partition's ids are not ours
        assert store.durable_ids(0, set()) == set()
    finally:
        store.close()
