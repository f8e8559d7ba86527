"""All state the worker derives from one log partition, and the machinery around the
aggregates (:mod:`taste2vec.stream.aggregator`): dedup, lateness, watermark, window panes,
and what changed since the last checkpoint.

One :class:`PartitionState` holds, for its partition:

- per keyed aggregate, the states of the recently used keys (:attr:`PartitionState.keyed`,
  a bounded cache: see "Keyed states" below); a key that occurs on several partitions (a
  coffee, an experiment arm) has one share here, merged with the others' by readers;
- the open windows of the windowed aggregates, kept as slide-sized panes, and the rows of
  windows that became final since the last checkpoint;
- the event ids that are not durable yet (:attr:`PartitionState.unsaved_ids`: applied
  since the last confirmed checkpoint), the next offset, the largest event time seen (the
  watermark's source) and counters.

Dedup. Every id that can still count is in the state store's ``dedup`` table once its
checkpoint has committed; memory holds only the ids that are not durable yet: those
applied since the last :meth:`~PartitionState.take_changes` ("pending") and those of the
checkpoint whose ``COMMIT`` is in flight. :meth:`~PartitionState.confirm` drops a
checkpoint's ids once its ``COMMIT`` is known to have succeeded;
:meth:`~PartitionState.requeue` keeps them (they are pending again). An id in neither set
is looked up in the ``dedup`` table: the worker (:meth:`StreamWorker.process
<taste2vec.stream.worker.StreamWorker.process>`) parses a polled batch first, then asks
the store, per partition, in one query, which of the batch's ids that are not in memory
are durable (:meth:`StateStore.durable_ids <taste2vec.stream.state.StateStore.durable_ids>`,
on a read connection of its own, so it does not wait for the ``COMMIT`` in flight), then
applies the entries in offset order with that answer (:meth:`~PartitionState.process`,
``durable``). Why that sees every earlier id: the worker's loop is single-threaded; the
lookup for a batch runs after the loop's previous confirmation step, and an id leaves
memory only after its ``COMMIT`` returned -- so every id applied before is either still
in memory or committed before the lookup's read transaction began, hence visible to its
snapshot. After a restart or rebalance the new owner starts with no ids in memory: every
id that counted before is in a committed checkpoint (with the offset past its entry, in the
same transaction) or its entry is read again from the log. Ids the checkpoint's eviction
deletes (event time below
:meth:`~PartitionState.evict_cutoff`) are late: the late check runs first, so their
re-delivery is a dead letter, never counted twice. Two events with the same id in one
batch: the first adds its id to memory as it is applied, so the second is a duplicate.
Memory is thus bounded by the ids of two checkpoints (the pending ones and those in
flight; more only while checkpoints keep failing), not by the dedup horizon.

Keyed states. The state store's ``keyed`` table holds every key's state as of the last
confirmed checkpoint; memory holds, per keyed aggregate, at most ``max_keys`` keys (None:
no bound) plus those that must stay: the *dirty* ones (changed since the last
:meth:`~PartitionState.take_changes`) and those of a checkpoint whose ``COMMIT`` is not
confirmed yet (a failed checkpoint's :meth:`~PartitionState.requeue` makes them dirty
again, and the next checkpoint writes their *current* in-memory value: they must still be
there). :meth:`~PartitionState.confirm` evicts, least recently used first (recency is
counted in checkpoints: the keys a checkpoint wrote become the most recent), clean keys
down to ``max_keys``. A key not in memory is loaded from the ``keyed`` table: the worker
(:meth:`StreamWorker.process <taste2vec.stream.worker.StreamWorker.process>`) collects,
while it parses a batch, the keys the batch's events will touch
(:meth:`~taste2vec.stream.aggregator.KeyedAggregate.keys`) that are not in memory, and
loads them, per partition and aggregate in one query (:meth:`~PartitionState.prefetch`,
through :attr:`~PartitionState.loader`: :meth:`StateStore.keyed_values
<taste2vec.stream.state.StateStore.keyed_values>`, on the same read connection as the dedup
lookup) before it applies anything; the keys found on no row are remembered as new for the
batch. A key an aggregate reads that the event did not name (an arm found in a user's
state) is loaded on its own by :meth:`~PartitionState.state`.

Why a loaded value is the latest (the same argument as for the ids): a key is either in
memory (possibly newer than the table) or its latest value is in the table, committed: it
leaves memory only in :meth:`~PartitionState.confirm`, after the ``COMMIT`` of every
checkpoint that wrote it returned (a key that is dirty or in the checkpoint in flight is
never evicted). Loads run in the single-threaded loop after its previous confirmation
step, so the read transaction of a load begins after that ``COMMIT`` and sees it. A key
read as absent was never written (a key whose state is in memory is written by the next
checkpoint after its change, and stays until that one is confirmed); it is taken as new
only for the batch it was looked up for (the remembered set is cleared by
:meth:`~PartitionState.end_batch`; no eviction runs in between). After a restart or
rebalance the new owner starts with no keys in memory: the committed checkpoint holds
every key's state as of its offset, and the entries after it are read again. Memory thus
holds at most ``max_keys`` keys per aggregate plus the keys loaded or touched since the
last confirmed checkpoint.

It knows no aggregate by name: :meth:`PartitionState.process` runs the aggregates listed
for the event's type, in the order given. Everything is deterministic given the
partition's entries in offset order.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Collection, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from taste2vec.stream.aggregates import DEFAULT_AGGREGATES
from taste2vec.stream.aggregator import (
    Aggregate,
    KeyedAggregate,
    WindowedAggregate,
    check_aggregates,
)
from taste2vec.stream.events import EVENT_TYPES, Event
from taste2vec.stream.windows import DAY_US, END_OF_TIME, NO_WATERMARK, USER_WEEKLY

log = logging.getLogger(__name__)

COUNTERS = ("entries", "valid", "invalid", "duplicates", "late", "late_window_drops")
_USER_SIZE = USER_WEEKLY.size_us
_USER_SLIDE = USER_WEEKLY.slide_us
_DAY = DAY_US

WindowKey = tuple[str, str, int]  # (aggregate, key, window_start)
PaneKey = tuple[str, str, int]  # (aggregate, key, pane_start)
Row = tuple[str, str, int, int, list[int]]  # (aggregate, key, start, end, fields)
_Plan = tuple[tuple[KeyedAggregate[Any], ...], tuple[WindowedAggregate, ...]]


class PartitionState:
    """All state derived from one partition. :meth:`process` applies one parsed event;
    the worker handles parsing, dead letters and checkpoints."""

    def __init__(
        self,
        partition: int,
        out_of_orderness_us: int,
        allowed_lateness_us: int,
        aggregates: Sequence[Aggregate] = DEFAULT_AGGREGATES,
        max_keys: int | None = None,
    ):
        check_aggregates(aggregates)
        if max_keys is not None and (isinstance(max_keys, bool) or max_keys < 1):
            raise ValueError(f"max_keys must be None or an integer >= 1, not {max_keys!r}")
        self.max_keys = max_keys
        #: Reads stored keyed states: (aggregate name, keys) -> {key: encoded value} for
        #: the keys that have a row (the state store sets it; None: every key is new).
        self.loader: Callable[[str, Collection[str]], dict[str, str]] | None = None
        self.partition = partition
        self.ooo = out_of_orderness_us
        self.lateness = allowed_lateness_us
        self.aggregates = tuple(aggregates)
        self.keyed_aggregates = {a.name: a for a in aggregates if isinstance(a, KeyedAggregate)}
        self.windowed_aggregates = {
            a.name: a for a in aggregates if isinstance(a, WindowedAggregate)
        }
        # For each event type, the aggregates that see it, in the order given.
        self._plan: dict[str, _Plan] = {
            t: (
                tuple(a for a in self.keyed_aggregates.values() if t in a.types),
                tuple(a for a in self.windowed_aggregates.values() if t in a.types),
            )
            for t in EVENT_TYPES
        }
        self._slides = {name: a.spec.slide_us for name, a in self.windowed_aggregates.items()}
        self.next_offset = 0
        self.max_us: int | None = None
        self.max_append_us: int | None = None  # the log's clock: latest append time seen
        self.drained = False
        self.counters = dict.fromkeys(COUNTERS, 0)
        # The cached keyed states, least recently used first (module doc: "Keyed states").
        self.keyed: dict[str, dict[str, Any]] = {name: {} for name in self.keyed_aggregates}
        # Keys looked up for the current batch and found on no row (new keys).
        self._absent: dict[str, set[str]] = {name: set() for name in self.keyed_aggregates}
        # Changes handed to checkpoints whose COMMIT is not confirmed yet (their keys stay).
        self._unconfirmed: list[Changes] = []
        #: Keys loaded (in prefetches or one by one), load queries, keys evicted; not
        #: checkpointed (unlike :attr:`counters`).
        self.cache_stats = {"loaded": 0, "queries": 0, "single_loads": 0, "evicted": 0}
        # Ids applied but not durable yet: pending (in new_ids) or in a checkpoint whose
        # COMMIT is not confirmed; the rest are in the store's dedup table (module doc).
        self.unsaved_ids: set[str] = set()
        # Windows are kept as panes (slide-sized buckets, :data:`PaneKey`); a window's row
        # is the sum of its panes when it becomes final. A hopping 7-day window thus costs
        # one pane update per event, not seven window updates.
        self.panes: dict[PaneKey, list[int]] = {}
        self._registered: set[WindowKey] = set()  # windows not yet final that have panes
        self._ends: dict[int, list[WindowKey]] = {}
        self._heap: list[int] = []
        # Changes since the last checkpoint (what the next checkpoint writes).
        self.dirty_keyed: dict[str, set[str]] = {name: set() for name in self.keyed_aggregates}
        self.dirty_panes: set[PaneKey] = set()
        self.deleted_panes: list[PaneKey] = []
        self.closed: list[Row] = []
        self.new_ids: list[tuple[str, int]] = []
        self.dead: list[tuple[int, str, bytes]] = []  # (offset, reason, payload)

    # -- keyed state (the aggregator protocol's Context) ------------------------------------
    def state(self, aggregate: KeyedAggregate[Any], key: str) -> Any:
        """``aggregate``'s state of ``key``, created if new; marked changed."""
        name = aggregate.name
        states = self.keyed.get(name)
        if states is None:
            raise KeyError(f"aggregate {name!r} is not one this partition runs")
        s = states.get(key)
        if s is None:
            s = states[key] = self._miss(aggregate, key)
        self.dirty_keyed[name].add(key)
        return s

    def _miss(self, aggregate: KeyedAggregate[Any], key: str) -> Any:
        """The state of a key not in memory: new if this batch's lookup found no row for
        it (or there is no store), else read on its own."""
        absent = self._absent[aggregate.name]
        if key in absent or self.loader is None:
            absent.discard(key)
            return aggregate.init()
        found = self.loader(aggregate.name, (key,))
        self.cache_stats["queries"] += 1
        self.cache_stats["single_loads"] += 1
        text = found.get(key)
        if text is None:
            return aggregate.init()
        self.cache_stats["loaded"] += 1
        return aggregate.decode(text)

    def wanted(self, ev: Event, into: dict[str, set[str]]) -> None:
        """Add to ``into`` (aggregate name -> keys) the keys ``ev`` will touch that are
        not in memory (:meth:`~taste2vec.stream.aggregator.KeyedAggregate.keys`)."""
        keyed = self.keyed
        for agg in self._plan[ev.type][0]:
            states = keyed[agg.name]
            for key in agg.keys(ev):
                if key not in states:
                    bucket = into.get(agg.name)
                    if bucket is None:
                        into[agg.name] = {key}
                    else:
                        bucket.add(key)

    def prefetch(self, wanted: dict[str, set[str]]) -> None:
        """Load ``wanted`` (aggregate name -> keys, from :meth:`wanted`) with one
        :attr:`loader` call per aggregate; the keys with no row are new for this batch
        (until :meth:`end_batch`). Raises the loader's error before changing anything."""
        if self.loader is None:
            return
        found = {name: self.loader(name, keys) for name, keys in wanted.items() if keys}
        stats = self.cache_stats
        for name, rows in found.items():
            agg, states, absent = self.keyed_aggregates[name], self.keyed[name], self._absent[name]
            stats["queries"] += 1
            for key in wanted[name]:
                text = rows.get(key)
                if text is None:
                    absent.add(key)
                elif key not in states:
                    states[key] = agg.decode(text)
                    stats["loaded"] += 1

    def end_batch(self) -> None:
        """Forget which keys the last batch found new (module doc: "Keyed states")."""
        for absent in self._absent.values():
            absent.clear()

    def keys_in_memory(self) -> int:
        """How many keyed states are in memory (all aggregates)."""
        return sum(len(states) for states in self.keyed.values())

    def apply_keyed(self, ev: Event, t: int) -> None:
        """Apply ``ev`` to the keyed aggregates only (no windows, dedup or lateness): the
        per-event formulas, which the reference pass in ``taste2vec.sim`` shares."""
        for agg in self._plan[ev.type][0]:
            agg.apply(ev, t, self)

    # -- watermark ------------------------------------------------------------------------
    @property
    def watermark(self) -> int:
        if self.drained:
            return END_OF_TIME
        return NO_WATERMARK if self.max_us is None else self.max_us - self.ooo

    def meta(self) -> dict[str, Any]:
        return {
            "max_us": self.max_us,
            "max_append_us": self.max_append_us,
            "drained": self.drained,
            "counters": self.counters,
            "out_of_orderness_us": self.ooo,
            "allowed_lateness_us": self.lateness,
        }

    def load_meta(self, meta: dict[str, Any]) -> None:
        self.max_us = meta.get("max_us")
        self.max_append_us = meta.get("max_append_us")
        self.drained = bool(meta.get("drained", False))
        self.counters.update(meta.get("counters", {}))

    # -- processing -----------------------------------------------------------------------
    def invalid(self, offset: int, reason: str, payload: bytes) -> None:
        self.counters["entries"] += 1
        self.counters["invalid"] += 1
        self.dead.append((offset, reason, payload))

    def process(
        self,
        offset: int,
        ev: Event,
        t: int,
        payload: bytes,
        durable: AbstractSet[str] = frozenset(),
    ) -> str:
        """Apply one valid event at time ``t`` (us); returns ``"ok"``, ``"late"`` (dead
        letter queued) or ``"duplicate"`` (ignored). ``durable``: the ids of the batch
        that the store's ``dedup`` table holds (looked up by the caller for every id not
        in :attr:`unsaved_ids`; see the module doc). The late check comes first: that
        makes the outcome independent of when the dedup ids were last evicted."""
        counters = self.counters
        counters["entries"] += 1
        max_us = self.max_us
        if self.drained:
            wm = END_OF_TIME
        else:
            wm = NO_WATERMARK if max_us is None else max_us - self.ooo
        # windows.is_late inlined (hot path): the latest user_weekly window is final
        if t - t % _USER_SLIDE + _USER_SIZE + self.lateness <= wm:
            counters["late"] += 1
            self.dead.append((offset, "late", payload))
            return "late"
        eid = ev.event_id
        unsaved = self.unsaved_ids
        if eid in unsaved or eid in durable:
            counters["duplicates"] += 1
            return "duplicate"
        unsaved.add(eid)
        self.new_ids.append((eid, t))
        counters["valid"] += 1
        keyed, windowed = self._plan[ev.type]
        for agg in keyed:
            agg.apply(ev, t, self)
        for w in windowed:
            c = w.contribute(ev)
            if c is not None:
                self._pane(w, c[0], t, wm, c[1])
        if max_us is None or t > max_us:
            self.max_us = t
            if not self.drained:
                heap = self._heap
                if heap and heap[0] + self.lateness <= t - self.ooo:
                    self._close(t - self.ooo)
        return "ok"

    def _pane(self, w: WindowedAggregate, key: str, t: int, wm: int, adds: tuple[int, ...]) -> None:
        """Add ``adds`` to the pane of ``t``; windows of it that are final already do not
        see it (counted in ``late_window_drops``)."""
        spec = w.spec
        slide = spec.slide_us
        p = t - t % slide
        closed = (wm - self.lateness - p) // slide
        if closed > 0:
            n = spec.size_us // slide  # windows per pane; their ends are p + k * slide, k = 1..n
            self.counters["late_window_drops"] += min(closed, n)
            if closed >= n:
                return
        pk = (w.name, key, p)
        panes = self.panes
        fields = panes.get(pk)
        if fields is None:
            if len(adds) != len(w.fields):
                raise ValueError(
                    f"aggregate {w.name!r} contributed {len(adds)} values for its "
                    f"{len(w.fields)} fields"
                )
            panes[pk] = list(adds)
            self._register(w, key, p, wm)
        else:
            for i, v in enumerate(adds):
                fields[i] += v
        self.dirty_panes.add(pk)

    def _register(self, w: WindowedAggregate, key: str, p: int, wm: int) -> None:
        size, slide, lateness = w.spec.size_us, w.spec.slide_us, self.lateness
        for start in range(p - size + slide, p + slide, slide):
            end = start + size
            wk = (w.name, key, start)
            if end + lateness > wm and wk not in self._registered:
                self._registered.add(wk)
                bucket = self._ends.get(end)
                if bucket is None:
                    self._ends[end] = [wk]
                    heapq.heappush(self._heap, end)
                else:
                    bucket.append(wk)

    # -- windows --------------------------------------------------------------------------
    def _close(self, wm: int) -> None:
        heap, panes, ends, registered = self._heap, self.panes, self._ends, self._registered
        closed, dirty, deleted = self.closed, self.dirty_panes, self.deleted_panes
        slides = self._slides
        limit = wm - self.lateness
        while heap and heap[0] <= limit:
            end = heapq.heappop(heap)
            for wk in ends.pop(end):
                registered.discard(wk)
                agg, key, start = wk
                slide = slides[agg]
                if start + slide == end:  # tumbling: the window is its one pane
                    fields = panes.pop(wk, None)
                    if fields is not None:
                        closed.append((agg, key, start, end, fields))
                        dirty.discard(wk)
                        deleted.append(wk)
                    continue
                total: list[int] | None = None
                for p in range(start, end, slide):
                    fields = panes.get((agg, key, p))
                    if fields is not None:
                        if total is None:
                            total = list(fields)
                        else:
                            for i, v in enumerate(fields):
                                total[i] += v
                if total is not None:
                    closed.append((agg, key, start, end, total))
                # The window starting at a pane is the last one holding it: drop the pane.
                if panes.pop(wk, None) is not None:
                    dirty.discard(wk)
                    deleted.append(wk)

    def drain(self) -> None:
        """End of input: make every open window final (like Flink at the end of a bounded
        source). Afterwards the watermark is the end of time: every later event is late."""
        self.drained = True
        self._close(END_OF_TIME)

    def restore_panes(self, rows: list[tuple[str, str, int, list[int]]]) -> None:
        """Load checkpointed panes and re-register their windows that are not final yet
        (the same set the uninterrupted run holds: windows only ever close). Panes of an
        aggregate this partition does not run are left alone (and logged)."""
        wm = self.watermark
        unknown: set[str] = set()
        for agg, key, p, fields in rows:
            w = self.windowed_aggregates.get(agg)
            if w is None:
                unknown.add(agg)
                continue
            self.panes[(agg, key, p)] = fields
            self._register(w, key, p, wm)
        if unknown:
            log.warning(
                "partition %d: the state has open windows of aggregates this worker does not "
                "run (%s); they are kept as they are",
                self.partition,
                ", ".join(sorted(unknown)),
            )

    # -- dedup ----------------------------------------------------------------------------
    def evict_cutoff(self) -> int:
        """Event ids with an event time below this can be forgotten: such an event is late
        now (all its windows are final), and since the late check runs before the dedup
        check and the watermark never goes back, a re-delivery of it is dead-lettered as
        late -- it can never count twice."""
        wm = self.watermark
        if wm == NO_WATERMARK:
            return NO_WATERMARK
        if wm == END_OF_TIME:
            return END_OF_TIME
        bound = wm - self.lateness - _USER_SIZE
        return bound - bound % _DAY + _DAY

    def take_changes(self) -> Changes:
        """Hand over the changes since the last call (what a checkpoint writes) and start
        collecting afresh; :meth:`requeue` puts them back if their write failed,
        :meth:`confirm` drops their ids from memory once it committed."""
        changes = Changes(
            self.dirty_keyed,
            self.dirty_panes,
            self.deleted_panes,
            self.closed,
            self.new_ids,
            self.dead,
        )
        self.dirty_keyed = {name: set() for name in self.keyed_aggregates}
        self.dirty_panes, self.deleted_panes, self.closed = set(), [], []
        self.new_ids, self.dead = [], []
        if self.max_keys is not None:
            # Recency, counted in checkpoints: the keys written now become the newest.
            for name, keys in changes.keyed.items():
                states = self.keyed[name]
                for key in keys:
                    states[key] = states.pop(key)
        self._unconfirmed.append(changes)
        return changes

    def _forget_changes(self, changes: Changes) -> None:
        for i, c in enumerate(self._unconfirmed):
            if c is changes:
                del self._unconfirmed[i]
                return

    def evict(self) -> int:
        """Drop clean keys, least recently used first, until each keyed aggregate has at
        most ``max_keys`` in memory (or only dirty and unconfirmed keys are left); returns
        how many were dropped. Called by :meth:`confirm`."""
        limit = self.max_keys
        if limit is None:
            return 0
        dropped = 0
        for name, states in self.keyed.items():
            excess = len(states) - limit
            if excess <= 0:
                continue
            keep = [self.dirty_keyed[name], *(c.keyed.get(name, ()) for c in self._unconfirmed)]
            victims: list[str] = []
            for key in states:  # least recently used first
                if any(key in k for k in keep):
                    continue
                victims.append(key)
                if len(victims) == excess:
                    break
            for key in victims:
                del states[key]
            dropped += len(victims)
        self.cache_stats["evicted"] += dropped
        return dropped

    def confirm(self, changes: Changes) -> None:
        """The checkpoint that wrote ``changes`` has committed: its ids are in the
        ``dedup`` table now and leave memory, and so may its keyed states: clean keys
        beyond ``max_keys`` are evicted (see the module doc)."""
        self.unsaved_ids.difference_update([eid for eid, _ in changes.new_ids])
        self._forget_changes(changes)
        self.evict()

    def requeue(self, changes: Changes) -> None:
        """Merge changes whose checkpoint failed back in front of the newer ones (the next
        checkpoint then writes both; keyed rows and panes with their current values).
        Their ids and keyed states stay in memory: they are pending (dirty) again."""
        self._forget_changes(changes)
        for name, keys in changes.keyed.items():
            self.dirty_keyed[name] |= keys
        self.dirty_panes |= {pk for pk in changes.panes if pk in self.panes}
        self.deleted_panes[:0] = changes.deleted_panes
        self.closed[:0] = changes.closed
        self.new_ids[:0] = changes.new_ids
        self.dead[:0] = changes.dead


@dataclass(slots=True)
class Changes:
    """What changed in a :class:`PartitionState` between two checkpoints."""

    keyed: dict[str, set[str]] = field(default_factory=dict)  # aggregate -> keys
    panes: set[PaneKey] = field(default_factory=set)
    deleted_panes: list[PaneKey] = field(default_factory=list)
    closed: list[Row] = field(default_factory=list)
    new_ids: list[tuple[str, int]] = field(default_factory=list)
    dead: list[tuple[int, str, bytes]] = field(default_factory=list)


__all__ = ["COUNTERS", "Changes", "PartitionState"]
