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

``--case keys``: many keys (the keyed-state cache, issue 11)::

    .venv/bin/python bench/stream_dedup.py --case keys [--events 300000] [--users 200000]
        [--max-keys 50000 5000] [--rounds 1] [--baseline-rev b5ab3ec]

The same generated events (1,000 users), each user's events dealt in turn to ``--users /
1,000`` users derived from it (``u00012`` -> ``u00012.37``; a user with fewer events yields
fewer): up to ``--users`` distinct users, each with a few events. Two phases, each
measured with this checkout (``cache``: at most ``--max-keys`` keyed states per aggregate
in memory, each value given measured in turn) and with the package at ``--baseline-rev``
(``all in memory``: every key's state in a dict for the life of the worker, all of a
partition's keys read at start-up):

- ``fresh``: an empty state file, the whole log (every user arrives);
- ``resume``: a state file holding the first two thirds of the log (written once by this
  checkout), then the last third: start-up reads the checkpoint, and the batches touch
  users that are not in memory (``cache``) or all loaded at start-up (``all in memory``).

Reported: start-up, events/s after it, keyed states in memory at the end, keys loaded and
load queries and evictions (``cache``), peak RSS (``VmHWM``). Every run of a phase must
leave the same ``keyed`` and ``windows`` tables (compared by digest) and counters. Writes
the ``stream_keys`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sqlite3
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
KEYS_BASELINE_REV = "b5ab3ec"  # just before the keyed-state cache: every key in memory
BASE_USERS = 1000


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


def _spread_users(
    entries: list[tuple[str, bytes]], users: int, seed: int
) -> list[tuple[str, bytes]]:
    """Each event's user replaced by one of ``users // BASE_USERS`` users derived from it,
    in turn (a user's n-th event goes to its ``n % spread``-th split, the splits in a
    random order): a user with at least ``spread`` events yields ``spread`` users.
    Malformed payloads are kept as they are."""
    spread = max(1, users // BASE_USERS)
    rng = random.Random(seed + 1)  # noqa: S311 - test data
    order: dict[str, list[int]] = {}
    seen: dict[str, int] = {}
    out = []
    for key, value in entries:
        try:
            body = json.loads(value)
        except ValueError:
            out.append((key, value))
            continue
        if isinstance(body, dict) and isinstance(body.get("user"), str):
            base = body["user"]
            if base not in order:
                order[base] = rng.sample(range(spread), spread)
            n = seen.get(base, 0)
            seen[base] = n + 1
            user = f"{base}.{order[base][n % spread]}"
            body["user"] = user
            out.append((user, json.dumps(body).encode()))
        else:
            out.append((key, value))
    return out


def _digest(state: Path) -> str:
    """A digest of the ``keyed`` and ``windows`` tables (what the runs must agree on)."""
    h = hashlib.sha256()
    conn = sqlite3.connect(state)
    try:
        for sql in (
            "SELECT kind, key, partition, value FROM keyed ORDER BY kind, key, partition",
            "SELECT * FROM windows ORDER BY aggregate, key, window_start, partition",
        ):
            for row in conn.execute(sql):
                h.update(repr(row).encode())
    finally:
        conn.close()
    return h.hexdigest()[:16]


def _child(log_path: Path, state: Path, total: int, max_keys: int | None = None) -> dict[str, Any]:
    """One measured run (in its own process): consume the whole log with one worker
    (``max_keys``: passed on when given; the baseline packages do not take it)."""
    import taste2vec
    from taste2vec.stream.log import SQLiteLog
    from taste2vec.stream.worker import StreamWorker

    log = SQLiteLog(log_path, PARTITIONS)
    kw: dict[str, Any] = {} if max_keys is None else {"max_keys": max_keys}
    worker = StreamWorker(log, state, group=f"bench-{os.getpid()}", **kw)
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
    cache: dict[str, int] = {}
    keys_in_memory = 0
    for ps in worker.parts.values():
        for k, v in ps.counters.items():
            counters[k] = counters.get(k, 0) + v
        for k, v in getattr(ps, "cache_stats", {}).items():
            cache[k] = cache.get(k, 0) + v
        keys_in_memory += sum(len(states) for states in ps.keyed.values())
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
        "keys_in_memory": keys_in_memory,
        "cache": cache,
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
    kind: str,
    log_path: Path,
    state: Path,
    total: int,
    baseline_src: Path,
    max_keys: int | None = None,
) -> dict[str, Any]:
    env = dict(os.environ)
    baseline = kind in ("in-memory set", "all in memory")
    if baseline:
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(baseline_src), env.get("PYTHONPATH")])
        )
    extra = [] if max_keys is None else [str(max_keys)]
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(log_path), str(state), str(total), *extra],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    want = str(baseline_src) if baseline else str(ROOT / "src")
    if not result["package"].startswith(want):
        raise RuntimeError(f"{kind}: ran {result['package']}, expected the one under {want}")
    result["kind"] = kind
    result["rate"] = total / (result["seconds"] - result["load_s"])
    return result


def main() -> None:
    if len(sys.argv) in (5, 6) and sys.argv[1] == "--child":
        max_keys = int(sys.argv[5]) if len(sys.argv) == 6 else None
        result = _child(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), max_keys)
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=["dedup", "keys"], default="dedup")
    parser.add_argument("--events", type=int, default=None, help="100,000 (keys: 300,000)")
    parser.add_argument("--dedup-rows", type=int, nargs="+", default=[0, 2_000_000])
    parser.add_argument("--users", type=int, default=200_000, help="keys: distinct users")
    parser.add_argument("--max-keys", type=int, nargs="+", default=[50_000], help="keys")
    parser.add_argument("--rounds", type=int, default=None, help="2 (keys: 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--baseline-rev", default=None, help=f"{BASELINE_REV} (keys: {KEYS_BASELINE_REV})"
    )
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    if args.case == "keys":
        args.events = 300_000 if args.events is None else args.events
        args.rounds = 1 if args.rounds is None else args.rounds
        args.baseline_rev = args.baseline_rev or KEYS_BASELINE_REV
        main_keys(args)
        return
    args.events = 100_000 if args.events is None else args.events
    args.rounds = 2 if args.rounds is None else args.rounds
    args.baseline_rev = args.baseline_rev or BASELINE_REV

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


def _place_section(path: Path, name: str, after: str) -> None:
    """Put an empty section ``name`` right after section ``after`` if it is not there
    (``update_section`` appends a new one at the end)."""
    text = path.read_text()
    if f"<!-- BEGIN {name} -->" in text:
        return
    end = f"<!-- END {after} -->"
    if end in text:
        block = f"{end}\n\n<!-- BEGIN {name} -->\n<!-- END {name} -->"
        path.write_text(text.replace(end, block, 1))


def main_keys(args: argparse.Namespace) -> None:
    """``--case keys`` (see the module docstring)."""
    from taste2vec.evaluation.report import markdown_table, update_section
    from taste2vec.sim.stream.generate import generate
    from taste2vec.stream.log import SQLiteLog
    from taste2vec.stream.worker import run_to_end

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    entries = _spread_users(
        _hashed_ids(
            generate(
                args.events, seed=args.seed, users=BASE_USERS, disorder_s=300, days=30,
                duplicates=0.02,
            )
        ),
        args.users,
        args.seed,
    )  # fmt: skip
    total = len(entries)
    history = total * 2 // 3
    distinct = len({k for k, _ in entries})
    print(f"{total:,} events, {distinct:,} users, made in {time.perf_counter() - t0:.0f} s")
    results: list[dict[str, Any]] = []
    digests: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        baseline_src = _baseline_src(args.baseline_rev, tmp / "baseline")
        logs = {"resume": tmp / "events.db", "fresh": tmp / "events.db"}
        log = SQLiteLog(logs["fresh"], PARTITIONS)
        for i in range(0, history, 5000):
            log.append(entries[i : min(i + 5000, history)])
        template = tmp / "history.db"
        t1 = time.perf_counter()
        run_to_end(log, template, group="bench-history")
        print(f"history state ({history:,} events) written in {time.perf_counter() - t1:.0f} s")
        for i in range(history, total, 5000):
            log.append(entries[i : i + 5000])
        log.close()
        runs: list[tuple[str, str, int | None]] = []
        for r in range(args.rounds):
            for phase in ("fresh", "resume"):
                kinds: list[tuple[str, int | None]] = [("all in memory", None)]
                kinds += [("cache", m) for m in args.max_keys]
                if r % 2:
                    kinds.reverse()
                runs += [(phase, kind, m) for kind, m in kinds]
        for i, (phase, kind, max_keys) in enumerate(runs):
            state = tmp / f"state-{i}.db"
            if phase == "resume":
                shutil.copyfile(template, state)
            todo = total if phase == "fresh" else total - history
            res = _measure(kind, logs[phase], state, todo, baseline_src, max_keys)
            res.update(phase=phase, max_keys=max_keys, events=todo)
            results.append(res)
            digests.setdefault(phase, set()).add(
                _digest(state) + json.dumps(res["counters"], sort_keys=True)
            )
            for extra in ("", "-wal", "-shm"):
                Path(f"{state}{extra}").unlink(missing_ok=True)
            c = res["cache"]
            print(
                f"{phase}, {kind} (max_keys {max_keys}): {res['rate']:,.0f} events/s after a "
                f"{res['load_s']:.2f} s start-up; {res['keys_in_memory']:,} keyed states in "
                f"memory at the end; loaded {c.get('loaded', 0):,} in {c.get('queries', 0):,} "
                f"queries, evicted {c.get('evicted', 0):,}; peak RSS {res['max_rss_mib']:.0f} MiB",
                flush=True,
            )
    for phase, seen in digests.items():
        if len(seen) != 1:
            raise RuntimeError(f"{phase}: the runs disagree on the outputs: {seen}")
    rows = [
        [
            r["phase"],
            f"{r['events']:,}",
            r["kind"] if r["max_keys"] is None else f"{r['kind']} (max_keys {r['max_keys']:,})",
            f"{r['rate']:,.0f}",
            f"{r['load_s']:.2f} s",
            f"{r['keys_in_memory']:,}",
            "-"
            if not r["cache"]
            else " / ".join(f"{r['cache'][k]:,}" for k in ("loaded", "queries", "evicted")),
            f"{r['checkpoint_s']:.2f} s / {r['commit_background_s']:.2f} s",
            f"{r['max_rss_mib']:.0f} MiB",
        ]
        for r in results
    ]
    verdicts = []
    for phase in ("fresh", "resume"):
        mine = [r for r in results if r["phase"] == phase]
        old = [r for r in mine if r["kind"] == "all in memory"]
        for m in args.max_keys:
            new = [r for r in mine if r["max_keys"] == m]
            verdicts.append(
                f"{phase}, max_keys {m:,}: {min(r['rate'] for r in new):,.0f}-"
                f"{max(r['rate'] for r in new):,.0f} events/s "
                f"(**{'met' if min(r['rate'] for r in new) >= TARGET else 'not met'}**; all in "
                f"memory {min(r['rate'] for r in old):,.0f}-{max(r['rate'] for r in old):,.0f}), "
                f"peak RSS {max(r['max_rss_mib'] for r in new):.0f} MiB vs "
                f"{max(r['max_rss_mib'] for r in old):.0f} MiB, start-up "
                f"{max(r['load_s'] for r in new):.2f} s vs {max(r['load_s'] for r in old):.2f} s."
            )
    c = results[0]["counters"]
    keys_arg = " ".join(str(m) for m in args.max_keys)
    body = "\n".join(
        [
            "## Stream worker keyed state cache: many users, bounded memory vs every key in memory",
            "",
            f"Command: `.venv/bin/python bench/stream_dedup.py --case keys --events {args.events} "
            f"--users {args.users} --max-keys {keys_arg} --rounds {args.rounds}` (machine: "
            f"{os.cpu_count()} CPU cores, shared; 1-min load average {load_before:.1f} at the "
            f"start, {os.getloadavg()[0]:.1f} at the end). {total:,} generated events "
            f"({c['duplicates']:,} duplicates, 5-minute disorder, 30 days, hashed event ids), "
            f"each of the generator's 1,000 users split in turn into up to "
            f"{args.users // BASE_USERS}: **{distinct:,} distinct users**; 8 partitions, "
            "embedded log. `fresh`: empty state, whole log; `resume`: a state holding the "
            f"first {history:,} events (written by this checkout), then the last "
            f"{total - history:,}. `cache`: this checkout "
            "(at most max_keys keyed states per aggregate in memory, the rest read from the "
            f"state file when a batch needs them); baseline `all in memory`: the package at "
            f"`{args.baseline_rev}` (every key's state in memory, all read at start-up), same "
            "log, same state, same run, one worker process per run. Events/s leave out the "
            "start-up. Every run of a phase left identical `keyed` and `windows` tables "
            "(digest) and counters.",
            "",
            markdown_table(
                [
                    "phase",
                    "events",
                    "keyed states",
                    "events/s after start-up",
                    "start-up (load 8 partitions)",
                    "keyed states in memory at the end",
                    "keys loaded / load queries / evicted",
                    "checkpoints: in the loop / COMMIT in background",
                    "peak RSS",
                ],
                rows,
            ),
            "",
            f"Target >= {TARGET:,} events/s per worker on the embedded log. " + " ".join(verdicts),
        ]
    )
    _place_section(args.results, "stream_keys", "stream_dedup")
    update_section(args.results, "stream_keys", body)
    print(body)
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
