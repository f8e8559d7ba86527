"""ReplayBuffer.add throughput: the old scanning buffer vs the indexed one (issue 11).

Before issue 11, once the buffer was full every ``add`` scanned every user to find the
largest reservoir (``_evict_one``), and with ``capacity`` distinct users every new user
scanned them again for the least recently active (``_drop_least_recent``). The online
learner offers every stored reaction at start-up, so that cost multiplied by the stored
feedback. The indexed buffer finds both in O(log n).

The stream: ``--users`` SIMULATED users x ``--per-user`` reactions each, in a random order
(seeded), built before any timing. Both buffers (capacity ``--capacity``, seed 0) are timed
on the same first ``--old-adds`` reactions (the old one is too slow for the whole stream),
their ``state_dict()`` compared after it (they must be identical), and the indexed buffer
is also timed on the whole stream. The old buffer is the verbatim copy kept in
tests/learning/test_replay.py (``_OldReplayBuffer``), the reference of the bit-identity
property test.

    nice -n 10 .venv/bin/python bench/replay_buffer.py --out /tmp/replay_buffer.md

Target: none in figures (the issue asks for O(log n) or amortised O(1) per ``add`` with
bit-identical behaviour); the old buffer in the same run is the baseline. ``--out`` writes
the section ``replay_buffer`` (with its BEGIN/END markers) for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.learning.test_replay import _OldReplayBuffer  # noqa: E402

from taste2vec.learning.replay import ReplayBuffer  # noqa: E402
from taste2vec.schema import Feedback, FeedbackSignal  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _stream(users: int, per_user: int, seed: int) -> list[Feedback]:
    rng = np.random.default_rng(seed)
    owners = np.repeat(np.arange(users), per_user)
    rng.shuffle(owners)
    signals = [FeedbackSignal.LIKED, FeedbackSignal.DISLIKED]
    return [
        Feedback(
            id=f"f{i}",
            user=f"u{int(u)}",
            coffee=f"c{i % 997}",
            signal=signals[i % 2],
            timestamp=T0 + timedelta(seconds=i),
        )
        for i, u in enumerate(owners)
    ]


def _time(buf: ReplayBuffer | _OldReplayBuffer, items: list[Feedback]) -> float:
    start = time.perf_counter()
    for item in items:
        buf.add(item)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--capacity", type=int, default=10_000)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--per-user", type=int, default=5)
    ap.add_argument("--old-adds", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="write the RESULTS.md section here")
    args = ap.parse_args()
    if min(args.capacity, args.users, args.per_user, args.old_adds) < 1:
        ap.error("--capacity, --users, --per-user and --old-adds must be >= 1")

    stream = _stream(args.users, args.per_user, args.seed)
    prefix = stream[: args.old_adds]
    old, new = _OldReplayBuffer(args.capacity, seed=0), ReplayBuffer(args.capacity, seed=0)
    old_s = _time(old, prefix)
    new_s = _time(new, prefix)
    same = old.state_dict() == new.state_dict()
    full = ReplayBuffer(args.capacity, seed=0)
    full_s = _time(full, stream)
    load = os.getloadavg()[0]

    rows = [
        ("old scanning buffer (verbatim copy)", len(prefix), old_s),
        ("indexed buffer (this checkout)", len(prefix), new_s),
        ("indexed buffer (this checkout)", len(stream), full_s),
    ]
    lines = ["| buffer | adds | s | adds/s | µs/add |", "|---|---|---|---|---|"]
    for name, n, s in rows:
        lines.append(f"| {name} | {n:,} | {s:.2f} | {n / s:,.0f} | {1e6 * s / n:.1f} |")
    table = "\n".join(lines)
    speedup = old_s / new_s
    summary = (
        f"Same first {len(prefix):,} adds: indexed / old throughput = {speedup:,.0f}x; "
        f"state_dict() identical after them: {'yes' if same else 'NO'}. "
        f"Buffer after the whole stream: {len(full):,} items of {len(full.users()):,} users. "
        "Target: none in figures (O(log n) per add, bit-identical); baseline: the old buffer "
        "in the same run."
    )
    print(table)
    print(summary)
    print(f"1-minute load average at the end: {load:.1f}")
    if args.out is not None:
        cmd = "nice -n 10 .venv/bin/python bench/replay_buffer.py"
        section = (
            "<!-- BEGIN replay_buffer -->\n"
            "## ReplayBuffer.add throughput (`bench/replay_buffer.py`)\n\n"
            f"Command: `{cmd} --out /tmp/replay_buffer.md` (defaults: capacity "
            f"{args.capacity:,}, {args.users:,} SIMULATED users x {args.per_user} reactions in "
            f"a random order, the old buffer timed on the first {args.old_adds:,}). The old "
            "buffer is the verbatim pre-issue-11 copy in tests/learning/test_replay.py. "
            f"1-minute load average {load:.1f} (2 cores shared with other jobs).\n\n"
            f"{table}\n\n{summary}\n"
            "<!-- END replay_buffer -->\n"
        )
        args.out.write_text(section)


if __name__ == "__main__":
    main()
