"""The worker's keyed states are a bounded cache (``max_keys`` per aggregate, shared among
the worker's partitions): the others are read from the state store's ``keyed`` table when
a batch needs them. Outputs must not depend on the bound, and no key that is dirty or in a
checkpoint not yet confirmed may leave memory (``stream/partition.py``, "Keyed states")."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from taste2vec.sim.stream.generate import generate
from taste2vec.sim.stream.reference import batch_aggregate
from taste2vec.stream.log import SQLiteLog
from taste2vec.stream.partition import PartitionState
from taste2vec.stream.state import StateStore, StreamReader
from taste2vec.stream.worker import StreamWorker, run_to_end
from tests.stream.worker_helpers import all_entries, consume, failed_checkpoint

PARTS = 4
T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)


def _rating(i: int, user: str, coffee: str = "c1") -> tuple[str, bytes]:
    body = {
        "type": "feedback_given",
        "event_id": f"f-{user}-{i}",
        "user": user,
        "event_time": (T0 + timedelta(seconds=10 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "feedback": f"fb-{user}-{i}",
        "coffee": coffee,
        "signal": "rated",
        "rating": 1 + i % 5,
    }
    return user, json.dumps(body).encode()


def _worker(log: SQLiteLog, state: Path, max_keys: int | None, **kw: Any) -> StreamWorker:
    """A worker that checkpoints only when told to."""
    return StreamWorker(
        log,
        state,
        checkpoint_every=10**9,
        checkpoint_interval_s=1e9,
        poll_timeout_s=0.01,
        max_keys=max_keys,
        **kw,
    )


def _rows(state: Path, table: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(state)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4").fetchall()  # noqa: S608
    finally:
        conn.close()


def _users_in_memory(w: StreamWorker) -> set[str]:
    return {k for ps in w.parts.values() for k in ps.keyed["user"]}


def _stats(w: StreamWorker) -> dict[str, int]:
    out: dict[str, int] = {}
    for ps in w.parts.values():
        for k, v in ps.cache_stats.items():
            out[k] = out.get(k, 0) + v
    return out


def test_outputs_with_three_keys_in_memory_equal_an_unbounded_cache_and_the_reference(
    tmp_path: Path,
) -> None:
    entries = generate(
        4000, seed=11, users=600, coffees=300, disorder_s=300, duplicates=0.03, late=0.01,
        malformed=0.01, days=20,
    )  # fmt: skip
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    log.append(entries)
    states = {}
    for label, max_keys in (("bounded", 3), ("unbounded", None)):
        state = states[label] = tmp_path / f"{label}.db"
        with StreamWorker(
            log, state, group=label, batch_size=200, checkpoint_every=300, max_keys=max_keys
        ) as w:
            w.run(until_end=True, drain=True)  # the rest, then every window final
            stats = _stats(w)
            assert w.stats["checkpoints"] > 5
            if max_keys is not None:
                # keys really left memory and came back from the table
                assert stats["evicted"] > 500 and stats["loaded"] > 500
                assert all(len(s) <= 3 for ps in w.parts.values() for s in ps.keyed.values())
            else:
                assert stats["evicted"] == 0
    bounded, unbounded = (StreamReader(states[k]).snapshot() for k in ("bounded", "unbounded"))
    assert bounded == unbounded
    for table in ("keyed", "windows", "dead_letters"):
        assert _rows(states["bounded"], table) == _rows(states["unbounded"], table), table
    reference = batch_aggregate(all_entries(log), drain=True)
    for part in ("counters", "dead_letters", "windows", "arms", "coffees", "users"):
        assert bounded[part] == reference[part], part
    assert reference["counters"]["duplicates"] > 0 and len(reference["users"]) > 500


def test_an_evicted_key_continues_from_its_stored_value(tmp_path: Path) -> None:
    log = SQLiteLog(tmp_path / "events.db", 1)
    state = tmp_path / "state.db"
    log.append([_rating(i, "alice", "c-alice") for i in range(5)])
    with _worker(log, state, max_keys=2) as w:
        consume(w, 5)
        w.checkpoint()
        assert "alice" in _users_in_memory(w)
        log.append([_rating(10 + i, f"other{i}", f"c{i}") for i in range(3)])
        consume(w, 8)
        w.checkpoint()  # confirmed: alice is the least recently used, clean: evicted
        assert "alice" not in _users_in_memory(w)
        assert len(w.parts[0].keyed["user"]) == 2
        loaded = _stats(w)["loaded"]
        log.append([_rating(20 + i, "alice", "c-alice") for i in range(3)])
        consume(w, 11)
        # alice and her coffee (the least recently used coffee, evicted too) read back
        # from the table, once each
        assert _stats(w)["loaded"] == loaded + 2
        assert w.parts[0].keyed["user"]["alice"].n_events == 8
        w.checkpoint()
    reader = StreamReader(state)
    signals = reader.user_signals("alice")
    assert signals is not None and reader.read("user", "alice") == signals
    assert reader.coffee_stats("c-alice") == batch_aggregate(all_entries(log))["coffees"]["c-alice"]
    assert reader.snapshot() == batch_aggregate(all_entries(log))
    assert json.loads(_rows(state, "keyed")[-1][3])  # a stored row, not a placeholder


def test_a_key_that_is_dirty_or_in_flight_is_never_evicted(tmp_path: Path) -> None:
    log = SQLiteLog(tmp_path / "events.db", 1)
    state = tmp_path / "state.db"
    log.append([_rating(i, f"a{i}") for i in range(3)])
    w = _worker(log, state, max_keys=1)
    release = threading.Event()
    finish = w.store._finish

    def held_commit(*args: Any) -> list[int]:  # the COMMIT waits until released
        release.wait(60)
        return finish(*args)

    w.store._finish = held_commit  # type: ignore[method-assign]
    try:
        consume(w, 3)
        w._checkpoint_async()  # a0..a2 are in the checkpoint whose COMMIT is held
        assert w._inflight is not None and not w._inflight.done()
        log.append([_rating(10 + i, f"b{i}") for i in range(3)])
        consume(w, 6)  # b0..b2 are dirty
        ps = w.parts[0]
        assert ps.evict() == 0  # over the bound, but nothing is clean
        assert _users_in_memory(w) == {f"a{i}" for i in range(3)} | {f"b{i}" for i in range(3)}
    finally:
        release.set()
    w._collect()  # confirmed: the a's are clean now and go; the b's are still dirty
    assert _users_in_memory(w) == {f"b{i}" for i in range(3)}
    w.checkpoint()  # now the b's are clean too: down to the bound
    assert len(w.parts[0].keyed["user"]) == 1
    w.close()
    assert StreamReader(state).snapshot() == batch_aggregate(all_entries(log))


@pytest.mark.parametrize("pipelined", [True, False])
def test_a_failed_checkpoint_under_eviction_pressure_loses_nothing(
    tmp_path: Path, pipelined: bool
) -> None:
    log = SQLiteLog(tmp_path / "events.db", 1)
    state = tmp_path / "state.db"
    events = [_rating(i, f"u{i % 6}", f"c{i % 4}") for i in range(24)]
    log.append(events[:12])
    with _worker(log, state, max_keys=1) as w:
        consume(w, 12)
        w.checkpoint()  # u0..u5 stored; evicted down to one
        assert len(w.parts[0].keyed["user"]) == 1
        log.append(events[12:])
        consume(w, 24)  # the same users again: loaded back, changed
        failed_checkpoint(w, pipelined)
        ps = w.parts[0]
        assert ps.evict() == 0  # requeued: all dirty again, none may go
        assert _users_in_memory(w) == {f"u{i}" for i in range(6)}
        # more keys meanwhile (pressure), then a checkpoint that succeeds
        log.append([_rating(100 + i, f"v{i}") for i in range(5)])
        consume(w, 29)
        w.checkpoint()
        assert len(w.parts[0].keyed["user"]) == 1
    assert StreamReader(state).snapshot() == batch_aggregate(all_entries(log))
    stored = {key for kind, key, _, _ in _rows(state, "keyed") if kind == "user"}
    assert stored == {f"u{i}" for i in range(6)} | {f"v{i}" for i in range(5)}


def test_memory_holds_max_keys_plus_the_keys_touched_since_the_last_confirmed_checkpoint(
    tmp_path: Path,
) -> None:
    entries = generate(3000, seed=7, users=800, coffees=400, disorder_s=300, duplicates=0.05)
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    log.append(entries)
    state = tmp_path / "state.db"
    with StreamWorker(log, state, batch_size=100, checkpoint_every=150, max_keys=80) as w:
        loaded: dict[tuple[int, str], set[str]] = {}
        lookup = w.store.keyed_values

        def recording(partition: int, aggregate: str, keys: Collection[str]) -> dict[str, str]:
            found = lookup(partition, aggregate, keys)
            loaded.setdefault((partition, aggregate), set()).update(found)
            return found

        w.store.keyed_values = recording  # type: ignore[method-assign]
        checks = confirms = 0
        for _ in range(2000):
            if w.stats["entries"] >= len(entries):
                break
            before = w.stats["checkpoints"]
            w.step()
            if w.stats["checkpoints"] != before:  # a checkpoint was confirmed in this step
                loaded.clear()  # loads before it were evictable at its confirmation
                confirms += 1
            for p, ps in w.parts.items():
                max_keys = ps.max_keys
                assert max_keys == 80 // PARTS
                for name, states in ps.keyed.items():
                    touched = set(ps.dirty_keyed[name]) | loaded.get((p, name), set())
                    for c in ps._unconfirmed:
                        touched |= c.keyed.get(name, set())
                    assert len(states) <= max_keys + len(touched), (p, name)
                    checks += 1
        w.checkpoint()
        assert all(len(s) <= 80 // PARTS for ps in w.parts.values() for s in ps.keyed.values())
        assert sum(len(ps.keyed["user"]) for ps in w.parts.values()) <= 80
        assert confirms > 5 and checks > 100
    users = len(StreamReader(state).read_all("user"))
    assert users > 80 * 5  # the bound is far below "every key"
    assert StreamReader(state).snapshot() == batch_aggregate(all_entries(log))


def test_load_reads_no_keyed_state_and_keyed_values_chunks(tmp_path: Path) -> None:
    log = SQLiteLog(tmp_path / "events.db", 1)
    log.append([_rating(i, f"u{i}") for i in range(1200)])
    state = tmp_path / "state.db"
    run_to_end(log, state, max_keys=None)
    store = StateStore(state, max_keys=10)
    try:
        ps = store.load(0, 300_000_000, 3_600_000_000)
        assert ps.keys_in_memory() == 0 and ps.max_keys == 10
        asked = {f"u{i}" for i in range(1300)}
        found = store.keyed_values(0, "user", asked)
        assert set(found) == {f"u{i}" for i in range(1200)}
        assert store.keyed_values(1, "user", asked) == {}  # another partition's rows
        assert store.keyed_values(0, "coffee", asked) == {}  # another aggregate's rows
        assert json.loads(found["u7"])["n_events"] == 1
    finally:
        store.close()


def test_the_reference_pass_state_has_no_store_and_no_bound() -> None:
    ps = PartitionState(0, 0, 0)
    assert ps.max_keys is None and ps.loader is None and ps.evict() == 0


@pytest.mark.parametrize("bad", [0, -5, True])
def test_max_keys_is_validated(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ValueError, match="max_keys"):
        PartitionState(0, 0, 0, max_keys=bad)
    with pytest.raises(ValueError, match="max_keys"):
        StateStore(tmp_path / "state.db", max_keys=bad)
    log = SQLiteLog(tmp_path / "events.db", 1)
    with pytest.raises(ValueError, match="max_keys"):
        StreamWorker(log, tmp_path / "state2.db", max_keys=bad)
