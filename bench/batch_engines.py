"""The batch feature job on DuckDB (embedded default) against Spark (``local[2]``), same
snapshot, same SQL, wall time; plus what the snapshot export itself costs.

    .venv/bin/python bench/batch_engines.py [--events 1000000] [--users 20000] [--repeats 2]

Input: :func:`taste2vec.sim.stream.generate.generate` (``--events`` events over 30 days,
``--users`` users, 2 % duplicates, 0.5 % malformed; no 128-d vectors, which the feature
job never reads) appended to a SQLite event log, exported once with ``export_snapshot``.
Then the per-user feature query (``taste2vec.batch.features.user_features_sql``, as of the
last event) runs ``--repeats`` times on each engine over the same committed Parquet files;
the first Spark run includes its query planning and JIT warm-up, the session start is
reported on its own. The two engines' rows are compared (they must agree). There is no
target in the issue; DuckDB is the baseline. Writes the ``batch_engines`` section of
``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from taste2vec.batch.features import duckdb_features, rows_equal, snapshot_time_range
from taste2vec.batch.snapshot import export_snapshot
from taste2vec.batch.spark import spark_features, spark_session
from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.sim.stream.generate import generate
from taste2vec.stream.log import open_log

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="t2v-batch-bench-") as tmp:
        home = Path(tmp)
        t0 = time.perf_counter()
        entries = generate(
            args.events, seed=3, users=args.users, duplicates=0.02, malformed=0.005, vectors=0.0
        )
        log = open_log(f"sqlite:///{home / 'events.db'}?partitions=8")
        for i in range(0, len(entries), 50_000):
            log.append(entries[i : i + 50_000])
        t_log = time.perf_counter() - t0
        n_entries = len(entries)
        del entries
        t0 = time.perf_counter()
        export_snapshot(home / "snap", log=log)
        t_snap = time.perf_counter() - t0
        log.close()
        _, as_of = snapshot_time_range(home / "snap")
        duck_t, spark_t = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            duck = duckdb_features(home / "snap", as_of)
            duck_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        spark = spark_session()
        t_session = time.perf_counter() - t0
        try:
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                sp = spark_features(spark, home / "snap", as_of)
                spark_t.append(time.perf_counter() - t0)
        finally:
            spark.stop()
        problems = rows_equal(duck, sp)
    agree = "yes" if not problems else f"NO ({len(problems)} differences, e.g. {problems[0]})"
    runs = ", ".join
    table = markdown_table(
        ["engine", "feature job, each run (s)", "best (s)", "rows"],
        [
            [
                "DuckDB (baseline)",
                runs(f"{t:.2f}" for t in duck_t),
                f"{min(duck_t):.2f}",
                f"{len(duck):,}",
            ],
            [
                "Spark local[2]",
                runs(f"{t:.2f}" for t in spark_t),
                f"{min(spark_t):.2f}",
                f"{len(sp):,}",
            ],
        ],
    )
    print(table)
    print(
        f"log append {t_log:.1f} s, snapshot export {t_snap:.1f} s, Spark session "
        f"{t_session:.1f} s, results agree: {agree}"
    )
    body = f"""## Batch features: DuckDB vs Spark (same snapshot)

`bench/batch_engines.py --events {args.events} --users {args.users} --repeats {args.repeats}`:
{n_entries:,} log entries (generated, with duplicates and malformed payloads, no vectors),
{args.users:,} users, one Parquet snapshot; the per-user feature query as of the last
event on each engine over the same files. No target in the issue; DuckDB is the baseline.

{table}

Spark session start (once, not in the job times): {t_session:.1f} s. Snapshot export of the
log (parse every payload, write Parquet by day): {t_snap:.1f} s
({n_entries / t_snap:,.0f} entries/s). Results agree: {agree}. Shared 2-core machine,
other engineers' jobs running.
"""
    if not args.no_write:
        update_section(RESULTS, "batch_engines", body)
        print(f"wrote the batch_engines section of {RESULTS}")


if __name__ == "__main__":
    main()
