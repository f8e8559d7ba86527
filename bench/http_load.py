"""HTTP load on loopback: recommendations and ingestion vs the framework's floor.

Starts a real ``taste2vec serve`` (uvicorn) on a temporary SQLite
store holding a 10,000-coffee synthetic catalogue plus the demo users, then
drives it with ``wrk`` (Debian package) at 10 and 50 concurrent connections:

- floor: ``GET /healthz``, an ``async def`` endpoint of the same app returning a
  constant (what the framework alone can do on this machine);
- ``GET /v1/users/demo-ana/recommendations?k=10`` (authenticated, explained);
- ``POST /v1/records`` (authenticated, unique ids, committed before the reply), as
  demo-ben, so that the tastings the runs add do not grow demo-ana's history.

Then measures batch ``POST /v1/embed`` throughput (64 unique records per call)
next to the same records embedded in-process. By default the whole set is
measured twice, each time on a fresh store: one server process, then
``taste2vec serve --workers 2`` (``--workers 1`` for one process only).
Targets (issue 11), for each server shape: at 10 clients, recommendation
p99 <= 15 ms; at 50 clients, recommendation throughput >= 60 % of the floor
and >= 1,000 acknowledged (durable) writes/s. After each ingestion run the outbox's
backlog (acknowledged tastings the relay has not published yet) is waited out and
reported, with the writes/s that counts that time. Load generator and server share
the machine's 2 cores.

    .venv/bin/python bench/http_load.py [--seconds 10] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.service.demo import seed_demo
from taste2vec.sim.recommend.synthetic import synthetic_catalogue
from taste2vec.sim.server import wait_ready
from taste2vec.store import create_store

POST_LUA = """
local n = 0
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  n = n + 1
  local id = "load-" .. math.random(1, 1000000000) .. "-" .. n
  local body = '{"id":"' .. id .. '","user":"demo-ana","timestamp":"2026-11-01T10:00:00Z",'
    .. '"notes":"plum and cocoa","metrics":{"acidity":5}}'
  return wrk.format("POST", "/v1/records", {["Content-Type"]="application/json",
    ["Authorization"]="Bearer KEY"}, body)
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unit_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if not m:
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    return float(m.group(1)) * scale


