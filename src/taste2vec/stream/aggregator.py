"""The aggregator protocol of the stream worker: a new aggregate is one class.

Two kinds, in the spirit of quix-streams' ``Aggregator`` (initialize, agg, result) and
river's statistics (``update``, ``get``, and ``+`` to combine):

:class:`KeyedAggregate` -- a state per key, kept for ever (no window), updated in place by
every event it is about::

    class LabRecipes(KeyedAggregate[list[int]]):
        name = "lab_recipe"                      # its rows in the state store
        types = frozenset({"lab_session"})       # the event types it sees

        def key(self, ev):      return ev.recipe
        def init(self):         return [0, 0]
        def update(self, state, ev, t):
            state[0] += 1
            state[1] += ev.rating
        def merge(self, a, b):  return [a[0] + b[0], a[1] + b[1]]
        def read(self, key, state, as_of_us):
            return {"recipe": key, "sessions": state[0], "mean": state[1] / state[0]}

  - ``key(ev)``: which state the event updates (None: none).
  - ``init()``: a fresh state; ``update(state, ev, t)`` applies one event at event time
    ``t`` (integer microseconds) to it, in the partition's offset order.
  - ``encode(state)`` / ``decode(text)``: the state as JSON text in the state store (the
    defaults use ``json``; override for a compact or versioned form).
  - ``merge(a, b)``: two partitions' shares of one key combined. A key may occur on every
    partition of the log (coffees, experiment arms): each partition keeps its own share,
    checkpointed with that partition's offsets, and readers merge the shares. An aggregate
    keyed by user never needs it: the log is keyed by user, so a user lives on one
    partition (the default raises).
  - ``read(key, state, as_of_us)``: the read-out served to clients (a JSON-able dict), as of
    an event time, never the wall clock.
  - ``apply(ev, t, ctx)`` is what the worker calls; its default looks the key up and calls
    ``update``. Override it for an event that updates several keys, or that needs another
    aggregate's state on the same partition (``ctx.state(aggregate, key)``; aggregates run
    in the order they are listed).
  - ``keys(ev)``: the keys of this aggregate that ``apply`` will read, as far as the event
    alone tells (default: ``key(ev)``). The worker keeps only recently used keys in memory
    and loads the others from the state store before a batch is applied, one query per
    aggregate and partition for the whole batch; a key ``apply`` reads that ``keys`` did not
    name (e.g. one found in another state) is loaded on its own, one query. Override it
    together with an ``apply`` that reads keys ``key`` does not return.

:class:`WindowedAggregate` -- integer field sums per key and event-time window (tumbling
or hopping, :class:`~taste2vec.stream.windows.WindowSpec`): ``contribute(ev)`` returns the
key and the field increments of one event, or None. The worker keeps the sums in panes,
emits a row once per window when it becomes final, and readers sum the partitions' rows.
Only sums, so that the same aggregate is one ``SUM`` per field in the Flink SQL job
(``stream/flink/job.py``), which mirrors every windowed aggregate the worker runs.

Both must be deterministic functions of the events in offset order: no wall clock, no
randomness, no dependence on batching, so a replay after a crash reproduces the state.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from taste2vec.stream.events import EVENT_TYPES, Event
from taste2vec.stream.windows import DAY_US, USER_WEEKLY, WindowSpec

__all__ = [
    "Aggregate",
    "Context",
    "KeyedAggregate",
    "WindowedAggregate",
    "check_aggregates",
    "ends_in_time",
    "dumps",
    "dumps_ints",
]

S = TypeVar("S")

_ENCODER = json.JSONEncoder(separators=(",", ":"))


def dumps(value: Any) -> str:
    """Compact JSON (one shared encoder: ``json.dumps`` with options builds one per call)."""
    return _ENCODER.encode(value)


def dumps_ints(values: Sequence[int]) -> str:
    """``dumps`` of a list of ints (the same text), without the encoder's overhead."""
    return "[" + ",".join(map(str, values)) + "]"


class Context(Protocol):
    """What an aggregate's :meth:`KeyedAggregate.apply` may use besides the event: the
    keyed states of the same partition (the worker's ``PartitionState``)."""

    def state(self, aggregate: KeyedAggregate[Any], key: str) -> Any:
        """``aggregate``'s state of ``key`` on this partition, created with ``init()`` if
        there is none; marked changed (the next checkpoint writes it)."""
        ...


