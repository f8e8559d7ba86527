"""CPU per operation of the store's hot parts, this checkout against a baseline source tree.

On a loaded, shared machine throughput mostly measures the neighbours; CPU time per
operation is steadier. Runs the same measurement once under the baseline's ``src`` (first
on ``PYTHONPATH``) and once under this checkout's, each on a fresh SQLite store with the
demo data:

- ``Store.user_revision`` (every recommendation's consistency check): CPU per read,
  ``--reads`` reads of demo-ana's revision, one thread;
- ``Store.add_record`` from 50 threads (group commit): process CPU per acknowledged write,
  ``--writes`` new tastings spread over 50 users;
- reading 200 stored tastings by id as the outbox relay does before embedding them:
  ``records_by_id`` (one query) where the tree has it, else one ``get_record`` each.

Records the table in bench/RESULTS.md, section ``store_cpu``.

    mkdir /tmp/base && cp -r src /tmp/base/ && git diff C~1 C -- src | patch -p1 -R -d /tmp/base
    .venv/bin/python bench/store_cpu.py --baseline-src /tmp/base/src --baseline-ref "C reverted"
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.sim.ab import run_under

RUN = r"""
import json, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from taste2vec.schema import TasteRecord
from taste2vec.service.demo import seed_demo
from taste2vec.store import create_store

reads, writes = int(sys.argv[1]), int(sys.argv[2])
tmp = Path(tempfile.mkdtemp(prefix="t2v-store-cpu-"))
store = create_store(f"sqlite:///{tmp / 'store.db'}")
seed_demo(store, tmp / "keys.json")
out = {}
store.user_revision("demo-ana")
c0 = time.process_time()
for _ in range(reads):
    store.user_revision("demo-ana")
out["revision_us"] = 1e6 * (time.process_time() - c0) / reads
coffee = store.list_coffees(limit=1)[0].id
records = [
    TasteRecord(id=f"cpu-{i}", user=f"cpu-user-{i % 50}", coffee=coffee,
                timestamp=datetime(2026, 11, 1, tzinfo=UTC), notes="plum and cocoa",
                metrics={"acidity": 5})
    for i in range(writes)
]
c0 = time.process_time()
with ThreadPoolExecutor(50) as pool:
    assert all(r.created for r in pool.map(store.add_record, records))
out["write_ms"] = 1e3 * (time.process_time() - c0) / writes
ids = [f"cpu-{i}" for i in range(200)]
c0 = time.process_time()
for _ in range(5):
    if hasattr(store, "records_by_id"):
        assert len(store.records_by_id(ids)) == 200
    else:
        assert all(store.get_record(i) is not None for i in ids)
out["read200_ms"] = 1e3 * (time.process_time() - c0) / 5
store.close()
print("RESULT " + json.dumps(out))
"""


def _measure(src: Path, reads: int, writes: int) -> dict[str, float]:
    result: dict[str, float] = run_under(src, RUN, str(reads), str(writes))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--baseline-ref", required=True, help="what the baseline is")
    parser.add_argument("--baseline-how", default=None, help="the command that built it")
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--writes", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    load = [os.getloadavg()[0]]
    runs: dict[str, list[dict[str, float]]] = {}
    trees = ((f"baseline ({args.baseline_ref})", args.baseline_src), ("this checkout", Path("src")))
    for _ in range(args.rounds):  # interleaved: baseline, this, baseline, this
        for label, src in trees:
            runs.setdefault(label, []).append(_measure(src, args.reads, args.writes))
        load.append(os.getloadavg()[0])

    def cell(rs: list[dict[str, float]], key: str, fmt: str) -> str:
        values = sorted(r[key] for r in rs)
        return " / ".join(format(v, fmt) for v in values)

    rows = [
        [
            label,
            cell(rs, "revision_us", ".0f"),
            cell(rs, "write_ms", ".2f"),
            cell(rs, "read200_ms", ".1f"),
        ]
        for label, rs in runs.items()
    ]
    table = markdown_table(
        [
            "store code",
            "user_revision: CPU µs per read",
            "add_record from 50 threads: CPU ms per write",
            "200 tastings by id (relay): CPU ms",
        ],
        rows,
    )
    how = args.baseline_how or f"git archive {args.baseline_ref} src | tar -x -C /tmp/base"
    text = (
        "## Store hot parts: CPU per operation, this checkout vs a baseline "
        "(`bench/store_cpu.py`)\n\n"
        f"Command: `{how} && .venv/bin/python bench/store_cpu.py --baseline-src "
        f"{args.baseline_src} --baseline-ref '{args.baseline_ref}' --rounds {args.rounds}`. "
        f"SQLite with the demo data, fresh per run; {args.reads:,} revision reads on one "
        f"thread, {args.writes:,} new tastings from 50 threads (group commit), 200 tastings "
        f"read by id 5 times; {args.rounds} interleaved rounds, each cell lists every "
        "round's figure, smallest first. 1-minute load average "
        + " → ".join(f"{x:.1f}" for x in load)
        + " (2 cores shared with other jobs).\n\n"
        f"{table}\n"
    )
    print(text)
    update_section(args.results, "store_cpu", text)


if __name__ == "__main__":
    main()
