"""The transactional outbox: app events stored with the write that caused them.

Publishing straight to the event log after a commit would lose the event when
the process dies between the two, and publishing before the commit would
announce writes that may roll back. So a tasting or a feedback inserts its
event (:func:`~taste2vec.stream.events.from_record` /
:func:`~taste2vec.stream.events.from_feedback`) into the ``outbox`` table in
the *same* transaction as its own row: acknowledged = committed = queued for
publication. Other app events (``box_rated``, ``subscription_paused``,
``recommendation_shown``...) go in with :meth:`OutboxMixin.add_event`.

:class:`~taste2vec.service.relay.OutboxRelay` reads :meth:`~OutboxMixin.unpublished_events`
in ``seq`` order, appends them to the log and then calls
:meth:`~OutboxMixin.mark_published`; a crash between the two publishes a row
again (at-least-once), and consumers deduplicate by ``event_id``.

``add_event`` is idempotent by ``event_id`` with the rules of records and
feedback: the same content again returns ``created=False``, different content
under a stored id raises :class:`~taste2vec.errors.ConflictError`. Content is
compared by the SHA-256 of the event's canonical JSON. The user is created
implicitly.

Retention: :meth:`OutboxMixin.prune_outbox` deletes published rows older than a
retention, but only of the types in :data:`PRUNABLE_TYPES`. An app event's
outbox row is its idempotency record (``add_event`` looks only here) and the
store's only copy of it, so ``box_rated``, ``subscription_*``,
``recommendation_clicked`` and ``lab_session`` rows are kept; a tasting's or a
feedback's idempotency lives in its own table, and ``recommendation_shown`` is
emitted by the service once per request under a fresh id (clients may not post
it), so their rows can go once published.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, get_args

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from taste2vec.errors import ConflictError, SchemaError
from taste2vec.store._base import (
    CHUNK,
    StoreBase,
    check_page,
    chunks,
    ensure_user_in,
    payload_hash,
    returned,
)
from taste2vec.store._engine import backend_of, insert_ignoring
from taste2vec.store._experiment_tables import ExperimentRow
from taste2vec.store._tables import OutboxRow, UserRow, utcnow
from taste2vec.store._types import AddResult
from taste2vec.stream.events import Event, encode_event, parse_event


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One outbox row as the relay sees it. ``payload`` is the canonical event JSON."""

    seq: int
    event_id: str
    user_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime


def _values(event: Event) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(encode_event(event))
    return {
        "event_id": event.event_id,
        "user_id": event.user,
        "event_type": event.type,
        "payload": payload,
        "payload_hash": payload_hash(payload),
        "created_at": utcnow(),
    }


def stage_event(session: Session, event: Event) -> bool:
    """Insert ``event`` into the outbox inside the caller's transaction.

    Returns False when its ``event_id`` is already there (nothing is changed).
    The caller has already made sure the user exists.
    """
    stmt = insert_ignoring(session, OutboxRow, "event_id", "seq")
    return session.execute(stmt, _values(event)).first() is not None


def _check_stored(row: OutboxRow, digest: str) -> AddResult[Event]:
    if row.payload_hash != digest:
        raise ConflictError(
            f"event {row.event_id!r} already exists with different content; "
            "a retry must send exactly the same event, and a new one needs a new event_id"
        )
    return AddResult(created=False, record=parse_event(row.payload))


def _add_one(session: Session, event: Event) -> AddResult[Event]:
    values = _values(event)
    stored = session.scalar(select(OutboxRow).where(OutboxRow.event_id == event.event_id))
    if stored is not None:
        return _check_stored(stored, values["payload_hash"])
    ensure_user_in(session, event.user)
    if stage_event(session, event):
        return AddResult(created=True, record=event)
    # Lost a race with a concurrent add of the same id (PostgreSQL): compare with theirs.
    stored = session.scalars(select(OutboxRow).where(OutboxRow.event_id == event.event_id)).one()
    return _check_stored(stored, values["payload_hash"])


