"""Per-arm request counts for the experiments' latency and error-rate guardrails (issue 12).

Creates ``experiment_arm_requests``: per experiment, arm and serving process, the
cumulative requests, server errors and requests slower than the p99 limit. Each serving
process upserts its own row; the controller sums them. A revision of its own (not part
of 0006) so databases already at 0006 or 0007 gain the table on upgrade.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the per-arm request counts table."""
    op.create_table(
        "experiment_arm_requests",
        sa.Column("experiment_id", sa.String(length=128), nullable=False),
        sa.Column("arm", sa.String(length=16), nullable=False),
        sa.Column("replica", sa.String(length=128), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("slower", sa.BigInteger(), nullable=False),
        sa.Column("limit_ms", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "requests >= 0 AND errors >= 0 AND slower >= 0 "
            "AND errors <= requests AND slower <= requests",
            name=op.f("ck_experiment_arm_requests_counts"),
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_arm_requests_experiment_id_experiments"),
        ),
        sa.PrimaryKeyConstraint(
            "experiment_id", "arm", "replica", name=op.f("pk_experiment_arm_requests")
        ),
    )


def downgrade() -> None:
    """Drop the per-arm request counts table."""
    op.drop_table("experiment_arm_requests")
