"""The stream worker's dedup with a large ``dedup`` table: batched lookups in the state
store (now) next to the in-memory id set (before), same log and same state, same run.

    .venv/bin/python bench/stream_dedup.py [--events 100000] [--dedup-rows 0 2000000]
        [--rounds 2] [--baseline-rev e0dba2f~1]

The events are those of ``bench/stream_worker.py`` (1,000 users, 5-minute disorder, 30
days) plus 2 % injected duplicates, with each ``event_id`` replaced by a 32-hex-digit hash
of it (ids from clients are UUID-like: random positions in the table's B-tree, unlike the
generator's sequential ``ev-N``). They are appended to one embedded log (8 partitions).

The state file starts with ``--dedup-rows`` rows in its ``dedup`` table (each count given
is measured in turn; 0: the lookups' fixed cost) (random 32-hex ids,
spread over the 8 partitions, event times after every generated event's, so that no
eviction deletes them during the run): the ids of a long dedup horizon (at 91 events/s,
8 days are ~63 million; 2 million is what one partition of a 32-partition log would hold).
Each measured run gets a fresh copy of that file and consumes the whole log with one
:class:`StreamWorker` (default settings) in its own process:

- ``lookup`` -- this checkout: memory holds only the ids not durable yet; every other id is
  looked up in the ``dedup`` table, one query per partition and polled batch;
- ``in-memory set`` -- the package as of ``--baseline-rev`` (``git archive`` of its
  ``src/``, the last commit with the old design): ``StateStore.load`` reads every id of the
  partition into a dict, and the dedup check is a dict lookup.

Reported per run: start-up (loading the 8 partitions), events/s after start-up (polling,
parsing, dedup, aggregates, checkpoints: everything the worker loop does), the time spent
in the dedup lookups (``lookup`` only), the checkpoints' time in the loop (snapshot, staging
the rows, waits) and their ``COMMIT``s' in the background thread, the ids held in memory at
the end, and the process's peak RSS (``VmHWM``). Rounds alternate the two so that load on
the shared machine hits both.
Target (``bench/RESULTS.md``, ``stream_worker``): >= 20,000 events/s per worker on the
embedded log. Writes the ``stream_dedup`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

TARGET = 20_000
PARTITIONS = 8
ROOT = Path(__file__).resolve().parents[1]
BASELINE_REV = "e0dba2f~1"  # just before the lookups: every dedup id held in memory


def _hashed_ids(entries: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The entries with each event id replaced by a 32-hex hash of it (duplicates keep
    sharing theirs); malformed payloads are kept as they are."""
    out = []
    for key, value in entries:
        try:
            body = json.loads(value)
        except ValueError:
            out.append((key, value))
            continue
        if isinstance(body, dict) and isinstance(body.get("event_id"), str):
            body["event_id"] = hashlib.sha1(body["event_id"].encode()).hexdigest()[:32]  # noqa: S324
            value = json.dumps(body).encode()
        out.append((key, value))
    return out


def _prefill(path: Path, rows: int, event_time_us: int, seed: int) -> float:
    """A state file whose ``dedup`` table holds ``rows`` random ids; returns seconds."""
    from taste2vec._sqlite import connect, transaction
    from taste2vec.stream.state import StateStore

    t0 = time.perf_counter()
    StateStore(path).close()  # the schema
    rng = random.Random(seed)  # noqa: S311 - test data
    per = rows // PARTITIONS
    conn = connect(path, 60.0)
    with transaction(conn):
        for p in range(PARTITIONS):
            n = per + (1 if p < rows % PARTITIONS else 0)
            ids = sorted(f"{rng.getrandbits(128):032x}" for _ in range(n))
            conn.executemany(
                "INSERT INTO dedup (partition, event_id, event_time_us) VALUES (?, ?, ?)",
                [(p, i, event_time_us) for i in ids],
            )
    conn.close()
    return time.perf_counter() - t0


