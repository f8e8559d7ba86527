"""The stream worker on the embedded log, in process: outputs equal the batch reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taste2vec.sim.stream.generate import generate, read_jsonl, write_jsonl
from taste2vec.sim.stream.reference import batch_aggregate
from taste2vec.stream.events import parse_event
from taste2vec.stream.log import SQLiteLog
from taste2vec.stream.signals import CHURN_COEFFICIENTS, churn_risk
from taste2vec.stream.state import StateStore, StreamReader
from taste2vec.stream.worker import StreamWorker, run_to_end

PARTS = 4


def _log(tmp_path: Path, entries: list[tuple[str, bytes]]) -> SQLiteLog:
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    log.append(entries)
    return log


def _all(log: SQLiteLog) -> list:  # type: ignore[type-arg]
    return [e for p in range(log.partitions) for e in log.read(p, 0, 10**9)]


def test_generator_is_deterministic_and_covers_every_type(tmp_path: Path) -> None:
    a = generate(3000, seed=2, days=40)
    assert a == generate(3000, seed=2, days=40)
    assert a != generate(3000, seed=3, days=40)
    types = {parse_event(v).type for _, v in a}
    assert len(types) == 12
    path = tmp_path / "e.jsonl"
    assert write_jsonl(path, a) == len(a)
    assert read_jsonl(path) == a


@pytest.mark.parametrize("drain", [False, True])
def test_one_pass_equals_batch_reference(tmp_path: Path, drain: bool) -> None:
    entries = generate(
        4000, seed=7, disorder_s=300, duplicates=0.03, late=0.02, malformed=0.02, days=40
    )
    log = _log(tmp_path, entries)
    run_to_end(log, tmp_path / "state.db", drain=drain)
    snap = StreamReader(tmp_path / "state.db").snapshot()
    ref = batch_aggregate(_all(log), drain=drain)
    assert snap == ref
    c = ref["counters"]
    assert c["duplicates"] > 0 and c["late"] > 0 and c["invalid"] > 0
    assert c["entries"] == len(entries)
    assert {r["aggregate"] for r in ref["windows"]} == {"coffee_daily", "user_weekly", "arm_hourly"}


def test_partially_late_events_skip_only_final_windows(tmp_path: Path) -> None:
    # Two days late: the coffee_daily/arm_hourly windows are final, the user's weekly
    # windows are not, so the event counts (user state, open windows) and is no dead letter.
    entries = generate(3000, seed=11, late=0.03, late_by_s=2 * 86_400.0, days=20, users=20)
    log = _log(tmp_path, entries)
    run_to_end(log, tmp_path / "state.db")
    snap = StreamReader(tmp_path / "state.db").snapshot()
    assert snap == batch_aggregate(_all(log))
    assert snap["counters"]["late_window_drops"] > 0


def test_restarts_at_every_step_give_the_same_result(tmp_path: Path) -> None:
    entries = generate(3000, seed=4, disorder_s=300, duplicates=0.02, late=0.02, malformed=0.01)
    log = _log(tmp_path, entries)
    state = tmp_path / "state.db"
    steps = 0
    while True:  # a new worker for every small batch, checkpointing after each
        w = StreamWorker(log, state, batch_size=97, checkpoint_every=50)
        got = w.step()
        w.checkpoint()
        w.close()
        steps += 1
        if not got and all(
            StateStore(state).load(p, w.ooo_us, w.lateness_us).next_offset >= end
            for p, end in log.end_offsets().items()
        ):
            break
    assert steps > 10
    assert StreamReader(state).snapshot() == batch_aggregate(_all(log))


def test_lost_work_after_the_last_checkpoint_is_redone_once(tmp_path: Path) -> None:
    entries = generate(2000, seed=9, duplicates=0.05)
    log = _log(tmp_path, entries)
    state = tmp_path / "state.db"
    w = StreamWorker(log, state, batch_size=500, checkpoint_every=10**9, checkpoint_interval_s=1e9)
    w.step()
    w.checkpoint()
    w.step()
    w.step()  # processed but never checkpointed: a crash loses it
    w.consumer.close()
    w.store.close()
    run_to_end(log, state)
    assert StreamReader(state).snapshot() == batch_aggregate(_all(log))


def test_a_zombie_is_fenced_and_cannot_double_count(tmp_path: Path) -> None:
    entries = generate(1500, seed=1)
    log = _log(tmp_path, entries)
    state = tmp_path / "state.db"
    zombie = StreamWorker(log, state, batch_size=300)
    zombie.step()  # owns every partition, has unsaved work
    # A second owner loads the same partitions (as after a rebalance) and finishes them.
    store = StateStore(state)
    owners = [store.load(p, zombie.ooo_us, zombie.lateness_us) for p in range(PARTS)]
    assert all(ps.next_offset == 0 for ps in owners)
    fenced = zombie.checkpoint()
    assert sorted(fenced) == list(range(PARTS)) and not zombie.parts
    zombie.consumer.close()
    store.close()
    run_to_end(log, state)
    assert StreamReader(state).snapshot() == batch_aggregate(_all(log))


def test_dead_letters_have_reasons_and_payloads(tmp_path: Path) -> None:
    good = generate(50, seed=3)
    bad = [
        ("u1", b"{not json"),
        ("u1", b'{"type": "nope", "event_id": "x", "user": "u1", "event_time": "2026-01-01"}'),
        (
            "u1",
            b'{"type": "box_rated", "event_id": "y", "user": "u1",'
            b' "event_time": "2026-01-01T00:00:00Z", "box": "b", "rating": 7}',
        ),
    ]
    log = _log(tmp_path, good + bad)
    run_to_end(log, tmp_path / "state.db")
    reader = StreamReader(tmp_path / "state.db")
    dead = reader.dead_letters()
    assert len(dead) == 3
    reasons = " | ".join(d["reason"] for d in dead)
    assert "Invalid JSON" in reasons
    assert "'nope'" in reasons
    assert "rating" in reasons
    assert {d["payload"] for d in dead} == {v.decode() for _, v in bad}
    progress = reader.progress()
    assert progress["totals"]["invalid"] == 3
    assert sum(p["next_offset"] for p in progress["partitions"].values()) == 53


def test_reader_api_shapes(tmp_path: Path) -> None:
    entries = generate(3000, seed=12, days=40)
    log = _log(tmp_path, entries)
    run_to_end(log, tmp_path / "state.db", drain=True)
    r = StreamReader(tmp_path / "state.db")
    assert r.user_signals("nobody") is None and r.coffee_stats("nothing") is None
    s = r.user_signals("u00000")
    assert s is not None
    assert len(s["tastings_vector"]) == 128 and s["n_tastings_vectors"] > 0
    assert 0.0 <= s["churn_risk"] <= 1.0 and s["churn_rule"] == "rule-v1"
    assert s["rating"]["count"] > 0 and 1 <= s["rating"]["mean"] <= 5
    assert s["days_since_last_engagement"] >= 0
    c = r.coffee_stats("c0000")
    assert c is not None and c["n_feedback"] > 0 and c["rating"]["count"] > 0
    arms = r.arm_metrics()
    assert {(a["experiment"], a["arm"]) for a in arms} == {
        ("exp-rec", "control"),
        ("exp-rec", "treatment"),
        ("exp-box", "a"),
        ("exp-box", "b"),
    }
    box = [a for a in r.arm_metrics("exp-box")]
    assert all(a["subscribers"] > 0 and 0 <= a["retention"] <= 1 for a in box)
    rec = r.arm_metrics("exp-rec")
    assert all(0 < a["ctr"] < 1 for a in rec)
    rows = r.windows("coffee_daily")
    assert rows and set(rows[0]) == {
        "aggregate",
        "key",
        "window_start",
        "window_end",
        "n_feedback",
        "n_likes",
        "n_dislikes",
        "n_skips",
        "n_ratings",
        "sum_rating",
    }
    assert rows[0]["window_start"].endswith("T00:00:00Z")
    json.dumps(r.snapshot())  # all JSON-serialisable
    assert r.windows(final_only=True) == r.windows()  # drained: all final


def test_churn_rule_is_monotone_in_its_risk_factors() -> None:
    base = {
        "days_since_last_engagement": 1.0,
        "skip_streak": 0,
        "lab_sessions_30d": 2,
        "rating": {"mean": 4.0},
        "rating_trend_per_week": 0.0,
    }
    r0 = churn_risk(base)
    assert churn_risk({**base, "days_since_last_engagement": 30.0}) > r0
    assert churn_risk({**base, "skip_streak": 5}) > r0
    assert churn_risk({**base, "subscription_status": "paused", "paused_days": 10}) > r0
    assert churn_risk({**base, "rating_trend_per_week": -1.0}) > r0
    assert churn_risk({**base, "lab_sessions_30d": 8}) < r0
    assert churn_risk({**base, "subscription_status": "cancelled"}) == 1.0
    assert CHURN_COEFFICIENTS["intercept"] < 0


def _event(kind: str, i: int, **fields: object) -> tuple[str, bytes]:
    body = {"type": kind, "event_id": f"{kind}-{i}", "user": "u1"}
    body |= {"event_time": f"2026-03-01T08:{i:02d}:00Z", **fields}
    return "u1", json.dumps(body).encode()


def test_lazy_types_only_stretch_the_checkpoint_cadence(tmp_path: Path) -> None:
    log = SQLiteLog(tmp_path / "events.db", PARTS)
    worker = StreamWorker(
        log,
        tmp_path / "state.db",
        checkpoint_interval_s=0.01,
        lazy_types=frozenset({"recommendation_shown"}),
        lazy_interval_s=3600,
        poll_timeout_s=0.01,
    )
    try:
        shown = [
            _event("recommendation_shown", i, request=f"q{i}", coffees=["c1"]) for i in range(5)
        ]
        log.append(shown)
        for _ in range(200):  # well past the short interval: only lazy events are pending
            worker.step()
            if worker.stats["entries"] == 5:
                break
        worker.step()
        assert worker.stats["entries"] == 5
        assert worker.stats["checkpoints"] == 0
        log.append([_event("box_rated", 9, box="b1", rating=4)])  # somebody waits for this one
        for _ in range(20):
            worker.step()
            if worker.stats["checkpoints"]:
                break
        assert worker.stats["checkpoints"] >= 1
        worker.checkpoint()
    finally:
        worker.close()
    signals = StreamReader(tmp_path / "state.db").user_signals("u1")
    assert signals is not None and signals["n_events"] == 6  # the lazy events were not lost
