"""The experiment tables (issue 12): A/B experiments and the controller's lease.

Imported by :mod:`taste2vec.store._tables` (one line) so they share its ``MetaData``;
migration ``0006`` creates them (``experiment_arm_requests``: ``0008``).

``experiments``
    One A/B experiment of a registered model: control = the champion version and
    treatment = the challenger version pinned at creation, the treatment's share of
    users, the assignment salt, the decision configuration and the controller's last
    decision. ``active_model`` is the model name while the experiment is active
    (``running``, ``promoting``, ``rolling_back``) and NULL after it ended; it is
    UNIQUE (NULLs are distinct on SQLite and PostgreSQL), so a second active experiment
    of one model cannot be inserted, even by two writers at once.
``controller_leases``
    Who may act for the experiment controller: one row per lease name, the holder, a
    fencing ``token`` that grows by one at every change of holder, and when the lease
    expires. A controller's writes check its token in the same transaction.
``experiment_arm_requests``
    Per-arm request outcomes of a running experiment, for the p99-latency and error-rate
    guardrails: one row per (experiment, arm, serving process) with that process's
    cumulative ``requests``, ``errors`` (exceptions while ranking) and ``slower``
    (requests slower than ``limit_ms``, the experiment's p99 limit). Each process only
    ever writes its own row, so the controller, wherever it runs, sums the rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from taste2vec.store._tables import ID_LEN, Base, UTCDateTime

EXPERIMENT_STATUSES = (
    "running",
    "promoting",
    "rolling_back",
    "promoted",
    "rolled_back",
    "stopped",
    "halted",
)
ACTIVE_STATUSES = ("running", "promoting", "rolling_back")


class ExperimentRow(Base):
    """One A/B experiment (see the module docstring)."""

    __tablename__ = "experiments"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in EXPERIMENT_STATUSES) + ")",
            name="status",
        ),
        CheckConstraint("treatment_share > 0 AND treatment_share < 1", name="share"),
        Index("ix_experiments_model_created", "model_name", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(ID_LEN))
    active_model: Mapped[str | None] = mapped_column(String(ID_LEN), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    control_version: Mapped[str] = mapped_column(String(32))
    treatment_version: Mapped[str] = mapped_column(String(32))
    treatment_share: Mapped[float] = mapped_column(Float)
    salt: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(ID_LEN))
    description: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(2000))
    last_decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fence: Mapped[int] = mapped_column(BigInteger)


class ControllerLeaseRow(Base):
    """The experiment controller's lease (see the module docstring)."""

    __tablename__ = "controller_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(ID_LEN))
    token: Mapped[int] = mapped_column(BigInteger)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ArmRequestsRow(Base):
    """One serving process's request counts in one arm (see the module docstring)."""

    __tablename__ = "experiment_arm_requests"
    __table_args__ = (
        CheckConstraint(
            "requests >= 0 AND errors >= 0 AND slower >= 0 "
            "AND errors <= requests AND slower <= requests",
            name="counts",
        ),
    )

    experiment_id: Mapped[str] = mapped_column(
        String(ID_LEN), ForeignKey("experiments.id"), primary_key=True
    )
    arm: Mapped[str] = mapped_column(String(16), primary_key=True)
    replica: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)
    slower: Mapped[int] = mapped_column(BigInteger)
    limit_ms: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