def _baseline_src(rev: str, into: Path) -> Path:
    """``src/`` of ``rev`` (git archive), for the baseline's processes."""
    blob = subprocess.run(
        ["git", "archive", "--format=tar", rev, "src/taste2vec"],  # noqa: S607
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _child(log_path: Path, state: Path, total: int) -> dict[str, Any]:
    """One measured run (in its own process): consume the whole log with one worker."""
    import taste2vec
    from taste2vec.stream.log import SQLiteLog
    from taste2vec.stream.worker import StreamWorker

    log = SQLiteLog(log_path, PARTITIONS)
    worker = StreamWorker(log, state, group=f"bench-{os.getpid()}")
    store = worker.store
    timing = {"load_s": 0.0, "lookup_s": 0.0, "looked_up": 0, "lookups": 0}
    load = store.load

    def timed_load(*args: Any) -> Any:
        t = time.perf_counter()
        try:
            return load(*args)
        finally:
            timing["load_s"] += time.perf_counter() - t

    store.load = timed_load  # type: ignore[method-assign]
    lookup = getattr(store, "durable_ids", None)
    if lookup is not None:

        def timed_lookup(partition: int, ids: Any) -> Any:
            t = time.perf_counter()
            try:
                return lookup(partition, ids)
            finally:
                timing["lookup_s"] += time.perf_counter() - t
                timing["looked_up"] += len(ids)
                timing["lookups"] += 1

        store.durable_ids = timed_lookup  # type: ignore[method-assign]
    t0 = time.perf_counter()
    while worker.stats["entries"] < total:
        worker.step()
    worker.checkpoint()
    seconds = time.perf_counter() - t0
    in_memory = sum(  # the old PartitionState held them in ``seen``
        len(ps.unsaved_ids if hasattr(ps, "unsaved_ids") else ps.seen)
        for ps in worker.parts.values()
    )
    counters: dict[str, int] = {}
    for ps in worker.parts.values():
        for k, v in ps.counters.items():
            counters[k] = counters.get(k, 0) + v
    stats = dict(worker.stats)
    worker.close()
    log.close()
    return {
        "package": str(Path(taste2vec.__file__).parent),
        "seconds": seconds,
        "in_memory_ids": in_memory,
        "counters": counters,
        "checkpoints": stats["checkpoints"],
        "checkpoint_s": stats["checkpoint_s"],
        "commit_background_s": stats["commit_background_s"],
        "max_rss_mib": _vm_hwm_mib(),
        **timing,
    }


def _vm_hwm_mib() -> float:
    """This process's peak RSS (``VmHWM``; unlike ``ru_maxrss``, which Linux carries
    over ``execve`` from the parent, it starts afresh with the new program)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _measure(
    kind: str, log_path: Path, state: Path, total: int, baseline_src: Path
) -> dict[str, Any]:
    env = dict(os.environ)
    if kind == "in-memory set":
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(baseline_src), env.get("PYTHONPATH")])
        )
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(log_path), str(state), str(total)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    want = str(baseline_src) if kind == "in-memory set" else str(ROOT / "src")
    if not result["package"].startswith(want):
        raise RuntimeError(f"{kind}: ran {result['package']}, expected the one under {want}")
    result["kind"] = kind
    result["rate"] = total / (result["seconds"] - result["load_s"])
    return result


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(_child(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--dedup-rows", type=int, nargs="+", default=[0, 2_000_000])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-rev", default=BASELINE_REV)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()

    from taste2vec.evaluation.report import markdown_table, update_section
    from taste2vec.sim.stream.generate import generate
    from taste2vec.stream.events import parse_event
    from taste2vec.stream.log import SQLiteLog
    from taste2vec.stream.windows import DAY_US, to_us

    load_before = os.getloadavg()[0]
    entries = _hashed_ids(
        generate(args.events, seed=args.seed, users=1000, disorder_s=300, days=30, duplicates=0.02)
    )
    total = len(entries)
    last_us = max(to_us(parse_event(v).event_time) for _, v in entries)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        baseline_src = _baseline_src(args.baseline_rev, tmp / "baseline")
        log_path = tmp / "events.db"
        log = SQLiteLog(log_path, PARTITIONS)
        for i in range(0, total, 5000):
            log.append(entries[i : i + 5000])
        log.close()
        for n_rows in args.dedup_rows:
            template = tmp / f"prefilled-{n_rows}.db"
            prefill_s = _prefill(template, n_rows, last_us + DAY_US, args.seed)
            print(f"prefilled {n_rows:,} dedup rows in {prefill_s:.1f} s", flush=True)
            for r in range(args.rounds):
                order = ["in-memory set", "lookup"] if r % 2 == 0 else ["lookup", "in-memory set"]
                for kind in order:
                    state = tmp / f"state-{r}-{kind.replace(' ', '-')}.db"
                    shutil.copyfile(template, state)
                    res = _measure(kind, log_path, state, total, baseline_src)
                    res["round"] = r + 1
                    res["rows"] = n_rows
                    results.append(res)
                    for extra in ("", "-wal", "-shm"):
                        Path(f"{state}{extra}").unlink(missing_ok=True)
                    print(
                        f"{n_rows:,} rows, round {r + 1}, {kind}: {res['rate']:,.0f} events/s "
                        f"after a {res['load_s']:.2f} s start-up; lookups {res['lookup_s']:.2f} s "
                        f"for {res['looked_up']:,} ids; {res['in_memory_ids']:,} ids in memory "
                        f"at the end; peak RSS {res['max_rss_mib']:.0f} MiB",
                        flush=True,
                    )
            template.unlink()
    counters = {json.dumps(r["counters"], sort_keys=True) for r in results}
    if len(counters) != 1:
        raise RuntimeError(f"the runs disagree on the counters: {counters}")
    rows = [
        [
            f"{r['rows']:,}",
            str(r["round"]),
            r["kind"],
            f"{r['rate']:,.0f}",
            f"{r['load_s']:.2f} s",
            "-" if r["kind"] != "lookup" else f"{r['lookup_s']:.2f} s ({r['lookups']:,} queries)",
            "-"
            if r["kind"] != "lookup"
            else f"{1e6 * r['lookup_s'] / max(r['looked_up'], 1):.1f} µs",
            f"{r['checkpoint_s']:.2f} s / {r['commit_background_s']:.2f} s",
            f"{r['in_memory_ids']:,}",
            f"{r['max_rss_mib']:.0f} MiB",
        ]
        for r in results
    ]
    verdicts = []
    for n_rows in args.dedup_rows:
        mine = [r for r in results if r["rows"] == n_rows]
        new = [r["rate"] for r in mine if r["kind"] == "lookup"]
        old = [r["rate"] for r in mine if r["kind"] == "in-memory set"]
        share = [r["lookup_s"] / (r["seconds"] - r["load_s"]) for r in mine if r["lookups"]]
        verdicts.append(
            f"{n_rows:,} rows: **{'met' if min(new) >= TARGET else 'not met'}** with lookups "
            f"({min(new):,.0f}-{max(new):,.0f}/s; in-memory set {min(old):,.0f}-{max(old):,.0f}"
            f"/s); the lookups took {min(share):.0%}-{max(share):.0%} of the loop's time."
        )
    c = results[0]["counters"]
    rows_arg = " ".join(str(n) for n in args.dedup_rows)
    body = "\n".join(
        [
            "## Stream worker dedup: table lookups vs the in-memory id set",
            "",
            f"Command: `.venv/bin/python bench/stream_dedup.py --events {args.events} "
            f"--dedup-rows {rows_arg} --rounds {args.rounds}` (machine: "
            f"{os.cpu_count()} CPU cores, shared; 1-min load average {load_before:.1f} at the "
            f"start, {os.getloadavg()[0]:.1f} at the end). {total:,} generated events "
            f"({c['duplicates']:,} of them duplicates; 1,000 users, 5-minute disorder, 30 days, "
            "event ids replaced by 32-hex hashes), 8 partitions, embedded log; the state file "
            "starts with the given number of random ids in its `dedup` table. One worker "
            "process per run, a fresh copy of that state each time. `lookup`: this "
            "checkout (ids not yet durable in memory, the rest looked up per batch); baseline "
            f"`in-memory set`: the package at `{args.baseline_rev}` (every id of the horizon "
            "loaded into a dict at start-up), same log, same state, same run. Events/s leave "
            "out the start-up; every run got the same counters.",
            "",
            markdown_table(
                [
                    "dedup rows at start",
                    "round",
                    "dedup",
                    "events/s after start-up",
                    "start-up (load 8 partitions)",
                    "time in lookups",
                    "per id looked up",
                    "checkpoints: in the loop / COMMIT in background",
                    "ids in memory at the end",
                    "peak RSS",
                ],
                rows,
            ),
            "",
            f"Target >= {TARGET:,} events/s per worker on the embedded log. " + " ".join(verdicts),
        ]
    )
    update_section(args.results, "stream_dedup", body)
    print(body)
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
