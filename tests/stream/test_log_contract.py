"""One contract for every event-log backend (the embedded SQLite log and Kafka on Tansu)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from taste2vec.errors import SchemaError, StoreError
from taste2vec.stream.log import (
    MAX_VALUE_BYTES,
    Consumer,
    EventLog,
    LogEntry,
    SQLiteLog,
    open_log,
    partition_for,
)

from .conftest import PARTITIONS, kafka_log


def reopen(log: Any) -> EventLog:
    """A second handle on the same log (as another process would open it)."""
    if isinstance(log, SQLiteLog):
        return SQLiteLog(log.path)
    return kafka_log(log.servers, log.topic)  # type: ignore[no-any-return]


def read_all(log: EventLog) -> list[LogEntry]:
    out: list[LogEntry] = []
    for partition in range(log.partitions):
        offset = 0
        while batch := log.read(partition, offset, 1000):
            out.extend(batch)
            offset = batch[-1].offset + 1
    return out


def drain(consumer: Consumer, expected: int, max_records: int = 500) -> list[LogEntry]:
    """Poll until ``expected`` entries arrived (or 30 s passed, which fails the caller)."""
    out: list[LogEntry] = []
    deadline = time.monotonic() + 30
    while len(out) < expected and time.monotonic() < deadline:
        out.extend(consumer.poll(max_records, timeout_s=0.5))
    return out


def entries(n: int, users: int = 13, prefix: str = "v") -> list[tuple[str, bytes]]:
    return [(f"user-{i % users}", f"{prefix}{i}".encode()) for i in range(n)]


def test_append_read_round_trip(event_log: EventLog) -> None:
    data = entries(60)
    event_log.append(data[:25])
    event_log.append(data[25:])
    got = read_all(event_log)
    assert sorted((e.key, e.value) for e in got) == sorted(data)
    assert all(isinstance(e.timestamp_ms, int) and e.timestamp_ms > 1_600_000_000_000 for e in got)
    assert sum(event_log.end_offsets().values()) == 60
    assert event_log.partitions == PARTITIONS
    event_log.append([])  # nothing to do, no error


def test_per_key_order_and_dense_offsets(event_log: EventLog) -> None:
    data = entries(200, users=7)
    for i in range(0, 200, 30):  # several appends, several batches
        event_log.append(data[i : i + 30])
    got = read_all(event_log)
    by_partition: dict[int, list[int]] = defaultdict(list)
    by_key: dict[str, list[bytes]] = defaultdict(list)
    for e in got:
        by_partition[e.partition].append(e.offset)
        by_key[e.key].append(e.value)
    for partition, offsets in by_partition.items():
        assert offsets == list(range(len(offsets))), partition  # dense from 0
    ends = event_log.end_offsets()
    assert ends == {p: len(by_partition.get(p, [])) for p in range(PARTITIONS)}
    for key, values in by_key.items():
        assert values == [v for k, v in data if k == key]  # per-key order kept


# Pinned placement: the same on every backend (partition_for, CRC-32 mod N).
GOLDEN = {"user-0": 2, "user-1": 0, "user-2": 2, "user-3": 0, "u1": 2, "alice": 3, "bob": 0}


def test_partition_placement_is_the_documented_one(event_log: EventLog) -> None:
    assert {k: partition_for(k, PARTITIONS) for k in GOLDEN} == GOLDEN
    keys = [*GOLDEN, *(f"user-{i}" for i in range(40))]
    event_log.append([(k, k.encode()) for k in keys])
    for e in read_all(event_log):
        assert e.partition == partition_for(e.key, PARTITIONS)
        assert e.value == e.key.encode()


def test_consumer_group_resumes_from_committed_offsets(event_log: EventLog) -> None:
    event_log.append(entries(40))
    consumer = event_log.consumer("g1")
    first = drain(consumer, 40)
    assert len(first) == 40
    assert consumer.assignment() == set(range(PARTITIONS))
    # Commit half of every partition, then leave.
    per_partition: dict[int, list[LogEntry]] = defaultdict(list)
    for e in first:
        per_partition[e.partition].append(e)
    committed = {p: es[len(es) // 2].offset for p, es in per_partition.items()}
    consumer.commit(committed)
    assert consumer.committed() == committed
    consumer.close()

    event_log.append(entries(8, prefix="late"))
    other = reopen(event_log)
    try:
        again = other.consumer("g1")
        expected = 40 - sum(committed.values()) + 8
        got = drain(again, expected)
        assert len(got) == expected
        assert again.committed() == committed
        for e in got:
            assert e.offset >= committed.get(e.partition, 0)
        assert again.poll(timeout_s=0.2) == []  # nothing more
        again.close()
    finally:
        other.close()


def test_seek(event_log: EventLog) -> None:
    event_log.append([("user-x", f"v{i}".encode()) for i in range(10)])
    partition = partition_for("user-x", PARTITIONS)
    consumer = event_log.consumer("g-seek")
    assert [e.value for e in drain(consumer, 10)] == [f"v{i}".encode() for i in range(10)]
    consumer.seek(partition, 7)
    assert [e.offset for e in drain(consumer, 3)] == [7, 8, 9]
    consumer.seek(partition, 2)
    assert [e.offset for e in drain(consumer, 8)] == list(range(2, 10))
    with pytest.raises(StoreError):
        consumer.seek(PARTITIONS + 1, 0)
    consumer.close()


def test_two_groups_each_see_everything(event_log: EventLog) -> None:
    event_log.append(entries(30))
    a = event_log.consumer("group-a")
    b = event_log.consumer("group-b")
    got_a = drain(a, 30)
    got_b = drain(b, 30)
    assert sorted((e.partition, e.offset) for e in got_a) == sorted(
        (e.partition, e.offset) for e in got_b
    )
    assert len(got_a) == 30
    a.commit({0: 1})
    assert b.committed() == {}  # groups do not share offsets
    a.close()
    b.close()


def test_poll_timeout_returns_empty(event_log: EventLog) -> None:
    consumer = event_log.consumer("g-empty")
    drain(consumer, 0)
    deadline = time.monotonic() + 30
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(timeout_s=0.2)  # joining the group
    assert consumer.assignment() == set(range(PARTITIONS))
    start = time.monotonic()
    assert consumer.poll(timeout_s=0.3) == []
    assert time.monotonic() - start >= 0.25
    event_log.append([("late-user", b"x")])
    assert [e.value for e in drain(consumer, 1)] == [b"x"]
    consumer.close()


def test_large_values_round_trip_and_oversize_is_refused(event_log: EventLog) -> None:
    big = os.urandom(MAX_VALUE_BYTES)
    event_log.append([("big-user", big), ("big-user", b"small")])
    got = read_all(event_log)
    assert [e.value for e in got] == [big, b"small"]
    with pytest.raises(SchemaError, match="limit"):
        event_log.append([("big-user", b"ok"), ("big-user", b"x" * (MAX_VALUE_BYTES + 1))])
    assert len(read_all(event_log)) == 2  # all or nothing: the valid entry was not stored


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([("", b"x")], "non-empty str"),
        ([(None, b"x")], "non-empty str"),
        ([("u", "text")], "must be bytes"),
        ([("u", bytearray(b"x"))], "must be bytes"),
        ([("u", b"x", 3)], "pair"),
        (["u"], "pair"),
    ],
)
def test_bad_input_is_refused(event_log: EventLog, bad: Any, match: str) -> None:
    with pytest.raises(SchemaError, match=match):
        event_log.append(bad)
    assert event_log.end_offsets() == dict.fromkeys(range(PARTITIONS), 0)


def test_read_bounds(event_log: EventLog) -> None:
    event_log.append([("user-y", b"a"), ("user-y", b"b")])
    partition = partition_for("user-y", PARTITIONS)
    assert [e.value for e in event_log.read(partition, 1)] == [b"b"]
    assert event_log.read(partition, 2) == []
    assert [e.offset for e in event_log.read(partition, 0, max_records=1)] == [0]
    with pytest.raises(StoreError, match="does not exist"):
        event_log.read(PARTITIONS, 0)


# -- SQLite only -------------------------------------------------------------------

_APPENDER = textwrap.dedent(
    """
    import sys
    from taste2vec.stream.log import SQLiteLog
    log = SQLiteLog(sys.argv[1])
    i = 0
    while True:
        log.append([(f"user-{(i * 10 + j) % 17}", f"{i}:{j}".encode()) for j in range(10)])
        print(i, flush=True)  # acknowledged: append returned after COMMIT
        i += 1
    """
)


def test_sqlite_acknowledged_appends_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    SQLiteLog(path, partitions=PARTITIONS).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", _APPENDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acked = []
    for line in proc.stdout:
        acked.append(int(line))
        if len(acked) >= 200:
            break
    proc.send_signal(signal.SIGKILL)  # mid-append, most likely
    proc.wait()
    acked.extend(int(line) for line in proc.stdout.read().split())
    proc.stdout.close()
    with SQLiteLog(path) as log:
        stored = {e.value for e in read_all(log)}
        for i in acked:
            for j in range(10):
                assert f"{i}:{j}".encode() in stored
        batches = defaultdict(int)
        for value in stored:
            batches[value.split(b":")[0]] += 1
        assert set(batches.values()) == {10}  # every batch is all or nothing
        for partition, offsets in _offsets(log).items():
            assert offsets == list(range(len(offsets))), partition


def _offsets(log: EventLog) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for e in read_all(log):
        out[e.partition].append(e.offset)
    return out


def test_sqlite_concurrent_appenders_keep_offsets_dense(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    SQLiteLog(path, partitions=2).close()
    script = textwrap.dedent(
        """
        import sys
        from taste2vec.stream.log import SQLiteLog
        log = SQLiteLog(sys.argv[1])
        for i in range(50):
            log.append([(f"u{i % 5}", f"{sys.argv[2]}-{i}-{j}".encode()) for j in range(4)])
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), name]) for name in "abc"]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    with SQLiteLog(path) as log:
        assert sum(log.end_offsets().values()) == 3 * 50 * 4
        for offsets in _offsets(log).values():
            assert offsets == list(range(len(offsets)))
        by_writer_key: dict[tuple[bytes, str], list[int]] = defaultdict(list)
        for e in read_all(log):
            by_writer_key[(e.value[:1], e.key)].append(int(e.value.split(b"-")[1]))
        for seq in by_writer_key.values():
            assert seq == sorted(seq)  # each writer's per-key order kept


