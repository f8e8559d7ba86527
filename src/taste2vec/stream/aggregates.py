"""Keyed stream state of one log partition and the per-event update rules.

One :class:`PartitionState` holds everything the worker derives from one partition:

- per user (every user lives on exactly one partition, the log is keyed by user):
  :class:`UserActivity` -- the rolling taste vector, rating stats and the raw facts behind
  the subscription signals (derived at read time by :mod:`taste2vec.stream.signals`);
- per coffee and per experiment arm: *partials* (:class:`CoffeePartial`, lists of ints for
  arms) -- this partition's share; readers sum the partials of all partitions;
- the open windows of the three windowed aggregates and the rows of windows that became
  final since the last checkpoint;
- the dedup set (event ids still able to count; see :meth:`PartitionState.evict`),
  the next offset, the largest event time seen (the watermark's source) and counters.

Everything is deterministic given the partition's entries in offset order: no wall clock,
no dependence on how entries were batched or which worker processed them. Integer sums
stay integers, so merged results are exact; the one float state (the decayed taste
vector) is updated in the partition's offset order, so a replay reproduces it bit for bit.

Definitions (docs/stream.md, "Aggregates and signals"):

- taste vector: exponentially time-decayed mean of the ``vector`` of ``tasting_logged``
  events (half-life :data:`TASTE_HALF_LIFE_US`, 30 days; events without a vector skipped):
  ``sum_i w_i v_i / sum_i w_i`` with ``w_i = 2 ** (-(t_latest - t_i) / half_life)``.
- ratings of a user: ``feedback_given`` with a rating, ``box_rated`` and ``lab_session``;
  ratings of a coffee: ``feedback_given`` with a rating and ``box_rated`` naming the coffee
  (the same sets as the ``user_weekly`` / ``coffee_daily`` windows).
"""

from __future__ import annotations

import base64
import heapq
import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taste2vec.stream.events import (
    BoxRated,
    Event,
    FeedbackGiven,
    LabSession,
    RecommendationClicked,
    RecommendationShown,
    TastingLogged,
)
from taste2vec.stream.windows import (
    ARM_HOURLY,
    COFFEE_DAILY,
    DAY_US,
    END_OF_TIME,
    NO_WATERMARK,
    SPECS,
    USER_WEEKLY,
    WindowSpec,
)

TASTE_HALF_LIFE_US = 30 * DAY_US
TREND_DAYS = 28  # rating trends use the last 28 days of daily means
LAB_DAYS = 30  # Lab usage frequency: sessions in the last 30 days
FIELDS: dict[str, tuple[str, ...]] = {
    "coffee_daily": ("n_feedback", "n_likes", "n_dislikes", "n_skips", "n_ratings", "sum_rating"),
    "user_weekly": ("n_events", "n_ratings", "sum_rating", "n_lab"),
    "arm_hourly": ("shown", "clicks", "n_box_ratings", "sum_box_rating"),
}
ARM_FIELDS = (
    "shown",
    "clicks",
    "n_box_ratings",
    "sum_box_rating",
    "subscribers",
    "cancelled",
    "renewed",
)
COFFEE_FIELDS = (
    "n_feedback",
    "n_likes",
    "n_dislikes",
    "n_skips",
    "n_clicks",
    "n_ratings",
    "sum_rating",
    "sum_rating_sq",
)
ENGAGEMENT = frozenset(
    {"tasting_logged", "feedback_given", "recommendation_clicked", "box_rated", "lab_session"}
)
COUNTERS = ("entries", "valid", "invalid", "duplicates", "late", "late_window_drops")
_SIGNAL_INDEX = {"liked": 1, "disliked": 2, "skipped": 3}
_USER_SIZE = USER_WEEKLY.size_us
_USER_SLIDE = USER_WEEKLY.slide_us
_DAY = DAY_US
_SLIDES = {name: spec.slide_us for name, spec in SPECS.items()}

