"""The transactional outbox: app events awaiting publication to the event log.

Creates the ``outbox`` table and back-fills it with the ``tasting_logged`` /
``feedback_given`` event of every tasting and feedback already stored, so that
the stream sees a pre-existing database's history (otherwise its users' signals
would stay empty until they write something new).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

# App code in a migration is fragile (a later release changes it and an old revision
# silently starts producing something else). These two are the exception on purpose:
# the outbox payload *is* the versioned event schema (``schema_version`` 1), and the
# back-filled rows must be byte-for-byte what ``Store.add_record`` / ``add_feedback``
# queue (same event ids, same canonical JSON, same hash), or the relay and the worker's
# deduplication would see two versions of one event. ``events.from_record`` /
# ``from_feedback`` and the ``TasteRecord`` / ``Feedback`` models are that contract;
# re-implementing them here would be the drift. If the event schema ever moves to a
# version 2, freeze a copy of the version-1 conversion in this file.
from taste2vec.schema.records import Feedback, TasteRecord
from taste2vec.stream.events import Event, encode_event, from_feedback, from_record

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BATCH = 1000  # rows read and inserted per round trip; memory stays O(BATCH)

_RECORDS = sa.table(
    "tasting_records",
    sa.column("seq", SEQ),
    sa.column("timestamp", sa.DateTime(timezone=True)),
    sa.column("payload", sa.JSON()),
)
_FEEDBACK = sa.table(
    "feedback",
    sa.column("seq", SEQ),
    sa.column("timestamp", sa.DateTime(timezone=True)),
    sa.column("payload", sa.JSON()),
)
_OUTBOX = sa.table(
    "outbox",
    sa.column("event_id", sa.String(200)),
    sa.column("user_id", sa.String(128)),
    sa.column("event_type", sa.String(32)),
    sa.column("payload", sa.JSON()),
    sa.column("payload_hash", sa.String(64)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Create the outbox table and back-fill it from the stored tastings and feedback."""
    op.create_table(
        "outbox",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_outbox_user_id_users")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "seq"])
    backfill(op.get_bind())


def _history() -> sa.Select[Any]:
    """Every stored tasting and feedback, in event-time order (then tastings before
    feedback, then arrival), so the stream sees history in order rather than late."""
    tastings = sa.select(
        _RECORDS.c.timestamp, sa.literal(0).label("kind"), _RECORDS.c.seq, _RECORDS.c.payload
    )
    feedback = sa.select(
        _FEEDBACK.c.timestamp, sa.literal(1).label("kind"), _FEEDBACK.c.seq, _FEEDBACK.c.payload
    )
    both = sa.union_all(tastings, feedback).subquery("history")
    return sa.select(both.c.kind, both.c.payload).order_by(
        both.c.timestamp, both.c.kind, both.c.seq
    )


def _event(kind: int, payload: dict[str, Any]) -> Event:
    if kind == 0:
        return from_record(TasteRecord.model_validate(payload))  # no vector: the relay adds it
    return from_feedback(Feedback.model_validate(payload))


def _row(event: Event, now: datetime) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(encode_event(event))
    # The same canonical-JSON SHA-256 as taste2vec.store._base.payload_hash.
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {
        "event_id": event.event_id,
        "user_id": event.user,
        "event_type": event.type,
        "payload": payload,
        "payload_hash": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "created_at": now,
    }


def _batches(connection: sa.Connection) -> Iterator[Sequence[sa.Row[Any]]]:
    # A streaming read (a server-side cursor on PostgreSQL; SQLite steps its cursor
    # lazily and sorts in its temp store): never the whole history in memory.
    result = connection.execute(_history().execution_options(yield_per=BATCH))
    try:
        yield from result.partitions(BATCH)
    finally:
        result.close()


def backfill(connection: sa.Connection) -> int:
    """Queue one unpublished event per stored tasting and feedback; returns how many."""
    now = datetime.now(UTC)
    if connection.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as naive UTC text, like UTCDateTime does
    total = 0
    for rows in _batches(connection):
        connection.execute(_OUTBOX.insert(), [_row(_event(r.kind, r.payload), now) for r in rows])
        total += len(rows)
    return total


def downgrade() -> None:
    """Drop the outbox (and any event not yet published)."""
    op.drop_table("outbox")