def wrk(
    url: str, conns: int, seconds: int, key: str | None, script: Path | None
) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if key:
        cmd += ["-H", f"Authorization: Bearer {key}"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {p: _unit_ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50": pct.get("50", float("nan")),
        "p99": pct.get("99", float("nan")),
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
    }


def _start_server(
    tmp: Path, model: Path, coffees: int, workers: int
) -> tuple[subprocess.Popen[bytes], str, str, int]:
    """A fresh store and a ``taste2vec serve`` on it: (process, base URL, demo-ana's key, n)."""
    tmp.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{tmp / 'load.db'}"
    store = create_store(db)
    seed_demo(store, tmp / "demo-keys.json")
    store.upsert_coffees(synthetic_catalogue(coffees, seed=3))
    store.close()
    key = json.loads((tmp / "demo-keys.json").read_text())["demo-ana"]
    port = _free_port()
    env = {
        **os.environ,
        "T2V_DATABASE_URL": db,
        "T2V_MODEL_DIR": str(model.resolve()),
        "T2V_ENVIRONMENT": "test",
        "T2V_RATE_LIMIT_PER_S": "0",  # capacity with one key, not the per-key limit
    }
    cmd = [sys.executable, "-m", "taste2vec.cli", "serve", "--port", str(port)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    with (tmp / "server.log").open("w") as log:
        server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900
    try:
        wait_ready(server, base, 900)
    except RuntimeError as exc:
        server.terminate()
        sys.exit(f"{exc}; see {tmp / 'server.log'}")
    # Wait for every worker's app (uvicorn logs one line each), not just the first to answer.
    while (tmp / "server.log").read_text().count("Application startup complete") < workers:
        if server.poll() is not None or time.monotonic() > deadline:
            server.terminate()
            sys.exit(f"server workers failed to start; see {tmp / 'server.log'}")
        time.sleep(0.5)
    n = int(httpx.get(f"{base}/readyz").json()["coffees"])
    return server, base, key, n


def outbox_drain(db: Path, timeout_s: float = 300.0) -> tuple[int, float]:
    """The store's publication backlog when a load stops (rows the relay has not appended
    to the event log yet) and the seconds until it is empty: acknowledged writes the
    server still owes work for, so a throughput figure can count that work too."""
    with sqlite3.connect(db) as conn:
        count = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        backlog = int(conn.execute(count).fetchone()[0])
        start = time.monotonic()
        while conn.execute(count).fetchone()[0]:
            if time.monotonic() - start > timeout_s:
                sys.exit(f"the outbox did not drain in {timeout_s:.0f} s")
            time.sleep(0.05)
        return backlog, (time.monotonic() - start) if backlog else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--coffees", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="server shapes to measure: 1 = one process, N = taste2vec serve --workers N",
    )
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    if not args.workers or min(args.workers) < 1:
        sys.exit("--workers: one or more counts >= 1")
    tmp = Path(tempfile.mkdtemp(prefix="t2v-load-"))
    rows: list[list[str]] = []
    results: dict[tuple[int, int], tuple[dict[str, float], ...]] = {}
    visible: tuple[float, float] | None = None
    embed: tuple[float, float] | None = None
    n = 0
    for workers in args.workers:
        server, base, key, n = _start_server(
            tmp / f"workers-{workers}", args.model, args.coffees, workers
        )
        try:
            script = tmp / "post.lua"
            # Tastings are logged by another user than the one whose recommendations are
            # read: each run adds thousands, and the reader's per-request revision read
            # counts its user's rows (README, "Performance": a separate finding).
            keys = json.loads((tmp / f"workers-{workers}" / "demo-keys.json").read_text())
            poster = POST_LUA.replace("KEY", keys["demo-ben"])
            script.write_text(poster.replace('"user":"demo-ana"', '"user":"demo-ben"'))
            rec_url = f"{base}/v1/users/demo-ana/recommendations?k=10"
            for conns in (10, 50):
                floor = wrk(f"{base}/healthz", conns, args.seconds, None, None)
                recs = wrk(rec_url, conns, args.seconds, key, None)
                ingest = wrk(f"{base}/v1/records", conns, args.seconds, None, script)
                backlog, drain_s = outbox_drain(tmp / f"workers-{workers}" / "load.db")
                ingest["backlog"], ingest["drain_s"] = backlog, drain_s
                ingest["sustained"] = ingest["rps"] * args.seconds / (args.seconds + drain_s)
                results[(workers, conns)] = (floor, recs, ingest)
                for name, r in (
                    ("floor: GET /healthz", floor),
                    ("recommendations", recs),
                    ("ingestion: POST /v1/records", ingest),
                ):
                    rows.append(
                        [
                            str(workers),
                            str(conns),
                            name,
                            f"{r['rps']:,.0f}",
                            f"{r['p50']:.1f}",
                            f"{r['p99']:.1f}",
                            f"{r['rps'] / floor['rps']:.0%}",
                            f"{r['non2xx']:.0f}",
                            f"{r['backlog']:,.0f} rows, {r['drain_s']:.1f} s; "
                            f"{r['sustained']:,.0f}/s"
                            if "backlog" in r
                            else "–",
                        ]
                    )
            if visible is None:
                visible = _feedback_to_visible(base, key)
                embed = _embed_throughput(base, args.model, key)
        finally:
            server.terminate()
            server.wait(timeout=60)
    assert visible is not None and embed is not None
    embed_rate, inproc_rate = embed

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    table = markdown_table(
        [
            "processes",
            "clients",
            "endpoint",
            "req/s",
            "p50 ms",
            "p99 ms",
            "vs floor",
            "non-2xx",
            "outbox at the end, drained in; writes/s counting the drain",
        ],
        rows,
    )
    targets = []
    for workers in args.workers:
        shape = "one process" if workers == 1 else f"`--workers {workers}`"
        p99_10 = results[(workers, 10)][1]["p99"]
        share_50 = results[(workers, 50)][1]["rps"] / results[(workers, 50)][0]["rps"]
        ingest_50 = results[(workers, 50)][2]["rps"]
        sustained_50 = results[(workers, 50)][2]["sustained"]
        targets += [
            f"- {shape}: recommendation p99 at 10 clients ≤ 15 ms: measured "
            f"**{p99_10:.1f} ms** ({verdict(p99_10 <= 15)}).",
            f"- {shape}: recommendation throughput at 50 clients ≥ 60 % of the floor: "
            f"measured **{share_50:.0%}** ({verdict(share_50 >= 0.6)}).",
            f"- {shape}: durable ingestion at 50 clients ≥ 1,000 acknowledged writes/s: "
            f"measured **{ingest_50:,.0f}/s** ({verdict(ingest_50 >= 1000)}); "
            f"{sustained_50:,.0f}/s counting the time the relay took to publish the "
            "backlog after the load stopped.",
        ]
    workers_arg = " ".join(str(w) for w in args.workers)
    text = (
        "## HTTP load (loopback, wrk)\n\n"
        f"Command: `.venv/bin/python bench/http_load.py --seconds {args.seconds} --workers "
        f"{workers_arg}`. `taste2vec serve` as one process and with `--workers N` (each on "
        f"a fresh SQLite store), {n:,} coffees in the catalogue, the stream on (default "
        "configuration; per-key rate limit off); wrk with 2 threads shares the 2 cores "
        "with the server, and the machine with other engineers' jobs (1-minute load "
        f"average {os.getloadavg()[0]:.1f} at the end of the run). 'vs floor' compares with "
        "`GET /healthz` of the same server shape, measured just before. For ingestion, the "
        "last column is the outbox's unpublished rows when wrk stopped (acknowledged "
        "writes whose `tasting_logged` events the relay had not appended to the event log "
        "yet), how long they took to drain, and the writes/s over the run plus that "
        "drain.\n\n"
        f"{table}\n\n" + "\n".join(targets) + "\n\n"
        "## Feedback to visible, over HTTP\n\n"
        "`POST /v1/feedback` (acknowledged after the commit and the O(d) taste update), then "
        "`GET /v1/users/{id}/recommendations`, one client, 200 rounds on the 10k catalogue, "
        f"one process: p50 **{visible[0]:.1f} ms**, p99 **{visible[1]:.1f} ms** for the pair "
        f"(target ≤ 100 ms; {verdict(visible[1] <= 100)}). The feedback is in the very next "
        "response: the test suite checks that the disliked coffee leaves the list.\n\n"
        "## Batch embed over HTTP\n\n"
        f"`POST /v1/embed`, 64 unique records per call: **{embed_rate:,.0f} records/s**; the "
        f"same records embedded in-process (baseline, same run): {inproc_rate:,.0f} records/s. "
        "Both run the model's own text tower; the in-process model is loaded fresh for this "
        "measurement (its word and lexicon memos start empty), the server's has run the "
        "load above.\n"
    )
    print(text)
    update_section(args.results, "http_load", text)


def _feedback_to_visible(base: str, key: str) -> tuple[float, float]:
    import numpy as np

    times = []
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as http:
        coffees = [c["id"] for c in http.get("/v1/coffees", params={"limit": 1000}).json()]
        for i in range(200):
            body = {
                "id": f"visible-{time.time_ns()}-{i}",
                "user": "demo-ana",
                "coffee": coffees[i % len(coffees)],
                "signal": "liked" if i % 2 else "disliked",
            }
            started = time.perf_counter()
            http.post("/v1/feedback", json=body).raise_for_status()
            http.get("/v1/users/demo-ana/recommendations", params={"k": 10}).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def _embed_throughput(base: str, model_dir: Path, key: str) -> tuple[float, float]:
    from taste2vec.model.artifact import read_config
    from taste2vec.model.taste2vec import Taste2Vec
    from taste2vec.model.text import HFSentenceEncoder
    from taste2vec.schema import parse_record

    def batch(tag: str, i: int) -> list[dict[str, object]]:
        return [
            {
                "id": f"{tag}-{i}-{j}",
                "user": "demo-ana",
                "notes": f"note {tag} {i} {j}: plum, cocoa nib and a hint of bergamot",
                "metrics": {"acidity": 6},
            }
            for j in range(64)
        ]

    started = time.perf_counter()
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=120) as http:
        for i in range(8):
            http.post("/v1/embed", json={"records": batch("http", i)}).raise_for_status()
    http_rate = 8 * 64 / (time.perf_counter() - started)
    # no on-disk text cache in process (a MiniLM model); a static-tower model has none
    static = str(read_config(Path(model_dir)).get("text_model_id", "")).startswith("static-")
    model = Taste2Vec.load(model_dir, text_encoder=None if static else HFSentenceEncoder())
    records = [parse_record(r) for i in range(8) for r in batch("local", i)]
    started = time.perf_counter()
    for i in range(0, len(records), 64):
        model.encode(records[i : i + 64])
    return http_rate, len(records) / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
