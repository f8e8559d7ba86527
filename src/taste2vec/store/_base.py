"""Session handling and helpers shared by the store's parts.

One engine per store, one short session per call: the store is safe to call
from many threads at once. Write calls run in one transaction and return only
after it has committed (acknowledged = committed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine, Executable, select
from sqlalchemy.orm import Session, sessionmaker

from taste2vec.errors import NotFoundError, SchemaError
from taste2vec.schema.records import Identifier
from taste2vec.store._engine import Backend, insert_ignoring, writer
from taste2vec.store._group import GroupCommitter
from taste2vec.store._tables import CoffeeRow, UserRow, utcnow

T = TypeVar("T")
CHUNK = 500  # ids per IN (...) clause; well under SQLite's and PostgreSQL's parameter limits

_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def check_id(value: str, what: str) -> str:
    """``value`` if it is a valid identifier, else :class:`SchemaError` naming ``what``."""
    try:
        return _IDENTIFIER.validate_python(value)
    except ValidationError:
        raise SchemaError(
            f"invalid {what} {value!r}: use 1-128 letters, digits or . _ : @ -",
            [(what, "invalid identifier")],
        ) from None


def check_page(offset: int, limit: int) -> None:
    """Reject negative offsets and non-positive limits."""
    if offset < 0 or limit < 1:
        raise SchemaError(
            f"offset must be >= 0 and limit >= 1 (got offset={offset}, limit={limit})"
        )


def payload_hash(payload: Any) -> str:
    """SHA-256 hex of canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def returned(session: Session, stmt: Executable) -> int:
    """How many rows an ``INSERT/UPDATE/DELETE ... RETURNING`` statement touched.

    RETURNING, not ``cursor.rowcount``: psycopg reports -1 for some statements
    SQLAlchemy runs with RETURNING, and ON CONFLICT DO NOTHING needs an exact answer.
    """
    return len(session.execute(stmt, execution_options={"synchronize_session": False}).all())


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Consecutive slices of ``items`` of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ensure_user_in(session: Session, user_id: str) -> None:
    """Insert the user unless present; race-free on both backends."""
    stmt = insert_ignoring(session, UserRow, "id")
    session.execute(stmt, {"id": user_id, "created_at": utcnow()})


def existing_coffee_ids(session: Session, ids: Iterable[str]) -> set[str]:
    """The subset of ``ids`` that are in the catalogue."""
    wanted = sorted(set(ids))
    found: set[str] = set()
    for part in chunks(wanted):
        found.update(session.scalars(select(CoffeeRow.id).where(CoffeeRow.id.in_(part))))
    return found


def require_coffees(session: Session, ids: Iterable[str]) -> None:
    """Raise :class:`NotFoundError` naming the coffee ids that are not in the catalogue."""
    wanted = set(ids)
    missing = sorted(wanted - existing_coffee_ids(session, wanted))
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        noun = "coffee" if len(missing) == 1 else "coffees"
        raise NotFoundError(
            f"unknown {noun} {shown}{more}: add {'it' if len(missing) == 1 else 'them'} "
            "to the catalogue first (upsert_coffees)"
        )


class StoreBase:
    """Holds the engine and hands out sessions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reader = sessionmaker(bind=engine, expire_on_commit=False)
        self._writer = sessionmaker(bind=writer(engine), expire_on_commit=False)
        self._group = GroupCommitter(self._write)

    @property
    def backend(self) -> Backend:
        """``"sqlite"`` or ``"postgresql"``."""
        return "postgresql" if self._engine.dialect.name == "postgresql" else "sqlite"

    @property
    def url(self) -> str:
        """The database URL, password masked."""
        return self._engine.url.render_as_string(hide_password=True)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A session for reading; rolled back and closed on exit."""
        with self._reader() as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A session in a write transaction, committed on normal exit, rolled back on error."""
        with self._writer() as session, session.begin():
            yield session

    def _write_grouped(self, fn: Callable[[Session], T]) -> T:
        """``fn(session)`` in a write transaction shared with concurrent small writes (group
        commit, ``_group``): returns once that transaction committed."""
        return self._group.submit(fn)

    def close(self) -> None:
        """Finish queued writes and close every pooled connection. The store must not be
        used afterwards."""
        self._group.close()
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
