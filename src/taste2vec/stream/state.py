"""The stream worker's checkpoint store and its read API: one SQLite file (WAL,
``synchronous=FULL``), the source of truth for what the worker has consumed.

Layout (every row belongs to one log partition)::

    partitions   (partition, next_offset, epoch, meta)     meta: max event time, counters
    keyed        (kind, key, partition, value)              kind user | coffee | arm (JSON)
    panes        (partition, aggregate, key, pane_start, fields)   windows not yet final
    windows      (aggregate, key, window_start, partition, window_end, fields)   final rows
    dedup        (partition, event_id, event_time_us)       ids that can still count
    dead_letters (partition, offset, reason, payload)

Users live on one partition; coffees and arms get one *partial* row per partition, summed
on read. A window row is this partition's final share of the window; :meth:`StreamReader.windows`
sums the shares.

Checkpoint (:meth:`StateStore.checkpoint`): one ``BEGIN IMMEDIATE`` transaction writes, per
partition, the changed keyed rows, window rows, new dedup ids and dead letters together with
the new ``next_offset``. The partition row is updated with a compare-and-set on
``(epoch, next_offset)`` as loaded: :meth:`StateStore.load` bumps the epoch, so once another
worker has loaded the partition (after a rebalance) the old owner's write matches no row;
its changes for that partition are skipped and the partition is reported *fenced* (the
worker drops it). A zombie can therefore never add its work on top of the new owner's.

:meth:`StateStore.checkpoint_async` does the same, but only up to the ``COMMIT`` in the
caller's thread: it snapshots the changes (serialised rows; the states start collecting
afresh), begins the transaction, runs the fencing checks and the writes; a background
thread then runs the ``COMMIT`` -- the WAL write and fsync, the slow part, one sqlite call
that releases the GIL -- while the worker goes on processing. (Running the whole
transaction in the background measured no faster on a loaded 2-core machine: the writer
has to re-take the GIL after every statement.) At most one is in flight: every other method
of the store waits for it first. Its outcome (fenced partitions, or the error, after which
the changes are merged back into the states) is read with
:meth:`PendingCheckpoint.result`; nothing may be acknowledged before that.

Dedup ids are not loaded into memory: :meth:`StateStore.durable_ids` answers which of a
batch's event ids the ``dedup`` table holds, on a second (read-only) connection, so under
WAL it reads the last committed state without waiting for the ``COMMIT`` in flight. A
checkpoint's ids leave the :class:`PartitionState`'s memory only once its ``COMMIT`` is
confirmed (:meth:`PendingCheckpoint.result`, or :meth:`StateStore.checkpoint` returning);
why every id is then either in memory or visible to the lookup is in
:mod:`taste2vec.stream.partition`.

Keyed states are not loaded into memory either: a :class:`PartitionState` keeps a bounded
cache of them and reads the others on demand with :meth:`StateStore.keyed_values` (its
:attr:`~PartitionState.loader`), on the same read connection; a key leaves the cache only
once every checkpoint that wrote it is confirmed (the argument is in
:mod:`taste2vec.stream.partition`). Code that needs every key reads the table
(:class:`StreamReader`).

Rows are written with multi-row statements (a few hundred rows per statement) rather than
``executemany`` (one Python-to-sqlite round trip per row).

Keyed values are JSON; a user's tastings vector inside it is base64 of its little-endian
float64 bytes (format 2; format-1 files, with JSON number lists, are read and upgraded).
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from taste2vec._sqlite import connect, transaction
from taste2vec.errors import StoreError
from taste2vec.stream.aggregates import ARMS, COFFEES, DEFAULT_AGGREGATES, USERS
from taste2vec.stream.aggregator import (
    Aggregate,
    KeyedAggregate,
    WindowedAggregate,
    check_aggregates,
    dumps,
    dumps_ints,
)
from taste2vec.stream.partition import Changes, PartitionState
from taste2vec.stream.signals import ChurnScorer, as_of, user_signals
from taste2vec.stream.windows import END_OF_TIME, NO_WATERMARK, iso

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 60.0
_FORMAT = "2"  # 2: tastings vectors as base64 float64 bytes (1: JSON lists; read, upgraded)
_READABLE = ("1", _FORMAT)
_ROWS_PER_STATEMENT = 500
_IN_TERMS = 500  # ids per "... event_id IN (?, ...)" lookup (under SQLite's variable limit)
_OR_TERMS = 100  # keys per "DELETE ... WHERE (k = ?) OR (k = ?) ..." (a MULTI-INDEX OR)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS partitions (partition INTEGER PRIMARY KEY,"
    " next_offset INTEGER NOT NULL, epoch INTEGER NOT NULL, meta TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS keyed (kind TEXT NOT NULL, key TEXT NOT NULL,"
    " partition INTEGER NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (kind, key, partition)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS keyed_partition ON keyed (partition)",
    "CREATE TABLE IF NOT EXISTS panes (partition INTEGER NOT NULL,"
    " aggregate TEXT NOT NULL, key TEXT NOT NULL, pane_start INTEGER NOT NULL,"
    " fields TEXT NOT NULL, PRIMARY KEY (partition, aggregate, key, pane_start)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS windows (aggregate TEXT NOT NULL, key TEXT NOT NULL,"
    " window_start INTEGER NOT NULL, partition INTEGER NOT NULL,"
    " window_end INTEGER NOT NULL, fields TEXT NOT NULL,"
    " PRIMARY KEY (aggregate, key, window_start, partition)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS dedup (partition INTEGER NOT NULL, event_id TEXT NOT NULL,"
    " event_time_us INTEGER NOT NULL, PRIMARY KEY (partition, event_id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS dedup_time ON dedup (partition, event_time_us)",
    "CREATE TABLE IF NOT EXISTS dead_letters (partition INTEGER NOT NULL,"
    " offset INTEGER NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL,"
    " PRIMARY KEY (partition, offset)) WITHOUT ROWID",
)


def _connect(path: Path, upgrade: bool = False) -> sqlite3.Connection:
    conn = connect(path, BUSY_TIMEOUT_S)
    with transaction(conn):
        for statement in _SCHEMA:
            conn.execute(statement)
        row = conn.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
        if row is None:
            conn.execute("INSERT INTO meta (name, value) VALUES ('format', ?)", (_FORMAT,))
        elif row[0] not in _READABLE:
            raise StoreError(
                f"{path} has stream-state format {row[0]!r}; this reads {', '.join(_READABLE)}"
            )
        elif upgrade and row[0] != _FORMAT:  # the writer will store format-2 values
            conn.execute("UPDATE meta SET value = ? WHERE name = 'format'", (_FORMAT,))
    return conn


@dataclass(slots=True)
class _PartitionWrite:
    """One partition's share of a checkpoint, serialised (immutable values only, so a
    background thread can write it while the worker goes on changing the state)."""

    state: PartitionState  # for requeue() after a failure; never read by the writer
    changes: Changes
    partition: int
    next_offset: int
    meta: str
    keyed: list[tuple[str, str, int, str]]
    deleted_panes: list[tuple[int, str, str, int]]
    windows: list[tuple[str, str, int, int, int, str]]
    panes: list[tuple[int, str, str, int, str]]
    ids: list[tuple[int, str, int]]
    cutoff: int | None  # forget dedup ids below this (None: no change)
    dead: list[tuple[int, int, str, bytes]]


class PendingCheckpoint:
    """A checkpoint whose ``COMMIT`` runs (or ran) in a background thread."""

    def __init__(self, writes: list[_PartitionWrite]) -> None:
        self._writes = writes
        self._thread: threading.Thread | None = None
        self._fenced: list[int] = []
        self._error: BaseException | None = None
        self._requeued = False
        self._confirmed = False
        self.seconds = 0.0  # how long the COMMIT took (in the background)

    @property
    def offsets(self) -> dict[int, int]:
        """The next offset of each partition it writes (fenced ones included)."""
        return {w.partition: w.next_offset for w in self._writes}

    def _run(self, commit: Callable[[], list[int]]) -> None:
        t0 = time.perf_counter()
        try:
            self._fenced = commit()
        except BaseException as exc:  # noqa: BLE001 - handed to result()
            self._error = exc
        self.seconds = time.perf_counter() - t0

    def _start(self, commit: Callable[[], list[int]]) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(commit,), name="t2v-stream-checkpoint"
        )
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def done(self) -> bool:
        """Whether the transaction has finished (committed or failed)."""
        return self._thread is None or not self._thread.is_alive()

    def result(self) -> list[int]:
        """Wait for the transaction; return the fenced partitions (nothing of theirs was
        written) after dropping the written partitions' dedup ids from memory (they are
        durable now), or raise its error after merging the changes back into the states
        (call from the thread that processes events)."""
        self.join()
        if self._error is not None:
            if not self._requeued:
                self._requeued = True
                for w in self._writes:
                    w.state.requeue(w.changes)
            raise self._error
        if not self._confirmed:
            self._confirmed = True
            _confirm(self._writes, self._fenced)
        return list(self._fenced)


class StateStore:
    """The worker's side: load partitions, checkpoint them (with fencing). ``aggregates``:
    what the partitions run (:data:`~taste2vec.stream.aggregates.DEFAULT_AGGREGATES`)."""

    def __init__(
        self,
        path: str | Path,
        aggregates: Sequence[Aggregate] = DEFAULT_AGGREGATES,
        max_keys: int | None = None,
    ) -> None:
        """``max_keys``: the keyed states each loaded partition keeps in memory, per
        aggregate (None: no bound; see :class:`PartitionState`)."""
        check_aggregates(aggregates)
        if max_keys is not None and (isinstance(max_keys, bool) or max_keys < 1):
            raise ValueError(f"max_keys must be None or an integer >= 1, not {max_keys!r}")
        self.aggregates = tuple(aggregates)
        self.max_keys = max_keys
        self.path = Path(path)
        try:
            self._conn = _connect(self.path, upgrade=True)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the stream state {self.path}: {exc}") from exc
        self._epochs: dict[int, int] = {}
        self._offsets: dict[int, int] = {}  # next_offset as last loaded / checkpointed
        self._cutoffs: dict[int, int] = {}
        self._inflight: PendingCheckpoint | None = None
        try:  # dedup lookups (durable_ids): never waits for the COMMIT in flight
            self._reader = connect(self.path, BUSY_TIMEOUT_S)
            self._reader.execute("PRAGMA query_only=ON")
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"cannot open the stream state {self.path}: {exc}") from exc

    def _settle(self) -> None:
        """Wait for the checkpoint in flight, if any (its outcome stays with its handle)."""
        if self._inflight is not None:
            self._inflight.join()
            self._inflight = None

    def set_log_partitions(self, n: int) -> None:
        """Record the log's partition count (readers use it to tell when a window is final
        everywhere); refuse a state file made for a log with another count."""
        self._settle()
        with _tx(self._conn):
            row = self._conn.execute(
                "SELECT value FROM meta WHERE name = 'log_partitions'"
            ).fetchone()
            if row is None:
                self._conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('log_partitions', ?)", (str(n),)
                )
            elif int(row[0]) != n:
                raise StoreError(
                    f"the stream state {self.path} belongs to a log with {row[0]} partitions, "
                    f"not {n}; use a new state file for this log"
                )

    def load(
        self, partition: int, out_of_orderness_us: int, allowed_lateness_us: int
    ) -> PartitionState:
        """Take ownership of ``partition`` (bumping its epoch fences any previous owner)
        and return its checkpointed state. Its dedup ids and keyed states stay in the table
        (looked up with :meth:`durable_ids` and, through the state's
        :attr:`~PartitionState.loader`, :meth:`keyed_values`)."""
        self._settle()
        conn = self._conn
        ps = PartitionState(
            partition, out_of_orderness_us, allowed_lateness_us, self.aggregates, self.max_keys
        )
        ps.loader = functools.partial(self.keyed_values, partition)
        with _tx(conn):
            conn.execute(
                "INSERT OR IGNORE INTO partitions (partition, next_offset, epoch, meta)"
                " VALUES (?, 0, 0, '{}')",
                (partition,),
            )
            conn.execute(
                "UPDATE partitions SET epoch = epoch + 1 WHERE partition = ?", (partition,)
            )
            next_offset, epoch, meta_text = conn.execute(
                "SELECT next_offset, epoch, meta FROM partitions WHERE partition = ?", (partition,)
            ).fetchone()
            meta = json.loads(meta_text)
            for name, mine in (
                ("out_of_orderness_us", out_of_orderness_us),
                ("allowed_lateness_us", allowed_lateness_us),
            ):
                if name in meta and meta[name] != mine:
                    raise StoreError(
                        f"partition {partition} of {self.path} was processed with {name}="
                        f"{meta[name]}, not {mine}; results would not be reproducible. Use the "
                        "same settings or a new state file."
                    )
            ps.load_meta(meta)
            ps.next_offset = next_offset
            unknown = [  # aggregates this worker does not run: their rows are left alone
                kind
                for kind in _kinds(conn)
                if kind not in ps.keyed_aggregates
                and conn.execute(
                    "SELECT 1 FROM keyed WHERE partition = ? AND kind = ? LIMIT 1",
                    (partition, kind),
                ).fetchone()
            ]
            if unknown:
                log.warning(
                    "partition %d of %s holds state of aggregates this worker does not run "
                    "(%s); it is kept as it is",
                    partition,
                    self.path,
                    ", ".join(sorted(unknown)),
                )
            ps.restore_panes(
                [
                    (agg, key, start, json.loads(fields))
                    for agg, key, start, fields in conn.execute(
                        "SELECT aggregate, key, pane_start, fields FROM panes WHERE partition = ?",
                        (partition,),
                    )
                ]
            )
        self._epochs[partition] = epoch
        self._offsets[partition] = next_offset
        self._cutoffs[partition] = ps.evict_cutoff()
        return ps

    def checkpoint(self, states: Iterable[PartitionState]) -> list[int]:
        """Write the changes of ``states`` and their next offsets in one transaction;
        returns the partitions that were *fenced* (another worker owns them now: nothing
        of theirs was written; drop them). On an error the changes stay pending."""
        self._settle()
        writes = self._snapshot(states)
        try:
            tx, fenced, written = self._stage(writes)
            fenced = self._finish(tx, fenced, written)
        except BaseException:
            for w in writes:
                w.state.requeue(w.changes)
            raise
        _confirm(writes, fenced)
        return fenced

    def durable_ids(self, partition: int, ids: Collection[str]) -> set[str]:
        """Which of ``ids`` the ``dedup`` table holds for ``partition`` (committed rows
        only; one ``IN`` query per few hundred ids, on the read connection: it does not
        wait for a checkpoint in flight). Call from the thread that processes events."""
        if not ids:
            return set()
        found: set[str] = set()
        todo = list(ids)
        try:
            for i in range(0, len(todo), _IN_TERMS):
                chunk = todo[i : i + _IN_TERMS]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT event_id FROM dedup WHERE partition = ? AND event_id IN ({marks})"  # noqa: S608 - only ?s
                found.update(r[0] for r in self._reader.execute(sql, [partition, *chunk]))
        except sqlite3.Error as exc:
            raise StoreError(f"dedup lookup in the stream state {self.path} failed: {exc}") from exc
        return found

    def keyed_values(self, partition: int, aggregate: str, keys: Collection[str]) -> dict[str, str]:
        """The stored (encoded) states of those of ``keys`` that ``aggregate`` has a row
        for on ``partition`` (committed rows only; one ``IN`` query per few hundred keys,
        on the read connection, like :meth:`durable_ids`). Call from the thread that
        processes events."""
        if not keys:
            return {}
        found: dict[str, str] = {}
        todo = list(keys)
        try:
            for i in range(0, len(todo), _IN_TERMS):
                chunk = todo[i : i + _IN_TERMS]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT key, value FROM keyed WHERE kind = ? AND partition = ? AND key IN ({marks})"  # noqa: S608, E501 - only ?s
                found.update(self._reader.execute(sql, [aggregate, partition, *chunk]))
        except sqlite3.Error as exc:
            raise StoreError(
                f"keyed state lookup in the stream state {self.path} failed: {exc}"
            ) from exc
        return found

    def checkpoint_async(self, states: Iterable[PartitionState]) -> PendingCheckpoint:
        """:meth:`checkpoint` with its ``COMMIT`` in a background thread: returns once the
        changes are written into the open transaction (the ``COMMIT`` writes the pages to
        the WAL and fsyncs: the slow part, and sqlite does it without the GIL);
        :meth:`PendingCheckpoint.result` gives the outcome."""
        self._settle()
        writes = self._snapshot(states)
        try:
            tx, fenced, written = self._stage(writes)
        except BaseException:
            for w in writes:
                w.state.requeue(w.changes)
            raise
        pending = PendingCheckpoint(writes)
        self._inflight = pending
        pending._start(lambda: self._finish(tx, fenced, written))
        return pending

    def _snapshot(self, states: Iterable[PartitionState]) -> list[_PartitionWrite]:
        """Serialise what changed (in the caller's thread); the states start afresh."""
        writes = []
        for ps in states:
            p = ps.partition
            c = ps.take_changes()
            panes = ps.panes
            keyed: list[tuple[str, str, int, str]] = []
            for name, keys in c.keyed.items():
                agg, values = ps.keyed_aggregates[name], ps.keyed[name]
                keyed += [(name, k, p, agg.encode(values[k])) for k in keys]
            cutoff: int | None = None
            if (new_cutoff := ps.evict_cutoff()) > self._cutoffs.get(p, NO_WATERMARK):
                cutoff = new_cutoff  # the rows below it are deleted with this checkpoint
            writes.append(
                _PartitionWrite(
                    state=ps,
                    changes=c,
                    partition=p,
                    next_offset=ps.next_offset,
                    meta=dumps(ps.meta()),
                    keyed=keyed,
                    deleted_panes=[(p, agg, key, start) for agg, key, start in c.deleted_panes],
                    windows=[
                        (agg, key, start, p, end, dumps_ints(f))
                        for agg, key, start, end, f in c.closed
                    ],
                    panes=[(p, pk[0], pk[1], pk[2], dumps_ints(panes[pk])) for pk in c.panes],
                    ids=[(p, eid, t) for eid, t in c.new_ids],
                    cutoff=cutoff,
                    dead=[(p, off, reason, payload) for off, reason, payload in c.dead],
                )
            )
        return writes

    def _stage(
        self, writes: list[_PartitionWrite]
    ) -> tuple[transaction, list[int], list[_PartitionWrite]]:
        """``BEGIN IMMEDIATE``, the fencing checks and every write, without the
        ``COMMIT``; returns the open transaction, the fenced partitions and the writes
        that passed (nothing is settled until :meth:`_finish`)."""
        conn = self._conn
        fenced: list[int] = []
        written: list[_PartitionWrite] = []
        tx = _tx(conn)
        tx.__enter__()
        try:
            for w in writes:
                p = w.partition
                cur = conn.execute(
                    "UPDATE partitions SET next_offset = ?, meta = ?"
                    " WHERE partition = ? AND epoch = ? AND next_offset = ?",
                    (w.next_offset, w.meta, p, self._epochs[p], self._offsets[p]),
                )
                if cur.rowcount != 1:
                    fenced.append(p)
                    continue
                written.append(w)
                _write(conn, w)
        except BaseException as exc:
            tx.__exit__(type(exc), exc, None)  # ROLLBACK; raises sqlite errors as StoreError
            raise
        return tx, fenced, written

    def _finish(
        self, tx: transaction, fenced: list[int], written: list[_PartitionWrite]
    ) -> list[int]:
        """``COMMIT`` a staged checkpoint (any thread; touches no PartitionState), then
        record the new offsets and forget the fenced partitions."""
        tx.__exit__(None, None, None)
        for w in written:
            self._offsets[w.partition] = w.next_offset
            if w.cutoff is not None:
                self._cutoffs[w.partition] = w.cutoff
        for p in fenced:
            self._forget(p)
        return fenced

    def forget(self, partition: int) -> None:
        self._settle()
        self._forget(partition)

    def _forget(self, partition: int) -> None:
        self._epochs.pop(partition, None)
        self._offsets.pop(partition, None)
        self._cutoffs.pop(partition, None)

    def close(self) -> None:
        self._settle()
        self._reader.close()
        self._conn.close()


def _confirm(writes: list[_PartitionWrite], fenced: list[int]) -> None:
    """A checkpoint committed: its written partitions' ids are durable, out of memory."""
    for w in writes:
        if w.partition not in fenced:
            w.state.confirm(w.changes)


def _kinds(conn: sqlite3.Connection) -> list[str]:
    """The distinct ``kind`` values of the ``keyed`` table, one primary-key seek each (not
    a scan of every row)."""
    kinds: list[str] = []
    row = conn.execute("SELECT kind FROM keyed ORDER BY kind LIMIT 1").fetchone()
    while row is not None:
        kinds.append(row[0])
        row = conn.execute(
            "SELECT kind FROM keyed WHERE kind > ? ORDER BY kind LIMIT 1", (row[0],)
        ).fetchone()
    return kinds


def _insert(conn: sqlite3.Connection, head: str, rows: list[tuple[Any, ...]]) -> None:
    """``head`` + ``VALUES (?, ...), (?, ...), ...`` for ``rows``, a few hundred a statement."""
    if not rows:
        return
    one = "(" + ",".join("?" * len(rows[0])) + ")"
    full = ""
    for i in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[i : i + _ROWS_PER_STATEMENT]
        if len(chunk) == _ROWS_PER_STATEMENT:
            full = full or head + " VALUES " + ",".join([one] * len(chunk))
            sql = full
        else:
            sql = head + " VALUES " + ",".join([one] * len(chunk))
        conn.execute(sql, list(chain.from_iterable(chunk)))


def _delete_panes(conn: sqlite3.Connection, keys: list[tuple[int, str, str, int]]) -> None:
    one = "(partition = ? AND aggregate = ? AND key = ? AND pane_start = ?)"
    for i in range(0, len(keys), _OR_TERMS):
        chunk = keys[i : i + _OR_TERMS]
        conn.execute(
            "DELETE FROM panes WHERE " + " OR ".join([one] * len(chunk)),  # noqa: S608 - only ?s
            list(chain.from_iterable(chunk)),
        )


def _write(conn: sqlite3.Connection, w: _PartitionWrite) -> None:
    """One partition's rows (inside the checkpoint transaction, after its fencing check)."""
    _insert(conn, "INSERT OR REPLACE INTO keyed (kind, key, partition, value)", w.keyed)
    _delete_panes(conn, w.deleted_panes)
    _insert(
        conn,
        "INSERT INTO windows (aggregate, key, window_start, partition, window_end, fields)",
        w.windows,
    )
    _insert(
        conn,
        "INSERT OR REPLACE INTO panes (partition, aggregate, key, pane_start, fields)",
        w.panes,
    )
    _insert(conn, "INSERT OR IGNORE INTO dedup (partition, event_id, event_time_us)", w.ids)
    if w.cutoff is not None:
        conn.execute(
            "DELETE FROM dedup WHERE partition = ? AND event_time_us < ?", (w.partition, w.cutoff)
        )
    _insert(
        conn, "INSERT OR REPLACE INTO dead_letters (partition, offset, reason, payload)", w.dead
    )


def _tx(conn: sqlite3.Connection, immediate: bool = True) -> transaction:
    """A stream-state transaction: SQLite errors come out as StoreError."""
    return transaction(conn, immediate, what="stream state")


class StreamReader:
    """Read the stream state (thread-safe; readers never block the worker under WAL).

    Stable API (the HTTP routes are built on it):

    - :meth:`user_signals` (user) -> dict | None
    - :meth:`read` (aggregate, key, as_of_us=None) -> dict | None (any keyed aggregate)
    - :meth:`read_all` (aggregate, as_of_us=None) -> dict[key, dict]
    - :meth:`coffee_stats` (coffee) -> dict | None
    - :meth:`arm_metrics` (experiment=None) -> list[dict]
    - :meth:`windows` (aggregate=None, key=None, final_only=False) -> list[dict]
    - :meth:`dead_letters` (limit=None, offset=0) -> list[dict]
    - :meth:`dead_letter_reasons` () -> dict[str, int]
    - :meth:`progress` () -> dict
    - :meth:`snapshot` (as_of_us=None) -> dict (everything; used by the tests)

    Derived values are computed *as of* an event time: by default the largest event time
    any partition has seen (:meth:`as_of_us`), never the wall clock.
    """

    def __init__(
        self,
        path: str | Path,
        churn_scorer: Callable[[], ChurnScorer | None] | None = None,
        aggregates: Sequence[Aggregate] = DEFAULT_AGGREGATES,
    ) -> None:
        """``churn_scorer``: called on every :meth:`user_signals`; the trained churn model
        it returns scores ``churn_risk`` (None, or no ``churn_scorer``: the rule). The
        service passes the registry's champion this way (see ``signals.ChurnScorer``).
        ``aggregates``: the ones the worker runs (:meth:`read` and :meth:`windows` know
        only these)."""
        check_aggregates(aggregates)
        self._keyed = {a.name: a for a in aggregates if isinstance(a, KeyedAggregate)}
        self._fields = {a.name: a.fields for a in aggregates if isinstance(a, WindowedAggregate)}
        self.path = Path(path)
        self._churn_scorer = churn_scorer
        try:
            self._conn = _connect(self.path)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the stream state {self.path}: {exc}") from exc
        self._lock = threading.Lock()

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"reading the stream state {self.path} failed: {exc}") from exc

    def as_of_us(self) -> int | None:
        """The largest event time seen by any partition (us), capped by the latest log
        append time (:func:`~taste2vec.stream.signals.as_of`); None before any event."""
        best: int | None = None
        appended: int | None = None
        for (meta_text,) in self._query("SELECT meta FROM partitions"):
            meta = json.loads(meta_text)
            m, a = meta.get("max_us"), meta.get("max_append_us")
            if m is not None and (best is None or m > best):
                best = m
            if a is not None and (appended is None or a > appended):
                appended = a
        return as_of(best, appended)

    def _aggregate(self, name: str) -> KeyedAggregate[Any]:
        agg = self._keyed.get(name)
        if agg is None:
            raise KeyError(f"no keyed aggregate {name!r}; this reader knows {sorted(self._keyed)}")
        return agg

    def _state(self, agg: KeyedAggregate[Any], key: str) -> Any | None:
        """``key``'s state, its partitions' shares merged; None if no event had the key."""
        rows = self._query(
            "SELECT value FROM keyed WHERE kind = ? AND key = ? ORDER BY partition",
            (agg.name, key),
        )
        if not rows:
            return None
        return functools.reduce(agg.merge, (agg.decode(v) for (v,) in rows))

    def _states(self, agg: KeyedAggregate[Any]) -> dict[str, Any]:
        """Every key's merged state, by key."""
        shares: dict[str, list[Any]] = {}
        for key, value in self._query(
            "SELECT key, value FROM keyed WHERE kind = ? ORDER BY key, partition", (agg.name,)
        ):
            shares.setdefault(key, []).append(agg.decode(value))
        return {k: functools.reduce(agg.merge, v) for k, v in shares.items()}

    def read(self, aggregate: str, key: str, as_of_us: int | None = None) -> dict[str, Any] | None:
        """The read-out of a keyed aggregate's ``key`` (the partitions' shares merged), as
        of ``as_of_us`` (default :meth:`as_of_us`); None if no event had the key."""
        agg = self._aggregate(aggregate)
        state = self._state(agg, key)
        if state is None:
            return None
        ref = as_of_us if as_of_us is not None else self.as_of_us()
        return agg.read(key, state, ref if ref is not None else 0)

    def read_all(self, aggregate: str, as_of_us: int | None = None) -> dict[str, dict[str, Any]]:
        """:meth:`read` of every key of a keyed aggregate, by key (sorted)."""
        agg = self._aggregate(aggregate)
        ref = as_of_us if as_of_us is not None else self.as_of_us()
        states = self._states(agg)
        return {k: agg.read(k, states[k], ref if ref is not None else 0) for k in sorted(states)}

    def user_signals(self, user: str, as_of_us: int | None = None) -> dict[str, Any] | None:
        """A user's tastings vector, rating stats and subscription signals with the churn-risk
        rule (keys: see :func:`taste2vec.stream.signals.user_signals`); None if unseen."""
        state = self._state(USERS, user)
        if state is None:
            return None
        ref = as_of_us if as_of_us is not None else self.as_of_us()
        scorer = None if self._churn_scorer is None else self._churn_scorer()
        return user_signals(user, state, ref if ref is not None else 0, scorer)

    def coffee_stats(self, coffee: str) -> dict[str, Any] | None:
        """A coffee's feedback counts, rating stats and rating trend (summed over
        partitions); None if no event mentioned it."""
        state = self._state(COFFEES, coffee)
        return None if state is None else COFFEES.read(coffee, state, 0)  # no as_of in it

    def arm_metrics(self, experiment: str | None = None) -> list[dict[str, Any]]:
        """A/B metrics per experiment arm (CTR, satisfaction, retention, renewal rate)."""
        states = self._states(ARMS)
        out = [ARMS.read(k, states[k], 0) for k in sorted(states)]  # no as_of in them
        return [m for m in out if experiment is None or m["experiment"] == experiment]

    def windows(
        self, aggregate: str | None = None, key: str | None = None, final_only: bool = False
    ) -> list[dict[str, Any]]:
        """Final window rows (the parity contract's shape), each partition's share summed,
        sorted by (aggregate, key, window_start). A cross-partition key's row (coffee, arm)
        is complete once every partition's watermark has passed its end + lateness;
        ``final_only`` keeps only those (partitions that never saw an event are ignored,
        like idle sources in Flink)."""
        sql = "SELECT aggregate, key, window_start, window_end, fields FROM windows"
        cond, params = [], []
        if aggregate is not None:
            cond.append("aggregate = ?")
            params.append(aggregate)
        if key is not None:
            cond.append("key = ?")
            params.append(key)
        if cond:
            sql += " WHERE " + " AND ".join(cond)
        sql += " ORDER BY aggregate, key, window_start, partition"
        limit = self._final_limit() if final_only else None
        merged: dict[tuple[str, str, int], tuple[int, list[int]]] = {}
        for agg, k, start, end, fields in self._query(sql, tuple(params)):
            if (limit is not None and end > limit) or agg not in self._fields:
                continue
            values = json.loads(fields)
            prev = merged.get((agg, k, start))
            if prev is not None:
                values = [a + b for a, b in zip(prev[1], values, strict=True)]
            merged[(agg, k, start)] = (end, values)
        return [
            {
                "aggregate": agg,
                "key": k,
                "window_start": iso(start),
                "window_end": iso(end),
                **dict(zip(self._fields[agg], values, strict=True)),
            }
            for (agg, k, start), (end, values) in merged.items()
        ]

    def _final_limit(self) -> int:
        """Windows ending at or before this are final on every partition that saw events."""
        limit = END_OF_TIME
        for (meta_text,) in self._query("SELECT meta FROM partitions"):
            meta = json.loads(meta_text)
            if meta.get("drained"):
                continue
            if meta.get("max_us") is None:
                continue
            wm = meta["max_us"] - meta["out_of_orderness_us"] - meta["allowed_lateness_us"]
            limit = min(limit, wm)
        return limit

    def dead_letters(self, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """Dead letters in (partition, offset) order, skipping the first ``offset``: reason
        ("late" or the schema error) and the payload (UTF-8, undecodable bytes replaced)."""
        sql = (
            "SELECT partition, offset, reason, payload FROM dead_letters ORDER BY partition, offset"
        )
        if limit is not None or offset:
            sql += f" LIMIT {-1 if limit is None else int(limit)} OFFSET {max(0, int(offset))}"
        return [
            {
                "partition": p,
                "offset": o,
                "reason": r,
                "payload": bytes(b).decode("utf-8", "replace"),
            }
            for p, o, r, b in self._query(sql)
        ]

    def dead_letter_reasons(self) -> dict[str, int]:
        """How many dead letters there are for each reason, most frequent first."""
        rows = self._query(
            "SELECT reason, COUNT(*) FROM dead_letters GROUP BY reason ORDER BY 2 DESC, 1"
        )
        return {str(r): int(n) for r, n in rows}

    def progress(self) -> dict[str, Any]:
        """Per partition: next offset, epoch, watermark and counters; plus totals."""
        parts: dict[int, dict[str, Any]] = {}
        totals: dict[str, int] = {}
        for p, nxt, epoch, meta_text in self._query(
            "SELECT partition, next_offset, epoch, meta FROM partitions ORDER BY partition"
        ):
            meta = json.loads(meta_text)
            max_us = meta.get("max_us")
            wm = None
            if meta.get("drained"):
                wm = "end of input"
            elif max_us is not None:
                wm = iso(max_us - meta["out_of_orderness_us"])
            counters = meta.get("counters", {})
            for k, v in counters.items():
                totals[k] = totals.get(k, 0) + v
            parts[p] = {
                "next_offset": nxt,
                "epoch": epoch,
                "max_event_time": None if max_us is None else iso(max_us),
                "watermark": wm,
                "counters": counters,
            }
        return {"partitions": parts, "totals": totals}

    def snapshot(self, as_of_us: int | None = None) -> dict[str, Any]:
        """Every derived output at once: users, coffees, arms, windows, dead letters and
        counter totals. Two runs over the same log must give equal snapshots."""
        ref = as_of_us if as_of_us is not None else self.as_of_us()
        users = self.read_all(USERS.name, ref)
        coffees = self.read_all(COFFEES.name, ref)
        return {
            "users": users,
            "coffees": coffees,
            "arms": self.read_all(ARMS.name, ref),
            "windows": self.windows(),
            "dead_letters": [
                (d["partition"], d["offset"], d["reason"]) for d in self.dead_letters()
            ],
            "counters": self.progress()["totals"],
        }

    def close(self) -> None:
        with self._lock:
            self._conn.close()


__all__ = ["StateStore", "StreamReader"]
