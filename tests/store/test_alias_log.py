"""The model registry's alias audit log, on SQLite and PostgreSQL: append-only moves,
optimistic concurrency, "which version at time T"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taste2vec.errors import ConflictError, SchemaError
from taste2vec.store import Store

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _move(
    store: Store, prev: str | None, new: str | None, at: datetime, action: str = "promote"
) -> None:
    store.record_alias_move(
        "m",
        "champion",
        action=action,
        previous_version=prev,
        new_version=new,
        actor="ana",
        reason=f"{prev} -> {new}",
        evidence={"lift": 0.07, "n": 1200},
        at=at,
    )


def test_moves_are_logged_in_order_with_their_evidence(store: Store) -> None:
    _move(store, None, "1", T0)
    _move(store, "1", "2", T0 + timedelta(hours=1))
    _move(store, "2", "1", T0 + timedelta(hours=2), action="rollback")
    history = store.alias_history("m", "champion")
    assert [(e.move, e.action, e.previous_version, e.new_version) for e in history] == [
        (3, "rollback", "2", "1"),
        (2, "promote", "1", "2"),
        (1, "promote", None, "1"),
    ]
    assert history[0].evidence == {"lift": 0.07, "n": 1200}
    assert history[0].actor == "ana" and history[0].created_at == T0 + timedelta(hours=2)
    assert store.alias_history("m", "challenger") == []
    assert store.alias_history("other") == []


def test_which_version_at_time_t(store: Store) -> None:
    _move(store, None, "1", T0)
    _move(store, "1", "2", T0 + timedelta(hours=1))
    assert store.alias_at("m", "champion", T0 - timedelta(seconds=1)) is None
    at = store.alias_at("m", "champion", T0 + timedelta(minutes=30))
    assert at is not None and at.new_version == "1"
    at = store.alias_at("m", "champion", T0 + timedelta(hours=1))
    assert at is not None and at.new_version == "2"
    naive = (T0 + timedelta(minutes=5)).replace(tzinfo=None)  # naive times are UTC
    at = store.alias_at("m", "champion", naive)
    assert at is not None and at.new_version == "1"


def test_a_move_from_a_stale_version_conflicts_and_writes_nothing(store: Store) -> None:
    _move(store, None, "1", T0)
    with pytest.raises(ConflictError, match="moved meanwhile"):
        _move(store, None, "2", T0 + timedelta(minutes=1))
    with pytest.raises(ConflictError):
        _move(store, "7", "2", T0 + timedelta(minutes=1))
    assert len(store.alias_history("m", "champion")) == 1


def test_bad_input_is_refused(store: Store) -> None:
    with pytest.raises(SchemaError, match="action"):
        _move(store, None, "1", T0, action="delete")
    with pytest.raises(SchemaError, match="actor"):
        store.record_alias_move(
            "m", "champion", action="promote", previous_version=None, new_version="1",
            actor=" ", reason="",
        )  # fmt: skip
    with pytest.raises(SchemaError, match="evidence"):
        store.record_alias_move(
            "m", "champion", action="promote", previous_version=None, new_version="1",
            actor="ana", reason="", evidence={"x": float("nan")},
        )  # fmt: skip
    assert store.alias_history("m") == []
