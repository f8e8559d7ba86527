"""The embedded event log: one SQLite file (WAL, ``synchronous=FULL``).

Layout
    ``entries(partition, offset, key, value, timestamp_ms)`` keyed by
    ``(partition, offset)`` (a ``WITHOUT ROWID`` table, so a partition's entries are
    stored in offset order and a read is one range scan); ``group_offsets(group_id,
    partition, offset)`` for committed offsets; ``meta`` for the partition count, which
    is fixed when the file is created (reopening with another count raises
    :class:`~taste2vec.errors.StoreError`).

Appending
    :meth:`SQLiteLog.append` takes the write lock up front (``BEGIN IMMEDIATE``), gives
    each entry the next offset of its partition, and returns after ``COMMIT``; with
    ``synchronous=FULL`` the WAL is fsynced first, so an acknowledged entry survives a
    crash of the process or the machine. Several threads and processes may append to
    one file; they queue on the lock (30 s busy timeout) and offsets stay dense.

Consumer groups
    The embedded log serves **one active member per group**. The member holds an
    exclusive ``flock`` on ``<file>.groups/<group hash>.lock`` (the OS releases it when
    the process exits, even on ``kill -9``) and owns every partition. A second member
    of the same group is a *standby*: its assignment is empty and its polls return
    nothing until the active member closes or dies; then it takes the lock, its
    ``on_assign`` fires with all partitions inside its next poll, and it resumes from
    the committed offsets. Spreading one group over several processes is what the
    Kafka backend is for.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from taste2vec._sqlite import connect, transaction
from taste2vec.errors import SchemaError, StoreError
from taste2vec.stream.log.base import LogEntry, RebalanceCallback, partition_for

DEFAULT_PARTITIONS = 8
MAX_KEY_BYTES = 1_000
MAX_VALUE_BYTES = 1_000_000  # the Kafka backend's limit too (Kafka's default message size)
BUSY_TIMEOUT_MS = 30_000
_FORMAT = "1"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS entries ("
    " partition INTEGER NOT NULL, offset INTEGER NOT NULL, key TEXT NOT NULL,"
    " value BLOB NOT NULL, timestamp_ms INTEGER NOT NULL,"
    " PRIMARY KEY (partition, offset)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS group_offsets ("
    " group_id TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,"
    " PRIMARY KEY (group_id, partition)) WITHOUT ROWID",
)


def validate_entries(entries: Sequence[tuple[str, bytes]]) -> None:
    """Refuse what no backend can store, before anything is written (all or nothing)."""
    for i, item in enumerate(entries):
        if not isinstance(item, tuple) or len(item) != 2:
            raise SchemaError(f"entry {i}: expected a (key, value) pair, got {type(item).__name__}")
        key, value = item
        if not isinstance(key, str) or not key:
            raise SchemaError(f"entry {i}: the key must be a non-empty str (the user id)")
        if len(key.encode()) > MAX_KEY_BYTES:
            raise SchemaError(f"entry {i}: the key is longer than {MAX_KEY_BYTES} bytes")
        if not isinstance(value, bytes):
            raise SchemaError(
                f"entry {i}: the value must be bytes, got {type(value).__name__} "
                "(encode events with taste2vec.stream.events.encode_event)"
            )
        if len(value) > MAX_VALUE_BYTES:
            raise SchemaError(
                f"entry {i}: the value is {len(value):,} bytes; the limit is {MAX_VALUE_BYTES:,}"
            )


def _connect(path: Path) -> sqlite3.Connection:
    return connect(path, BUSY_TIMEOUT_MS / 1000)


class SQLiteLog:
    """The embedded :class:`~taste2vec.stream.log.base.EventLog` in one SQLite file.

    ``partitions=None`` opens an existing file with its stored count, or creates one
    with :data:`DEFAULT_PARTITIONS`.
    """

    def __init__(self, path: str | Path, partitions: int | None = None) -> None:
        if partitions is not None and (isinstance(partitions, bool) or partitions < 1):
            raise StoreError(f"partitions must be a positive integer, got {partitions!r}")
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._conn = _connect(self.path)
            self._partitions = self._init_schema(partitions)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the event log {self.path}: {exc}") from exc
        self._closed = False

    def _init_schema(self, partitions: int | None) -> int:
        conn = self._conn
        with transaction(conn):
            for statement in _SCHEMA:
                conn.execute(statement)
            stored = dict(conn.execute("SELECT name, value FROM meta").fetchall())
            if "partitions" not in stored:
                count = partitions or DEFAULT_PARTITIONS
                conn.executemany(
                    "INSERT INTO meta (name, value) VALUES (?, ?)",
                    [("partitions", str(count)), ("format", _FORMAT)],
                )
            else:
                count = int(stored["partitions"])
                if stored.get("format") != _FORMAT:
                    raise StoreError(
                        f"{self.path} has event-log format {stored.get('format')!r}; "
                        f"this version reads {_FORMAT!r}"
                    )
                if partitions is not None and partitions != count:
                    raise StoreError(
                        f"the event log {self.path} was created with {count} partitions, "
                        f"not {partitions}; the count is fixed at creation (keys would move "
                        "to other partitions). Open it without a count or with "
                        f"partitions={count}."
                    )
        return count

    @property
    def partitions(self) -> int:
        return self._partitions

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the event log {self.path} is closed")

    def append(self, entries: Sequence[tuple[str, bytes]]) -> None:
        """Store ``(key, value)`` pairs in one transaction; returns after the fsynced commit."""
        validate_entries(entries)
        if not entries:
            return
        n = self._partitions
        placed = [(partition_for(key, n), key, value) for key, value in entries]
        now_ms = time.time_ns() // 1_000_000
        with self._lock:
            self._check_open()
            conn = self._conn
            try:
                with transaction(conn):
                    nxt: dict[int, int] = {}
                    for partition in {p for p, _, _ in placed}:
                        row = conn.execute(
                            "SELECT MAX(offset) FROM entries WHERE partition = ?", (partition,)
                        ).fetchone()
                        nxt[partition] = 0 if row[0] is None else row[0] + 1
                    rows = []
                    for partition, key, value in placed:
                        rows.append((partition, nxt[partition], key, value, now_ms))
                        nxt[partition] += 1
                    conn.executemany(
                        "INSERT INTO entries (partition, offset, key, value, timestamp_ms)"
                        " VALUES (?, ?, ?, ?, ?)",
                        rows,
                    )
            except sqlite3.Error as exc:
                raise StoreError(f"append to the event log {self.path} failed: {exc}") from exc

    def read(self, partition: int, offset: int, max_records: int = 500) -> list[LogEntry]:
        self._check_partition(partition)
        with self._lock:
            self._check_open()
            return _read(self._conn, partition, offset, max_records)

    def end_offsets(self) -> dict[int, int]:
        with self._lock:
            self._check_open()
            return _end_offsets(self._conn, self._partitions)

    def consumer(
        self,
        group: str,
        on_assign: RebalanceCallback | None = None,
        on_revoke: RebalanceCallback | None = None,
    ) -> SQLiteConsumer:
        self._check_open()
        return SQLiteConsumer(self, group, on_assign, on_revoke)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> SQLiteLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteLog({str(self.path)!r}, partitions={self._partitions})"

    def _check_partition(self, partition: int) -> None:
        if not 0 <= partition < self._partitions:
            raise StoreError(
                f"partition {partition} does not exist (the log has {self._partitions})"
            )


def _read(conn: sqlite3.Connection, partition: int, offset: int, limit: int) -> list[LogEntry]:
    rows = conn.execute(
        "SELECT offset, key, value, timestamp_ms FROM entries"
        " WHERE partition = ? AND offset >= ? ORDER BY offset LIMIT ?",
        (partition, max(offset, 0), limit),
    ).fetchall()
    return [LogEntry(partition, o, k, v, t) for o, k, v, t in rows]


def _end_offsets(conn: sqlite3.Connection, partitions: int) -> dict[int, int]:
    out = {}
    for partition in range(partitions):
        row = conn.execute(
            "SELECT MAX(offset) FROM entries WHERE partition = ?", (partition,)
        ).fetchone()
        out[partition] = 0 if row[0] is None else row[0] + 1
    return out


class SQLiteConsumer:
    """A member of a consumer group on a :class:`SQLiteLog` (see the module docstring)."""

    _IDLE_SLEEP_MIN_S = 0.001
    _IDLE_SLEEP_MAX_S = 0.05

    def __init__(
        self,
        log: SQLiteLog,
        group: str,
        on_assign: RebalanceCallback | None,
        on_revoke: RebalanceCallback | None,
    ) -> None:
        if not isinstance(group, str) or not group:
            raise StoreError("a consumer group needs a non-empty name")
        self._log = log
        self.group = group
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        digest = hashlib.sha256(group.encode()).hexdigest()[:24]
        lock_dir = log.path.parent / f"{log.path.name}.groups"
        lock_dir.mkdir(exist_ok=True)
        self._lock_path = lock_dir / f"{digest}.lock"
        self._lock_file: IO[bytes] | None = None
        self._assigned: list[int] = []
        self._positions: dict[int, int] = {}
        self._rr = 0
        self._closed = False
        try:
            self._conn = _connect(log.path)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the event log {log.path}: {exc}") from exc

    # -- membership ---------------------------------------------------------------
    def _try_join(self) -> None:
        """Take the group's lock if it is free; then own every partition."""
        if self._lock_file is not None:
            return
        handle = open(self._lock_path, "ab")  # noqa: SIM115 - held for the membership
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._lock_file = handle
        self._assigned = list(range(self._log.partitions))
        committed = self.committed(self._assigned)
        self._positions = {p: committed.get(p, 0) for p in self._assigned}
        if self._on_assign is not None:
            self._on_assign(list(self._assigned))

    def assignment(self) -> set[int]:
        return set(self._assigned)

    # -- reading ------------------------------------------------------------------
    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[LogEntry]:
        self._check_open()
        if max_records < 1:
            raise StoreError(f"max_records must be >= 1, got {max_records}")
        deadline = time.monotonic() + max(timeout_s, 0.0)
        sleep_s = self._IDLE_SLEEP_MIN_S
        last_version: int | None = None
        while True:
            self._try_join()
            if self._assigned:
                version = self._data_version()
                if version != last_version:  # something was committed since the last look
                    last_version = version
                    out = self._fetch(max_records)
                    if out:
                        return out
                    sleep_s = self._IDLE_SLEEP_MIN_S
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            time.sleep(min(sleep_s, remaining))
            sleep_s = min(sleep_s * 2, self._IDLE_SLEEP_MAX_S)

    def _data_version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def _fetch(self, max_records: int) -> list[LogEntry]:
        """Up to ``max_records`` entries, taking partitions in turn (the first one rotates)."""
        out: list[LogEntry] = []
        parts = self._assigned
        start = self._rr % len(parts)
        self._rr += 1
        conn = self._conn
        try:
            conn.execute("BEGIN")
            try:
                for i in range(len(parts)):
                    partition = parts[(start + i) % len(parts)]
                    got = _read(conn, partition, self._positions[partition], max_records - len(out))
                    if got:
                        self._positions[partition] = got[-1].offset + 1
                        out.extend(got)
                        if len(out) >= max_records:
                            break
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"reading the event log {self._log.path} failed: {exc}") from exc
        return out

    def seek(self, partition: int, offset: int) -> None:
        self._check_open()
        if partition not in self._positions:
            raise StoreError(
                f"cannot seek partition {partition}: it is not assigned to this member "
                f"(assignment: {sorted(self._assigned)})"
            )
        if offset < 0:
            raise StoreError(f"offset must be >= 0, got {offset}")
        self._positions[partition] = offset

    def position(self, partition: int) -> int:
        """The next offset :meth:`poll` reads from ``partition``."""
        return self._positions[partition]

    # -- offsets ------------------------------------------------------------------
    def commit(self, offsets: Mapping[int, int]) -> None:
        self._check_open()
        if self._lock_file is None:
            raise StoreError(
                f"this member of group {self.group!r} owns no partitions (another member is "
                "active); it cannot commit"
            )
        for partition, offset in offsets.items():
            self._log._check_partition(partition)
            if offset < 0:
                raise StoreError(f"committed offset must be >= 0, got {offset}")
        rows = [(self.group, p, o) for p, o in offsets.items()]
        conn = self._conn
        try:
            with transaction(conn):
                conn.executemany(
                    "INSERT INTO group_offsets (group_id, partition, offset) VALUES (?, ?, ?)"
                    " ON CONFLICT (group_id, partition) DO UPDATE SET offset = excluded.offset",
                    rows,
                )
        except sqlite3.Error as exc:
            raise StoreError(f"commit to the event log {self._log.path} failed: {exc}") from exc

    def committed(self, partitions: Sequence[int] | None = None) -> dict[int, int]:
        self._check_open()
        rows = self._conn.execute(
            "SELECT partition, offset FROM group_offsets WHERE group_id = ?", (self.group,)
        ).fetchall()
        wanted = None if partitions is None else set(partitions)
        return {p: o for p, o in rows if wanted is None or p in wanted}

    # -- lifecycle ----------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None
        self._assigned = []
        self._positions = {}
        self._conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"this consumer of group {self.group!r} is closed")

    def __enter__(self) -> SQLiteConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
