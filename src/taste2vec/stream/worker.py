"""The stream worker: consume the event log, keep keyed state, checkpoint it with offsets.

>>> # worker = StreamWorker(open_log("sqlite:///artifacts/events.db"), "artifacts/stream.db")
>>> # worker.run(stop_event)          # until stop_event is set
>>> # worker.run(until_end=True)      # catch up with the log as it was at the start, then stop

Per entry: parse with :func:`~taste2vec.stream.events.parse_event` (invalid -> dead letter
with the :class:`~taste2vec.errors.SchemaError` text); late (every window of the event is
final on its partition) -> dead letter ``"late"``; duplicate ``event_id`` -> ignored and
counted; otherwise applied to the partition's state (:class:`PartitionState`). Memory holds
only the event ids that are not durable yet; the others are looked up in the state store's
``dedup`` table, once per partition and polled batch (:meth:`StreamWorker.process`; why
that never misses an id: :mod:`taste2vec.stream.partition`). Likewise memory holds only
the ``max_keys`` most recently used keyed states per aggregate (users, coffees, arms),
shared equally among the worker's partitions, plus those not durable yet; the others are
read from the state store's ``keyed`` table when a batch needs them, one query per
partition and aggregate.

Effectively once: a partition's state, dead letters, window rows and dedup ids are written
in the same SQLite transaction as the partition's next offset (:class:`StateStore`). On
assignment the worker loads the checkpoint and seeks the consumer to its offset, so after a
crash it re-reads exactly the entries whose effects were lost with the process. Offsets are
also committed to the log's consumer group after each checkpoint, for monitoring only.

The checkpoints that :meth:`StreamWorker.step` triggers are pipelined
(:meth:`StateStore.checkpoint_async`): the changes are snapshotted and written into the
transaction synchronously, then its ``COMMIT`` (WAL write and fsync) runs in a background
thread while the worker goes on processing. At most one is in flight; its outcome is
collected (fenced partitions dropped, offsets committed to the group -- only after the
transaction committed) by the next step that finds it done, or before the next
checkpoint, rebalance or :meth:`StreamWorker.close`. An explicit
:meth:`StreamWorker.checkpoint` (and the end of :meth:`StreamWorker.run`) is synchronous.

Watermarks are per partition (max event time in the partition - out-of-orderness) and are
checkpointed with it. Everything a partition produces depends only on its entries in offset
order, never on batching, timing, or which worker ran it: that is what makes results equal
to one clean pass after crashes and rebalances.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from taste2vec.errors import SchemaError, StoreError
from taste2vec.schema.clock import DEFAULT_MAX_SKEW_S
from taste2vec.stream.aggregates import DEFAULT_AGGREGATES
from taste2vec.stream.aggregator import Aggregate
from taste2vec.stream.events import Event, parse_event
from taste2vec.stream.log.base import EventLog, LogEntry
from taste2vec.stream.partition import PartitionState
from taste2vec.stream.state import PendingCheckpoint, StateStore
from taste2vec.stream.windows import future_reason, to_us

log = logging.getLogger(__name__)

DEFAULT_GROUP = "taste2vec-stream"
DEFAULT_OUT_OF_ORDERNESS_S = 300.0
DEFAULT_ALLOWED_LATENESS_S = 3600.0
#: Keyed states a worker keeps in memory per keyed aggregate (users, coffees, arms), all
#: its partitions together. A user's state takes ~3 KiB in memory (20 events), so ~150 MiB
#: at this bound; the rest stay in the state file (docs/stream.md, "Memory").
DEFAULT_MAX_KEYS = 50_000


class StreamWorker:
    """One worker process's loop over its assigned partitions.

    ``checkpoint_every`` entries or ``checkpoint_interval_s`` seconds (whichever first)
    trigger a checkpoint. With ``lazy_types`` (event types nobody waits for, e.g. the
    service's ``recommendation_shown``), a checkpoint holding only events of those types
    waits ``lazy_interval_s`` instead: under a steady stream of them the state is written
    less often, while any other event still gets the short interval. Only the cadence
    changes; what a checkpoint contains does not. ``allowed_lateness_s`` and
    ``out_of_orderness_s`` define window finality (they are stored with each partition and
    must not change for a state file). An entry whose event time is more than
    ``max_clock_skew_s`` after its log append time is dead-lettered
    (:func:`~taste2vec.stream.windows.future_reason`): one client's clock never moves the
    watermark, or anyone's signals, past the log's own clock (see ``schema.clock``).
    ``aggregates``: what each partition runs (:mod:`taste2vec.stream.aggregator`; default
    :data:`~taste2vec.stream.aggregates.DEFAULT_AGGREGATES`); a reader of the state file
    needs the same list to read them. ``max_keys``: the keyed states the worker keeps in
    memory per aggregate, the most recently used, shared equally among the partitions it
    owns (each keeps ``max(1, max_keys // partitions)``; None: no bound); the others are
    read from the state file when an event needs them (:mod:`taste2vec.stream.partition`).
    """

    def __init__(
        self,
        log: EventLog,
        state_path: str | Path,
        group: str = DEFAULT_GROUP,
        checkpoint_every: int = 20_000,
        checkpoint_interval_s: float = 0.5,
        allowed_lateness_s: float = DEFAULT_ALLOWED_LATENESS_S,
        out_of_orderness_s: float = DEFAULT_OUT_OF_ORDERNESS_S,
        batch_size: int = 2_000,
        poll_timeout_s: float = 0.2,
        lazy_types: frozenset[str] = frozenset(),
        lazy_interval_s: float | None = None,
        max_clock_skew_s: float = DEFAULT_MAX_SKEW_S,
        aggregates: Sequence[Aggregate] = DEFAULT_AGGREGATES,
        max_keys: int | None = DEFAULT_MAX_KEYS,
    ) -> None:
        if max_keys is not None and (isinstance(max_keys, bool) or max_keys < 1):
            raise ValueError(f"max_keys must be None or an integer >= 1, not {max_keys!r}")
        if checkpoint_every < 1 or checkpoint_interval_s <= 0 or batch_size < 1:
            raise ValueError("checkpoint_every, checkpoint_interval_s and batch_size must be > 0")
        if lazy_interval_s is not None and lazy_interval_s < checkpoint_interval_s:
            raise ValueError("lazy_interval_s must be >= checkpoint_interval_s")
        if allowed_lateness_s < 0 or out_of_orderness_s < 0 or max_clock_skew_s < 0:
            raise ValueError(
                "allowed_lateness_s, out_of_orderness_s and max_clock_skew_s must be >= 0"
            )
        self.log = log
        self.group = group
        self.checkpoint_every = checkpoint_every
        self.checkpoint_interval_s = checkpoint_interval_s
        self.lateness_us = round(allowed_lateness_s * 1e6)
        self.ooo_us = round(out_of_orderness_s * 1e6)
        self.skew_us = round(max_clock_skew_s * 1e6)
        self.batch_size = batch_size
        self.poll_timeout_s = poll_timeout_s
        self.lazy_types = lazy_types
        self.lazy_interval_s = checkpoint_interval_s if lazy_interval_s is None else lazy_interval_s
        self.store = StateStore(state_path, aggregates, max_keys)
        self.max_keys = max_keys
        # Set when a batch failed half-applied (a keyed state could not be read): the
        # states in memory are then not those of any offset, and must never be written.
        self._broken: BaseException | None = None
        self.store.set_log_partitions(log.partitions)
        self.parts: dict[int, PartitionState] = {}
        self.stats: dict[str, Any] = {
            "entries": 0,
            "checkpoints": 0,
            "checkpoint_s": 0.0,  # time the loop spent on checkpoints (snapshot, rows, waits)
            "commit_background_s": 0.0,  # time of the COMMITs run in the background thread
            "fenced": 0,
            "rebalances": 0,
        }
        self._pending = 0
        self._urgent = False  # an event not in lazy_types is pending: the short interval
        self._inflight: PendingCheckpoint | None = None
        self._last_checkpoint = time.monotonic()
        self.consumer = log.consumer(group, on_assign=self._on_assign, on_revoke=self._on_revoke)

    # -- rebalances -----------------------------------------------------------------------
    def _on_assign(self, partitions: list[int]) -> None:
        self._collect()
        self.stats["rebalances"] += 1
        for p in partitions:
            if p in self.parts:
                continue
            ps = self.store.load(p, self.ooo_us, self.lateness_us)
            self.parts[p] = ps
            try:
                self.consumer.seek(p, ps.next_offset)
            except StoreError as exc:  # not seekable yet: process() re-seeks on a gap
                log.debug("seek on assignment failed (%s); will re-seek if needed", exc)
        self._share_keys()
        log.info("assigned partitions %s", sorted(partitions))

    def _on_revoke(self, partitions: list[int]) -> None:
        self._collect()
        owned = [self.parts[p] for p in partitions if p in self.parts]
        if owned:
            self._checkpoint(owned)
        for p in partitions:
            self.parts.pop(p, None)
            self.store.forget(p)
        self._share_keys()
        log.info("revoked partitions %s", sorted(partitions))

    def _share_keys(self) -> None:
        """Give each owned partition its share of ``max_keys`` (it evicts down to it at
        its next confirmed checkpoint)."""
        if self.max_keys is None or not self.parts:
            return
        share = max(1, self.max_keys // len(self.parts))
        for ps in self.parts.values():
            ps.max_keys = share

    # -- the loop -------------------------------------------------------------------------
    def step(self) -> int:
        """Poll once, process what came, checkpoint if due; returns the entries polled."""
        entries = self.consumer.poll(self.batch_size, self.poll_timeout_s)
        if entries:
            self.process(entries)
        if self._inflight is not None and self._inflight.done():
            self._collect()
        interval = self.checkpoint_interval_s if self._urgent else self.lazy_interval_s
        if self._pending and (
            self._pending >= self.checkpoint_every
            or time.monotonic() - self._last_checkpoint >= interval
        ):
            self._checkpoint_async()
        return len(entries)

    def process(self, entries: list[LogEntry]) -> None:
        """Apply a polled batch, in three passes: parse and check every entry (nothing is
        changed yet), look up in the state store, per partition and in one query, which
        of the batch's event ids not in memory are durable already (the dedup check), and
        load the keyed states the batch touches that are not in memory (one query per
        partition and aggregate; see :mod:`taste2vec.stream.partition`), then apply the
        entries in offset order. A failed lookup raises before anything is applied: the
        consumer then re-seeks on the gap, as after any lost batch. A key an aggregate
        finds only while applying (an arm in a user's state) is read then; if that read
        fails, the batch is half applied and the worker refuses to checkpoint again
        (close it and start a new one: it resumes from the last checkpoint)."""
        if self._broken is not None:
            raise StoreError(f"the stream worker failed in a batch; restart it ({self._broken})")
        parts = self.parts
        resync: set[int] = set()
        lazy = self.lazy_types
        skew_us = self.skew_us
        now_us = time.time_ns() // 1000
        expected = {p: ps.next_offset for p, ps in parts.items()}
        # (state, offset, append time, payload, event (None: invalid), event time, error)
        work: list[tuple[PartitionState, int, int, bytes, Event | None, int, str]] = []
        unknown: dict[int, set[str]] = {}  # partition -> ids to look up
        wanted: dict[int, dict[str, set[str]]] = {}  # partition -> aggregate -> keys to load
        for e in entries:
            p = e.partition
            ps = parts.get(p)
            if ps is None or p in resync:
                continue  # not ours (any more), or re-reading from the checkpoint
            if e.offset != expected[p]:
                if e.offset < expected[p]:
                    continue  # already applied (re-delivery after a seek or rebalance)
                log.warning(
                    "partition %d: got offset %d, expected %d; seeking back",
                    p,
                    e.offset,
                    expected[p],
                )
                self.consumer.seek(p, expected[p])
                resync.add(p)
                continue
            expected[p] = e.offset + 1
            # The log's clock, but never ahead of this worker's own (a Kafka record's
            # timestamp can be set by its producer where a broker ignores LogAppendTime).
            append_us = min(e.timestamp_ms * 1000, now_us)
            try:
                ev = parse_event(e.value)
            except SchemaError as exc:
                work.append((ps, e.offset, append_us, e.value, None, 0, str(exc)))
                self._urgent = True
                continue
            if ev.type not in lazy:
                self._urgent = True
            t = to_us(ev.event_time)
            if t > append_us + skew_us:
                reason = future_reason(t, append_us, skew_us)
                work.append((ps, e.offset, append_us, e.value, None, 0, reason))
                self._urgent = True
                continue
            work.append((ps, e.offset, append_us, e.value, ev, t, ""))
            if ev.event_id not in ps.unsaved_ids:
                unknown.setdefault(p, set()).add(ev.event_id)
            keys = wanted.get(p)
            if keys is None:
                keys = wanted[p] = {}
            ps.wanted(ev, keys)
        durable = {p: self.store.durable_ids(p, ids) for p, ids in unknown.items()}
        try:
            for p, keys in wanted.items():
                parts[p].prefetch(keys)
            no_ids: frozenset[str] = frozenset()
            try:
                for ps, offset, append_us, payload, event, t, reason in work:
                    ps.next_offset = offset + 1
                    if ps.max_append_us is None or append_us > ps.max_append_us:
                        ps.max_append_us = append_us
                    if event is None:
                        ps.invalid(offset, reason, payload)
                    else:
                        ps.process(offset, event, t, payload, durable.get(ps.partition, no_ids))
            except BaseException as exc:
                self._broken = exc
                raise
        finally:
            for p in wanted:
                parts[p].end_batch()
        n = len(work)
        self._pending += n
        self.stats["entries"] += n

    def checkpoint(self) -> list[int]:
        """Checkpoint every owned partition; returns (and drops) the fenced ones."""
        fenced = self._collect()
        return fenced + self._checkpoint(list(self.parts.values()))

    def _check_intact(self) -> None:
        if self._broken is not None:
            raise StoreError(
                f"the stream worker failed in a batch; not checkpointing ({self._broken})"
            )

    def _checkpoint(self, states: list[PartitionState]) -> list[int]:
        """A synchronous checkpoint of ``states`` (none may be in flight)."""
        self._check_intact()
        t0 = time.perf_counter()
        fenced = self.store.checkpoint(states)
        self.stats["checkpoint_s"] += time.perf_counter() - t0
        self._pending = 0
        self._urgent = False
        self._last_checkpoint = time.monotonic()
        self._settled(fenced, {ps.partition: ps.next_offset for ps in states})
        return fenced

    def _checkpoint_async(self) -> None:
        """Snapshot the changes and write them in the background (see the module doc)."""
        self._collect()
        self._check_intact()
        t0 = time.perf_counter()
        self._inflight = self.store.checkpoint_async(list(self.parts.values()))
        self.stats["checkpoint_s"] += time.perf_counter() - t0
        self._pending = 0
        self._urgent = False
        self._last_checkpoint = time.monotonic()

    def _collect(self) -> list[int]:
        """Wait for the checkpoint in flight, if any, and act on its outcome; returns the
        partitions it found fenced (dropped now)."""
        pending, self._inflight = self._inflight, None
        if pending is None:
            return []
        t0 = time.perf_counter()
        try:
            fenced = pending.result()  # raises its error (its changes are pending again)
        finally:
            self.stats["checkpoint_s"] += time.perf_counter() - t0
            self.stats["commit_background_s"] += pending.seconds
        self._settled(fenced, pending.offsets)
        return fenced

    def _settled(self, fenced: list[int], offsets: dict[int, int]) -> None:
        """After a checkpoint's transaction committed: drop fenced partitions, commit the
        written offsets to the group (informational: the state DB is the truth)."""
        for p in fenced:
            self.parts.pop(p, None)
            log.warning("partition %d is owned by another worker now (fenced); dropped it", p)
        if fenced:
            self._share_keys()
        self.stats["fenced"] += len(fenced)
        self.stats["checkpoints"] += 1
        done = {p: o for p, o in offsets.items() if p in self.parts and p not in fenced}
        if done:
            try:
                self.consumer.commit(done)
            except StoreError as exc:
                log.debug("offset commit to the log failed (harmless): %s", exc)

    def caught_up(self, ends: dict[int, int]) -> bool:
        """Whether every owned partition has reached ``ends`` (and some are owned)."""
        return bool(self.parts) and all(
            ps.next_offset >= ends.get(p, 0) for p, ps in self.parts.items()
        )

    def run(
        self,
        stop: threading.Event | None = None,
        max_idle_s: float | None = None,
        until_end: bool = False,
        drain: bool = False,
        progress_every_s: float | None = None,
    ) -> dict[str, Any]:
        """Process until ``stop`` is set, or ``max_idle_s`` pass without an entry, or (with
        ``until_end``) the owned partitions reach the log's end as of the start. ``drain``
        then finalises every open window (end of a bounded input, as Flink does; later
        events are all late). Checkpoints before returning; returns :attr:`stats`."""
        ends = self.log.end_offsets() if until_end else {}
        t0 = last_report = time.monotonic()
        idle_since: float | None = None
        while stop is None or not stop.is_set():
            got = self.step()
            now = time.monotonic()
            if got:
                idle_since = None
            elif idle_since is None:
                idle_since = now
            if until_end and self.caught_up(ends):
                break
            if max_idle_s is not None and idle_since is not None and now - idle_since >= max_idle_s:
                break
            if progress_every_s is not None and now - last_report >= progress_every_s:
                last_report = now
                rate = self.stats["entries"] / max(now - t0, 1e-9)
                log.info(
                    "%d entries (%.0f/s), partitions %s, %d checkpoints",
                    self.stats["entries"],
                    rate,
                    sorted(self.parts),
                    self.stats["checkpoints"],
                )
        if drain:
            for ps in self.parts.values():
                ps.drain()
        self.checkpoint()
        self.stats["seconds"] = time.monotonic() - t0
        return self.stats

    def close(self) -> None:
        """Leave the group (without a checkpoint: call :meth:`checkpoint` or :meth:`run`;
        one already in flight is finished first)."""
        try:
            self._collect()
        finally:
            self.consumer.close()
            self.store.close()

    def __enter__(self) -> StreamWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_to_end(
    log: EventLog,
    state_path: str | Path,
    *,
    drain: bool = False,
    allowed_lateness_s: float = DEFAULT_ALLOWED_LATENESS_S,
    out_of_orderness_s: float = DEFAULT_OUT_OF_ORDERNESS_S,
    group: str = DEFAULT_GROUP,
    max_clock_skew_s: float = DEFAULT_MAX_SKEW_S,
    aggregates: Sequence[Aggregate] = DEFAULT_AGGREGATES,
    max_keys: int | None = DEFAULT_MAX_KEYS,
) -> dict[str, Any]:
    """Process ``log`` up to its current end with one worker (optionally draining every
    window, as for a bounded input); returns the worker's stats. The Flink parity test
    and the benches use it::

        run_to_end(SQLiteLog(path), state, drain=True, allowed_lateness_s=0)
        StreamReader(state).windows()
    """
    with StreamWorker(
        log,
        state_path,
        group=group,
        allowed_lateness_s=allowed_lateness_s,
        out_of_orderness_s=out_of_orderness_s,
        max_clock_skew_s=max_clock_skew_s,
        aggregates=aggregates,
        max_keys=max_keys,
    ) as worker:
        if not any(log.end_offsets().values()):
            worker.step()  # join the group even for an empty log
            return worker.run(max_idle_s=0.0, drain=drain)
        return worker.run(until_end=True, drain=drain)
