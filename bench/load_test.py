"""Load test with locust (headless): 10k users, 10k coffees, a mixed workload, memory.

Builds a temporary SQLite store holding the demo plus a 10,000-coffee synthetic catalogue
and 10,000 users, each with its own user API key (``Store.create_api_key``), starts a real
``taste2vec serve`` process (``--workers N`` optional) with the default configuration
(stream on, online learning on) except ``T2V_RATE_LIMIT_PER_S=0`` (the per-key rate limit
is off: this measures capacity, not the limiter), and runs ``bench/load/locustfile.py``
headless for ``--seconds`` (default 300): recommendations, feedback, tastings and app
events, each request as a random one of the 10k users.

Reports per route: requests, failures (any non-201 write, any non-2xx read, any
connection error), p50 and p99 (from locust's stats CSV); the server's resident memory
(RSS, its process plus its worker processes) sampled every second: start, end, max and
the slope of a least-squares line over each half of the run; the machine's load average.
Targets (issue 11): zero errors; no unbounded memory growth. The memory verdict is a
heuristic, stated with the numbers: growth is called bounded when the second half's slope
is under half the first half's (it levels off, as a cache filling with the 10k users
does) or under 1 MiB/min; a leak proportional to requests keeps its slope. The RSS is
also reported as the mean of each minute, so a long run (``--seconds 1200``) shows whether
it plateaus.

``--trace-memory DIR`` runs the server under tracemalloc (``bench/load/traced_serve.py``,
one process only; tracing starts when the load does): every ``--trace-interval`` seconds
it writes the live Python memory, the C allocator's in-use and retained-free bytes,
object counts, the sizes of the service's in-memory maps and the tracebacks that grew
most to ``DIR/memory.jsonl``; the run's section then says it was traced (tracing costs
memory and time, so its RSS and latencies are not the service's).

``--unique-notes`` gives every tasting a note never sent before, so the text tower embeds
each one (its in-memory cache then fills to ``T2V_TEXT_CACHE_SIZE``).

    .venv/bin/python bench/load_test.py [--seconds 300] [--clients 20] [--workers 1]
        [--unique-notes] [--trace-memory DIR [--trace-interval 30] [--census]]
        [--results bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil

from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.service.demo import seed_demo
from taste2vec.sim.recommend.synthetic import synthetic_catalogue
from taste2vec.sim.server import wait_ready
from taste2vec.store import create_store

LOCUSTFILE = Path(__file__).with_name("load") / "locustfile.py"
TRACED_SERVE = Path(__file__).with_name("load") / "traced_serve.py"
# Settings that change what the memory reading means; named in the section when set.
MEMORY_SETTINGS = (
    "T2V_ONLINE_LEARNING",
    "T2V_USER_CACHE_SIZE",
    "T2V_TEXT_CACHE_SIZE",
    "T2V_TEXT_TOWER",
)
MIB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_store(tmp: Path, coffees: int, users: int) -> tuple[str, Path]:
    """The store (demo + synthetic catalogue + ``users`` keyed users) and the load data file."""
    db = f"sqlite:///{tmp / 'load.db'}"
    store = create_store(db)
    seed_demo(store, tmp / "demo-keys.json")
    catalogue = synthetic_catalogue(coffees, seed=3)
    store.upsert_coffees(catalogue)
    started = time.perf_counter()
    keys = {f"load-{i:05d}": store.create_api_key("user", f"load-{i:05d}") for i in range(users)}
    print(f"created {users:,} users and keys in {time.perf_counter() - started:.0f} s", flush=True)
    store.close()
    data = tmp / "load-data.json"
    fd = os.open(data, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"keys": keys, "coffees": [c.id for c in catalogue]}, fh)
    return db, data


class Sampler(threading.Thread):
    """RSS of a process tree and the 1-minute load average, once a second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.samples: list[tuple[float, float, float]] = []  # (t s, rss MiB, load1)
        self.halt = threading.Event()

    def rss(self) -> float:
        total = 0
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total / MIB

    def run(self) -> None:
        t0 = time.monotonic()
        while not self.halt.is_set():
            self.samples.append((time.monotonic() - t0, self.rss(), os.getloadavg()[0]))
            self.halt.wait(1.0)


