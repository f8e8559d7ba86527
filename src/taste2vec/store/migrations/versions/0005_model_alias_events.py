"""The model registry's audit log: every move of a registry alias, append-only.

Creates ``model_alias_events`` (who moved which alias of which registered model, when,
why, with what evidence, from which version to which), so every replica reads the same
history and "which version was champion at time T" is one indexed query.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the alias audit log."""
    op.create_table(
        "model_alias_events",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("move", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("previous_version", sa.String(length=32), nullable=True),
        sa.Column("new_version", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('promote', 'rollback', 'adopt', 'remove')",
            name=op.f("ck_model_alias_events_action"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_model_alias_events")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_model_alias_events_alias_move",
        "model_alias_events",
        ["model_name", "alias", "move"],
        unique=True,
    )
    op.create_index(
        "ix_model_alias_events_alias_time",
        "model_alias_events",
        ["model_name", "alias", "created_at"],
    )


def downgrade() -> None:
    """Drop the alias audit log."""
    op.drop_index("ix_model_alias_events_alias_time", table_name="model_alias_events")
    op.drop_index("ix_model_alias_events_alias_move", table_name="model_alias_events")
    op.drop_table("model_alias_events")
