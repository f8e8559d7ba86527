"""The curation tables (issue 13): subscriptions and the monthly curation runs.

Imported by :mod:`taste2vec.store._tables` (one line) so they share its ``MetaData``;
migration ``0007`` creates them.

``subscriptions``
    One row per subscriber: plan id, box size (the plan's k), status (only ``active``
    ones get a box) and personal exclusions (decaf only, processes, origins, roast
    levels, single coffees).
``curation_runs``
    One row per month (``month`` UNIQUE): the draft a re-run replaces, or the shipped run
    that nothing replaces. ``params`` holds the weights and settings, ``summary`` the
    objective, timing and the subscribers whose box is short.
``curation_picks``
    The boxes: one row per (run, subscriber, slot) with the coffee, its scaled affinity
    and a one-line explanation. The picks of shipped runs are the shipping history that
    the no-repeat rule reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from taste2vec.store._tables import ID_LEN, Base, UTCDateTime

SUBSCRIPTION_STATUSES = ("active", "paused", "cancelled")
RUN_STATUSES = ("draft", "shipped")
MAX_BOX = 12
EXPLANATION_LEN = 500


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'paused', 'cancelled')", name="status"),
        CheckConstraint(f"box_size >= 1 AND box_size <= {MAX_BOX}", name="box_size"),
    )

    user_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("users.id"), primary_key=True)
    plan: Mapped[str] = mapped_column(String(ID_LEN))
    box_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    decaf_only: Mapped[bool] = mapped_column(Boolean)
    exclusions: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CurationRunRow(Base):
    __tablename__ = "curation_runs"
    __table_args__ = (CheckConstraint("status IN ('draft', 'shipped')", name="status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    solver: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CurationPickRow(Base):
    __tablename__ = "curation_picks"
    __table_args__ = (Index("ix_curation_picks_user", "user_id", "run_id"),)

    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("curation_runs.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    coffee_id: Mapped[str] = mapped_column(String(ID_LEN))
    affinity: Mapped[float] = mapped_column(Float)
    explanation: Mapped[str] = mapped_column(String(EXPLANATION_LEN))
