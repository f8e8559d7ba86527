"""Durable ingestion in the store: group commit vs one commit per write, same run.

Each round opens a fresh store with one coffee: SQLite (WAL, ``synchronous=FULL``) and
PostgreSQL (``synchronous_commit=on``, the private cluster of ``scripts/postgres.sh``, a
fresh database per round); on both every acknowledged write is on disk. Then
``--clients`` threads each add reactions (``Store.add_feedback``, with its outbox event)
for ``--seconds``. Two configurations:

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
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from taste2vec.evaluation.report import update_section
from taste2vec.schema import Coffee, Feedback, FeedbackSignal
from taste2vec.store import create_store
from taste2vec.store._group import MAX_BATCH, GroupCommitter

TARGET = 1000.0


def postgres_server() -> str:
    """The URL of the private PostgreSQL cluster (started, installed if needed)."""
    out = subprocess.run(
        ["bash", "scripts/postgres.sh", "start"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


@contextmanager
def fresh_url(backend: str, server: str | None) -> Iterator[str]:
    """An empty database of ``backend``, dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'store.db'}"
        return
    assert server is not None
    name = f"t2v_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _round(
    backend: str, server: str | None, clients: int, seconds: float, max_batch: int
) -> dict[str, float]:
    with fresh_url(backend, server) as url:
        store = create_store(url)
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
                    id=f"f{i}-{n}",
                    user=f"u{i}",
                    coffee="c1",
                    signal=FeedbackSignal.LIKED,
                    timestamp=t0,
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
    parser.add_argument(
        "--backends", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    configs = [("one commit per write (baseline)", 1), ("group commit (default)", MAX_BATCH)]
    server = postgres_server() if "postgresql" in args.backends else None
    runs: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for backend in args.backends:
            for clients in args.clients:
                for name, batch in configs:
                    r = _round(backend, server, clients, args.seconds, batch)
                    runs.setdefault((backend, name, clients), []).append(r)
        load.append(os.getloadavg()[0])
    rows = [
        "| store | clients | path | acknowledged writes/s: median (range) | p50 ms | p99 ms "
        "| writes per commit | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    med = statistics.median
    for (backend, name, clients), rs in runs.items():
        wps = [r["wps"] for r in rs]
        rows.append(
            f"| {backend} | {clients} | {name} | "
            f"{med(wps):,.0f} ({min(wps):,.0f}–{max(wps):,.0f}) | "
            f"{med([r['p50_ms'] for r in rs]):.1f} | {med([r['p99_ms'] for r in rs]):.1f} | "
            f"{med([r['per_commit'] for r in rs]):.1f} | "
            f"{'1,000/s at 50 clients (HTTP)' if clients == 50 else ''} |"
        )
    loads = " → ".join(f"{x:.1f}" for x in load)
    body = "\n".join(
        [
            "## Durable ingestion in the store: group commit (`bench/ingest_commit.py`)",
            "",
            "SQLite: WAL, synchronous=FULL. PostgreSQL: synchronous_commit=on, the private "
            "cluster of scripts/postgres.sh on the same disk.",
            "",
            f"Command: `.venv/bin/python bench/ingest_commit.py --seconds {args.seconds:g} "
            f"--rounds {args.rounds}`. `Store.add_feedback` on {' and '.join(args.backends)} "
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
