"""Onboarding answers: the flavour families each user picked.

Creates ``user_onboarding`` (one row per user). The onboarding's archetype ratings are
ordinary feedback rows, so nothing else changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the ``user_onboarding`` table."""
    op.create_table(
        "user_onboarding",
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("families", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_onboarding_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_onboarding")),
    )


def downgrade() -> None:
    """Drop the ``user_onboarding`` table."""
    op.drop_table("user_onboarding")
