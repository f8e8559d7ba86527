"""The coffee catalogue: bulk upsert, lookups, deletes and stock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, true, update

from taste2vec.errors import NotFoundError, SchemaError
from taste2vec.schema.records import Coffee
from taste2vec.store._base import StoreBase, check_page, chunks, payload_hash, returned
from taste2vec.store._engine import upsert_stmt
from taste2vec.store._tables import CoffeeRow, utcnow
from taste2vec.store._types import UpsertCounts

MAX_STOCK = 10_000_000
_COLUMNS = (
    "name",
    "roaster",
    "origin_country",
    "process",
    "roast_level",
    "stock",
    "payload",
    "payload_hash",
    "updated_at",
)


def _values(coffee: Coffee, now: datetime) -> dict[str, Any]:
    payload = coffee.model_dump(mode="json", exclude={"stock"})
    return {
        "id": coffee.id,
        "name": coffee.name,
        "roaster": coffee.roaster,
        "origin_country": coffee.origin_country,
        "process": None if coffee.process is None else coffee.process.value,
        "roast_level": None if coffee.roast_level is None else coffee.roast_level.value,
        "stock": coffee.stock,
        "payload": payload,
        "payload_hash": payload_hash(payload),
        "updated_at": now,
    }


def coffee_from_row(row: CoffeeRow) -> Coffee:
    """The pydantic coffee stored in ``row`` (stock from its own column)."""
    return Coffee.model_validate({**row.payload, "stock": row.stock})


class CatalogueMixin(StoreBase):
    """Coffees: what can be recommended and shipped."""

    def upsert_coffees(self, coffees: Iterable[Coffee]) -> UpsertCounts:
        """Insert new coffees and update changed ones, all in one transaction.

        When an id appears more than once, the last occurrence wins. Coffees whose
        content and stock are unchanged are left alone (``updated_at`` too).
        """
        latest: dict[str, Coffee] = {}
        for coffee in coffees:
            if not isinstance(coffee, Coffee):
                raise SchemaError(f"upsert_coffees takes Coffee objects, got {type(coffee)!r}")
            latest[coffee.id] = coffee
        if not latest:
            return UpsertCounts()
        now = utcnow()
        # sorted: concurrent upserts lock rows in the same order (no deadlocks on PostgreSQL)
        values = {cid: _values(latest[cid], now) for cid in sorted(latest)}
        with self._write() as session:
            current: dict[str, tuple[str, int]] = {}
            for part in chunks(list(values)):
                rows = session.execute(
                    select(CoffeeRow.id, CoffeeRow.payload_hash, CoffeeRow.stock).where(
                        CoffeeRow.id.in_(part)
                    )
                )
                current.update((cid, (digest, stock)) for cid, digest, stock in rows)
            new = [v for cid, v in values.items() if cid not in current]
            changed = [
                v
                for cid, v in values.items()
                if cid in current and current[cid] != (v["payload_hash"], v["stock"])
            ]
            if new:
                stmt = upsert_stmt(session, CoffeeRow)
                stmt = stmt.on_conflict_do_update(  # a concurrent upsert may insert it first
                    index_elements=["id"], set_={c: stmt.excluded[c] for c in _COLUMNS}
                )
                session.execute(stmt, new)
            if changed:
                session.execute(update(CoffeeRow), changed)
        return UpsertCounts(len(new), len(changed), len(values) - len(new) - len(changed))

    def get_coffee(self, coffee_id: str) -> Coffee | None:
        """The coffee, or ``None`` if it is not in the catalogue."""
        with self._read() as session:
            row = session.get(CoffeeRow, coffee_id)
            return None if row is None else coffee_from_row(row)

    def list_coffees(self, offset: int = 0, limit: int = 100) -> list[Coffee]:
        """Coffees ordered by id."""
        check_page(offset, limit)
        with self._read() as session:
            stmt = select(CoffeeRow).order_by(CoffeeRow.id).offset(offset).limit(limit)
            return [coffee_from_row(row) for row in session.scalars(stmt)]

    def search_coffees(
        self, text: str = "", offset: int = 0, limit: int = 100
    ) -> tuple[list[Coffee], int]:
        """One page (ordered by id) of the coffees whose id, name, roaster or origin
        contains ``text`` (case-insensitive for ASCII; ``%`` and ``_`` are literal), and how
        many match in all. An empty ``text`` matches every coffee."""
        check_page(offset, limit)
        needle = text.strip().lower()
        where = (
            or_(
                *(
                    func.lower(column).contains(needle, autoescape=True)
                    for column in (
                        CoffeeRow.id,
                        CoffeeRow.name,
                        CoffeeRow.roaster,
                        CoffeeRow.origin_country,
                    )
                )
            )
            if needle
            else true()
        )
        with self._read() as session:
            total = int(
                session.scalar(select(func.count()).select_from(CoffeeRow).where(where)) or 0
            )
            stmt = select(CoffeeRow).where(where).order_by(CoffeeRow.id).offset(offset).limit(limit)
            return [coffee_from_row(row) for row in session.scalars(stmt)], total

    def count_coffees(self) -> int:
        """How many coffees the catalogue holds."""
        with self._read() as session:
            return int(session.scalar(select(func.count()).select_from(CoffeeRow)) or 0)

    def delete_coffee(self, coffee_id: str) -> bool:
        """Remove a coffee and its embeddings; False if it was not there.

        Tastings and feedback that mention it are kept.
        """
        with self._write() as session:
            stmt = delete(CoffeeRow).where(CoffeeRow.id == coffee_id).returning(CoffeeRow.id)
            return returned(session, stmt) > 0

    def set_stock(self, coffee_id: str, stock: int) -> Coffee:
        """Set the units available and return the updated coffee."""
        if isinstance(stock, bool) or not isinstance(stock, int) or not 0 <= stock <= MAX_STOCK:
            raise SchemaError(
                f"stock must be an integer from 0 to {MAX_STOCK}, got {stock!r}",
                [("stock", "out of range")],
            )
        with self._write() as session:
            row = session.get(CoffeeRow, coffee_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"unknown coffee {coffee_id!r}: it is not in the catalogue")
            if row.stock != stock:
                row.stock = stock
                row.updated_at = utcnow()
            return coffee_from_row(row)