def _add_many(session: Session, events: Sequence[Event]) -> list[AddResult[Event] | ConflictError]:
    """``_add_one`` for a batch in a few statements: one lookup of the stored ids, one
    insert of the users, one multi-row insert of the new events (per chunk)."""
    values = [_values(e) for e in events]
    ids = list(dict.fromkeys(v["event_id"] for v in values))
    stored: dict[str, tuple[str, dict[str, Any]]] = {}

    def load(wanted: Sequence[str]) -> None:
        for part in chunks(wanted):
            query = select(OutboxRow.event_id, OutboxRow.payload_hash, OutboxRow.payload)
            for eid, digest, payload in session.execute(query.where(OutboxRow.event_id.in_(part))):
                stored[eid] = (digest, payload)

    load(ids)
    new: dict[str, dict[str, Any]] = {}
    for v in values:
        if v["event_id"] not in stored:
            new.setdefault(v["event_id"], v)
    inserted: set[str] = set()
    if new:
        # Executemany of one statement per table: its compiled form is cached, where a
        # multi-row ``.values([...])`` was compiled afresh for every batch (~0.2 ms of
        # Python per row, on the service's emitted-event path).
        now = utcnow()
        users = [{"id": u, "created_at": now} for u in sorted({v["user_id"] for v in new.values()})]
        session.execute(
            _insert(session, _USERS).on_conflict_do_nothing(index_elements=["id"]), users
        )
        stmt = (
            _insert(session, _OUTBOX)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(_OUTBOX.c.event_id)
        )
        rows = list(new.values())
        for part in chunks(rows, _ROWS_PER_INSERT):
            inserted.update(session.scalars(stmt, list(part)))
        lost = [eid for eid in new if eid not in inserted]  # concurrent adds (PostgreSQL)
        if lost:
            load(lost)
    out: list[AddResult[Event] | ConflictError] = []
    first: set[str] = set()
    for event, v in zip(events, values, strict=True):
        eid = v["event_id"]
        if eid in inserted and eid not in first:
            first.add(eid)
            out.append(AddResult(created=True, record=event))
            continue
        digest, payload = stored.get(eid) or (new[eid]["payload_hash"], new[eid]["payload"])
        if digest != v["payload_hash"]:
            out.append(
                ConflictError(
                    f"event {eid!r} already exists with different content; a retry must send "
                    "exactly the same event, and a new one needs a new event_id"
                )
            )
        else:
            out.append(AddResult(created=False, record=parse_event(payload)))
    return out