class KeyedAggregate(ABC, Generic[S]):
    """A state per key, updated in place by events (see the module docstring)."""

    #: The aggregate's name: the ``kind`` of its rows in the state store. Stable.
    name: ClassVar[str]
    #: The event types it sees (``Event.type`` values); no other event reaches it.
    types: ClassVar[frozenset[str]]

    @abstractmethod
    def key(self, ev: Event) -> str | None:
        """The key ``ev`` updates, or None (the event leaves this aggregate alone)."""

    @abstractmethod
    def init(self) -> S:
        """A new, empty state."""

    @abstractmethod
    def update(self, state: S, ev: Event, t: int) -> None:
        """Apply ``ev`` (event time ``t``, integer microseconds) to ``state``, in place."""

    @abstractmethod
    def read(self, key: str, state: S, as_of_us: int) -> dict[str, Any]:
        """The read-out of ``key``'s (merged) state as of event time ``as_of_us``."""

    def keys(self, ev: Event) -> Iterable[str]:
        """The keys :meth:`apply` reads for ``ev``, as far as the event tells (loaded
        ahead of a batch; see the module docstring). Default: :meth:`key`."""
        key = self.key(ev)
        return () if key is None else (key,)

    def apply(self, ev: Event, t: int, ctx: Context) -> None:
        """What the worker calls for every event of :attr:`types`."""
        key = self.key(ev)
        if key is not None:
            self.update(ctx.state(self, key), ev, t)

    def encode(self, state: S) -> str:
        """``state`` as JSON text (what the state store keeps)."""
        return dumps(state)

    def decode(self, text: str) -> S:
        """The inverse of :meth:`encode`."""
        value: S = json.loads(text)
        return value

    def merge(self, a: S, b: S) -> S:
        """Two partitions' shares of one key, combined (a new state or ``a``, updated)."""
        raise NotImplementedError(
            f"aggregate {self.name!r} has a key on more than one partition but no merge(); "
            "aggregates keyed by user never do (the log is keyed by user)"
        )


class WindowedAggregate(ABC):
    """Integer field sums per key and window (see the module docstring)."""

    #: The aggregate's name: the ``aggregate`` column of its window rows. Stable.
    name: ClassVar[str]
    #: Its windows: size and slide (tumbling when equal).
    spec: ClassVar[WindowSpec]
    #: The names of its sums, in the order of :meth:`contribute`'s increments.
    fields: ClassVar[tuple[str, ...]]
    #: The event types it sees.
    types: ClassVar[frozenset[str]]

    @abstractmethod
    def contribute(self, ev: Event) -> tuple[str, tuple[int, ...]] | None:
        """``(key, increments)`` of ``ev`` (one int per :attr:`fields`), or None."""


Aggregate = KeyedAggregate[Any] | WindowedAggregate


def check_aggregates(aggregates: Sequence[Aggregate]) -> None:
    """Refuse a list the worker cannot run: a name used twice (per kind), an unknown event
    type, a windowed aggregate whose spec is not named after it, without fields, or whose
    windows can end after the event's ``user_weekly`` windows (the late rule: an event is
    dead-lettered as late once those are final, so no other window may still be open)."""
    seen: set[tuple[str, str]] = set()
    for agg in aggregates:
        if not isinstance(agg, KeyedAggregate | WindowedAggregate):
            raise TypeError(f"{agg!r} is neither a KeyedAggregate nor a WindowedAggregate")
        kind = "keyed" if isinstance(agg, KeyedAggregate) else "windowed"
        name = getattr(agg, "name", None)
        if not isinstance(name, str) or not name:
            raise ValueError(f"{type(agg).__name__} has no name")
        if (kind, name) in seen:
            raise ValueError(f"two {kind} aggregates are named {name!r}")
        seen.add((kind, name))
        unknown = set(agg.types) - set(EVENT_TYPES)
        if unknown:
            raise ValueError(f"aggregate {name!r} names unknown event types {sorted(unknown)}")
        if isinstance(agg, WindowedAggregate):
            if agg.spec.name != name:
                raise ValueError(f"windowed aggregate {name!r} has the spec of {agg.spec.name!r}")
            if not agg.fields:
                raise ValueError(f"windowed aggregate {name!r} has no fields")
            if not ends_in_time(agg.spec):
                raise ValueError(
                    f"windowed aggregate {name!r}: a window of {agg.spec.size_us} us sliding by "
                    f"{agg.spec.slide_us} us can end after the event's user_weekly windows, "
                    "which decide when an event is late; use a slide that divides a day (or "
                    "is whole days) and windows ending no later"
                )


def ends_in_time(spec: WindowSpec) -> bool:
    """Whether, for every event time ``t``, the last window of ``spec`` holding ``t`` ends
    no later than the last ``user_weekly`` window holding it (``t - t % 1 d + 7 d``)."""
    size, slide, week = spec.size_us, spec.slide_us, USER_WEEKLY.size_us
    if DAY_US % slide == 0:  # t - t % slide <= t - t % 1 d + 1 d - slide
        return size + DAY_US - slide <= week
    if slide % DAY_US == 0:  # t - t % slide <= t - t % 1 d
        return size <= week
    return False