WindowKey = tuple[str, str, int]  # (aggregate, key, window_start)
PaneKey = tuple[str, str, int]  # (aggregate, key, pane_start)
Row = tuple[str, str, int, int, list[int]]  # (aggregate, key, start, end, fields)


def add_day(days: dict[int, list[int]], last: int | None, day: int, value: int, keep: int) -> int:
    """Add ``value`` to the ``day`` bucket, keeping only the ``keep`` days up to the latest;
    returns the new latest day. A day older than the kept range is not stored: no reader
    can ask for it (readers look back from the latest day of any partition, which is at
    least this partition's)."""
    if last is None or day > last:
        last = day
        for d in [d for d in days if d <= day - keep]:
            del days[d]
    if day > last - keep:
        bucket = days.get(day)
        if bucket is None:
            days[day] = [1, value]
        else:
            bucket[0] += 1
            bucket[1] += value
    return last


def _days_load(data: dict[str, list[int]] | list[int]) -> dict[int, list[int]]:
    """Day buckets from JSON: ``{"day": [n, sum]}`` or flat ``[day, n, sum, ...]``."""
    if isinstance(data, list):
        return {data[i]: [data[i + 1], data[i + 2]] for i in range(0, len(data), 3)}
    return {int(d): list(b) for d, b in data.items()}


def _days_flat(days: dict[int, list[int]]) -> list[int]:
    """Day buckets as a flat ``[day, n, sum, ...]`` list (much cheaper to encode)."""
    return [x for d, (n, total) in days.items() for x in (d, n, total)]


def encode_vector(v: list[float]) -> str:
    """A float vector as base64 of its little-endian float64 bytes (exact, and far
    cheaper to encode and decode than JSON numbers)."""
    return base64.b64encode(struct.pack(f"<{len(v)}d", *v)).decode("ascii")


def decode_vector(data: str | list[float]) -> list[float]:
    """The inverse of :func:`encode_vector`; a JSON list (state format 1) as is."""
    if isinstance(data, list):
        return [float(x) for x in data]
    raw = base64.b64decode(data)
    return list(struct.unpack(f"<{len(raw) // 8}d", raw))


