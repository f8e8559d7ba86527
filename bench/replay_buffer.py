"""ReplayBuffer.add throughput: the old scanning buffer vs the indexed one (issue 11).

Before issue 11, once the buffer was full every ``add`` scanned every user to find the
largest reservoir (``_evict_one``), and with ``capacity`` distinct users every new user
scanned them again for the least recently active (``_drop_least_recent``). The online
learner offers every stored reaction at start-up, so that cost multiplied by the stored
feedback. The indexed buffer finds both in O(log n).

Two SIMULATED streams, built before any timing: ``--users`` users x ``--per-user``
reactions each in a random order (more users than the capacity: drops), and
``--zipf-reactions`` reactions of ``--zipf-users`` users with Zipf weights (fewer users than
the capacity, a few heavy ones: evictions and Algorithm R). On each, both buffers
(capacity ``--capacity``, seed 0) are timed on the same first ``--old-adds`` reactions (the
old one is too slow for the whole stream), their ``state_dict()`` compared after them (they
must be identical), and the indexed buffer is also timed on the whole stream. The old
buffer is the verbatim copy kept in tests/learning/test_replay.py (``_OldReplayBuffer``),
the reference of the bit-identity property test.

    nice -n 10 .venv/bin/python bench/replay_buffer.py

Target: none in figures (the issue asks for O(log n) or amortised O(1) per ``add`` with
bit-identical behaviour); the old buffer in the same run is the baseline. Records the
section ``replay_buffer`` of ``--results`` (default bench/RESULTS.md).
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

from taste2vec.evaluation.report import update_section  # noqa: E402
from taste2vec.learning.replay import ReplayBuffer  # noqa: E402
from taste2vec.schema import Feedback, FeedbackSignal  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _feedback(owners: np.ndarray) -> list[Feedback]:
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


def _spread_stream(users: int, per_user: int, seed: int) -> list[Feedback]:
    """Every user ``per_user`` times, in a random order."""
    rng = np.random.default_rng(seed)
    owners = np.repeat(np.arange(users), per_user)
    rng.shuffle(owners)
    return _feedback(owners)


def _zipf_stream(users: int, n: int, seed: int) -> list[Feedback]:
    """``n`` reactions of users drawn with weights 1 / rank**1.2 (a few very heavy users)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, users + 1) ** 1.2
    return _feedback(rng.choice(users, size=n, p=weights / weights.sum()))


def _time(buf: ReplayBuffer | _OldReplayBuffer, items: list[Feedback]) -> float:
    start = time.perf_counter()
    for item in items:
        buf.add(item)
    return time.perf_counter() - start


def _measure(label: str, stream: list[Feedback], capacity: int, old_adds: int) -> list[str]:
    """Table rows for one stream: old and indexed on the same prefix, indexed on all of it."""
    prefix = stream[:old_adds]
    old, new = _OldReplayBuffer(capacity, seed=0), ReplayBuffer(capacity, seed=0)
    old_s = _time(old, prefix)
    new_s = _time(new, prefix)
    same = "yes" if old.state_dict() == new.state_dict() else "NO"
    full = ReplayBuffer(capacity, seed=0)
    full_s = _time(full, stream)
    rows = []
    for name, n, sec, extra in [
        ("old scanning buffer (verbatim copy)", len(prefix), old_s, "baseline"),
        (
            "indexed buffer (this checkout)",
            len(prefix),
            new_s,
            f"{old_s / new_s:,.1f}x the old; same state_dict as the old: {same}",
        ),
        (
            "indexed buffer (this checkout)",
            len(stream),
            full_s,
            f"ends with {len(full):,} items of {len(full.users()):,} users",
        ),
    ]:
        rows.append(
            f"| {label} | {name} | {n:,} | {sec:.2f} | {n / sec:,.0f} | {1e6 * sec / n:.1f} "
            f"| {extra} |"
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--capacity", type=int, default=10_000)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--per-user", type=int, default=5)
    ap.add_argument("--zipf-users", type=int, default=5_000)
    ap.add_argument("--zipf-reactions", type=int, default=100_000)
    ap.add_argument("--old-adds", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = ap.parse_args()
    sizes = (args.capacity, args.users, args.per_user, args.zipf_users, args.zipf_reactions)
    if min(*sizes, args.old_adds) < 1:
        ap.error("every size and --old-adds must be >= 1")

    spread = f"{args.users:,} users x {args.per_user}, random order"
    zipf = f"{args.zipf_users:,} users, Zipf 1.2, {args.zipf_reactions:,} reactions"
    rows = _measure(
        spread, _spread_stream(args.users, args.per_user, args.seed), args.capacity, args.old_adds
    )
    rows += _measure(
        zipf,
        _zipf_stream(args.zipf_users, args.zipf_reactions, args.seed),
        args.capacity,
        args.old_adds,
    )
    load = os.getloadavg()[0]
    table = "\n".join(
        [
            "| stream | buffer | adds | s | adds/s | µs/add | |",
            "|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    note = (
        "Target: none in figures (the issue asks for O(log n) or amortised O(1) per add, "
        "bit-identical to the old buffer); baseline: the old buffer in the same run, on the "
        "same first adds (its figure includes the cheap adds before the buffer fills)."
    )
    print(table)
    print(note)
    print(f"1-minute load average at the end: {load:.1f}")
    cmd = "nice -n 10 .venv/bin/python bench/replay_buffer.py"
    section = (
        "## ReplayBuffer.add throughput (`bench/replay_buffer.py`)\n\n"
        f"Command: `{cmd}` (defaults). Capacity "
        f"{args.capacity:,}, seed 0, SIMULATED reactions built before timing; the old "
        f"buffer (the verbatim pre-issue-11 copy in tests/learning/test_replay.py) and the "
        f"indexed one timed on the same first {args.old_adds:,} adds of each stream, the "
        "indexed one also on the whole stream. In the first stream the buffer holds "
        f"{args.capacity:,} distinct users, so most adds drop the least recently active "
        "user; in the second every add of a user whose reservoir is complete evicts from "
        "the largest, but most of its adds are heavy users' Algorithm R draws, which the "
        f"old buffer did not scan for either. 1-minute load average {load:.1f} (2 cores "
        "shared with other jobs).\n\n"
        f"{table}\n\n{note}\n"
    )
    update_section(args.results, "replay_buffer", section)


if __name__ == "__main__":
    main()
