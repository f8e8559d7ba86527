"""Durable ingestion in the store: group commit vs one commit per write, same run.

Each round opens a fresh SQLite store (WAL, ``synchronous=FULL``: every acknowledged write
is on disk) with one coffee, then ``--clients`` threads each add reactions
(``Store.add_feedback``, with its outbox event) for ``--seconds``. Two configurations:

- **one commit per write** (baseline): the group committer with ``max_batch=1``, which
  is the old path (one transaction, one fsync per write) plus the thread hand-off;
- **group commit** (the store's default, ``max_batch=256``).

Printed: acknowledged writes/s, p50/p99 latency of a write, writes per commit; median of
``--rounds`` interleaved rounds. The issue 11 target (1,000 acknowledged writes/s at 50
clients) is for the HTTP path (``bench/http_load.py``); this isolates the store's share.

Reproduce: ``.venv/bin/python bench/ingest_commit.py``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from taste2vec.evaluation.report import update_section
from taste2vec.schema import Coffee, Feedback
from taste2vec.store import create_store
from taste2vec.store._group import MAX_BATCH, GroupCommitter

TARGET = 1000.0


def _round(clients: int, seconds: float, max_batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = create_store(f"sqlite:///{Path(tmp) / 'store.db'}")
        store.upsert_coffees([Coffee(id="c1", name="C1", roaster="R", stock=5)])
        store._group.close()
        store._group = GroupCommitter(store._write, max_batch=max_batch)
        latencies: list[list[float]] = [[] for _ in range(clients)]
        stop = time.perf_counter() + seconds
        t0 = datetime(2026, 1, 1, tzinfo=UTC)

        def client(i: int) -> None:
            n = 0
            while time.perf_counter() < stop:
                fb = Feedback(
                    id=f"f{i}-{n}", user=f"u{i}", coffee="c1", signal="liked", timestamp=t0
                )
                start = time.perf_counter()
                store.add_feedback(fb)
                latencies[i].append(time.perf_counter() - start)
                n += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
        group = store._group
        writes, commits = group.writes, group.commits
        store.close()
    lat = sorted(x for per in latencies for x in per)
    return {
        "wps": writes / elapsed,
        "p50_ms": 1000 * lat[len(lat) // 2],
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        "per_commit": writes / max(commits, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    configs = [("one commit per write (baseline)", 1), ("group commit (default)", MAX_BATCH)]
    runs: dict[tuple[str, int], list[dict[str, float]]] = {}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for clients in args.clients:
            for name, batch in configs:
                runs.setdefault((name, clients), []).append(_round(clients, args.seconds, batch))
        load.append(os.getloadavg()[0])
    rows = [
        "| clients | path | acknowledged writes/s: median (range) | p50 ms | p99 ms "
        "| writes per commit | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for clients in args.clients:
        for name, _ in configs:
            rs = runs[(name, clients)]
            wps = [r["wps"] for r in rs]
            med = statistics.median
            rows.append(
                f"| {clients} | {name} | {med(wps):,.0f} ({min(wps):,.0f}–{max(wps):,.0f}) | "
                f"{med([r['p50_ms'] for r in rs]):.1f} | {med([r['p99_ms'] for r in rs]):.1f} | "
                f"{med([r['per_commit'] for r in rs]):.1f} | "
                f"{'1,000/s at 50 clients (HTTP)' if clients == 50 else ''} |"
            )
    loads = " → ".join(f"{x:.1f}" for x in load)
    body = "\n".join(
        [
            "## Durable ingestion in the store: group commit (`bench/ingest_commit.py`)",
            "",
            f"Command: `.venv/bin/python bench/ingest_commit.py --seconds {args.seconds:g} "
            f"--rounds {args.rounds}`. SQLite (WAL, synchronous=FULL), `Store.add_feedback` "
            f"from N threads for {args.seconds:g} s, median of {args.rounds} interleaved rounds; "
            f"1-minute load average {loads} over the run (2 cores shared with other jobs). "
            "The baseline is the same store with one commit per write (max_batch=1).",
            "",
            *rows,
            "",
        ]
    )
    print(body)
    update_section(args.results, "ingest_commit", body)


if __name__ == "__main__":
    main()
