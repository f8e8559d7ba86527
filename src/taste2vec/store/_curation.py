"""Subscriptions and monthly curation runs (issue 13): who gets a box of how many coffees
with which exclusions, and the boxes each month's run picked.

A month has at most one run: a re-run of a month replaces its draft (picks and all, in
one transaction, so the boxes of a month appear all together or not at all) and is
refused once the month has shipped. Shipping marks the run shipped and takes its picks
out of ``coffees.stock`` in the same transaction; shipping twice changes nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from taste2vec.errors import ConflictError, NotFoundError, SchemaError
from taste2vec.schema.records import Identifier, Process, RoastLevel
from taste2vec.store._base import StoreBase, check_page, chunks, ensure_user_in
from taste2vec.store._curation_tables import (
    MAX_BOX,
    CurationPickRow,
    CurationRunRow,
    SubscriptionRow,
)
from taste2vec.store._engine import upsert_stmt
from taste2vec.store._tables import CoffeeRow, utcnow

MONTH = re.compile(r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$")  # 1900-01 to 2999-12


def check_month(value: str) -> str:
    """``value`` if it is ``YYYY-MM``, else :class:`SchemaError`."""
    if not isinstance(value, str) or not MONTH.match(value):
        raise SchemaError(
            f"month must be YYYY-MM (1900-2999), got {value!r}", [("month", "not YYYY-MM")]
        )
    return value


def month_minus(month: str, n: int) -> str:
    """The month ``n`` months before ``month`` (``YYYY-MM``)."""
    year, mon = (int(p) for p in check_month(month).split("-"))
    index = year * 12 + (mon - 1) - n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


class Subscription(BaseModel):
    """A subscriber's plan and personal exclusions (validated)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: Identifier
    plan: Identifier = Field(default="standard", description="Plan id.")
    box_size: int = Field(default=4, ge=1, le=MAX_BOX, description="Coffees per box (k).")
    status: Literal["active", "paused", "cancelled"] = "active"
    decaf_only: bool = Field(default=False, description="Only decaf coffees.")
    exclude_processes: list[Process] = Field(
        default_factory=list, max_length=10, description="e.g. ['natural']: no naturals."
    )
    exclude_origins: list[str] = Field(
        default_factory=list, max_length=50, description="Origin countries never sent."
    )
    exclude_roasts: list[RoastLevel] = Field(default_factory=list, max_length=10)
    exclude_coffees: list[Identifier] = Field(
        default_factory=list, max_length=500, description="Single coffees never sent."
    )

    @field_validator("exclude_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for origin in value:
            text = origin.strip()
            if any(ord(ch) < 32 or ord(ch) == 127 for ch in text) or len(text) > 100:
                raise ValueError("an origin is at most 100 characters, no control characters")
            if text and text.casefold() not in {o.casefold() for o in out}:
                out.append(text)
        return out


@dataclass(frozen=True, slots=True)
class Pick:
    """One coffee in one subscriber's box."""

    user: str
    slot: int
    coffee: str
    affinity: float
    explanation: str


@dataclass(frozen=True, slots=True)
class CurationRun:
    """A month's run: a draft or shipped."""

    id: str
    month: str
    status: str
    solver: str
    created_at: datetime
    shipped_at: datetime | None
    params: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "month": self.month,
            "status": self.status,
            "solver": self.solver,
            "created_at": self.created_at.isoformat(),
            "shipped_at": None if self.shipped_at is None else self.shipped_at.isoformat(),
            "params": self.params,
            "summary": self.summary,
        }


def _run(row: CurationRunRow) -> CurationRun:
    return CurationRun(
        row.id,
        row.month,
        row.status,
        row.solver,
        row.created_at,
        row.shipped_at,
        dict(row.params or {}),
        dict(row.summary or {}),
    )


def _subscription(row: SubscriptionRow) -> Subscription:
    return Subscription.model_validate(
        {
            "user": row.user_id,
            "plan": row.plan,
            "box_size": row.box_size,
            "status": row.status,
            "decaf_only": row.decaf_only,
            **dict(row.exclusions or {}),
        }
    )


