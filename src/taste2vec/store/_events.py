"""Tasting records and feedback: idempotent ingestion by client id.

Adding an object whose id is already stored returns the stored object with
``created=False`` when the content is the same (a client retry), and raises
:class:`~taste2vec.errors.ConflictError` when it differs (an id reused for
something else). Content is compared by the SHA-256 of the validated object's
canonical JSON, so ``"acidity": 7`` and ``"acidity": 7.0``, or the same instant
written in two time zones, count as the same. A ``timestamp`` the client left out (the
server filled in the time it arrived) is not part of the comparison: a retry of that
request is the same write however much later it comes, and gets the stored object.

The user is created implicitly; an unknown coffee id is refused with
:class:`~taste2vec.errors.NotFoundError`. Events may arrive out of order: they
are stored as they come and read back ordered by event ``timestamp``, ties
broken by arrival (``seq``).

Single tastings and reactions are written through the store's group commit
(``_group``): concurrent ones share a transaction, each in its own savepoint, so one
refused write never takes another's row with it, and each call returns only after the
shared commit.

A stored tasting or feedback also queues its ``tasting_logged`` /
``feedback_given`` event in the outbox, in the same transaction (see ``_outbox``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from taste2vec.errors import ConflictError, NotFoundError, SchemaError
from taste2vec.schema.records import Feedback, TasteRecord
from taste2vec.store._base import (
    StoreBase,
    check_page,
    chunks,
    ensure_user_in,
    payload_hash,
    require_coffees,
)
from taste2vec.store._crowd import user_hash
from taste2vec.store._engine import insert_ignoring
from taste2vec.store._outbox import stage_event
from taste2vec.store._tables import FeedbackRow, RecordRow, utcnow
from taste2vec.store._types import AddResult
from taste2vec.stream.events import from_feedback, from_record

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", RecordRow, FeedbackRow)
_BATCH = 1000


def _check_stored(
    row: RecordRow | FeedbackRow, values: dict[str, Any], obj: M, model: type[M], what: str
) -> AddResult[M]:
    digest = values["payload_hash"]
    if row.payload_hash != digest and "timestamp" not in obj.model_fields_set:
        # The client left the time out and the server filled in "now": a retry of that
        # request is the same write, so compare it with the stored time in place.
        digest = payload_hash({**values["payload"], "timestamp": row.payload["timestamp"]})
    if row.payload_hash != digest:
        raise ConflictError(
            f"{what} {row.id!r} already exists with different content; "
            "a retry must send exactly the same object, and a new one needs a new id"
        )
    return AddResult(created=False, record=model.model_validate(row.payload))


def _add(
    session: Session, table: type[R], values: dict[str, Any], model: type[M], obj: M, what: str
) -> AddResult[M]:
    """Insert ``values`` unless the id exists; compare with the stored row if it does.

    Insert first, read only when the id was already there: a new row (the common case)
    costs no lookup. The caller runs this in a savepoint (the group commit), so a refused
    write (conflict, unknown coffee) leaves nothing behind, the user row included."""
    ensure_user_in(session, values["user_id"])
    if values["coffee_id"] is not None:
        try:
            require_coffees(session, [values["coffee_id"]])
        except NotFoundError:  # a retry of a row whose coffee has since left the catalogue
            stored = session.scalar(select(table).where(table.id == values["id"]))
            if stored is None:
                raise
            return _check_stored(stored, values, obj, model, what)
    seq = session.execute(insert_ignoring(session, table, "id", "seq"), values).scalar()
    if seq is not None:
        return AddResult(created=True, record=obj, seq=int(seq))
    # The id is stored (a retry, or a concurrent add of the same id): compare with it.
    stored = session.scalars(select(table).where(table.id == values["id"])).one()
    return _check_stored(stored, values, obj, model, what)


def _common(obj: TasteRecord | Feedback, coffee_id: str | None) -> dict[str, Any]:
    payload = obj.model_dump(mode="json")
    return {
        "id": obj.id,
        "user_id": obj.user,
        "coffee_id": coffee_id,
        "timestamp": obj.timestamp,
        "payload": payload,
        "payload_hash": payload_hash(payload),
        "received_at": utcnow(),
    }


class EventsMixin(StoreBase):
    """Tasting records and feedback."""

    def add_record(self, record: TasteRecord) -> AddResult[TasteRecord]:
        """Store a tasting once; see the module docstring for the idempotency rules."""
        if not isinstance(record, TasteRecord):
            raise SchemaError(f"add_record takes a TasteRecord, got {type(record)!r}")
        values = _common(record, record.coffee)

        def write(session: Session) -> AddResult[TasteRecord]:
            result = _add(session, RecordRow, values, TasteRecord, record, "tasting record")
            if result.created:  # its event, in the same transaction (the outbox)
                stage_event(session, from_record(record))
            return result

        return self._write_grouped(write)

    def get_record(self, record_id: str) -> TasteRecord | None:
        """The tasting with this id, or ``None``."""
        with self._read() as session:
            row = session.scalar(select(RecordRow).where(RecordRow.id == record_id))
            return None if row is None else TasteRecord.model_validate(row.payload)

    def records_by_id(self, record_ids: Iterable[str]) -> dict[str, TasteRecord]:
        """The stored tastings among ``record_ids``, by id, in one read per 500 ids (ids
        not stored are left out)."""
        out: dict[str, TasteRecord] = {}
        with self._read() as session:
            for part in chunks(sorted(set(record_ids)), 500):
                for row in session.scalars(select(RecordRow).where(RecordRow.id.in_(part))):
                    out[row.id] = TasteRecord.model_validate(row.payload)
        return out

    def records_for_user(
        self, user_id: str, limit: int = 100, before: datetime | None = None
    ) -> list[TasteRecord]:
        """The user's latest ``limit`` tastings (strictly before ``before`` if given),
        returned oldest first: ordered by event timestamp, then arrival."""
        check_page(0, limit)
        stmt = select(RecordRow).where(RecordRow.user_id == user_id)
        if before is not None:
            stmt = stmt.where(RecordRow.timestamp < before)
        stmt = stmt.order_by(RecordRow.timestamp.desc(), RecordRow.seq.desc()).limit(limit)
        with self._read() as session:
            rows = list(session.scalars(stmt))
        return [TasteRecord.model_validate(row.payload) for row in reversed(rows)]

    def all_records(self) -> Iterator[TasteRecord]:
        """Every tasting in arrival order, read in batches (for snapshots and replays)."""
        for row in self._batches(RecordRow):
            yield TasteRecord.model_validate(row.payload)

    def add_feedback(self, feedback: Feedback) -> AddResult[Feedback]:
        """Store a reaction once; see the module docstring for the idempotency rules."""
        if not isinstance(feedback, Feedback):
            raise SchemaError(f"add_feedback takes a Feedback, got {type(feedback)!r}")
        values = _common(feedback, feedback.coffee)
        values["signal"] = feedback.signal.value
        values["user_hash"] = user_hash(feedback.user)
        values["rating"] = feedback.rating

        def write(session: Session) -> AddResult[Feedback]:
            result = _add(session, FeedbackRow, values, Feedback, feedback, "feedback")
            if result.created:
                stage_event(session, from_feedback(feedback))
            return result

        return self._write_grouped(write)

    def get_feedback(self, feedback_id: str) -> Feedback | None:
        """The feedback with this id, or ``None``."""
        with self._read() as session:
            row = session.scalar(select(FeedbackRow).where(FeedbackRow.id == feedback_id))
            return None if row is None else Feedback.model_validate(row.payload)

    def feedback_for_user(self, user_id: str) -> list[Feedback]:
        """All of the user's feedback, ordered by event timestamp, then arrival."""
        stmt = (
            select(FeedbackRow)
            .where(FeedbackRow.user_id == user_id)
            .order_by(FeedbackRow.timestamp, FeedbackRow.seq)
        )
        with self._read() as session:
            return [Feedback.model_validate(row.payload) for row in session.scalars(stmt)]

    def all_feedback(self) -> Iterator[Feedback]:
        """Every piece of feedback in arrival order, read in batches.

        Each batch is its own short read, so a slow consumer holds no transaction
        open; feedback added while iterating may or may not be included.
        """
        for row in self._batches(FeedbackRow):
            yield Feedback.model_validate(row.payload)

    def _batches(self, table: type[R]) -> Iterator[R]:
        last = 0
        while True:
            page = select(table).where(table.seq > last).order_by(table.seq).limit(_BATCH)
            with self._read() as session:
                rows = list(session.scalars(page))
            yield from rows
            if len(rows) < _BATCH:
                return
            last = rows[-1].seq
