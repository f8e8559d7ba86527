"""Server CPU per answered request, per server thread, over HTTP.

``bench/http_cpu.py`` gives the server's CPU per request; this splits it by thread (the
event loop, the request thread pool, each background loop), from each thread's
user+system time in ``/proc/<pid>/task/<tid>/stat`` before and after a wrk run. Thread
names come from ``py-spy dump`` (Python does not name its OS threads). Unlike a py-spy
profile's shares of *samples*, this counts CPU only: a thread sleeping, waiting on a lock
or for the GIL costs nothing here.

Starts a real ``taste2vec serve`` as ``bench/http_load.py`` does (fresh SQLite store, demo
plus a 10,000-coffee synthetic catalogue, stream on, rate limit off), 3 s of
recommendations first (demo-ana's state is cached), then per route:

- ``recommendations``: ``GET /v1/users/demo-ana/recommendations?k=10``, 10 connections;
- ``records``: ``POST /v1/records`` (unique ids), 50 connections.

Records the table in bench/RESULTS.md, section ``http_threads``.

    .venv/bin/python bench/http_threads.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from http_load import POST_LUA, _start_server, outbox_drain, wrk
from taste2vec.evaluation.report import markdown_table, update_section

_THREAD = re.compile(r'Thread (0x[0-9A-Fa-f]+|\d+) \([a-z]+\): "([^"]+)"')


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each live thread of ``pid``."""
    out: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def thread_names(pid: int) -> dict[int, str]:
    """Native thread id -> Python thread name, from ``py-spy dump``."""
    spy = Path(sys.executable).parent / "py-spy"
    done = subprocess.run(  # noqa: S603 - the venv's py-spy on our own server
        [str(spy), "dump", "--pid", str(pid), "--nonblocking"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        int(tid, 16) if tid.startswith("0x") else int(tid): name
        for tid, name in _THREAD.findall(done.stdout)
    }


def _group(name: str) -> str:
    if name.startswith("AnyIO worker thread"):
        return "AnyIO worker threads (sync routes)"
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--coffees", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    if not (Path(sys.executable).parent / "py-spy").exists():
        sys.exit("py-spy is not installed in this venv")
    tmp = Path(tempfile.mkdtemp(prefix="t2v-threads-"))
    server, base, key, n = _start_server(tmp, args.model, args.coffees, 1)
    load = [os.getloadavg()[0]]
    tables: list[str] = []
    try:
        script = tmp / "post.lua"
        script.write_text(POST_LUA.replace("KEY", key))
        rec = f"{base}/v1/users/demo-ana/recommendations?k=10"
        wrk(rec, 10, 3, key, None)
        for route, url, conns, auth, lua in (
            ("GET recommendations", rec, 10, key, None),
            ("POST /v1/records", f"{base}/v1/records", 50, None, script),
        ):
            names = thread_names(server.pid)
            before = thread_cpu(server.pid)
            result = wrk(url, conns, args.seconds, auth, lua)
            # the relay publishes what the load left behind: its CPU counts too
            backlog = outbox_drain(tmp / "load.db")[0] if lua else 0
            after = thread_cpu(server.pid)
            names |= thread_names(server.pid)
            load.append(os.getloadavg()[0])
            answered = max(result["rps"] * args.seconds, 1)
            per: dict[str, float] = {}
            for tid, cpu in after.items():
                name = _group(names.get(tid, "unnamed (native)"))
                per[name] = per.get(name, 0.0) + cpu - before.get(tid, 0.0)
            total = sum(per.values())
            rows = [
                [name, f"{1000 * cpu / answered:.3f}", f"{cpu / max(total, 1e-9):.1%}"]
                for name, cpu in sorted(per.items(), key=lambda kv: -kv[1])
                if cpu > 0
            ]
            rows.append(["**all threads**", f"**{1000 * total / answered:.3f}**", "100%"])
            tables.append(
                f"{route}, {conns} connections: {result['rps']:,.0f} req/s, p50 "
                f"{result['p50']:.1f} ms, p99 {result['p99']:.1f} ms"
                + (f"; outbox backlog when wrk stopped {backlog:,} rows" if lua else "")
                + ".\n\n"
                + markdown_table(["thread", "CPU ms per answered request", "share"], rows)
            )
    finally:
        server.terminate()
        server.wait(timeout=60)
    text = (
        "## Server CPU per request, per thread (`bench/http_threads.py`)\n\n"
        f"Command: `.venv/bin/python bench/http_threads.py --seconds {args.seconds}`. One "
        f"server process, {n:,} coffees, stream on, rate limit off; wrk {args.seconds} s per "
        "route; each thread's user+system time from /proc over the requests answered (for "
        "ingestion, until the relay has published every acknowledged write; a "
        "sleeping or waiting thread costs nothing here, unlike in the py-spy profiles' "
        "sample shares). 1-minute load average "
        + " → ".join(f"{x:.1f}" for x in load)
        + " (2 cores shared with other engineers' jobs).\n\n"
        + "\n\n".join(tables)
        + "\n"
    )
    print(text)
    update_section(args.results, "http_threads", text)


if __name__ == "__main__":
    main()
