"""Publishing the outbox to the event log, and buffering service-emitted events.

:class:`OutboxRelay` is the second half of the transactional outbox (see
``taste2vec.store._outbox``): a background thread that reads unpublished rows
in ``seq`` order, optionally enriches them (``tasting_logged`` gets the
tasting's 128-d vector from the live model), appends them to the
:class:`~taste2vec.stream.log.base.EventLog` (``append`` returns only once the
entries are durable) and only then marks them published in the store.

Delivery is **at-least-once**. A crash after ``append`` and before
``mark_published`` publishes those rows again at the next start, and two
relays on one PostgreSQL store (two service replicas) may both publish a row;
the stream worker deduplicates by ``event_id``, so aggregates count every
event once. Nothing is ever dropped: a row stays unpublished until an append
containing it has succeeded. When the log is down (a Kafka broker restart) the
relay's pass raises, and its supervisor (:mod:`taste2vec.service.runtime`, the one
retry policy of the service) logs it and runs the relay again after an exponential
backoff (``interval_s`` up to ``max_backoff_s`` when the relay runs on its own). Writers
in the process :meth:`~OutboxRelay.notify` the relay, which then publishes at once;
otherwise it polls every ``interval_s``, slowing to ``idle_interval_s`` while the polls
find nothing (for writers it is not told about: another replica, a CLI import).

Retention: with ``retention`` set, the relay also calls
:meth:`~taste2vec.store.Store.prune_outbox` when idle, at most every
``prune_every_s`` (the service: every 10 minutes, ``T2V_OUTBOX_RETENTION_HOURS``,
default a week), so published rows do not pile up. A failing prune is logged
and tried again at the next interval; it never holds publishing up.

Order: within one batch, entries are appended in ``seq`` order, and the log
keeps one user's entries in one partition, in order. On SQLite writes are
serialised, so ``seq`` order is commit order. On PostgreSQL a transaction that
took a lower ``seq`` may commit after a higher one was already published; the
relay selects "unpublished", not "after the last seq", so that row is published
on the next pass rather than skipped, slightly out of order (the worker orders
by event time within its watermark anyway).

:class:`EventBuffer` takes events the service emits on its hot path
(``recommendation_shown``) without a database write per request: they are
queued in memory and written to the outbox in one transaction every
``interval_s`` (the service uses 0.25 s). Those events are observations, not
acknowledged writes: a ``kill -9`` loses at most the last ``interval_s`` of them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from taste2vec.errors import SchemaError
from taste2vec.service.runtime import Backoff, Supervisor
from taste2vec.store import OutboxEntry, Store
from taste2vec.stream.events import Event, encode_event, parse_event
from taste2vec.stream.log.base import EventLog

log = logging.getLogger(__name__)

Enrich = Callable[[Sequence[Event]], Sequence[Event]]
"""Given ``tasting_logged`` events, the same events in the same order, vectors filled in
where it could compute them."""


@dataclass
class RelayStats:
    """Counters of one relay (read without a lock: approximate while it runs)."""

    published: int = 0
    batches: int = 0
    failures: int = 0
    enrich_failures: int = 0
    last_error: str | None = None
    pruned: int = 0
    prune_failures: int = 0


class OutboxRelay:
    """A :class:`~taste2vec.service.runtime.Loop` that publishes the store's outbox to
    ``log``; see the module docstring for the delivery guarantees.

    >>> # relay = OutboxRelay(store, open_log(url), enrich=service.enrich_events).start()
    >>> # ...; relay.stop()
    """

    def __init__(
        self,
        store: Store,
        log: EventLog,
        enrich: Enrich | None = None,
        interval_s: float = 0.05,
        batch: int = 256,
        max_backoff_s: float = 5.0,
        retention: timedelta | None = None,
        prune_every_s: float = 600.0,
        idle_interval_s: float = 0.25,
    ) -> None:
        self.name = "outbox-relay"
        self.store = store
        self.log = log
        self.enrich = enrich
        self.interval_s = interval_s
        self.idle_interval_s = max(interval_s, idle_interval_s)
        self.batch = batch
        self.max_backoff_s = max_backoff_s
        self.retention = retention
        self.prune_every_s = prune_every_s
        self._next_prune = 0.0  # monotonic; the first idle moment after start prunes
        self.stats = RelayStats()
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one publishing pass at a time
        self._supervisor: Supervisor | None = None

    # ------------------------------------------------------------------ control
    def start(self) -> OutboxRelay:
        """Run on a supervisor of its own (a service adds the relay to its supervisor
        instead, with :meth:`finish` as the stop hook)."""
        if self._supervisor is None:
            self._supervisor = Supervisor(Backoff(self.interval_s, self.max_backoff_s))
            self._supervisor.add(self, start=True)
        return self

    def notify(self) -> None:
        """Something was just queued: publish now instead of at the next interval."""
        self._wake.set()

    wake = notify  # the supervisor wakes a loop it stops

    def stop(self, timeout: float = 10.0, drain_s: float = 2.0) -> None:
        """Stop the loop started by :meth:`start`, then :meth:`finish`."""
        if self._supervisor is not None:
            self._supervisor.stop(timeout)
            self._supervisor = None
        self.finish(drain_s)

    def finish(self, drain_s: float = 2.0) -> None:
        """Try for up to ``drain_s`` to publish what is queued (what is left is published at
        the next start)."""
        deadline = time.monotonic() + drain_s
        try:
            while time.monotonic() < deadline and self.publish_once() > 0:
                pass
        except Exception as exc:  # the log or the store is down: the next start publishes
            log.warning("outbox relay stopped with events unpublished: %s", exc)

    @property
    def running(self) -> bool:
        return self._supervisor is not None and self._supervisor.running(self.name)

    # ------------------------------------------------------------------ work
    def publish_once(self) -> int:
        """Publish one batch of unpublished rows; returns how many (0: nothing queued).

        Raises whatever the store or the log raised; the rows then stay unpublished.
        """
        with self._lock:
            if not self.store.has_unpublished():  # the idle polls: one cheap probe
                return 0
            rows = self.store.unpublished_events(self.batch)
            if not rows:
                return 0
            entries = self._entries(rows)
            self.log.append(entries)  # durable once it returns
            self.store.mark_published([row.seq for row in rows])
            self.stats.published += len(rows)
            self.stats.batches += 1
            return len(rows)

    def drain(self, timeout_s: float = 10.0) -> int:
        """Publish until nothing is unpublished (or ``timeout_s`` passes); returns how many."""
        total = 0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            n = self.publish_once()
            total += n
            if n == 0:
                break
        return total

    def prune(self) -> int:
        """Delete published rows older than ``retention`` now (see
        :meth:`~taste2vec.store.Store.prune_outbox`); 0 without a retention."""
        if self.retention is None:
            return 0
        n = self.store.prune_outbox(self.retention)
        self.stats.pruned += n
        if n:
            log.info("outbox relay: pruned %d published rows older than %s", n, self.retention)
        return n

    def _maybe_prune(self) -> None:
        if self.retention is None or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + self.prune_every_s
        try:
            self.prune()
        except Exception as exc:  # retried at the next interval; publishing goes on
            self.stats.prune_failures += 1
            log.warning("outbox relay: pruning failed (%s: %s)", type(exc).__name__, exc)

    def run(self, stop: threading.Event) -> None:
        """Publish until ``stop`` is set; raises when a pass fails (the supervisor retries
        with backoff; the rows stay unpublished)."""
        delay = self.interval_s
        while not stop.is_set():
            self._wake.clear()  # before reading: a notify from now on ends the next wait
            try:
                n = self.publish_once()
            except Exception as exc:
                self.stats.failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                raise
            if n >= self.batch:
                continue  # a backlog: keep going without waiting
            self._maybe_prune()
            # Writers of this process notify; the poll is for other writers (another
            # replica, a CLI import). It slows from interval_s to idle_interval_s while
            # passes find nothing, so an idle relay does not query the store 20 times a
            # second, and is back to interval_s after anything was published.
            delay = self.interval_s if n else min(delay * 2, self.idle_interval_s)
            if self._wake.wait(delay):
                delay = self.interval_s

    def _entries(self, rows: Sequence[OutboxEntry]) -> list[tuple[str, bytes]]:
        # The stored payload is already the canonical event JSON (written by encode_event);
        # only tastings to enrich are parsed and re-encoded.
        values = [json.dumps(row.payload, separators=(",", ":")).encode() for row in rows]
        if self.enrich is not None:
            self._enrich(rows, values)
        return [(row.user_id, value) for row, value in zip(rows, values, strict=True)]

    def _enrich(self, rows: Sequence[OutboxEntry], values: list[bytes]) -> None:
        assert self.enrich is not None  # noqa: S101 - checked by the caller
        where: list[int] = []
        todo: list[Event] = []
        for i, row in enumerate(rows):
            if row.event_type != "tasting_logged" or "vector" in row.payload:
                continue
            try:
                todo.append(parse_event(row.payload))
            except SchemaError:  # published as stored: the worker dead-letters it
                log.exception("outbox row %s (%s) no longer parses", row.seq, row.event_id)
                continue
            where.append(i)
        if not where:
            return
        try:
            done = list(self.enrich(todo))
            if len(done) != len(where):
                raise ValueError(f"enrich returned {len(done)} events for {len(where)}")
        except Exception:  # published without vectors rather than not at all
            self.stats.enrich_failures += 1
            log.exception("outbox relay: enriching %d tastings failed", len(where))
            return
        for i, event in zip(where, done, strict=True):
            values[i] = encode_event(event)


class EventBuffer:
    """Queues events in memory and writes them to the outbox in batches (one transaction
    per ``interval_s``), keeping database writes off the request path.

    Bounded: beyond ``max_pending`` queued events the oldest are dropped and counted
    (``dropped``) — a store outage must not grow the service's memory without end.
    """

    def __init__(
        self,
        store: Store,
        on_written: Callable[[], None] | None = None,
        interval_s: float = 0.05,
        max_pending: int = 100_000,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.name = "event-buffer"
        self.store = store
        self.on_written = on_written
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self.dropped = 0
        self.written = 0
        self._pending: deque[Event] = deque()
        self._max = max_pending
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._supervisor: Supervisor | None = None

    def start(self) -> EventBuffer:
        """Run on a supervisor of its own (a service adds the buffer to its supervisor
        instead, with :meth:`finish` as the stop hook)."""
        if self._supervisor is None:
            self._supervisor = Supervisor(Backoff(self.interval_s, self.max_backoff_s))
            self._supervisor.add(self, start=True)
        return self

    def put(self, event: Event) -> None:
        """Queue ``event`` (O(1), no I/O)."""
        with self._lock:
            if len(self._pending) >= self._max:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append(event)

    def flush(self) -> int:
        """Write everything queued now; returns how many. On failure they stay queued."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, deque()
            if not batch:
                return 0
            try:
                self.store.add_events(list(batch))  # idempotent by event_id
            except BaseException:
                with self._lock:  # put them back in front, keeping the bound
                    batch.extend(self._pending)
                    while len(batch) > self._max:
                        batch.popleft()
                        self.dropped += 1
                    self._pending = batch
                raise
            self.written += len(batch)
        if self.on_written is not None:
            self.on_written()
        return len(batch)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop started by :meth:`start`, then :meth:`finish`."""
        if self._supervisor is not None:
            self._supervisor.stop(timeout)
            self._supervisor = None
        self.finish()

    def finish(self) -> None:
        """Write what is still queued (logged, not raised, when the store is down)."""
        try:
            self.flush()
        except Exception as exc:
            log.warning("event buffer: %d events not written at stop: %s", len(self._pending), exc)

    def run(self, stop: threading.Event) -> None:
        """Flush every ``interval_s`` until ``stop`` is set; raises when a write fails (the
        events stay queued and the supervisor retries with backoff)."""
        while not stop.wait(self.interval_s):
            self.flush()
