"""Small factories for the store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from taste2vec.schema import Coffee, Feedback, TasteRecord

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def make_record(rid: str, user: str = "ana", minutes: float = 0, **fields: Any) -> TasteRecord:
    """A tasting at ``T0 + minutes``."""
    return TasteRecord(id=rid, user=user, timestamp=T0 + timedelta(minutes=minutes), **fields)


def make_coffee(cid: str, **fields: Any) -> Coffee:
    """A catalogue coffee with sensible defaults."""
    defaults: dict[str, Any] = {"name": f"Coffee {cid}", "roaster": "Roastery", "stock": 5}
    return Coffee(id=cid, **{**defaults, **fields})


def make_feedback(
    fid: str, coffee: str, user: str = "ana", minutes: float = 0, **f: Any
) -> Feedback:
    """A 'liked' reaction at ``T0 + minutes`` unless told otherwise."""
    f.setdefault("signal", "liked")
    return Feedback(
        id=fid, user=user, coffee=coffee, timestamp=T0 + timedelta(minutes=minutes), **f
    )
