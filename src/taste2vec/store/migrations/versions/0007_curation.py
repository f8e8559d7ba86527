"""Subscription-box curation (issue 13): subscriptions, curation runs and their picks.

Creates ``subscriptions`` (plan, box size, status, exclusions per subscriber),
``curation_runs`` (one per month: a draft or the shipped run) and ``curation_picks``
(the boxes, with an explanation per pick; shipped runs' picks are the shipping history).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the curation tables."""
    op.create_table(
        "subscriptions",
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("plan", sa.String(length=128), nullable=False),
        sa.Column("box_size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decaf_only", sa.Boolean(), nullable=False),
        sa.Column("exclusions", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'cancelled')", name=op.f("ck_subscriptions_status")
        ),
        sa.CheckConstraint(
            "box_size >= 1 AND box_size <= 12", name=op.f("ck_subscriptions_box_size")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_subscriptions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_subscriptions")),
    )
    op.create_index(op.f("ix_subscriptions_status"), "subscriptions", ["status"], unique=False)
    op.create_table(
        "curation_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("solver", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'shipped')", name=op.f("ck_curation_runs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curation_runs")),
        sa.UniqueConstraint("month", name=op.f("uq_curation_runs_month")),
    )
    op.create_table(
        "curation_picks",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("coffee_id", sa.String(length=128), nullable=False),
        sa.Column("affinity", sa.Float(), nullable=False),
        sa.Column("explanation", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["curation_runs.id"],
            name=op.f("fk_curation_picks_run_id_curation_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "user_id", "slot", name=op.f("pk_curation_picks")),
    )
    op.create_index("ix_curation_picks_user", "curation_picks", ["user_id", "run_id"], unique=False)


def downgrade() -> None:
    """Drop the curation tables."""
    op.drop_index("ix_curation_picks_user", table_name="curation_picks")
    op.drop_table("curation_picks")
    op.drop_table("curation_runs")
    op.drop_index(op.f("ix_subscriptions_status"), table_name="subscriptions")
    op.drop_table("subscriptions")
