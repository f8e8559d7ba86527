"""Where a route's time goes under load: py-spy on a real server, wrk driving it.

Starts ``taste2vec serve`` exactly as ``bench/http_load.py`` does (fresh SQLite store, demo
plus a 10,000-coffee synthetic catalogue, stream on, rate limit off), drives one route with
wrk (2 threads, ``--clients`` connections) and samples the server with ``py-spy record``
(``--format raw``: one line per distinct stack with its sample count; idle frames are not
sampled) for ``--seconds``. ``--route``:

- ``recommendations`` (default): ``GET /v1/users/demo-ana/recommendations?k=10``, recorded
  in bench/RESULTS.md section ``recommend_profile``;
- ``records``: ``POST /v1/records`` with unique ids, the body of ``bench/http_load.py``'s
  ingestion run (committed before the reply), section ``ingest_profile``.

Both start with 3 s of recommendations, as ``bench/http_load.py`` does, so the user's
taste state is cached (a tasting then also updates it on the write path).

Prints and records:

- the share of active samples per thread (event loop, AnyIO request threads, each
  background loop);
- the share under the route handler, and the inclusive share of the busiest ``taste2vec``
  functions (a function counts once per sample, wherever it sits in the stack);
- the self share of the busiest source lines (time in C code, BLAS included, counts on
  the Python line that called it: py-spy runs without ``--native``).

Shares are of all active samples of the server process (every thread). The wrk figures
of the same run are printed next to them; py-spy's sampling slows the server a little.

    .venv/bin/python bench/profile_recommend.py [--seconds 20] [--clients 10]
        [--route recommendations|records]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from http_load import POST_LUA, _start_server, wrk
from taste2vec.evaluation.report import markdown_table, update_section

_LINE = re.compile(r"^(.*) (\d+)$")
_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]*?)(?::\d+)?\)$")
_LEAF = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]*?):(?P<line>\d+)\)$")
# Frames every request passes through (server, middleware, routing): not informative.
_WRAPPERS = ("taste2vec/cli.py", "taste2vec/api/middleware.py")
# --route: (what wrk sends, the handler's frame, (RESULTS.md section, its heading))
_ROUTES = {
    "recommendations": (
        "GET /v1/users/demo-ana/recommendations?k=10",
        "recommendations (taste2vec/api/routes/recommendations.py)",
        ("recommend_profile", "Recommendation route profile"),
    ),
    "records": (
        "POST /v1/records",
        "post_record (taste2vec/api/routes/events.py)",
        ("ingest_profile", "Ingestion route profile"),
    ),
}


def _module(path: str) -> str:
    """'.../site-packages/starlette/routing.py' -> 'starlette/routing.py'."""
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def parse(raw: str) -> tuple[Counter[str], Counter[str], Counter[str], int]:
    """(samples per thread, inclusive samples per function, self samples per source line,
    total). Functions are ``name (module)``; self lines keep the line number."""
    threads: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        stack, count = m.group(1).split(";"), int(m.group(2))
        total += count
        threads[stack[0]] += count
        funcs = []
        for frame in stack[1:]:
            f = _FRAME.match(frame)
            funcs.append(f"{f.group('func')} ({_module(f.group('file'))})" if f else frame)
        for name in set(funcs):
            inclusive[name] += count
        if len(stack) > 1:
            leaf = _LEAF.match(stack[-1])
            self_[
                f"{leaf.group('func')} ({_module(leaf.group('file'))}:{leaf.group('line')})"
                if leaf
                else stack[-1]
            ] += count
    return threads, inclusive, self_, total


def _thread_label(name: str) -> str:
    # py-spy --threads writes 'thread (0x7f..)' or 'process ...'; keep it short
    return re.sub(r"\(0x[0-9a-f]+\)", "", name).strip() or name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--coffees", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--route", choices=sorted(_ROUTES), default="recommendations")
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    route_name, handler, section = _ROUTES[args.route]
    for tool in ("wrk", "py-spy"):
        if shutil.which(tool) is None and not (Path(sys.executable).parent / tool).exists():
            sys.exit(f"{tool} is not installed (wrk: apt-get install -y wrk; py-spy: pip)")
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    tmp = Path(tempfile.mkdtemp(prefix="t2v-profile-"))
    server, base, key, n = _start_server(tmp / "server", args.model, args.coffees, 1)
    script: Path | None = None
    # As in bench/http_load.py, recommendations first: the user's taste state is cached, so
    # each tasting also updates it (a model call) on the write path.
    wrk(f"{base}/v1/users/demo-ana/recommendations?k=10", args.clients, 3, key, None)
    if args.route == "records":
        url, auth = f"{base}/v1/records", None
        script = tmp / "post.lua"
        script.write_text(POST_LUA.replace("KEY", key))
    else:
        url, auth = f"{base}/v1/users/demo-ana/recommendations?k=10", key
    out = tmp / "profile.txt"
    try:
        wrk(url, args.clients, 3, auth, script)  # warm-up
        spy = subprocess.Popen(
            [
                pyspy,
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(args.seconds),
                "--rate",
                "200",
                "--format",
                "raw",
                "--threads",
                "--nonblocking",
                "-o",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        load = wrk(url, args.clients, args.seconds, auth, script)
        _, err = spy.communicate(timeout=120)
        if spy.returncode != 0:
            sys.exit(f"py-spy failed: {err.decode(errors='replace')[-2000:]}")
    finally:
        server.terminate()
        server.wait(timeout=60)
    threads, inclusive, self_, total = parse(out.read_text())
    if total == 0:
        sys.exit("py-spy recorded no samples")

    def share(c: int) -> str:
        return f"{c / total:.1%}"

    thread_rows = [[_thread_label(t), f"{c:,}", share(c)] for t, c in threads.most_common(8)]
    route = inclusive.get(handler, 0)
    incl_rows = [
        [f"`{name}`", share(c)]
        for name, c in inclusive.most_common()
        if ("taste2vec/" in name or "sqlalchemy/orm/session.py" in name)
        and not any(w in name for w in _WRAPPERS)
    ][:20]
    self_rows = [[f"`{name}`", share(c)] for name, c in self_.most_common(12)]
    text = (
        f"## {section[1]} (py-spy under wrk)\n\n"
        f"Command: `.venv/bin/python bench/profile_recommend.py --seconds {args.seconds} "
        f"--clients {args.clients} --route {args.route}`. `{route_name}`, one "
        f"server process, {n:,} coffees, stream on; wrk {args.clients} connections for "
        f"{args.seconds} s while py-spy samples the server at 200 Hz (non-blocking; idle "
        f"frames excluded): {total:,} active samples. wrk in the same run: "
        f"{load['rps']:,.0f} req/s, p50 {load['p50']:.1f} ms, p99 {load['p99']:.1f} ms "
        "(with the sampler attached). Shares are of all active samples, every thread.\n\n"
        "Active samples per thread:\n\n"
        f"{markdown_table(['thread', 'samples', 'share'], thread_rows)}\n\n"
        f"The route handler (`{handler.split(' ')[0]}`, everything under it) holds "
        f"{share(route)} "
        "of the samples; the rest of the event loop's share is uvicorn, the middleware, "
        "FastAPI's routing and validation, and writing responses.\n\n"
        "Inclusive share of the busiest `taste2vec` functions (and SQLAlchemy sessions), "
        "server and middleware wrappers left out (a function counts once per sample):\n\n"
        f"{markdown_table(['frame', 'inclusive'], incl_rows)}\n\n"
        "Self share of the busiest source lines (py-spy without `--native`: time in C "
        "code, numpy's BLAS included, counts on the Python line that called it):\n\n"
        f"{markdown_table(['line', 'self'], self_rows)}\n"
    )
    print(text)
    update_section(args.results, section[0], text)


if __name__ == "__main__":
    main()