def _slope_per_min(samples: list[tuple[float, float, float]]) -> float:
    if len(samples) < 3:
        return float("nan")
    t = np.array([s[0] for s in samples])
    m = np.array([s[1] for s in samples])
    return float(np.polyfit(t, m, 1)[0] * 60)


def per_minute(samples: list[tuple[float, float, float]]) -> list[tuple[int, float]]:
    """(minute, mean RSS MiB) for every minute of the run that has samples."""
    minutes: dict[int, list[float]] = {}
    for t, rss, _load in samples:
        minutes.setdefault(int(t // 60), []).append(rss)
    return [(m, float(np.mean(v))) for m, v in sorted(minutes.items())]


def census_lines(trace_dir: Path | None) -> str:
    """The in-memory map sizes and malloc's figures at the first and last reading of
    ``trace_dir/memory.jsonl`` (bench/load/traced_serve.py), as bullet lines."""
    path = None if trace_dir is None else trace_dir / "memory.jsonl"
    if path is None or not path.is_file():
        return ""
    readings = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not readings:
        return ""
    out = ""
    for label, r in (("first", readings[0]), ("last", readings[-1])):
        maps = ", ".join(f"{k} {v:,}" for k, v in sorted(r["containers"].items()))
        malloc = r.get("malloc") or {}
        heap = (
            f"; malloc in use {malloc['in_use_mib']:.0f} MiB, freed but kept "
            f"{malloc['free_in_heap_mib']:.0f} MiB"
            if malloc
            else ""
        )
        out += (
            f"- In-memory maps at the {label} reading ({r['t']:.0f} s after the load began, "
            f"RSS {r['rss_mib']:.0f} MiB{heap}): {maps}.\n"
        )
    return out


def _run_locust(
    host: str, data: Path, prefix: Path, clients: int, seconds: int, unique_notes: bool = False
) -> int:
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        host,
        "-u",
        str(clients),
        "-r",
        str(clients),
        "-t",
        f"{seconds}s",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    env = {**os.environ, "T2V_LOAD_DATA": str(data)}
    if unique_notes:
        env["T2V_LOAD_UNIQUE_NOTES"] = "1"
    log = prefix.with_suffix(".log")
    with log.open("w") as fh:
        return subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT).returncode


def _read_stats(prefix: Path) -> list[dict[str, str]]:
    with Path(f"{prefix}_stats.csv").open() as fh:
        return list(csv.DictReader(fh))


def _read_failures(prefix: Path) -> list[dict[str, str]]:
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with path.open() as fh:
        return list(csv.DictReader(fh))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--coffees", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20, help="concurrent locust users")
    parser.add_argument("--workers", type=int, default=1, help="taste2vec serve --workers")
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    parser.add_argument(
        "--trace-memory",
        type=Path,
        default=None,
        metavar="DIR",
        help="run the server under tracemalloc, writing DIR/memory.jsonl (one process)",
    )
    parser.add_argument("--trace-interval", type=float, default=30.0, help="seconds")
    parser.add_argument(
        "--unique-notes",
        action="store_true",
        help="every tasting's note is new (a unique lot number), so the text tower embeds "
        "each one instead of hitting its cache",
    )
    parser.add_argument(
        "--census",
        action="store_true",
        help="with --trace-memory: no tracemalloc, only the sizes of the in-memory maps, "
        "object counts and malloc's figures (cheap: for a long plateau run)",
    )
    args = parser.parse_args()
    if args.census and args.trace_memory is None:
        sys.exit("--census needs --trace-memory DIR")
    if args.trace_memory is not None and args.workers != 1:
        sys.exit("--trace-memory traces one server process: use --workers 1")
    if args.trace_interval < 1:
        sys.exit("--trace-interval must be at least 1 s")
    for name, value in (("--coffees", args.coffees), ("--users", args.users)):
        if value < 1:
            sys.exit(f"{name} must be at least 1")
    if args.seconds < 5 or args.clients < 1 or args.workers < 1:
        sys.exit("--seconds must be >= 5, --clients and --workers >= 1")
    if not (args.model / "config.json").is_file():
        sys.exit(f"no model at {args.model}; run: make run")

    tmp = Path(tempfile.mkdtemp(prefix="t2v-locust-"))
    db, data = build_store(tmp, args.coffees, args.users)
    port = _free_port()
    env = {
        **os.environ,
        "T2V_DATABASE_URL": db,
        "T2V_MODEL_DIR": str(args.model.resolve()),
        "T2V_ENVIRONMENT": "test",
        "T2V_RATE_LIMIT_PER_S": "0",  # the per-key rate limit is off for this run
    }
    cmd = [sys.executable, "-m", "taste2vec.cli", "serve", "--port", str(port)]
    if args.trace_memory is not None:
        env["T2V_TRACE_DIR"] = str(args.trace_memory.resolve())
        env["T2V_TRACE_INTERVAL_S"] = str(args.trace_interval)
        if args.census:
            env["T2V_TRACE_FRAMES"] = "0"
        cmd = [sys.executable, str(TRACED_SERVE), "serve", "--port", str(port)]
    if args.workers > 1:
        cmd += ["--workers", str(args.workers)]
    server_log = tmp / "server.log"
    log = server_log.open("w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    sampler: Sampler | None = None
    try:
        deadline = time.monotonic() + 900
        try:
            wait_ready(server, base, 900)
        except RuntimeError as exc:
            sys.exit(f"{exc}; see {server_log}")
        # Every worker's app up (uvicorn logs one line each), not just the first to answer.
        while server_log.read_text().count("Application startup complete") < args.workers:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"server workers failed to start; see {server_log}")
            time.sleep(0.5)
        n_coffees = httpx.get(f"{base}/readyz").json()["coffees"]
        if args.trace_memory is not None:
            server.send_signal(signal.SIGUSR1)  # bench/load/traced_serve.py: start tracing
        sampler = Sampler(server.pid)
        sampler.start()
        print(f"locust: {args.clients} clients for {args.seconds} s on {base}", flush=True)
        prefix = tmp / "locust"
        rc = _run_locust(base, data, prefix, args.clients, args.seconds, args.unique_notes)
        sampler.halt.set()
        sampler.join()
        ready = httpx.get(f"{base}/readyz", timeout=10).json()
    finally:
        if sampler is not None:
            sampler.halt.set()
        server.terminate()
        server.wait(timeout=60)
        log.close()

    stats = _read_stats(prefix)
    failures = _read_failures(prefix)
    server_errors = sum(
        1 for line in server_log.read_text(errors="replace").splitlines() if "Traceback" in line
    )
    rows = []
    total_fail = 0
    for row in stats:
        name = row["Name"] if row["Type"] == "" else f"{row['Type']} {row['Name']}"
        if row["Name"] == "Aggregated":
            name = "**all**"
        count, failed = int(row["Request Count"]), int(row["Failure Count"])
        if row["Name"] == "Aggregated":
            total_fail = failed
        rows.append(
            [
                name,
                f"{count:,}",
                f"{float(row['Requests/s']):,.1f}",
                f"{failed:,}",
                f"{failed / count:.2%}" if count else "n/a",
                row["50%"],
                row["99%"],
                row["Max Response Time"].split(".")[0],
            ]
        )
    table = markdown_table(
        ["route", "requests", "req/s", "failures", "error rate", "p50 ms", "p99 ms", "max ms"],
        rows,
    )
    samples = sampler.samples if sampler is not None else []
    mems = [s[1] for s in samples]
    half = len(samples) // 2
    slope1, slope2 = _slope_per_min(samples[:half]), _slope_per_min(samples[half:])
    bounded = slope2 < 1.0 or (slope1 > 0 and slope2 < 0.5 * slope1)
    loads = [s[2] for s in samples]
    timeline = ", ".join(f"{m} {rss:.0f}" for m, rss in per_minute(samples))
    n_requests = sum(int(r["Request Count"]) for r in stats if r["Name"] == "Aggregated")
    restarts = {name: loop.get("restarts") for name, loop in (ready.get("loops") or {}).items()}
    fail_lines = "".join(
        f"  - {f.get('Method', '')} {f.get('Name', '')}: {f.get('Occurrences', '')} x "
        f"`{f.get('Error', '')[:160]}`\n"
        for f in failures
    )
    learning = (
        "off (`T2V_ONLINE_LEARNING=false`)"
        if os.environ.get("T2V_ONLINE_LEARNING", "true").lower() in ("0", "false", "no", "off")
        else "on"
    )
    server_desc = "one process" if args.workers == 1 else f"--workers {args.workers}"
    settings = " ".join(f"{k}={os.environ[k]}" for k in MEMORY_SETTINGS if k in os.environ)
    notes = (
        "every tasting note unique: one of 66 phrases plus a unique lot number, so the "
        "text tower embeds each one"
        if args.unique_notes
        else "tasting notes drawn from 66 phrases, so the text tower mostly hits its cache"
    )
    traced = ""
    if args.trace_memory is not None and args.census:
        server_desc += ", with a census of its in-memory maps (`bench/load/traced_serve.py`)"
        traced = f" --trace-memory DIR --trace-interval {args.trace_interval:g} --census"
    elif args.trace_memory is not None:
        server_desc += ", **under tracemalloc** (`bench/load/traced_serve.py`)"
        traced = f" --trace-memory DIR --trace-interval {args.trace_interval:g}"
        frames = os.environ.get("T2V_TRACE_FRAMES", "8")
        settings = " ".join(filter(None, [settings, f"T2V_TRACE_FRAMES={frames}"]))
    text = (
        "## Load test (locust, 10k users, 10k coffees, mixed workload)\n\n"
        f"Command: `{settings + ' ' if settings else ''}.venv/bin/python bench/load_test.py "
        f"--seconds {args.seconds} --clients {args.clients} --workers {args.workers}"
        f"{' --unique-notes' if args.unique_notes else ''}{traced}`. "
        f"A real `taste2vec serve` ({server_desc}) "
        f"on a temporary SQLite store with {n_coffees:,} coffees and {args.users:,} users, "
        "each with its own user API key; default configuration (stream on, online learning "
        f"{learning}) except **`T2V_RATE_LIMIT_PER_S=0`: the per-key rate limit is off** "
        f"for this run. locust {args.clients} concurrent clients (FastHttpUser, 50-250 ms think "
        "time), every request as a random one of the 10k users: recommendations 10 : "
        f"feedback 4 : tastings 3 : events 3 ({notes}; users start with no history). "
        "locust and the "
        f"server share this machine's {os.cpu_count()} cores with other engineers' jobs: "
        f"1-minute load average {loads[0] if loads else float('nan'):.1f} at the start, "
        f"{loads[-1] if loads else float('nan'):.1f} at the end, mean "
        f"{float(np.mean(loads)) if loads else float('nan'):.1f} during the run.\n\n"
        f"{table}\n\n"
        f"Server RSS (all its processes), sampled every second ({len(samples)} samples): "
        f"start **{mems[0]:.0f} MiB**, end **{mems[-1]:.0f} MiB**, max {max(mems):.0f} MiB; "
        f"linear fit {slope1:+.1f} MiB/min over the first half, **{slope2:+.1f} MiB/min** "
        f"over the second half. Mean RSS of each minute (minute MiB): {timeline}.\n\n"
        f"- Target: zero errors: **{total_fail:,} failed of {n_requests:,}** "
        f"({'met' if total_fail == 0 else 'MISSED'}); {server_errors} tracebacks in the "
        f"server log; locust exit code {rc}.\n"
        f"{fail_lines}"
        f"- Target: no unbounded memory growth: second-half slope {slope2:+.1f} MiB/min vs "
        f"{slope1:+.1f} in the first half ("
        f"{'met: it levels off' if bounded else 'NOT shown: it keeps growing'}; heuristic: "
        "met when the second-half slope is under 1 MiB/min or under half the first half's).\n"
        f"- Background loop restarts during the run (`/readyz`): {restarts}.\n"
    )
    text += census_lines(args.trace_memory)
    print(text)
    update_section(args.results, "load_test", text)


if __name__ == "__main__":
    main()
