"""The crowd refit (``TasteService.refresh_stats``) as the stored feedback grows: peak memory.

The follower refits the crowd's statistics and the taste model's prior after every 50 new
feedback rows or 30 s. Before issue 11's change it read every stored feedback into Python
(``engine.set_crowd(store.all_feedback())``); now it reads the per-coffee aggregate and the
sample of at most ``BayesConfig.max_users`` (2,000) users in SQL
(``engine.set_crowd(store.crowd_feedback(max_users))``). Each tree runs in a fresh process
on a fresh SQLite store holding the demo catalogue and ``--per-user`` SIMULATED reactions
(random signals and times over 30 days) of each of ``--users`` users, bulk-inserted; then
one untimed warm-up refit, one timed refit, and one refit under ``tracemalloc`` (its peak:
Python and numpy allocations during the refit, what it adds to the server). The baseline
tree runs the refit the same way its ``refresh_stats`` did. "same prior" compares the
fitted prior's mean, precision and residual with the baseline's, bit for bit.

    git archive <ref> src | tar -x -C /tmp/base
    nice -n 10 .venv/bin/python bench/crowd_refit.py --baseline-src /tmp/base/src \\
        --baseline-ref <ref>

Target (issue 11, "no unbounded memory growth"): the refit's peak does not grow with the
stored feedback once the crowd has more than ``max_users`` users. Records the table in
bench/RESULTS.md, section ``crowd_refit``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.recommend.bayes import BayesConfig
from taste2vec.sim.ab import run_under

MAX_USERS = BayesConfig().max_users

RUN = r"""
import hashlib, json, sys, tempfile, time, tracemalloc, zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
import numpy as np
from taste2vec.data.demo import load_demo_catalogue
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.recommend.engine import RecommendationEngine
from taste2vec.schema import Feedback
from taste2vec.store import create_store
from taste2vec.store._base import payload_hash
from taste2vec.store._tables import FeedbackRow, UserRow

model_dir, users, per_user = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
coffees = load_demo_catalogue()
folder = tempfile.TemporaryDirectory()
store = create_store(f"sqlite:///{folder.name}/crowd.db")
store.upsert_coffees(coffees)
rng = np.random.default_rng(0)
t0 = datetime(2026, 1, 1, tzinfo=UTC)
signals = ["liked", "disliked", "rated", "skipped"]
table = FeedbackRow.__table__
hashed = "user_hash" in table.c
with store._engine.begin() as conn:
    conn.execute(UserRow.__table__.insert(), [{"id": f"user-{u}", "created_at": t0}
                                              for u in range(users)])
    for start in range(0, users, 2000):
        rows = []
        for u in range(start, min(users, start + 2000)):
            for k in range(per_user):
                signal = signals[int(rng.integers(4))]
                fb = Feedback(
                    id=f"f{u}-{k}", user=f"user-{u}",
                    coffee=coffees[int(rng.integers(len(coffees)))].id,
                    signal=signal,
                    rating=int(rng.integers(1, 6)) if signal == "rated" else None,
                    timestamp=t0 + timedelta(seconds=int(rng.integers(30 * 86400))),
                )
                payload = fb.model_dump(mode="json")
                row = {"id": fb.id, "user_id": fb.user, "coffee_id": fb.coffee,
                       "signal": signal, "rating": fb.rating, "timestamp": fb.timestamp,
                       "payload": payload, "payload_hash": payload_hash(payload),
                       "received_at": t0}
                if hashed:
                    row["user_hash"] = zlib.crc32(fb.user.encode())
                rows.append(row)
        conn.execute(table.insert(), rows)
engine = RecommendationEngine(Taste2Vec.load(model_dir), coffees)
if hasattr(store, "crowd_feedback"):
    refit = lambda: engine.set_crowd(store.crowd_feedback(engine.bayes.max_users))
else:
    refit = lambda: engine.set_crowd(store.all_feedback())
refit()
t = time.perf_counter()
refit()
seconds = time.perf_counter() - t
tracemalloc.start()
refit()
peak = tracemalloc.get_traced_memory()[1] / 2**20
tracemalloc.stop()
crowd = engine._crowd
kept = crowd if isinstance(crowd, dict) else crowd.prefs
prior = engine.snapshot.crowd
digest = hashlib.sha256(
    prior.mean.tobytes() + prior.precision.tobytes() + prior.residual.tobytes()
).hexdigest()
print("RESULT " + json.dumps({"seconds": seconds, "peak_mib": peak, "kept": len(kept),
                              "n_users": prior.n_users, "digest": digest}))
store.close()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--baseline-ref", required=True)
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--users", type=int, nargs="+", default=[2_500, 10_000, 40_000])
    parser.add_argument("--per-user", type=int, default=5)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    trees = [(f"baseline ({args.baseline_ref})", args.baseline_src), ("this checkout", Path("src"))]
    load = [os.getloadavg()[0]]
    rows = []
    peaks: dict[str, list[float]] = {}
    for users in args.users:
        digests = []
        for label, src in trees:
            r = run_under(src, RUN, str(args.model.resolve()), str(users), str(args.per_user))
            load.append(os.getloadavg()[0])
            digests.append(r["digest"])
            peaks.setdefault(label, []).append(r["peak_mib"])
            rows.append(
                [
                    f"{users:,}",
                    f"{users * args.per_user:,}",
                    label,
                    f"{r['peak_mib']:,.1f}",
                    f"{r['seconds']:.2f}",
                    f"{r['kept']:,}",
                    f"{r['n_users']:,}",
                    "yes" if r["digest"] == digests[0] else "NO",
                ]
            )
            print(rows[-1], flush=True)
    table = markdown_table(
        [
            "users",
            "feedback rows",
            "refit code",
            "refit peak MiB (tracemalloc)",
            "refit s",
            "users kept by the engine",
            "CrowdPrior.n_users",
            "same prior as baseline",
        ],
        rows,
    )
    growth = {label: p[-1] / p[0] for label, p in peaks.items() if len(p) > 1 and p[0] > 0}
    above = args.users[0] > MAX_USERS
    met = above and growth.get("this checkout", 99.0) < 1.2
    verdict = ("met" if met else "MISSED") if above else "not measured (a crowd <= max_users)"
    summary = "; ".join(
        f"{label}: peak at {args.users[-1]:,} users / at {args.users[0]:,} = {v:.2f}x"
        for label, v in growth.items()
    )
    text = (
        "## Crowd refit as the stored feedback grows (`bench/crowd_refit.py`)\n\n"
        f"Command: `nice -n 10 .venv/bin/python bench/crowd_refit.py --baseline-src "
        f"{args.baseline_src} --baseline-ref {args.baseline_ref} --users "
        + " ".join(str(u) for u in args.users)
        + f" --per-user {args.per_user}` (the baseline tree made with `git archive REF src | "
        "tar -x -C DIR`). Model `"
        f"{args.model}`, the demo catalogue, {args.per_user} SIMULATED reactions per user in "
        "a fresh SQLite store; each tree in a fresh process; the refit is what that tree's "
        "`refresh_stats` calls. 1-minute load average "
        + " → ".join(f"{x:.1f}" for x in load)
        + " (2 cores shared with other jobs).\n\n"
        f"{table}\n\n"
        f"Growth of the refit's peak: {summary}. Target: this checkout's peak flat "
        f"(< 1.2x) once users exceed `max_users`: **{verdict}**.\n"
    )
    print(text)
    update_section(args.results, "crowd_refit", text)


if __name__ == "__main__":
    main()