class UserActivity:
    """One user's state; signals are derived from it by :func:`signals.user_signals`."""

    __slots__ = (
        "n_events",
        "first_us",
        "last_us",
        "vec",
        "vec_w",
        "vec_ref",
        "n_vec",
        "r_n",
        "r_sum",
        "r_sq",
        "r_days",
        "r_last",
        "n_feedback",
        "skip_streak",
        "status",
        "status_us",
        "pause_streak",
        "paused_since",
        "renewals",
        "arms",
        "last_engagement",
        "lab_days",
        "lab_last",
        "n_lab",
    )

    def __init__(self) -> None:
        self.n_events = 0
        self.first_us: int | None = None
        self.last_us: int | None = None
        self.vec: list[float] | None = None
        self.vec_w = 0.0
        self.vec_ref = 0
        self.n_vec = 0
        self.r_n = 0
        self.r_sum = 0
        self.r_sq = 0
        self.r_days: dict[int, list[int]] = {}
        self.r_last: int | None = None
        self.n_feedback = 0
        self.skip_streak = 0
        self.status: str | None = None
        self.status_us: int | None = None
        self.pause_streak = 0
        self.paused_since: int | None = None
        self.renewals = 0
        self.arms: dict[str, str] = {}
        self.last_engagement: int | None = None
        self.lab_days: dict[int, list[int]] = {}
        self.lab_last: int | None = None
        self.n_lab = 0

    def add_vector(self, v: list[float], t: int) -> None:
        # numpy does the same IEEE float64 operations per element as the plain-Python
        # ``a * f + b`` (one rounded multiply, one rounded add; no fused multiply-add),
        # so the result is bit for bit the same, about 4x faster for 128-d vectors.
        if self.vec is None:
            self.vec, self.vec_w, self.vec_ref = list(v), 1.0, t
            self.n_vec += 1
            return
        if len(v) != len(self.vec):
            raise ValueError(f"vector of length {len(v)}; the taste vector has {len(self.vec)}")
        old, new = np.array(self.vec, dtype=np.float64), np.array(v, dtype=np.float64)
        if t >= self.vec_ref:
            f = 0.5 ** ((t - self.vec_ref) / TASTE_HALF_LIFE_US)
            self.vec = (old * f + new).tolist()
            self.vec_w = self.vec_w * f + 1.0
            self.vec_ref = t
        else:
            f = 0.5 ** ((self.vec_ref - t) / TASTE_HALF_LIFE_US)
            self.vec = (old + f * new).tolist()
            self.vec_w += f
        self.n_vec += 1

    def add_rating(self, rating: int, t: int) -> None:
        self.r_n += 1
        self.r_sum += rating
        self.r_sq += rating * rating
        self.r_last = add_day(self.r_days, self.r_last, t // _DAY, rating, TREND_DAYS)

    def contrib(self) -> tuple[int, int]:
        """This user's contribution to its arms' (cancelled, renewed) counts."""
        return (1 if self.status == "cancelled" else 0, 1 if self.renewals else 0)

    def to_json(self) -> dict[str, Any]:
        """JSON-able state (format 2): the taste vector as :func:`encode_vector` text, day
        buckets as flat ``[day, n, sum, ...]`` lists; :meth:`from_json` also reads format 1
        (number lists, ``{"day": [n, sum]}``)."""
        out = {name: v for name in _USER_PLAIN if (v := getattr(self, name)) is not None}
        if self.vec is not None:
            out["vec"] = encode_vector(self.vec)
        out["r_days"] = _days_flat(self.r_days)
        out["lab_days"] = _days_flat(self.lab_days)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UserActivity:
        u = cls()
        for name, value in data.items():
            if name in ("r_days", "lab_days"):
                value = _days_load(value)
            elif name == "vec":
                value = decode_vector(value)
            setattr(u, name, value)
        return u


_USER_PLAIN = tuple(n for n in UserActivity.__slots__ if n not in ("vec", "r_days", "lab_days"))


class CoffeePartial:
    """One partition's share of a coffee's stats: counts (:data:`COFFEE_FIELDS`) and daily
    rating buckets for the trend."""

    __slots__ = ("counts", "days", "last")

    def __init__(self) -> None:
        self.counts = [0] * len(COFFEE_FIELDS)
        self.days: dict[int, list[int]] = {}
        self.last: int | None = None

    def add_rating(self, rating: int, t: int) -> None:
        c = self.counts
        c[5] += 1
        c[6] += rating
        c[7] += rating * rating
        self.last = add_day(self.days, self.last, t // _DAY, rating, TREND_DAYS)

    def to_json(self) -> dict[str, Any]:
        """JSON-able partial (what :func:`signals.merge_coffee` takes). Day keys are ints
        (``json`` writes them as strings); the values are live: serialise at once."""
        return {"counts": self.counts, "days": self.days, "last": self.last}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CoffeePartial:
        c = cls()
        c.counts = list(data["counts"])
        c.days = _days_load(data["days"])
        c.last = data["last"]
        return c


class PartitionState:
    """All state derived from one partition. :meth:`process` applies one parsed event;
    the worker handles parsing, dead letters and checkpoints."""

    def __init__(self, partition: int, out_of_orderness_us: int, allowed_lateness_us: int):
        self.partition = partition
        self.ooo = out_of_orderness_us
        self.lateness = allowed_lateness_us
        self.next_offset = 0
        self.max_us: int | None = None
        self.max_append_us: int | None = None  # the log's clock: latest append time seen
        self.drained = False
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.users: dict[str, UserActivity] = {}
        self.coffees: dict[str, CoffeePartial] = {}
        self.arms: dict[str, list[int]] = {}
        self.seen: dict[str, int] = {}  # event_id -> event time (us)
        # Windows are kept as panes (slide-sized buckets, :data:`PaneKey`); a window's row
        # is the sum of its panes when it becomes final. A hopping 7-day window thus costs
        # one pane update per event, not seven window updates.
        self.panes: dict[PaneKey, list[int]] = {}
        self._registered: set[WindowKey] = set()  # windows not yet final that have panes
        self._ends: dict[int, list[WindowKey]] = {}
        self._heap: list[int] = []
        # Changes since the last checkpoint (what the next checkpoint writes).
        self.dirty_users: set[str] = set()
        self.dirty_coffees: set[str] = set()
        self.dirty_arms: set[str] = set()
        self.dirty_panes: set[PaneKey] = set()
        self.deleted_panes: list[PaneKey] = []
        self.closed: list[Row] = []
        self.new_ids: list[tuple[str, int]] = []
        self.dead: list[tuple[int, str, bytes]] = []  # (offset, reason, payload)

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

    def process(self, offset: int, ev: Event, t: int, payload: bytes) -> str:
        """Apply one valid event at time ``t`` (us); returns ``"ok"``, ``"late"`` (dead
        letter queued) or ``"duplicate"`` (ignored). The late check comes first: that
        makes the outcome independent of when the dedup set was last evicted."""
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
        seen = self.seen
        if eid in seen:
            counters["duplicates"] += 1
            return "duplicate"
        seen[eid] = t
        self.new_ids.append((eid, t))
        counters["valid"] += 1
        self._apply(ev, t, wm)
        if max_us is None or t > max_us:
            self.max_us = t
            if not self.drained:
                heap = self._heap
                if heap and heap[0] + self.lateness <= t - self.ooo:
                    self._close(t - self.ooo)
        return "ok"

    def _pane(
        self, agg: str, spec: WindowSpec, key: str, t: int, wm: int, adds: tuple[int, ...]
    ) -> None:
        """Add ``adds`` to the pane of ``t``; windows of it that are final already do not
        see it (counted in ``late_window_drops``)."""
        slide = spec.slide_us
        p = t - t % slide
        closed = (wm - self.lateness - p) // slide
        if closed > 0:
            n = spec.size_us // slide  # windows per pane; their ends are p + k * slide, k = 1..n
            self.counters["late_window_drops"] += min(closed, n)
            if closed >= n:
                return
        pk = (agg, key, p)
        panes = self.panes
        fields = panes.get(pk)
        if fields is None:
            panes[pk] = list(adds)
            self._register(spec, agg, key, p, wm)
        else:
            for i, v in enumerate(adds):
                fields[i] += v
        self.dirty_panes.add(pk)

    def _register(self, spec: WindowSpec, agg: str, key: str, p: int, wm: int) -> None:
        size, slide, lateness = spec.size_us, spec.slide_us, self.lateness
        for start in range(p - size + slide, p + slide, slide):
            end = start + size
            wk = (agg, key, start)
            if end + lateness > wm and wk not in self._registered:
                self._registered.add(wk)
                bucket = self._ends.get(end)
                if bucket is None:
                    self._ends[end] = [wk]
                    heapq.heappush(self._heap, end)
                else:
                    bucket.append(wk)

    def _apply(self, ev: Event, t: int, wm: int) -> None:
        kind = ev.type
        uid = ev.user
        u = self.users.get(uid)
        if u is None:
            u = self.users[uid] = UserActivity()
        self.dirty_users.add(uid)
        u.n_events += 1
        if u.first_us is None or t < u.first_us:
            u.first_us = t
        if u.last_us is None or t > u.last_us:
            u.last_us = t
        if kind in ENGAGEMENT and (u.last_engagement is None or t > u.last_engagement):
            u.last_engagement = t
        rating: int | None = None
        if isinstance(ev, TastingLogged):
            if ev.vector is not None:
                u.add_vector(ev.vector, t)
        elif isinstance(ev, FeedbackGiven):
            rating = ev.rating
            u.n_feedback += 1
            u.skip_streak = u.skip_streak + 1 if ev.signal == "skipped" else 0
            c = self._coffee(ev.coffee)
            c.counts[0] += 1
            sig = _SIGNAL_INDEX.get(ev.signal)
            if sig is not None:
                c.counts[sig] += 1
            if rating is not None:
                c.add_rating(rating, t)
            self._pane(
                "coffee_daily",
                COFFEE_DAILY,
                ev.coffee,
                t,
                wm,
                (
                    1,
                    1 if sig == 1 else 0,
                    1 if sig == 2 else 0,
                    1 if sig == 3 else 0,
                    0 if rating is None else 1,
                    rating or 0,
                ),
            )
        elif isinstance(ev, BoxRated):
            rating = ev.rating
            if ev.coffee is not None:
                self._coffee(ev.coffee).add_rating(rating, t)
                adds: tuple[int, ...] = (0, 0, 0, 0, 1, rating)
                self._pane("coffee_daily", COFFEE_DAILY, ev.coffee, t, wm, adds)
            if ev.experiment is not None and ev.arm is not None:
                key = f"{ev.experiment}/{ev.arm}"
                a = self._arm(key)
                a[2] += 1
                a[3] += rating
                self._pane("arm_hourly", ARM_HOURLY, key, t, wm, (0, 0, 1, rating))
        elif isinstance(ev, LabSession):
            rating = ev.rating
            u.n_lab += 1
            u.lab_last = add_day(u.lab_days, u.lab_last, t // _DAY, 1, LAB_DAYS)
        elif isinstance(ev, (RecommendationShown, RecommendationClicked)):  # noqa: UP038 - faster
            clicked = isinstance(ev, RecommendationClicked)
            if isinstance(ev, RecommendationClicked):
                self._coffee(ev.coffee).counts[4] += 1
            if ev.experiment is not None and ev.arm is not None:
                key = f"{ev.experiment}/{ev.arm}"
                self._arm(key)[1 if clicked else 0] += 1
                adds = (0, 1, 0, 0) if clicked else (1, 0, 0, 0)
                self._pane("arm_hourly", ARM_HOURLY, key, t, wm, adds)
        elif kind.startswith("subscription_"):
            self._subscription(u, ev, kind, t)
        if rating is not None:
            u.add_rating(rating, t)
        # user_weekly: every valid event (its day pane feeds its 7 hopping windows).
        lab = 1 if kind == "lab_session" else 0
        adds = (1, 0 if rating is None else 1, rating or 0, lab)
        self._pane("user_weekly", USER_WEEKLY, uid, t, wm, adds)

    def _subscription(self, u: UserActivity, ev: Any, kind: str, t: int) -> None:
        before = u.contrib()
        exp, arm = ev.experiment, ev.arm
        if exp is not None and arm is not None and exp not in u.arms:
            u.arms[exp] = arm
            a = self._arm(f"{exp}/{arm}")
            a[4] += 1
            a[5] += before[0]
            a[6] += before[1]
        status = kind.removeprefix("subscription_")
        if status == "renewed":
            u.renewals += 1
        if u.status_us is None or t >= u.status_us:
            previous = u.status
            u.status, u.status_us = status, t
            if status == "paused":
                u.pause_streak += 1
                if previous != "paused":
                    u.paused_since = t
            else:
                u.pause_streak = 0
                u.paused_since = None
        after = u.contrib()
        if after != before:
            for e, a_name in u.arms.items():
                a = self._arm(f"{e}/{a_name}")
                a[5] += after[0] - before[0]
                a[6] += after[1] - before[1]

    def _coffee(self, coffee: str) -> CoffeePartial:
        c = self.coffees.get(coffee)
        if c is None:
            c = self.coffees[coffee] = CoffeePartial()
        self.dirty_coffees.add(coffee)
        return c

    def _arm(self, key: str) -> list[int]:
        a = self.arms.get(key)
        if a is None:
            a = self.arms[key] = [0] * len(ARM_FIELDS)
        self.dirty_arms.add(key)
        return a

    # -- windows --------------------------------------------------------------------------
    def _close(self, wm: int) -> None:
        heap, panes, ends, registered = self._heap, self.panes, self._ends, self._registered
        closed, dirty, deleted = self.closed, self.dirty_panes, self.deleted_panes
        limit = wm - self.lateness
        while heap and heap[0] <= limit:
            end = heapq.heappop(heap)
            for wk in ends.pop(end):
                registered.discard(wk)
                agg, key, start = wk
                slide = _SLIDES[agg]
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
        (the same set the uninterrupted run holds: windows only ever close)."""
        wm = self.watermark
        for agg, key, p, fields in rows:
            self.panes[(agg, key, p)] = fields
            self._register(SPECS[agg], agg, key, p, wm)

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

    def evict(self) -> int:
        """Forget the event ids below :meth:`evict_cutoff`; returns the cutoff."""
        cutoff = self.evict_cutoff()
        if cutoff != NO_WATERMARK:
            self.seen = {k: v for k, v in self.seen.items() if v >= cutoff}
        return cutoff

    def clear_dirty(self) -> None:
        self.dirty_users.clear()
        self.dirty_coffees.clear()
        self.dirty_arms.clear()
        self.dirty_panes.clear()
        self.deleted_panes.clear()
        self.closed.clear()
        self.new_ids.clear()
        self.dead.clear()

    def take_changes(self) -> Changes:
        """Hand over the changes since the last call (what a checkpoint writes) and start
        collecting afresh; :meth:`requeue` puts them back if their write failed."""
        changes = Changes(
            self.dirty_users,
            self.dirty_coffees,
            self.dirty_arms,
            self.dirty_panes,
            self.deleted_panes,
            self.closed,
            self.new_ids,
            self.dead,
        )
        self.dirty_users, self.dirty_coffees, self.dirty_arms = set(), set(), set()
        self.dirty_panes, self.deleted_panes, self.closed = set(), [], []
        self.new_ids, self.dead = [], []
        return changes

    def requeue(self, changes: Changes) -> None:
        """Merge changes whose checkpoint failed back in front of the newer ones (the next
        checkpoint then writes both; keyed rows and panes with their current values)."""
        self.dirty_users |= changes.users
        self.dirty_coffees |= changes.coffees
        self.dirty_arms |= changes.arms
        self.dirty_panes |= {pk for pk in changes.panes if pk in self.panes}
        self.deleted_panes[:0] = changes.deleted_panes
        self.closed[:0] = changes.closed
        self.new_ids[:0] = changes.new_ids
        self.dead[:0] = changes.dead


@dataclass(slots=True)
class Changes:
    """What changed in a :class:`PartitionState` between two checkpoints."""

    users: set[str] = field(default_factory=set)
    coffees: set[str] = field(default_factory=set)
    arms: set[str] = field(default_factory=set)
    panes: set[PaneKey] = field(default_factory=set)
    deleted_panes: list[PaneKey] = field(default_factory=list)
    closed: list[Row] = field(default_factory=list)
    new_ids: list[tuple[str, int]] = field(default_factory=list)
    dead: list[tuple[int, str, bytes]] = field(default_factory=list)


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def dumps(value: Any) -> str:
    """Compact JSON (one shared encoder: ``json.dumps`` with options builds one per call)."""
    return _ENCODER.encode(value)


def dumps_ints(values: list[int]) -> str:
    """``dumps`` of a list of ints (the same text), without the encoder's overhead."""
    return "[" + ",".join(map(str, values)) + "]"


__all__ = [
    "ARM_FIELDS",
    "COFFEE_DAILY",
    "COFFEE_FIELDS",
    "FIELDS",
    "Changes",
    "CoffeePartial",
    "PartitionState",
    "UserActivity",
]
