"""Initial schema: users, api_keys, coffees, tasting_records, feedback, user_profiles,
coffee_embeddings.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=128)
HASH = sa.String(length=64)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _event_columns() -> list[sa.Column[object]]:
    """Columns shared by tasting_records and feedback (before their own)."""
    return [
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
    ]


def _payload_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("timestamp", _utc(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("payload_hash", HASH, nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
    ]


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key_hash", HASH, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.CheckConstraint("role IN ('user', 'admin')", name=op.f("ck_api_keys_role")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"])

    op.create_table(
        "coffees",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("roaster", sa.String(length=200), nullable=False),
        sa.Column("origin_country", sa.String(length=100), nullable=True),
        sa.Column("process", sa.String(length=32), nullable=True),
        sa.Column("roast_level", sa.String(length=32), nullable=True),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("payload_hash", HASH, nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coffees")),
    )
    op.create_index(op.f("ix_coffees_origin_country"), "coffees", ["origin_country"])
    op.create_index(op.f("ix_coffees_roaster"), "coffees", ["roaster"])

    op.create_table(
        "tasting_records",
        *_event_columns(),
        sa.Column("coffee_id", ID, nullable=True),
        *_payload_columns(),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tasting_records_user_id_users")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_tasting_records")),
        sa.UniqueConstraint("id", name=op.f("uq_tasting_records_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_tasting_records_coffee_id"), "tasting_records", ["coffee_id"])
    op.create_index(
        "ix_tasting_records_user_time", "tasting_records", ["user_id", "timestamp", "seq"]
    )

    op.create_table(
        "feedback",
        *_event_columns(),
        sa.Column("coffee_id", ID, nullable=False),
        sa.Column("signal", sa.String(length=16), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        *_payload_columns(),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_feedback_user_id_users")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_feedback")),
        sa.UniqueConstraint("id", name=op.f("uq_feedback_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_feedback_coffee_id"), "feedback", ["coffee_id"])
    op.create_index("ix_feedback_user_time", "feedback", ["user_id", "timestamp", "seq"])

    op.create_table(
        "user_profiles",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("n_feedback", sa.Integer(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_profiles_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_profiles")),
    )

    op.create_table(
        "coffee_embeddings",
        sa.Column("model_version", ID, nullable=False),
        sa.Column("coffee_id", ID, nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coffee_id"],
            ["coffees.id"],
            name=op.f("fk_coffee_embeddings_coffee_id_coffees"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_version", "coffee_id", name=op.f("pk_coffee_embeddings")),
    )
    op.create_index(op.f("ix_coffee_embeddings_coffee_id"), "coffee_embeddings", ["coffee_id"])


def downgrade() -> None:
    """Drop every table (and its data)."""
    for table in (
        "coffee_embeddings",
        "user_profiles",
        "feedback",
        "tasting_records",
        "coffees",
        "api_keys",
        "users",
    ):
        op.drop_table(table)
