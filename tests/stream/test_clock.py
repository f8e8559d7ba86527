"""One client's clock must not move anyone else's stream state (issue: a single record
stamped 2999-01-01 set every user's ``as_of`` to the year 2999, their
``days_since_last_engagement`` to ~355,000 and their churn risk to ~0.7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from taste2vec.sim.stream.reference import batch_aggregate
from taste2vec.stream.log import SQLiteLog
from taste2vec.stream.log.base import LogEntry, partition_for
from taste2vec.stream.state import StreamReader
from taste2vec.stream.windows import to_us
from taste2vec.stream.worker import run_to_end

PARTS = 2


def _z(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _lab(eid: str, user: str, t: datetime | str) -> tuple[str, bytes]:
    when = t if isinstance(t, str) else _z(t)
    body = {
        "type": "lab_session",
        "event_id": eid,
        "user": user,
        "event_time": when,
        "recipe": "v60",
        "rating": 4,
    }
    return user, json.dumps(body).encode()


def _same_partition_users(n: int) -> list[str]:
    """``n`` user ids on partition 0, so one of them shares a partition (and a
    watermark) with the others, as in the report."""
    users = [f"u{i}" for i in range(200) if partition_for(f"u{i}", PARTS) == 0]
    return users[:n]


def _run(tmp: Path, entries: list[tuple[str, bytes]]) -> tuple[dict[str, Any], list[LogEntry]]:
    log = SQLiteLog(tmp / "events.db", PARTS)
    log.append(entries)
    run_to_end(log, tmp / "state.db")
    everything = [e for p in range(PARTS) for e in log.read(p, 0, 10**9)]
    log.close()
    reader = StreamReader(tmp / "state.db")
    snap = reader.snapshot()
    snap["progress"] = reader.progress()
    reader.close()
    return snap, everything


@pytest.fixture
def honest() -> list[tuple[str, bytes]]:
    now = datetime.now(UTC)
    users = _same_partition_users(3)
    return [_lab(f"e{i}-{u}", u, now - timedelta(days=3 - i)) for u in users for i in range(3)]


def test_a_far_future_event_changes_no_one_elses_signals(
    tmp_path: Path, honest: list[tuple[str, bytes]]
) -> None:
    before, _ = _run(tmp_path / "before", honest)
    attacker = honest[0][0]
    hostile = [*honest, _lab("evil", attacker, "2999-01-01T00:00:00Z")]
    after, entries = _run(tmp_path / "after", hostile)

    # Every user's signals are exactly what they were without the hostile event.
    assert after["users"] == before["users"]
    for signals in after["users"].values():
        assert signals["as_of"] < "2100"
        assert signals["days_since_last_engagement"] < 4
    # The event is dead-lettered with a reason that says why, and counted as invalid.
    dead = [d for d in after["dead_letters"] if "future" in d[2]]
    assert len(dead) == 1 and "2999-01-01" in dead[0][2]
    assert after["counters"]["invalid"] == before["counters"]["invalid"] + 1
    # The watermark of the attacker's partition stays behind the log's clock.
    part = after["progress"]["partitions"][0]
    assert part["max_event_time"] < _z(datetime.now(UTC) + timedelta(minutes=5))
    # The batch recomputation applies the same rule.
    reference = batch_aggregate(entries)
    for key in ("users", "dead_letters", "counters", "windows"):
        assert after[key] == reference[key], key


def test_a_clock_slightly_ahead_is_accepted_but_cannot_move_as_of(
    tmp_path: Path, honest: list[tuple[str, bytes]]
) -> None:
    ahead = datetime.now(UTC) + timedelta(minutes=4)  # within the 5-minute skew
    snap, entries = _run(tmp_path, [*honest, _lab("ahead", honest[0][0], ahead)])
    assert snap["counters"]["invalid"] == 0  # accepted: it counts in its user's windows
    appended = max(e.timestamp_ms for e in entries) * 1000
    as_of = {s["as_of"] for s in snap["users"].values()}
    assert len(as_of) == 1
    (value,) = as_of
    # as_of is capped by the latest append time, not by the client's clock.
    assert to_us(datetime.fromisoformat(value)) <= appended < to_us(ahead)
    assert batch_aggregate(entries)["users"] == snap["users"]


def test_events_before_1990_are_dead_lettered(
    tmp_path: Path, honest: list[tuple[str, bytes]]
) -> None:
    snap, entries = _run(tmp_path, [*honest, _lab("old", honest[0][0], "0001-01-01T00:00:00Z")])
    (dead,) = snap["dead_letters"]
    assert "1990-01-01" in dead[2] and "event_time" in dead[2]
    assert batch_aggregate(entries)["dead_letters"] == snap["dead_letters"]


def test_the_skew_is_a_setting(tmp_path: Path, honest: list[tuple[str, bytes]]) -> None:
    ahead = datetime.now(UTC) + timedelta(minutes=4)
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    log.append([*honest, _lab("ahead", honest[0][0], ahead)])
    run_to_end(log, tmp_path / "state.db", max_clock_skew_s=60)
    entries = [e for p in range(PARTS) for e in log.read(p, 0, 10**9)]
    log.close()
    reader = StreamReader(tmp_path / "state.db")
    snap = reader.snapshot()
    reader.close()
    assert [d[2].split(":")[0] for d in snap["dead_letters"]] == [
        "event_time in the future of its log append time"
    ]
    assert batch_aggregate(entries, max_clock_skew_s=60)["dead_letters"] == snap["dead_letters"]
