"""Revisions: cheap fingerprints of shared state that service replicas compare with
what they hold in memory.

A replica caches each user's taste state and the catalogue's index; any replica (or a CLI
import) may change the rows behind them. Rather than a counter that every write path must
remember to bump, a revision is computed from the rows themselves in one indexed read:

* :meth:`RevisionsMixin.user_revision`: per user, the count and largest ``seq`` of their
  feedback and tastings, and when their onboarding answer last changed. Counts catch a
  row committed late with a smaller ``seq`` (PostgreSQL allocates ``seq`` before commit);
  rows are never updated or deleted, so equal revisions mean equal rows.
* :meth:`RevisionsMixin.catalogue_revision`: the number of coffees and the latest
  ``updated_at`` (an upsert or a stock change moves it, a delete changes the count).
* :meth:`RevisionsMixin.feedback_revision`: the number of feedback rows and the largest
  ``seq`` (when the crowd's statistics are worth refitting).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, text

from taste2vec.store._base import StoreBase
from taste2vec.store._tables import CoffeeRow, FeedbackRow

# Built once: constructing the equivalent ORM select per call cost more than running it.
_USER_REVISION = text(
    "SELECT"
    " (SELECT count(*) FROM feedback WHERE user_id = :u),"
    " (SELECT coalesce(max(seq), 0) FROM feedback WHERE user_id = :u),"
    " (SELECT count(*) FROM tasting_records WHERE user_id = :u),"
    " (SELECT coalesce(max(seq), 0) FROM tasting_records WHERE user_id = :u),"
    " (SELECT updated_at FROM user_onboarding WHERE user_id = :u)"
)

UserRevision = tuple[int, int, int, int, datetime | None]
"""(feedback count, largest feedback seq, tasting count, largest tasting seq, onboarding
update time)."""
CatalogueRevision = tuple[int, datetime | None]
FeedbackRevision = tuple[int, int]


class RevisionsMixin(StoreBase):
    """Fingerprints of users' histories, the catalogue and the feedback table."""

    _user_revision_sql: tuple[str, tuple[str, ...] | None] | None = None

    def user_revision(self, user_id: str) -> UserRevision:
        """The fingerprint of everything that shapes ``user_id``'s taste state (one read:
        four index range scans and a primary-key lookup, on every recommendation).

        It runs on a pooled driver connection as one statement, outside a session and an
        explicit transaction: one statement reads one snapshot on SQLite and PostgreSQL
        alike, and skipping the session's BEGIN/ROLLBACK made the read about 10x cheaper
        (bench/RESULTS.md, "Speed and load")."""
        sql, order = self._user_revision_statement()
        params: tuple[str, ...] | dict[str, str] = (
            {"u": user_id} if order is None else tuple(user_id for _ in order)
        )
        conn = self._engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, params)
                row = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            conn.close()  # back to the pool (which rolls back whatever the driver began)
        assert row is not None  # noqa: S101 - a SELECT of scalar subqueries has one row
        return int(row[0]), int(row[1]), int(row[2]), int(row[3]), _utc(row[4])

    def _user_revision_statement(self) -> tuple[str, tuple[str, ...] | None]:
        """The revision query compiled for this engine's driver, and the order of its
        positional parameters (None: the driver takes named ones)."""
        if self._user_revision_sql is None:
            compiled = _USER_REVISION.compile(dialect=self._engine.dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            self._user_revision_sql = (compiled.string, order)
        return self._user_revision_sql

    def catalogue_revision(self) -> CatalogueRevision:
        """``(number of coffees, latest updated_at)``."""
        stmt = select(func.count(), func.max(CoffeeRow.updated_at))
        with self._read() as session:
            count, latest = session.execute(stmt).one()
        return int(count), _utc(latest)

    def feedback_revision(self) -> FeedbackRevision:
        """``(number of feedback rows, largest seq)``."""
        stmt = select(func.count(), func.coalesce(func.max(FeedbackRow.seq), 0))
        with self._read() as session:
            count, last = session.execute(stmt).one()
        return int(count), int(last)


def _utc(value: object) -> datetime | None:
    """Raw reads bypass the column type: SQLite hands back naive UTC text, PostgreSQL an
    aware datetime."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