class CurationMixin(StoreBase):
    """Subscriptions, curation runs and their picks."""

    # ------------------------------------------------------------------ subscriptions
    def set_subscription(self, sub: Subscription) -> bool:
        """Store ``sub`` (the user is created implicitly); True when anything changed."""
        values = {
            "plan": sub.plan,
            "box_size": sub.box_size,
            "status": sub.status,
            "decaf_only": sub.decaf_only,
            "exclusions": sub.model_dump(
                mode="json",
                include={
                    "exclude_processes",
                    "exclude_origins",
                    "exclude_roasts",
                    "exclude_coffees",
                },
            ),
        }
        with self._write() as session:
            row = session.get(SubscriptionRow, sub.user)
            if row is not None and _subscription(row) == sub:
                return False
            ensure_user_in(session, sub.user)
            now = utcnow()
            stmt = upsert_stmt(session, SubscriptionRow).values(
                user_id=sub.user, updated_at=now, **values
            )
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["user_id"], set_={**values, "updated_at": now}
                )
            )
            return True

    def subscription(self, user_id: str) -> Subscription | None:
        with self._read() as session:
            row = session.get(SubscriptionRow, user_id)
            return None if row is None else _subscription(row)

    def active_subscriptions(self) -> list[Subscription]:
        """Every active subscription, by user id."""
        query = (
            select(SubscriptionRow)
            .where(SubscriptionRow.status == "active")
            .order_by(SubscriptionRow.user_id)
        )
        with self._read() as session:
            return [_subscription(row) for row in session.scalars(query)]

    # ------------------------------------------------------------------ runs
    def shipped_since(self, first_month: str, before_month: str) -> set[tuple[str, str]]:
        """``(user, coffee)`` of every pick of runs shipped for ``first_month`` up to but
        not including ``before_month``."""
        query = (
            select(CurationPickRow.user_id, CurationPickRow.coffee_id)
            .join(CurationRunRow, CurationRunRow.id == CurationPickRow.run_id)
            .where(
                CurationRunRow.status == "shipped",
                CurationRunRow.month >= check_month(first_month),
                CurationRunRow.month < check_month(before_month),
            )
        )
        with self._read() as session:
            return {(u, c) for u, c in session.execute(query)}

    def save_curation_run(
        self,
        run_id: str,
        month: str,
        solver: str,
        params: dict[str, Any],
        summary: dict[str, Any],
        picks: Iterable[Pick],
    ) -> CurationRun:
        """Store a draft run with all its picks in one transaction, replacing the month's
        earlier draft. :class:`ConflictError` when the month has shipped."""
        check_month(month)
        rows = [
            {
                "run_id": run_id,
                "user_id": p.user,
                "slot": p.slot,
                "coffee_id": p.coffee,
                "affinity": float(p.affinity),
                "explanation": p.explanation[:500],
            }
            for p in picks
        ]
        try:
            return self._save_run(run_id, month, solver, params, summary, rows)
        except IntegrityError as exc:
            if "curation_runs" not in str(exc) or "month" not in str(exc):
                raise
            raise ConflictError(
                f"another run of {month} was saved at the same time; run it again"
            ) from None

    def _save_run(
        self,
        run_id: str,
        month: str,
        solver: str,
        params: dict[str, Any],
        summary: dict[str, Any],
        rows: list[dict[str, Any]],
    ) -> CurationRun:
        with self._write() as session:
            old = session.scalar(select(CurationRunRow).where(CurationRunRow.month == month))
            if old is not None and old.status == "shipped":
                raise ConflictError(
                    f"{month} was shipped (run {old.id}); a shipped month is never re-curated"
                )
            if old is not None:
                session.execute(delete(CurationPickRow).where(CurationPickRow.run_id == old.id))
                session.execute(delete(CurationRunRow).where(CurationRunRow.id == old.id))
            row = CurationRunRow(
                id=run_id,
                month=month,
                status="draft",
                solver=solver,
                params=params,
                summary=summary,
                created_at=utcnow(),
                shipped_at=None,
            )
            session.add(row)
            session.flush()
            for part in chunks(rows, 5000):
                session.execute(insert(CurationPickRow), list(part))
            return _run(row)

    def curation_run(self, run_id: str) -> CurationRun | None:
        with self._read() as session:
            row = session.get(CurationRunRow, run_id)
            return None if row is None else _run(row)

    def curation_run_for_month(self, month: str) -> CurationRun | None:
        query = select(CurationRunRow).where(CurationRunRow.month == check_month(month))
        with self._read() as session:
            row = session.scalar(query)
            return None if row is None else _run(row)

    def curation_runs(self, offset: int = 0, limit: int = 100) -> list[CurationRun]:
        """Runs, newest month first."""
        check_page(offset, limit)
        query = select(CurationRunRow).order_by(CurationRunRow.month.desc())
        with self._read() as session:
            return [_run(r) for r in session.scalars(query.offset(offset).limit(limit))]

    def curation_picks(
        self, run_id: str, offset: int = 0, limit: int | None = None, user: str | None = None
    ) -> list[Pick]:
        """A run's picks by subscriber and slot (``limit`` None: all of them)."""
        query = select(CurationPickRow).where(CurationPickRow.run_id == run_id)
        if user is not None:
            query = query.where(CurationPickRow.user_id == user)
        query = query.order_by(CurationPickRow.user_id, CurationPickRow.slot).offset(offset)
        if limit is not None:
            check_page(offset, limit)
            query = query.limit(limit)
        with self._read() as session:
            return [
                Pick(r.user_id, r.slot, r.coffee_id, r.affinity, r.explanation)
                for r in session.scalars(query)
            ]

    def count_curation_picks(self, run_id: str) -> int:
        query = select(func.count()).where(CurationPickRow.run_id == run_id)
        with self._read() as session:
            return int(session.scalar(query) or 0)

    def ship_curation_run(self, run_id: str) -> bool:
        """Mark the run shipped and take its picks out of stock, in one transaction; False
        when it was shipped already. :class:`ConflictError` (nothing changes) when a
        coffee's stock no longer covers its picks (the catalogue changed since the run)."""
        with self._write() as session:
            row = session.get(CurationRunRow, run_id)
            if row is None:
                raise NotFoundError(f"no curation run {run_id!r}")
            if row.status == "shipped":
                return False
            counts = Counter(
                session.scalars(
                    select(CurationPickRow.coffee_id).where(CurationPickRow.run_id == run_id)
                )
            )
            stock = _stock(session, sorted(counts))
            short = sorted(c for c, n in counts.items() if stock.get(c, -1) < n)
            if short:
                raise ConflictError(
                    f"run {run_id} needs more than the stock of {', '.join(short[:5])}"
                    + (f" and {len(short) - 5} more" if len(short) > 5 else "")
                    + ": re-run the month's curation against the current catalogue"
                )
            now = utcnow()
            for coffee, n in counts.items():
                session.execute(
                    update(CoffeeRow)
                    .where(CoffeeRow.id == coffee)
                    .values(stock=CoffeeRow.stock - n, updated_at=now)
                )
            row.status = "shipped"
            row.shipped_at = now
            return True


def _stock(session: Any, ids: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in chunks(ids):
        query = select(CoffeeRow.id, CoffeeRow.stock).where(CoffeeRow.id.in_(part))
        out.update((str(cid), int(n)) for cid, n in session.execute(query))
    return out
