"""DuckDB features (taste2vec.batch.features) equal the stream worker's user signals."""

from __future__ import annotations

from pathlib import Path

from taste2vec.batch.features import duckdb_features, duckdb_labels, rows_equal
from taste2vec.batch.snapshot import export_snapshot
from taste2vec.sim.stream.generate import generate
from taste2vec.stream.log import open_log
from taste2vec.stream.state import StreamReader
from taste2vec.stream.worker import run_to_end

KEYS = (
    "n_events",
    "n_feedback",
    "renewals",
    "rating_trend_per_week",
    "skip_streak",
    "subscription_status",
    "pause_streak",
    "paused_days",
    "days_since_last_engagement",
    "lab_sessions_30d",
    "lab_sessions_total",
)


def _stream_rows(reader: StreamReader, users: list[str], as_of: int) -> list[dict[str, object]]:
    out = []
    for u in users:
        s = reader.user_signals(u, as_of)
        assert s is not None
        row = {k: s[k] for k in KEYS}
        row["user_id"] = u
        row["rating_count"] = s["rating"]["count"]
        row["rating_mean"] = s["rating"]["mean"]
        row["rating_variance"] = s["rating"]["variance"]
        out.append(row)
    return out


def test_duckdb_features_equal_the_stream_signals(tmp_path: Path) -> None:
    # disorder below the out-of-orderness, duplicates, malformed payloads: no late events
    entries = generate(6000, seed=4, users=150, disorder_s=200, duplicates=0.02, malformed=0.01)
    log = open_log(f"sqlite:///{tmp_path}/events.db?partitions=4")
    log.append(entries)
    run_to_end(log, tmp_path / "state.db")
    export_snapshot(tmp_path / "snap", log=log)
    reader = StreamReader(tmp_path / "state.db")
    as_of = reader.as_of_us()
    assert as_of is not None
    batch = duckdb_features(tmp_path / "snap", as_of)
    users = [r["user_id"] for r in batch]
    assert len(users) > 100
    stream = _stream_rows(reader, users, as_of)
    cols = ("user_id", *KEYS, "rating_count", "rating_mean", "rating_variance")
    problems = rows_equal([{c: r[c] for c in cols} for r in batch], stream)
    assert not problems, problems
    # the subscription columns are exercised: paused users, streaks, trends
    assert any(r["subscription_status"] == "paused" for r in batch)
    assert any(r["skip_streak"] > 0 for r in batch)
    assert sum(r["rating_trend_per_week"] is not None for r in batch) > 50
    reader.close()
    log.close()


def test_features_as_of_a_cutoff_and_labels(tmp_path: Path) -> None:
    log = open_log(f"sqlite:///{tmp_path}/events.db?partitions=2")
    log.append(generate(3000, seed=8, users=80))
    export_snapshot(tmp_path / "snap", log=log)
    log.close()
    t0 = 1_767_225_600_000_000  # 2026-01-01 (the generator's start)
    cutoff = t0 + 15 * 86_400_000_000
    rows = duckdb_features(tmp_path / "snap", cutoff)
    assert rows and all(r["tenure_days"] <= 15 for r in rows)
    labels = duckdb_labels(tmp_path / "snap", cutoff, 10)
    assert set(labels.values()) <= {0, 1}
    later = duckdb_features(tmp_path / "snap", cutoff + 10 * 86_400_000_000)
    assert sum(r["n_events"] for r in later) > sum(r["n_events"] for r in rows)
