"""Read-only export of the store for batch snapshots (``taste2vec.batch.snapshot``).

Tasting records and feedback are append-only facts: :func:`export_facts` pages through
them by ``seq`` (arrival order), so a snapshot can resume after the last ``seq`` it has.
Users and coffees are small, mutable dimensions: :func:`export_dimension` reads them whole.
Rows come out as plain dicts of JSON-able values (the validated payload as canonical JSON
text), never the ORM rows.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select

from taste2vec.errors import SchemaError
from taste2vec.store._base import StoreBase
from taste2vec.store._tables import CoffeeRow, FeedbackRow, RecordRow, UserRow

__all__ = ["FACT_TABLES", "export_dimension", "export_facts"]

FactTable = Literal["tasting_records", "feedback"]
FACT_TABLES: tuple[FactTable, ...] = ("tasting_records", "feedback")


def _us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def export_facts(
    store: StoreBase, table: FactTable, after_seq: int, limit: int = 5000
) -> list[dict[str, Any]]:
    """Up to ``limit`` rows of ``table`` with ``seq > after_seq``, in ``seq`` order:
    ``seq, id, user_id, coffee_id, timestamp_us, received_us, payload`` (feedback also
    ``signal, rating``)."""
    if table not in FACT_TABLES:
        raise SchemaError(f"unknown fact table {table!r}; one of {', '.join(FACT_TABLES)}")
    if after_seq < 0 or limit < 1:
        raise SchemaError("after_seq >= 0 and limit >= 1 are required")
    out: list[dict[str, Any]] = []
    with store._read() as session:  # noqa: SLF001 - inside the store package
        if table == "feedback":
            for f in session.scalars(
                select(FeedbackRow)
                .where(FeedbackRow.seq > after_seq)
                .order_by(FeedbackRow.seq)
                .limit(limit)
            ):
                out.append(
                    {
                        "seq": f.seq,
                        "id": f.id,
                        "user_id": f.user_id,
                        "coffee_id": f.coffee_id,
                        "signal": f.signal,
                        "rating": f.rating,
                        "timestamp_us": _us(f.timestamp),
                        "received_us": _us(f.received_at),
                        "payload": json.dumps(f.payload, sort_keys=True, ensure_ascii=False),
                    }
                )
        else:
            for r in session.scalars(
                select(RecordRow)
                .where(RecordRow.seq > after_seq)
                .order_by(RecordRow.seq)
                .limit(limit)
            ):
                out.append(
                    {
                        "seq": r.seq,
                        "id": r.id,
                        "user_id": r.user_id,
                        "coffee_id": r.coffee_id,
                        "timestamp_us": _us(r.timestamp),
                        "received_us": _us(r.received_at),
                        "payload": json.dumps(r.payload, sort_keys=True, ensure_ascii=False),
                    }
                )
    return out


def export_dimension(store: StoreBase, table: Literal["users", "coffees"]) -> list[dict[str, Any]]:
    """Every row of ``users`` (``id, created_us``) or ``coffees`` (``id, name, roaster,
    origin_country, process, roast_level, stock, updated_us, payload``), ordered by id."""
    with store._read() as session:  # noqa: SLF001 - inside the store package
        if table == "users":
            return [
                {"id": u.id, "created_us": _us(u.created_at)}
                for u in session.scalars(select(UserRow).order_by(UserRow.id))
            ]
        if table == "coffees":
            return [
                {
                    "id": c.id,
                    "name": c.name,
                    "roaster": c.roaster,
                    "origin_country": c.origin_country,
                    "process": c.process,
                    "roast_level": c.roast_level,
                    "stock": c.stock,
                    "updated_us": _us(c.updated_at),
                    "payload": json.dumps(c.payload, sort_keys=True, ensure_ascii=False),
                }
                for c in session.scalars(select(CoffeeRow).order_by(CoffeeRow.id))
            ]
    raise SchemaError(f"unknown dimension table {table!r}; one of users, coffees")
