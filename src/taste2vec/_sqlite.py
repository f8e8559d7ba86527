"""The SQLite plumbing of the package, in one place: the connection settings (WAL journal,
``synchronous=FULL`` for durable files, a busy timeout), how a ``sqlite3`` connection is
opened with them, and the write transaction that takes the database's write lock up front
(``BEGIN IMMEDIATE`` ... ``COMMIT``, and ``ROLLBACK`` on any error).

Every SQLite file of the package goes through it: the embedded event log
(``stream/log/sqlite.py``) and the stream worker's state (``stream/state.py``) with
:func:`connect` and :class:`transaction`; the operational store's SQLAlchemy engine applies
:func:`configure` to each new connection (``store/_engine.py``; SQLAlchemy emits its own
``BEGIN``); the text model's embedding cache (``model/text.py``) uses :func:`connect` with
``durable=False`` (a cache: ``synchronous=NORMAL``, which in WAL mode can lose the last
writes at a power cut but never corrupts the file). ``tests/test_sqlite.py`` fails when
another module opens a ``sqlite3`` connection or sets these pragmas itself.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from taste2vec.errors import StoreError

__all__ = ["configure", "connect", "transaction"]


def configure(
    conn: Any, busy_timeout_s: float, *, durable: bool = True, foreign_keys: bool = False
) -> None:
    """Set the package's pragmas on a fresh ``sqlite3`` connection (or cursor): WAL,
    ``synchronous=FULL`` (``NORMAL`` when not ``durable``), the busy timeout, and
    ``foreign_keys=ON`` if asked.

    Switching a new database file to WAL needs an exclusive lock, and SQLite answers
    "database is locked" at once, without its busy handler, when another connection is
    switching the same new file at that moment (two processes opening a fresh cache
    together). The switch is therefore retried, with a short backoff, for up to
    ``busy_timeout_s``."""
    deadline = time.monotonic() + busy_timeout_s
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
    conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    if foreign_keys:
        conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000):d}")


def connect(path: Path, busy_timeout_s: float, *, durable: bool = True) -> sqlite3.Connection:
    """A connection to ``path`` (its folder created) in autocommit mode (write with
    :class:`transaction`), with :func:`configure`'s settings, usable from any thread (the
    caller serialises its use)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )
    configure(conn, busy_timeout_s, durable=durable)
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
