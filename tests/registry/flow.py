"""The registry's core flow, shared by the embedded and the mlflow-server tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from taste2vec.errors import ConflictError, NotFoundError
from taste2vec.model.artifact import weights_version
from taste2vec.registry import ModelRegistry, UnknownAliasError


def core_flow(registry: ModelRegistry, first: Path, second: Path) -> None:
    """register -> list -> promote -> challenger -> promote -> rollback -> history."""
    v1, created = registry.register(first, actor="ci", description="first")
    assert created and v1.weights_version == weights_version(first)
    again, created = registry.register(first, actor="ci")
    assert not created and again.version == v1.version  # same weights: same version
    v2, _ = registry.register(second, actor="ci")
    assert v2.version != v1.version and v2.weights_version == weights_version(second)
    assert v1.lexicon_version and v1.scaler_version and v1.data_sha256 and v1.manifest_sha256
    assert v1.metrics, "metrics.json became run metrics"
    assert [i.version for i in registry.versions()] == [v2.version, v1.version]

    before = datetime.now(UTC)
    assert registry.resolve("champion") is None
    first_move = registry.promote(v1.version, actor="ana", reason="first champion")
    assert first_move is not None and first_move.previous_version is None
    assert registry.promote(v1.version, actor="ana") is None  # already there: no move
    registry.promote(v2.version, alias="challenger", actor="ana", reason="try it")
    assert registry.aliases() == {"champion": v1.version, "challenger": v2.version}
    between = datetime.now(UTC)
    move = registry.promote(
        v2.version, actor="bo", reason="A/B win", evidence={"lift": 0.08, "p": 0.01}
    )
    assert move is not None and (move.previous_version, move.new_version) == (
        v1.version,
        v2.version,
    )
    ref = registry.resolve("champion")
    assert ref is not None and ref.version == v2.version
    assert ref.weights_version == v2.weights_version

    back = registry.rollback(actor="bo", reason="guardrail", evidence={"p99_ms": 250})
    assert (back.action, back.previous_version, back.new_version) == (
        "rollback",
        v2.version,
        v1.version,
    )
    assert registry.aliases()["champion"] == v1.version
    with pytest.raises(ConflictError, match="no earlier version"):
        registry.rollback(actor="bo")  # v1 was the first champion

    history = registry.history("champion")
    assert [(e.action, e.previous_version, e.new_version) for e in history] == [
        ("rollback", v2.version, v1.version),
        ("promote", v1.version, v2.version),
        ("promote", None, v1.version),
    ]
    assert history[1].actor == "bo" and history[1].evidence == {"lift": 0.08, "p": 0.01}
    assert len(registry.history()) == 4  # and the challenger's move
    assert registry.alias_at("champion", before - timedelta(seconds=1)) is None
    assert registry.alias_at("champion", between) == v1.version
    assert registry.alias_at("champion", history[1].created_at) == v2.version
    assert registry.alias_at("champion", datetime.now(UTC)) == v1.version

    with pytest.raises(UnknownAliasError, match="champion, challenger"):
        registry.resolve("production")
    with pytest.raises(UnknownAliasError):
        registry.promote(v1.version, alias="latest", actor="ana")
    with pytest.raises(NotFoundError, match="not found"):
        registry.promote("999", actor="ana")
    assert registry.aliases()["champion"] == v1.version  # errors changed nothing
