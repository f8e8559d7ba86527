"""The aggregator protocol (``taste2vec.stream.aggregator``): a new aggregate is one class.

Two new aggregates, each written as one class here, flow through the real worker on the
embedded log (four partitions, small checkpoints, a restart in the middle so their states
are encoded, stored, loaded and decoded) and are read back through ``StreamReader``. The
expected values come from a plain pass over the parsed events in this file. The built-in
outputs stay what they are without the extra aggregates.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from taste2vec.sim.stream.generate import generate
from taste2vec.stream.aggregates import DEFAULT_AGGREGATES, FIELDS, UserWeekly
from taste2vec.stream.aggregator import (
    KeyedAggregate,
    WindowedAggregate,
    check_aggregates,
    ends_in_time,
)
from taste2vec.stream.events import EVENT_TYPES, Event, LabSession, parse_event
from taste2vec.stream.flink import job
from taste2vec.stream.log import SQLiteLog
from taste2vec.stream.partition import PartitionState
from taste2vec.stream.state import StreamReader
from taste2vec.stream.windows import DAY_US, HOUR_US, WindowSpec, iso, to_us
from taste2vec.stream.worker import StreamWorker, run_to_end

PARTS = 4


class LabRecipes(KeyedAggregate[list[int]]):
    """Per Lab recipe, over everyone: sessions and the sum of their ratings."""

    name = "lab_recipe"
    types = frozenset({"lab_session"})

    def key(self, ev: Event) -> str | None:
        return ev.recipe if isinstance(ev, LabSession) else None

    def init(self) -> list[int]:
        return [0, 0]

    def update(self, state: list[int], ev: Event, t: int) -> None:
        assert isinstance(ev, LabSession)
        state[0] += 1
        state[1] += ev.rating

    def merge(self, a: list[int], b: list[int]) -> list[int]:
        return [a[0] + b[0], a[1] + b[1]]

    def read(self, key: str, state: list[int], as_of_us: int) -> dict[str, Any]:
        return {"recipe": key, "sessions": state[0], "mean_rating": state[1] / state[0]}


LAB_DAILY = WindowSpec("lab_daily", DAY_US, DAY_US)


class LabDaily(WindowedAggregate):
    """Per Lab recipe and day: sessions and rating sum."""

    name = "lab_daily"
    spec = LAB_DAILY
    fields = ("sessions", "sum_rating")
    types = frozenset({"lab_session"})

    def contribute(self, ev: Event) -> tuple[str, tuple[int, ...]] | None:
        assert isinstance(ev, LabSession)
        return ev.recipe, (1, ev.rating)


EXTRA = (*DEFAULT_AGGREGATES, LabRecipes(), LabDaily())


def _entries() -> list[tuple[str, bytes]]:
    # In order (no disorder, nothing late, nothing malformed); some repeats, which the
    # worker must count once.
    return generate(3000, seed=5, days=20, duplicates=0.03)


def _expected(entries: list[tuple[str, bytes]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    seen: set[str] = set()
    sessions: Counter[str] = Counter()
    ratings: Counter[str] = Counter()
    days: dict[tuple[str, int], list[int]] = {}
    for _, value in entries:
        ev = parse_event(value)
        if ev.event_id in seen or not isinstance(ev, LabSession):
            seen.add(ev.event_id)
            continue
        seen.add(ev.event_id)
        sessions[ev.recipe] += 1
        ratings[ev.recipe] += ev.rating
        day = to_us(ev.event_time) // DAY_US * DAY_US
        acc = days.setdefault((ev.recipe, day), [0, 0])
        acc[0] += 1
        acc[1] += ev.rating
    recipes = {
        r: {"recipe": r, "sessions": n, "mean_rating": ratings[r] / n}
        for r, n in sorted(sessions.items())
    }
    rows = [
        {
            "aggregate": "lab_daily",
            "key": r,
            "window_start": iso(d),
            "window_end": iso(d + DAY_US),
            "sessions": n,
            "sum_rating": s,
        }
        for (r, d), (n, s) in sorted(days.items())
    ]
    return recipes, rows


def test_a_new_aggregate_is_one_class_and_flows_through_the_worker(tmp_path: Path) -> None:
    entries = _entries()
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    half = len(entries) // 2
    log.append(entries[:half])
    state = tmp_path / "state.db"
    # First half, then a new worker process's view: states encoded, stored and decoded.
    with StreamWorker(log, state, checkpoint_every=100, aggregates=EXTRA) as worker:
        worker.run(until_end=True)
    log.append(entries[half:])
    with StreamWorker(log, state, checkpoint_every=100, aggregates=EXTRA) as worker:
        worker.run(until_end=True, drain=True)

    recipes, rows = _expected(entries)
    assert len(recipes) > 1 and len(rows) > 10
    reader = StreamReader(state, aggregates=EXTRA)
    assert reader.read_all("lab_recipe") == recipes
    some = next(iter(recipes))
    assert reader.read("lab_recipe", some) == recipes[some]
    assert reader.read("lab_recipe", "no such recipe") is None
    assert reader.windows(aggregate="lab_daily") == rows
    # A recipe's sessions are spread over partitions (one share each, merged on read).
    with sqlite3.connect(state) as conn:
        (partitions,) = conn.execute(
            "SELECT COUNT(DISTINCT partition) FROM keyed WHERE kind = 'lab_recipe' AND key = ?",
            (some,),
        ).fetchone()
    assert partitions > 1

    # The built-in aggregates are untouched by the extra ones.
    plain = tmp_path / "plain"
    plain.mkdir()
    log2 = SQLiteLog(plain / "events.db", PARTS)
    log2.append(entries)
    run_to_end(log2, plain / "state.db", drain=True)
    assert StreamReader(plain / "state.db").snapshot() == StreamReader(state).snapshot()
    with pytest.raises(KeyError, match="no keyed aggregate 'lab_recipe'"):
        StreamReader(state).read("lab_recipe", some)


def test_state_of_an_aggregate_not_run_is_kept_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    log.append(_entries()[:1000])
    state = tmp_path / "state.db"
    run_to_end(log, state, aggregates=EXTRA)
    before = StreamReader(state, aggregates=EXTRA).read_all("lab_recipe")
    assert before
    with caplog.at_level(logging.WARNING):
        run_to_end(log, state)  # the default aggregates only
    assert "lab_recipe" in caplog.text and "lab_daily" in caplog.text
    assert StreamReader(state, aggregates=EXTRA).read_all("lab_recipe") == before


class _Named(LabRecipes):
    name = "user"


class _BadType(LabRecipes):
    types = frozenset({"lab_sesion"})


class _LongWindow(LabDaily):
    spec = WindowSpec("lab_daily", 8 * DAY_US, DAY_US)


class _HourlyWeek(LabDaily):
    spec = WindowSpec("lab_daily", 7 * DAY_US, HOUR_US)


class _Misnamed(LabDaily):
    spec = WindowSpec("other", DAY_US, DAY_US)


class _WrongWidth(LabDaily):
    def contribute(self, ev: Event) -> tuple[str, tuple[int, ...]] | None:
        assert isinstance(ev, LabSession)
        return ev.recipe, (1,)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (_Named(), "two keyed aggregates are named 'user'"),
        (_BadType(), "unknown event types"),
        (_LongWindow(), "can end after the event's user_weekly windows"),
        (_HourlyWeek(), "can end after the event's user_weekly windows"),
        (_Misnamed(), "has the spec of 'other'"),
    ],
    ids=["duplicate-name", "unknown-type", "8-day-window", "week-sliding-hourly", "spec-name"],
)
def test_a_list_the_worker_cannot_run_is_refused(extra: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_aggregates((*DEFAULT_AGGREGATES, extra))
    with pytest.raises(ValueError, match=message):
        PartitionState(0, 0, 0, (*DEFAULT_AGGREGATES, extra))


def test_a_contribution_of_the_wrong_width_is_refused() -> None:
    ps = PartitionState(0, 0, 0, (*DEFAULT_AGGREGATES, _WrongWidth()))
    ev = parse_event(
        {
            "type": "lab_session",
            "event_id": "l1",
            "user": "u1",
            "event_time": "2026-01-01T00:00:00Z",
            "recipe": "V60",
            "rating": 4,
        }
    )
    with pytest.raises(ValueError, match="contributed 1 values for its 2 fields"):
        ps.process(0, ev, to_us(ev.event_time), b"")


def test_the_windows_of_the_contract_end_in_time() -> None:
    for agg in DEFAULT_AGGREGATES:
        if isinstance(agg, WindowedAggregate):
            assert ends_in_time(agg.spec), agg.name
    assert ends_in_time(UserWeekly.spec)
    assert ends_in_time(WindowSpec("x", 6 * DAY_US, 2 * DAY_US))
    assert not ends_in_time(WindowSpec("x", 7 * HOUR_US, 7 * HOUR_US))  # not within a day


def test_the_flink_job_mirrors_the_windowed_aggregates() -> None:
    """The Flink job is self-contained (no taste2vec import), so it has its own copies of
    the contract: they must equal the worker's."""
    assert job.FIELDS == FIELDS
    assert set(job.QUERIES) == set(FIELDS)
    assert tuple(job.EVENT_TYPES) == tuple(EVENT_TYPES)
