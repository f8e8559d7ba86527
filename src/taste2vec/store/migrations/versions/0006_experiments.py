"""A/B experiments and the experiment controller's lease (issue 12).

Creates ``experiments`` (one row per experiment: pinned control and treatment versions,
treatment share, assignment salt, configuration, status, the controller's last decision;
``active_model`` UNIQUE allows one active experiment per model) and
``controller_leases`` (holder, fencing token, expiry).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'running', 'promoting', 'rolling_back', 'promoted', 'rolled_back', 'stopped', 'halted'"


def upgrade() -> None:
    """Create the experiment tables."""
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("active_model", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("control_version", sa.String(length=32), nullable=False),
        sa.Column("treatment_version", sa.String(length=32), nullable=False),
        sa.Column("treatment_share", sa.Float(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=2000), nullable=True),
        sa.Column("last_decision", sa.JSON(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_experiments_status")),
        sa.CheckConstraint(
            "treatment_share > 0 AND treatment_share < 1", name=op.f("ck_experiments_share")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint("active_model", name=op.f("uq_experiments_active_model")),
    )
    op.create_index("ix_experiments_model_created", "experiments", ["model_name", "created_at"])
    op.create_table(
        "controller_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_controller_leases")),
    )


def downgrade() -> None:
    """Drop the experiment tables."""
    op.drop_table("controller_leases")
    op.drop_index("ix_experiments_model_created", table_name="experiments")
    op.drop_table("experiments")
