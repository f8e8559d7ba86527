"""The crowd sample's order on the feedback table (issue 11, bounded crowd refits).

Adds ``feedback.user_hash`` (``zlib.crc32`` of the user id's UTF-8, what
``recommend.bayes.crowd_hash`` computes) and the ``(user_hash, user_id)`` index, so that the
store picks the first ``BayesConfig.max_users`` users of the crowd sample in SQL and reads
only their feedback (``store._crowd``). Existing rows are backfilled, one UPDATE per user.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
# SQLite rebuilds the table for the NOT NULL change: keep its AUTOINCREMENT.
_TABLE_KWARGS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    """Add, backfill and index ``feedback.user_hash``."""
    with op.batch_alter_table("feedback", table_kwargs=_TABLE_KWARGS) as batch:
        batch.add_column(sa.Column("user_hash", sa.BigInteger(), nullable=True))
    connection = op.get_bind()
    users = connection.execute(sa.text("SELECT DISTINCT user_id FROM feedback")).scalars().all()
    update = sa.text("UPDATE feedback SET user_hash = :h WHERE user_id = :u")
    for start in range(0, len(users), _BATCH):
        part = users[start : start + _BATCH]
        connection.execute(update, [{"h": zlib.crc32(u.encode()), "u": u} for u in part])
    with op.batch_alter_table("feedback", table_kwargs=_TABLE_KWARGS) as batch:
        batch.alter_column("user_hash", existing_type=sa.BigInteger(), nullable=False)
        batch.create_index("ix_feedback_user_hash", ["user_hash", "user_id"], unique=False)


def downgrade() -> None:
    """Drop ``feedback.user_hash`` and its index."""
    with op.batch_alter_table("feedback", table_kwargs=_TABLE_KWARGS) as batch:
        batch.drop_index("ix_feedback_user_hash")
        batch.drop_column("user_hash")
