"""The SQLite plumbing of the stream layer, in one place: how a connection is opened
(autocommit mode, WAL, ``synchronous=FULL``, a busy timeout) and the write transaction
that takes the database's write lock up front (``BEGIN IMMEDIATE`` ... ``COMMIT``, and
``ROLLBACK`` on any error). Used by the embedded event log (``log/sqlite.py``) and the
stream worker's state (``state.py``). The operational store uses SQLAlchemy with the same
settings (``store/_engine.py``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import TracebackType

from taste2vec.errors import StoreError

__all__ = ["connect", "transaction"]


def connect(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    """A connection to ``path`` (its folder created) in autocommit mode, WAL journal,
    ``synchronous=FULL``, usable from any thread (the caller serialises its use)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000):d}")
    return conn


class transaction:  # noqa: N801 - used like a function: ``with transaction(conn):``
    """``BEGIN IMMEDIATE`` (or plain ``BEGIN``) ... ``COMMIT``; ``ROLLBACK`` on error.

    With ``what`` set, SQLite errors (from ``BEGIN``, the body or ``COMMIT``) come out as
    :class:`~taste2vec.errors.StoreError` naming it; without it they pass through as they are.
    """

    def __init__(
        self, conn: sqlite3.Connection, immediate: bool = True, what: str | None = None
    ) -> None:
        self.conn = conn
        self.begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        self.what = what

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute(self.begin)
        except sqlite3.Error as exc:
            if self.what is None:
                raise
            raise StoreError(f"{self.what}: {exc}") from exc
        return self.conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as err:
                self.conn.execute("ROLLBACK")
                if self.what is None:
                    raise
                raise StoreError(f"{self.what} commit failed: {err}") from err
            return
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        if self.what is not None and isinstance(exc, sqlite3.Error):
            raise StoreError(f"{self.what}: {exc}") from exc
