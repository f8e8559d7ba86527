"""Engines for the two supported backends, with their durability settings.

SQLite (embedded default)
    ``journal_mode=WAL`` (readers never block the writer), ``synchronous=FULL``
    (the WAL is fsynced at every commit), ``foreign_keys=ON`` and a 30 s
    ``busy_timeout`` (the package's SQLite settings, :func:`taste2vec._sqlite.configure`,
    applied to each new connection). SQLAlchemy, not the ``sqlite3`` driver, emits ``BEGIN``:
    write transactions use ``BEGIN IMMEDIATE`` so that concurrent writers queue
    on the lock up front instead of failing with "database is locked" when a
    read lock cannot be upgraded; read transactions use a plain ``BEGIN``.

PostgreSQL (scale-out)
    psycopg 3, server defaults (``synchronous_commit=on``), pre-ping on checkout.

Either way a write is acknowledged only after its ``COMMIT`` has returned:
acknowledged = committed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import DeclarativeBase, Session

from taste2vec._sqlite import configure
from taste2vec.errors import StoreError

Backend = Literal["sqlite", "postgresql"]

SQLITE_BUSY_TIMEOUT_MS = 30_000
_BEGIN_OPTION = "taste2vec_sqlite_begin"

_URL_HELP = "use sqlite:///path/to/file.db or postgresql+psycopg://user:password@host:port/database"


def normalise_url(url: str | URL) -> URL:
    """Parse ``url``; ``postgresql://`` and ``postgres://`` get the psycopg 3 driver.

    >>> normalise_url("postgres://u@h/db").drivername
    'postgresql+psycopg'
    """
    text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://") :]
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL: {exc}; {_URL_HELP}") from None
    backend = parsed.get_backend_name()
    if parsed.drivername == "postgresql":  # no driver named: psycopg 3, not psycopg2
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"unsupported database backend {backend!r}; {_URL_HELP}")
    if backend == "postgresql" and parsed.get_driver_name() != "psycopg":
        raise StoreError(
            f"unsupported PostgreSQL driver {parsed.get_driver_name()!r}: "
            "use postgresql+psycopg:// (psycopg 3)"
        )
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise StoreError(
            "in-memory SQLite is not supported (each connection would see its own empty "
            "database); use a file, e.g. sqlite:///tmp/taste2vec.db"
        )
    return parsed


def make_engine(url: str | URL) -> Engine:
    """An engine for ``url`` with the durability settings above; creates SQLite's folder."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True)
    assert parsed.database is not None  # noqa: S101 - checked by normalise_url
    if not parsed.query.get("uri"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def writer(engine: Engine) -> Engine:
    """The same engine (same pool), but its transactions start with ``BEGIN IMMEDIATE``."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 driver; _sqlite_on_begin emits BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        configure(cursor, SQLITE_BUSY_TIMEOUT_MS / 1000, foreign_keys=True)
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    if mode not in ("DEFERRED", "IMMEDIATE"):  # pragma: no cover - internal option
        raise StoreError(f"bad SQLite BEGIN mode {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}")


def backend_of(session: Session) -> Backend:
    """``"sqlite"`` or ``"postgresql"`` for the engine behind ``session``."""
    name = session.get_bind().dialect.name
    return "postgresql" if name == "postgresql" else "sqlite"


def upsert_stmt(
    session: Session, model: type[DeclarativeBase]
) -> sqlite.Insert | postgresql.Insert:
    """A dialect-specific ``INSERT`` into ``model``'s table that supports ``ON CONFLICT``."""
    if backend_of(session) == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


@cache
def _insert_ignoring(dialect: str, table: Table, conflict: str, returning: str | None) -> Any:
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    stmt = insert.on_conflict_do_nothing(index_elements=[conflict])
    return stmt if returning is None else stmt.returning(table.c[returning])


def insert_ignoring(
    session: Session, model: type[DeclarativeBase], conflict: str, returning: str | None = None
) -> Any:
    """``INSERT INTO model ... ON CONFLICT (conflict) DO NOTHING [RETURNING returning]``,
    built once per dialect and table and executed with the row as parameters
    (``session.execute(stmt, row)``).

    The hot ingestion path uses this instead of ``upsert_stmt(...).values(**row)``, which
    builds a new statement (and its cache key) for every row: that was most of a write's
    CPU time (``bench/ingest_commit.py``).
    """
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every ORM table here is a Table
        raise TypeError(f"{model.__name__} is not mapped to a Table")
    return _insert_ignoring(backend_of(session), table, conflict, returning)
