"""Flink parity: one event file through the Flink SQL job (local mini-cluster, PyFlink in
``.venv-flink``) and through the embedded worker (SQLite log, allowed lateness 0, drained
at the end like a bounded source) gives exactly the same window rows.

The file comes from the shared generator with disorder inside the 5-minute bound (no event
is late in either engine), duplicates (both engines drop them) and malformed payloads
(both engines skip them and dead-letter each with a reason). A third, independent
computation -- a plain batch pass in this file, straight from the contract -- checks the
Flink rows even where the worker and the job could share a misreading of the contract.

One Flink job serves every test here (module fixture; xdist group "flink"). Without
``.venv-flink`` the Flink tests skip locally and FAIL under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from taste2vec.errors import MissingExtraError, SchemaError
from taste2vec.sim.stream.generate import generate, write_jsonl
from taste2vec.stream.events import BoxRated, FeedbackGiven, parse_event
from taste2vec.stream.flink import (
    JOB_SCRIPT,
    FlinkJobError,
    FlinkNotInstalledError,
    FlinkResult,
    find_flink_python,
    run_flink,
    run_flink_job,
)
from taste2vec.stream.log import SQLiteLog
from taste2vec.stream.state import StreamReader
from taste2vec.stream.worker import run_to_end

pytestmark = [pytest.mark.xdist_group("flink")]

N_EVENTS = 10_000
SEED = 11
DISORDER_S = 240.0  # < the 5-minute out-of-orderness: no event is late
PARTITIONS = 4
AGGREGATES = ("coffee_daily", "user_weekly", "arm_hourly")
# Payloads both engines must skip (on top of the generator's malformed ones).
JUNK: list[tuple[str, bytes]] = [
    ("junk", b"[1, 2, 3]"),
    ("junk", b'"a string"'),
    ("junk", b'{"event_id": "j1", "user": "junk", "type": "lab_session"'),
    (
        "junk",
        b'{"event_id": "j2", "user": "junk", "event_time": null, "type": "lab_session",'
        b' "recipe": "r", "rating": 3}',
    ),
    (
        "junk",
        b'{"event_id": "j3", "user": "junk", "event_time": "2026-01-02T00:00:00Z",'
        b' "type": "lab_session", "recipe": "r", "rating": "five"}',
    ),
    (
        "junk",
        b'{"event_id": "j4", "event_time": "2026-01-02T00:00:00Z", "type": "box_rated",'
        b' "box": "b", "rating": 4}',
    ),
    (
        "junk",
        b'{"event_id": "j5", "user": "junk", "event_time": "2026-01-02T00:00:00Z",'
        b' "type": "feedback_given", "feedback": "f", "signal": "liked"}',
    ),
    (
        "junk",
        b'{"event_id": "j6", "user": "junk", "event_time": "2026-01-02T00:00:00Z",'
        b' "type": "box_rated", "box": "b", "rating": 0, "coffee": "c0000"}',
    ),
    # Well-formed, but a clock no one may trust: far ahead of its append time (it would
    # drag every other user's watermark to the year 2999), or before 1990.
    (
        "junk",
        b'{"event_id": "j7", "user": "junk", "event_time": "2999-01-01T00:00:00Z",'
        b' "type": "lab_session", "recipe": "r", "rating": 4}',
    ),
    (
        "junk",
        b'{"event_id": "j8", "user": "junk", "event_time": "1989-12-31T23:59:59Z",'
        b' "type": "lab_session", "recipe": "r", "rating": 4}',
    ),
]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class Parity:
    entries: list[tuple[str, bytes]]
    events_path: Path
    flink: FlinkResult
    worker_rows: list[dict[str, Any]]
    worker_counters: dict[str, int]
    worker_dead_letters: list[dict[str, Any]]


def _entries() -> list[tuple[str, bytes]]:
    entries = generate(N_EVENTS, seed=SEED, disorder_s=DISORDER_S, duplicates=0.02, malformed=0.01)
    # Junk spread through the stream (its position does not matter: it never counts).
    step = len(entries) // (len(JUNK) + 1)
    for i, junk in enumerate(JUNK, start=1):
        entries.insert(i * step, junk)
    return entries


@pytest.fixture(scope="module")
def flink_python() -> Path:
    try:
        return find_flink_python()
    except MissingExtraError as exc:
        if in_ci():
            pytest.fail(f"CI requires the Flink environment: {exc}")
        pytest.skip(f"PyFlink is not installed: {exc}")


@pytest.fixture(scope="module")
def parity(flink_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Parity:
    tmp = tmp_path_factory.mktemp("flink-parity")
    entries = _entries()
    events_path = tmp / "events.jsonl"
    write_jsonl(events_path, entries)
    flink = run_flink(
        events_path,
        tmp / "flink-rows.jsonl",
        flink_python,
        dead_letters_path=tmp / "flink-dead.jsonl",
        timeout_s=540,
    )
    log = SQLiteLog(tmp / "log.db", PARTITIONS)
    log.append(entries)
    run_to_end(log, tmp / "state.db", drain=True, allowed_lateness_s=0)
    log.close()
    reader = StreamReader(tmp / "state.db")
    worker_rows = reader.windows()
    counters = reader.snapshot()["counters"]
    dead = reader.dead_letters()
    reader.close()
    return Parity(entries, events_path, flink, worker_rows, counters, dead)


def _sorted(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["aggregate"], r["key"], r["window_start"]))


def _first_difference(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> str:
    index = {(r["aggregate"], r["key"], r["window_start"]): r for r in b}
    for row in a:
        other = index.get((row["aggregate"], row["key"], row["window_start"]))
        if other != row:
            return f"{json.dumps(row)} vs {json.dumps(other)}"
    return "(rows of the second side missing from the first)"


# --------------------------------------------------------------------------- reference
def _day(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def _z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def reference_rows(
    payloads: Iterable[bytes], appended: datetime, dedup: bool = True
) -> list[dict[str, Any]]:
    """The contract's window rows in one batch pass: valid events (parse_event, and no more
    than 5 minutes after ``appended``, when the file was written), first occurrence of each
    event_id, no lateness (the parity file has none)."""
    fields: dict[str, tuple[str, ...]] = {
        "coffee_daily": ("n_feedback", "n_likes", "n_dislikes", "n_skips"),
        "user_weekly": ("n_events", "n_ratings", "sum_rating", "n_lab"),
        "arm_hourly": ("shown", "clicks", "n_box_ratings", "sum_box_rating"),
    }
    fields["coffee_daily"] += ("n_ratings", "sum_rating")
    acc: dict[tuple[str, str, datetime, datetime], dict[str, int]] = {}

    def add(agg: str, key: str, start: datetime, end: datetime, **values: int) -> None:
        row = acc.setdefault((agg, key, start, end), dict.fromkeys(fields[agg], 0))
        for name, value in values.items():
            row[name] += value

    seen: set[str] = set()
    for payload in payloads:
        try:
            ev = parse_event(payload)
        except SchemaError:
            continue
        if ev.event_time > appended + timedelta(minutes=5):
            continue
        if dedup and ev.event_id in seen:
            continue
        seen.add(ev.event_id)
        t = ev.event_time
        day = _day(t)
        hour = t.replace(minute=0, second=0, microsecond=0)
        rating: int | None = getattr(ev, "rating", None)
        rated = {"n_ratings": 0 if rating is None else 1, "sum_rating": rating or 0}
        for back in range(7):
            start = day - timedelta(days=back)
            add(
                "user_weekly",
                ev.user,
                start,
                start + timedelta(days=7),
                n_events=1,
                n_lab=int(ev.type == "lab_session"),
                **rated,
            )
        if isinstance(ev, FeedbackGiven):
            signal = ev.signal
            add(
                "coffee_daily",
                ev.coffee,
                day,
                day + timedelta(days=1),
                n_feedback=1,
                n_likes=int(signal == "liked"),
                n_dislikes=int(signal == "disliked"),
                n_skips=int(signal == "skipped"),
                **rated,
            )
        if isinstance(ev, BoxRated) and ev.coffee is not None:
            add("coffee_daily", ev.coffee, day, day + timedelta(days=1), **rated)
        experiment, arm = getattr(ev, "experiment", None), getattr(ev, "arm", None)
        if experiment is not None and arm is not None:
            key, end = f"{experiment}/{arm}", hour + timedelta(hours=1)
            if ev.type == "recommendation_shown":
                add("arm_hourly", key, hour, end, shown=1)
            elif ev.type == "recommendation_clicked":
                add("arm_hourly", key, hour, end, clicks=1)
            elif ev.type == "box_rated":
                add("arm_hourly", key, hour, end, n_box_ratings=1, sum_box_rating=rating or 0)
    return _sorted(
        {"aggregate": a, "key": k, "window_start": _z(s), "window_end": _z(e), **v}
        for (a, k, s, e), v in acc.items()
    )


# --------------------------------------------------------------------------- parity
def test_flink_equals_the_embedded_worker(parity: Parity) -> None:
    flink = parity.flink.rows
    worker = _sorted(parity.worker_rows)
    c = parity.worker_counters
    # The file exercises what it should: duplicates and invalid payloads, nothing late.
    assert c["duplicates"] > 0 and c["invalid"] >= len(JUNK) and c["late"] == 0
    assert c["late_window_drops"] == 0
    assert {r["aggregate"] for r in flink} == set(AGGREGATES)
    assert len(flink) == len(worker), _first_difference(flink, worker)
    assert flink == worker, _first_difference(flink, worker)


def test_flink_equals_an_independent_batch_pass(parity: Parity) -> None:
    written = datetime.fromtimestamp(parity.events_path.stat().st_mtime, UTC)
    expected = reference_rows((value for _, value in parity.entries), written)
    assert parity.flink.rows == expected, _first_difference(parity.flink.rows, expected)
    # The duplicates matter: counting them would change rows, so dedup was exercised.
    assert reference_rows((value for _, value in parity.entries), written, dedup=False) != expected


def test_malformed_lines_are_skipped_not_fatal(parity: Parity) -> None:
    lines = parity.events_path.read_bytes().splitlines()
    invalid = 0
    for line in lines:
        try:
            parse_event(line)
        except SchemaError:
            invalid += 1
    assert invalid >= len(JUNK)  # the job ran over them and finished
    assert parity.flink.summary.get("rows") == len(parity.flink.rows)
    assert "junk" not in {r["key"] for r in parity.flink.rows}
    assert all(isinstance(v, int) for r in parity.flink.rows for v in list(r.values())[4:])


def test_flink_dead_letters_every_invalid_payload(parity: Parity) -> None:
    # The worker's dead letters for invalid payloads (not "late": the file has none).
    invalid = [d for d in parity.worker_dead_letters if d["reason"] != "late"]
    assert len(invalid) == parity.worker_counters["invalid"] >= len(JUNK)
    flink = parity.flink.dead_letters
    assert len(flink) == len(invalid)
    assert parity.flink.summary.get("dead_letters") == len(flink)
    assert all(isinstance(d["reason"], str) and d["reason"] for d in flink)
    # The same payloads (as multisets: the worker orders by partition and offset).
    assert sorted(d["payload"] for d in flink) == sorted(d["payload"] for d in invalid)
    # Each reason names what is wrong with the line.
    by_payload = {d["payload"]: d["reason"] for d in flink}
    assert by_payload["{not json"] == "malformed JSON"
    assert by_payload["[1, 2, 3]"] == "not a JSON object"
    assert by_payload[JUNK[2][1].decode()] == "malformed JSON"
    assert by_payload[JUNK[3][1].decode()] == "missing event_time"
    assert by_payload[JUNK[4][1].decode()] == "rating is not an integer"
    assert by_payload[JUNK[5][1].decode()] == "missing user"
    assert by_payload[JUNK[6][1].decode()] == "feedback_given without coffee"
    assert by_payload[JUNK[7][1].decode()] == "rating out of range"
    assert by_payload[JUNK[8][1].decode()] == "event_time in the future of its log append time"
    assert by_payload[JUNK[9][1].decode()] == "event_time before 1990-01-01"
    worker_reasons = {d["payload"]: d["reason"] for d in invalid}
    assert worker_reasons[JUNK[8][1].decode()].startswith(
        "event_time in the future of its log append time"
    )
    assert "1990-01-01" in worker_reasons[JUNK[9][1].decode()]
    # The dead-letter file holds the same records.
    out = parity.events_path.parent / "flink-dead.jsonl"
    assert [json.loads(line) for line in out.read_text().splitlines()] == flink


def test_the_rows_file_holds_the_same_rows(parity: Parity, tmp_path: Path) -> None:
    out = parity.events_path.parent / "flink-rows.jsonl"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == parity.flink.rows
    first = rows[0]
    assert list(first)[:4] == ["aggregate", "key", "window_start", "window_end"]
    assert first["window_start"].endswith("Z")


# --------------------------------------------------------------------------- launcher (no JVM)
def test_missing_interpreter_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T2V_FLINK_PYTHON", str(tmp_path / "nope" / "python"))
    with pytest.raises(FlinkNotInstalledError, match="make .venv-flink/.installed"):
        find_flink_python()
    with pytest.raises(MissingExtraError):
        run_flink_job(tmp_path / "e.jsonl", tmp_path / "o.jsonl")


def test_a_failing_job_reports_its_stderr(tmp_path: Path) -> None:
    # The main venv's Python has no PyFlink: the job starts, fails on the import, and the
    # error carries the tail of its stderr.
    events = tmp_path / "e.jsonl"
    events.write_text("")
    with pytest.raises(FlinkJobError, match="pyflink"):
        run_flink_job(events, tmp_path / "o.jsonl", python=sys.executable)
    with pytest.raises(FlinkJobError, match="does not exist"):
        run_flink_job(tmp_path / "missing.jsonl", tmp_path / "o.jsonl", python=sys.executable)


def test_cli_reports_a_missing_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from taste2vec.cli import app

    monkeypatch.setenv("T2V_FLINK_PYTHON", str(tmp_path / "none"))
    events = tmp_path / "e.jsonl"
    events.write_text("")
    args = ["flink-job", "--events", str(events), "--out", str(tmp_path / "o.jsonl")]
    args += ["--dead-letters", str(tmp_path / "dead.jsonl")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "no PyFlink interpreter found" in result.output


def test_the_sql_script_prints_without_flink() -> None:
    done = subprocess.run(
        [sys.executable, str(JOB_SCRIPT), "--print-sql"],
        capture_output=True,
        text=True,
        check=True,
    )
    sql = done.stdout
    assert "WATERMARK FOR ts AS ts - INTERVAL '5' MINUTE" in sql
    assert "EXECUTE STATEMENT SET BEGIN" in sql
    for name in AGGREGATES:
        assert f"INSERT INTO {name}_out" in sql
    # Raw lines, so that every line is either a valid event or a dead letter.
    assert "'format' = 'raw'" in sql
    assert "INSERT INTO dead_letters_out" in sql
    assert "WHEN NOT (line IS JSON) THEN 'malformed JSON'" in sql
    assert "HOP(TABLE valid_events, DESCRIPTOR(ts), INTERVAL '1' DAY, INTERVAL '7' DAY)" in sql