def _insert(session: Session, table: Table) -> sqlite.Insert | postgresql.Insert:
    """A Core ``INSERT`` into ``table`` that supports ``ON CONFLICT`` (executemany-able)."""
    if backend_of(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


PRUNABLE_TYPES: Final = ("tasting_logged", "feedback_given", "recommendation_shown")
"""Event types whose published outbox rows :meth:`OutboxMixin.prune_outbox` deletes."""

# No parameters: the same text for every driver; the (published_at, seq) index answers it.
_ANY_UNPUBLISHED = "SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT 1"
_ROWS_PER_INSERT = 200  # x 6 columns: well under both backends' parameter limits
_OUTBOX: Final[Table] = OutboxRow.__table__  # type: ignore[assignment]
_USERS: Final[Table] = UserRow.__table__  # type: ignore[assignment]
_EVENT_CLASSES: tuple[type, ...] = get_args(get_args(Event)[0])


def _check_event(event: object) -> None:
    if not isinstance(event, _EVENT_CLASSES):
        raise SchemaError(f"add_event takes a taste2vec.stream.events event, got {type(event)!r}")


def _pre_period_s(config: object) -> float:
    """An experiment's CUPED pre-period (``pre_period_s`` setting, 7 days by default; the
    service validates it at creation, so anything odd here falls back to the default)."""
    value = config.get("pre_period_s") if isinstance(config, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value:
        return float(min(value, 365 * 86400))
    return 7 * 86400.0


class OutboxMixin(StoreBase):
    """App events in the transactional outbox."""

    def add_event(self, event: Event) -> AddResult[Event]:
        """Queue an app event for publication once; see the module docstring."""
        _check_event(event)
        return self._write_grouped(lambda session: _add_one(session, event))

    def add_events(self, events: Sequence[Event]) -> list[AddResult[Event] | ConflictError]:
        """Queue several events in one transaction; per event, its :class:`AddResult`
        or the :class:`ConflictError` it met (a conflict does not stop the others)."""
        for event in events:
            _check_event(event)
        if not events:
            return []
        return self._write_grouped(lambda session: _add_many(session, events))

    def get_event(self, event_id: str) -> Event | None:
        """The queued event with this id (published or not), or ``None``."""
        with self._read() as session:
            row = session.scalar(select(OutboxRow).where(OutboxRow.event_id == event_id))
            return None if row is None else parse_event(row.payload)

    def unpublished_events(self, limit: int = 500) -> list[OutboxEntry]:
        """Up to ``limit`` events not yet marked published, oldest (lowest ``seq``) first."""
        check_page(0, limit)
        stmt = (
            select(
                OutboxRow.seq,
                OutboxRow.event_id,
                OutboxRow.user_id,
                OutboxRow.event_type,
                OutboxRow.payload,
                OutboxRow.created_at,
            )
            .where(OutboxRow.published_at.is_(None))
            .order_by(OutboxRow.seq)
            .limit(limit)
        )
        with self._read() as session:
            return [OutboxEntry(*row) for row in session.execute(stmt)]

    def has_unpublished(self) -> bool:
        """Whether any event waits for the relay: one index probe on a pooled driver
        connection, without an ORM session (the relay's idle polls; about a tenth of the
        CPU of an empty :meth:`unpublished_events`)."""
        conn = self._engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(_ANY_UNPUBLISHED)
                return cursor.fetchone() is not None
            finally:
                cursor.close()
        finally:
            conn.close()  # back to the pool (which rolls back whatever the driver began)

    def mark_published(self, seqs: Sequence[int]) -> int:
        """Stamp these rows published (now); returns how many were still unpublished.

        Like the outbox's other hot writes, it rides the group commit (``_group``): in its
        own write transaction it waited for SQLite's write lock behind the committer, which
        takes it again at once while writes keep coming. Under 50 clients logging tastings
        the relay's marks took 14.2 of 15 s, and the backlog grew by ~650 rows a second."""
        now = utcnow()
        wanted = sorted(set(seqs))

        def mark(session: Session) -> int:
            done = 0
            for part in chunks(wanted):
                stmt = (
                    update(OutboxRow)
                    .where(OutboxRow.seq.in_(part), OutboxRow.published_at.is_(None))
                    .values(published_at=now)
                    .returning(OutboxRow.seq)
                )
                done += returned(session, stmt)
            return done

        return self._write_grouped(mark)

    def count_unpublished(self) -> int:
        """How many events wait for the relay (the publication backlog)."""
        stmt = select(func.count()).select_from(OutboxRow).where(OutboxRow.published_at.is_(None))
        with self._read() as session:
            return int(session.scalar(stmt) or 0)

    def prune_outbox(self, older_than: timedelta) -> int:
        """Delete published rows of the :data:`PRUNABLE_TYPES` whose ``published_at`` is
        more than ``older_than`` ago; returns how many. Never an unpublished row, and never
        one published since the start of the oldest active experiment's pre-period (the
        experiment controller computes each arm's metrics from these events, and each
        user's pre-period metrics, CUPED's covariate, from the ``pre_period_s`` before
        the start; experiments may run longer than the retention).

        Works in batches of at most 500 rows, each its own short transaction, so a
        large backlog never holds the write lock (SQLite) or many row locks for long.
        """
        if older_than < timedelta(0):
            raise SchemaError(f"older_than must not be negative (got {older_than})")
        cutoff = utcnow() - older_than
        with self._read() as session:  # a running experiment reads its arms' events here
            active = session.execute(
                select(ExperimentRow.created_at, ExperimentRow.config).where(
                    ExperimentRow.active_model.is_not(None)
                )
            ).all()
        for created_at, config in active:  # and its users' pre-period (CUPED covariate)
            cutoff = min(cutoff, created_at - timedelta(seconds=_pre_period_s(config)))
        oldest = (
            select(OutboxRow.seq)
            .where(
                OutboxRow.published_at.is_not(None),
                OutboxRow.published_at < cutoff,
                OutboxRow.event_type.in_(PRUNABLE_TYPES),
            )
            .order_by(OutboxRow.published_at, OutboxRow.seq)  # the (published_at, seq) index
            .limit(CHUNK)
        )
        total = 0
        while True:
            with self._write() as session:
                seqs = list(session.scalars(oldest))
                if seqs:
                    stmt = (
                        delete(OutboxRow)
                        .where(OutboxRow.seq.in_(seqs), OutboxRow.published_at.is_not(None))
                        .returning(OutboxRow.seq)
                    )
                    total += returned(session, stmt)
            if len(seqs) < CHUNK:
                return total