def test_sqlite_partition_count_is_fixed(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    SQLiteLog(path, partitions=3).close()
    with SQLiteLog(path) as again:
        assert again.partitions == 3
    with pytest.raises(StoreError, match="created with 3 partitions, not 5"):
        SQLiteLog(path, partitions=5)
    with pytest.raises(StoreError, match="positive"):
        SQLiteLog(tmp_path / "other.db", partitions=0)


def test_sqlite_one_active_member_per_group_standby_takes_over(tmp_path: Path) -> None:
    with SQLiteLog(tmp_path / "events.db", partitions=2) as log:
        log.append(entries(10))
        events: list[tuple[str, list[int]]] = []
        first = log.consumer("g", on_assign=lambda p: events.append(("first", p)))
        second = log.consumer("g", on_assign=lambda p: events.append(("second", p)))
        assert len(drain(first, 10)) == 10
        assert second.poll(timeout_s=0.1) == []  # standby: owns nothing
        assert second.assignment() == set()
        with pytest.raises(StoreError, match="owns no partitions"):
            second.commit({0: 1})
        first.commit({0: 1, 1: 2})
        first.close()
        got = drain(second, 10 - 3)
        assert len(got) == 7
        assert events == [("first", [0, 1]), ("second", [0, 1])]
        second.close()


def test_open_log_urls(tmp_path: Path) -> None:
    log = open_log(f"sqlite:///{tmp_path}/a/events.db?partitions=3")
    assert isinstance(log, SQLiteLog) and log.partitions == 3
    assert log.path == tmp_path / "a" / "events.db"
    log.close()
    for bad, match in [
        ("mysql://x/y", "unsupported"),
        ("sqlite://", "file path"),
        ("sqlite:///x.db?partitions=zero", "positive"),
        ("sqlite:///x.db?color=red", "unknown option"),
        ("kafka://127.0.0.1:1", "topic"),
    ]:
        with pytest.raises(StoreError, match=match):
            open_log(bad)
