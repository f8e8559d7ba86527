"""``LearnerLease``: with several service replicas, only one online learner may act.

The lease lives with the operational store (``T2V_DATABASE_URL``), so every replica that
shares a store competes for the same one, and it needs no table of its own:

* **PostgreSQL**: a session-level advisory lock (``pg_try_advisory_lock``) held on a
  connection of its own. The server releases it when that session ends, so a replica
  that crashes or loses its connection frees the lease at once; :meth:`LearnerLease.held`
  checks the connection and reports the loss.
* **SQLite**: an exclusive ``flock`` on ``<database>.learner.lock`` beside the database
  file (replicas sharing a SQLite store share a host). The OS releases it when the process
  dies, however it dies.

Non-blocking: :meth:`acquire` answers at once; a replica without the lease keeps serving
and tries again later (:class:`LeasedLearner` every ``retry_s``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

__all__ = ["LearnerLease", "LeasedLearner"]

log = logging.getLogger(__name__)

# A fixed advisory-lock key per lease name: "taste2vec online learner" by default.
_KEY_BASE = 0x7A57_0000
# Whether this very session holds the advisory lock (a key below 2**32: classid 0).
_HELD_SQL = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND pid = pg_backend_pid() AND classid = 0 AND objid = :k AND objsubid = 1"
)


def _url(url: str | URL) -> URL:
    """``url`` parsed; plain ``postgres(ql)://`` gets the psycopg 3 driver (as the store)."""
    text_url = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    if text_url.startswith("postgres://"):
        text_url = "postgresql://" + text_url.removeprefix("postgres://")
    parsed = make_url(text_url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class LearnerLease:
    """One named, exclusive, non-blocking lease on the store at ``url``."""

    def __init__(self, url: str | URL, name: str = "online-learner") -> None:
        self.url = _url(url)
        self.name = name
        self.backend = self.url.get_backend_name()
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        if self.backend == "sqlite":
            database = self.url.database
            if not database or database == ":memory:" or self.url.query.get("uri"):
                raise ValueError(f"a learner lease needs a SQLite file, not {database!r}")
            self.path: Path | None = (
                Path(database).expanduser().with_name(f"{Path(database).name}.{name}.lock")
            )
        elif self.backend == "postgresql":
            self.path = None
            self.key = _KEY_BASE + (zlib.crc32(name.encode()) & 0xFFFF)
        else:
            raise ValueError(f"no learner lease for the {self.backend!r} backend")

    def __repr__(self) -> str:
        return f"LearnerLease({self.backend}, {self.name!r}, held={self.is_held})"

    @property
    def is_held(self) -> bool:
        """Whether this object believes it holds the lease (no I/O; see :meth:`held`)."""
        return self._fd is not None or self._conn is not None

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; True when this object holds it now."""
        with self._lock:
            if self.is_held:
                return True
            if self.backend == "sqlite":
                return self._acquire_file()
            return self._acquire_pg()

    def _acquire_file(self) -> bool:
        import fcntl

        assert self.path is not None  # noqa: S101 - set for SQLite
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def _acquire_pg(self) -> bool:
        if self._engine is None:
            self._engine = create_engine(self.url, pool_size=1, max_overflow=0)
        conn = self._engine.connect()
        try:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
            )
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        """Whether the lease is still held (PostgreSQL: the session still answers; a lost
        session lost the lease, and this object lets it go)."""
        with self._lock:
            if self._conn is None:
                return self._fd is not None
            try:  # on this session? (a transparent reconnect would be a new session)
                mine = self._conn.execute(_HELD_SQL, {"k": self.key}).scalar()
                self._conn.commit()
            except Exception as exc:  # noqa: BLE001 - any failure means the session is gone
                log.warning("learner lease session lost: %s", exc)
                self._drop_conn()
                return False
            if not mine:
                log.warning("learner lease lost: the session no longer holds the lock")
                self._drop_conn()
            return bool(mine)

    def release(self) -> None:
        """Give the lease up (a no-op when not held)."""
        with self._lock:
            if self._fd is not None:
                import fcntl

                try:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                finally:
                    os.close(self._fd)
                    self._fd = None
            if self._conn is not None:
                try:
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                    self._conn.commit()
                except Exception:  # noqa: BLE001 - closing the session releases it anyway
                    log.debug("advisory unlock failed; closing the session", exc_info=True)
                self._drop_conn()

    def _drop_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                log.debug("closing the lease session failed", exc_info=True)

    def close(self) -> None:
        self.release()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class LeasedLearner:
    """A supervised loop that runs ``inner`` (a :class:`~taste2vec.learning.BackgroundLearner`
    or any loop with ``run(stop)``) only while it holds ``lease``.

    Without the lease it waits, trying again every ``retry_s``; when the lease is lost
    (PostgreSQL session gone, checked every ``check_s``), the inner loop is stopped and
    the wait starts again. ``name`` is the inner loop's, so ``/readyz`` shows one loop.

    ``feed`` (every stored reaction, e.g. ``store.all_feedback``) with ``revision`` (a
    cheap value that changes when reactions are added, e.g. ``store.feedback_revision``):
    while it leads, every reaction in the store reaches the inner loop's ``observe``
    (duplicates are refused by the learner), at each acquisition and then every
    ``feed_s`` when the revision moved, so the leader also learns from the feedback the
    other replicas stored. Each feed reads the whole feedback table, one item at a time
    (``feed`` should be lazy, as ``store.all_feedback`` is: nothing here holds a list).
    """

    def __init__(
        self,
        inner: Any,
        lease: LearnerLease,
        retry_s: float = 5.0,
        check_s: float = 5.0,
        *,
        feed: Callable[[], Iterable[Any]] | None = None,
        revision: Callable[[], object] | None = None,
        feed_s: float = 60.0,
    ) -> None:
        self.inner = inner
        self.lease = lease
        self.retry_s = retry_s
        self.check_s = check_s
        self.feed = feed
        self.revision = revision
        self.feed_s = feed_s
        self.name: str = str(getattr(inner, "name", "online-learner"))
        self.acquisitions = 0
        self.feeds = 0
        self._fed_revision: object = None
        self._fed_at = 0.0
        self._wake = threading.Event()

    def _feed(self, force: bool) -> None:
        """Queue the store's reactions for the inner loop (see the class docstring)."""
        if self.feed is None:
            return
        now = time.monotonic()
        if not force and now - self._fed_at < self.feed_s:
            return
        self._fed_at = now
        try:
            revision = None if self.revision is None else self.revision()
            if not force and revision is not None and revision == self._fed_revision:
                return
            for item in self.feed():
                self.inner.observe(item)
            self._fed_revision = revision
            self.feeds += 1
        except Exception:  # noqa: BLE001 - the next feed tries again; learning goes on
            log.exception("could not feed stored reactions to the online learner")

    @property
    def leader(self) -> bool:
        """Whether this replica's learner holds the lease now."""
        return self.lease.is_held

    def wake(self) -> None:
        self._wake.set()
        wake = getattr(self.inner, "wake", None)
        if callable(wake):
            wake()

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                if not self.lease.acquire():
                    self._wake.wait(self.retry_s)
                    self._wake.clear()
                    continue
                self.acquisitions += 1
                log.info("this replica holds the learner lease; the online learner runs here")
                inner_stop = threading.Event()
                worker = threading.Thread(
                    target=self.inner.run, args=(inner_stop,), name="t2v-learner-leased"
                )
                worker.start()
                self._feed(force=True)  # catch up: feedback the other replicas stored
                try:
                    while not stop.is_set() and worker.is_alive():
                        self._wake.wait(self.check_s)
                        self._wake.clear()
                        self._feed(force=False)
                        if not self.lease.held():
                            log.warning("learner lease lost; the online learner stops here")
                            break
                finally:
                    inner_stop.set()
                    self.wake()
                    worker.join()
                    if not stop.is_set():
                        self.lease.release()
        finally:
            self.lease.release()
