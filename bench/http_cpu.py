"""Server CPU per request, this checkout against a baseline source tree, over HTTP.

On a shared, loaded machine req/s and latency mostly measure the neighbours; the CPU time
the server process spends per answered request is steadier. This starts a real
``taste2vec serve`` exactly as ``bench/http_load.py`` does (fresh SQLite store, demo plus a
10,000-coffee synthetic catalogue, stream on, rate limit off), once with the baseline's
``src`` first on ``PYTHONPATH`` and once with this checkout, and drives each with wrk
(3 s of recommendations first, so demo-ana's taste state is cached, as in http_load):

- ``GET /healthz`` at 50 connections (the floor);
- ``GET /v1/users/demo-ana/recommendations?k=10`` at 10 connections;
- ``POST /v1/records`` (unique ids, committed before the reply) at 50 connections.

For each: req/s, p50/p99 and the server's user+system CPU seconds (its process and worker
processes, from /proc) divided by the requests wrk counted. Records the table in
bench/RESULTS.md, section ``http_cpu``.

    git archive <ref> src | tar -x -C /tmp/base
    .venv/bin/python bench/http_cpu.py --baseline-src /tmp/base/src --baseline-ref <ref>

(repeat ``--baseline-src``/``--baseline-ref`` to measure several trees in the same run), or,
to take one commit's change out of this checkout (everything else equal):

    mkdir /tmp/base && cp -r src /tmp/base/ && git diff C~1 C -- src | patch -p1 -R -d /tmp/base
    .venv/bin/python bench/http_cpu.py --baseline-src /tmp/base/src --baseline-ref "C reverted" \
        --baseline-how "mkdir /tmp/base && cp -r src /tmp/base/ && git diff C~1 C -- src | ..."
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.sim.ab import run_under

RUN = r"""
import json, os, sys
from pathlib import Path
sys.path.insert(0, "bench")
from http_load import POST_LUA, _start_server, outbox_drain, wrk

def cpu(pid):
    total, pids = 0, [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(c) for c in children.read_text().split()]
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")

tmp, seconds, coffees = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
server, base, key, n = _start_server(tmp, Path("artifacts/model"), coffees, 1)
out = {}
try:
    script = tmp / "post.lua"
    script.write_text(POST_LUA.replace("KEY", key))
    rec = f"{base}/v1/users/demo-ana/recommendations?k=10"
    wrk(rec, 10, 3, key, None)
    for name, url, conns, auth, lua in (
        ("floor: GET /healthz", f"{base}/healthz", 50, None, None),
        ("recommendations", rec, 10, key, None),
        ("ingestion: POST /v1/records", f"{base}/v1/records", 50, None, script),
    ):
        before = cpu(server.pid)
        r = wrk(url, conns, seconds, auth, lua)
        # the relay's work for these writes counts, also what it does after wrk stops
        r["backlog"] = outbox_drain(tmp / "load.db")[0] if lua else 0
        r["cpu_ms"] = 1000 * (cpu(server.pid) - before) / max(r["rps"] * seconds, 1)
        r["clients"] = conns
        out[name] = r
finally:
    server.terminate()
    server.wait(timeout=60)
print("RESULT " + json.dumps(out))
"""


def _measure(src: Path, seconds: int, coffees: int) -> dict[str, dict[str, float]]:
    tmp = Path(tempfile.mkdtemp(prefix="t2v-cpu-"))
    result: dict[str, dict[str, float]] = run_under(src, RUN, str(tmp), str(seconds), str(coffees))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--baseline-src",
        type=Path,
        required=True,
        action="append",
        help="a baseline source tree; repeat for several (measured in the order given)",
    )
    parser.add_argument(
        "--baseline-ref",
        required=True,
        action="append",
        help="what each baseline is (a commit), one per --baseline-src",
    )
    parser.add_argument(
        "--baseline-how",
        default=None,
        help="the command that built --baseline-src (default: git archive of --baseline-ref)",
    )
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--coffees", type=int, default=10_000)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    if len(args.baseline_ref) != len(args.baseline_src):
        parser.error("give one --baseline-ref per --baseline-src")
    load = [os.getloadavg()[0]]
    runs = []
    for label, src in (
        *(
            (f"baseline ({ref})", src)
            for ref, src in zip(args.baseline_ref, args.baseline_src, strict=True)
        ),
        ("this checkout", Path("src")),
    ):
        runs.append((label, _measure(src, args.seconds, args.coffees)))
        load.append(os.getloadavg()[0])
    rows = [
        [
            label,
            name,
            str(int(r["clients"])),
            f"{r['rps']:,.0f}",
            f"{r['p50']:.1f}",
            f"{r['p99']:.1f}",
            f"{r['cpu_ms']:.2f}",
            f"{r.get('backlog', 0):,.0f}",
        ]
        for label, result in runs
        for name, r in result.items()
    ]
    table = markdown_table(
        [
            "server",
            "endpoint",
            "clients",
            "req/s",
            "p50 ms",
            "p99 ms",
            "server CPU ms/request",
            "outbox at the end",
        ],
        rows,
    )
    how = args.baseline_how or " && ".join(
        f"git archive {ref} src | tar -x -C {src.parent}"
        for ref, src in zip(args.baseline_ref, args.baseline_src, strict=True)
    )
    baselines = " ".join(
        f"--baseline-src {src} --baseline-ref '{ref}'"
        for ref, src in zip(args.baseline_ref, args.baseline_src, strict=True)
    )
    text = (
        "## Server CPU per request: this checkout vs a baseline (`bench/http_cpu.py`)\n\n"
        f"Command: `{how} && .venv/bin/python bench/http_cpu.py {baselines} "
        f"--seconds {args.seconds}`. "
        "One server process each, "
        f"{args.coffees:,} synthetic coffees plus the demo, stream on, rate limit off; wrk "
        f"{args.seconds} s per row, baselines first; CPU is the server's user+system time "
        "over the requests answered (for ingestion, until the relay has also published "
        "every acknowledged write: 'outbox at the end' is the backlog it had left when "
        "wrk stopped). 1-minute load average "
        + " → ".join(f"{x:.1f}" for x in load)
        + " (2 cores shared with other engineers' jobs: req/s and latency are the "
        "neighbours' as much as ours; CPU per request is the comparable figure).\n\n"
        f"{table}\n"
    )
    print(text)
    update_section(args.results, "http_cpu", text)


if __name__ == "__main__":
    main()
