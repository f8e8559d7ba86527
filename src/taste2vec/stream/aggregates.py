"""The stream worker's aggregates, each one class of the aggregator protocol
(:mod:`taste2vec.stream.aggregator`), and :data:`DEFAULT_AGGREGATES`, the list it runs.

Keyed (a state per key, for ever):

- :class:`UserAggregate` (``user``): per user (every user lives on exactly one partition,
  the log is keyed by user), :class:`UserActivity` -- the rolling tastings vector of the
  user's tastings, rating stats and the raw facts behind the subscription signals (derived
  at read time by :func:`taste2vec.stream.signals.user_signals`);
- :class:`CoffeeAggregate` (``coffee``): per coffee, :class:`CoffeeStats` -- reactions and
  ratings; one share per partition, merged on read;
- :class:`ArmAggregate` (``arm``): per experiment arm, :class:`ArmCounts` -- the A/B counts;
  one share per partition, merged on read. It runs before :class:`UserAggregate`: a
  subscription event moves the counts of the user's arms by the change it makes to the
  user's state, which it reads as it was before the event.

Windowed (integer sums per key and window; the parity contract, mirrored by the Flink
job): :class:`CoffeeDaily`, :class:`UserWeekly`, :class:`ArmHourly`.

Everything is deterministic given the partition's entries in offset order: no wall clock,
no dependence on how entries were batched or which worker processed them. Integer sums
stay integers, so merged results are exact; the one float state (the decayed taste
vector) is updated in the partition's offset order, so a replay reproduces it bit for bit.

Definitions (docs/stream.md, "Aggregates and signals"):

- tastings vector: exponentially time-decayed mean of the ``vector`` of ``tasting_logged``
  events (half-life :data:`TASTE_HALF_LIFE_US`, 30 days; events without a vector skipped):
  ``sum_i w_i v_i / sum_i w_i`` with ``w_i = 2 ** (-(t_latest - t_i) / half_life)``.
- ratings of a user: ``feedback_given`` with a rating, ``box_rated`` and ``lab_session``;
  ratings of a coffee: ``feedback_given`` with a rating and ``box_rated`` naming the coffee
  (the same sets as the ``user_weekly`` / ``coffee_daily`` windows).
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import astuple, dataclass, fields
from typing import Any

import numpy as np

from taste2vec.stream.aggregator import (
    Aggregate,
    Context,
    KeyedAggregate,
    WindowedAggregate,
    dumps,
    dumps_ints,
)
from taste2vec.stream.events import (
    EVENT_TYPES,
    BoxRated,
    Event,
    FeedbackGiven,
    LabSession,
    RecommendationClicked,
    RecommendationShown,
    TastingLogged,
)
from taste2vec.stream.signals import (
    LAB_DAYS,
    TREND_DAYS,
    rating_stats,
    trend_per_week,
    user_signals,
)
from taste2vec.stream.windows import ARM_HOURLY, COFFEE_DAILY, DAY_US, USER_WEEKLY, iso

TASTE_HALF_LIFE_US = 30 * DAY_US
ENGAGEMENT = frozenset(
    {"tasting_logged", "feedback_given", "recommendation_clicked", "box_rated", "lab_session"}
)
SUBSCRIPTION_TYPES = frozenset(t for t in EVENT_TYPES if t.startswith("subscription_"))
_DAY = DAY_US


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


# ------------------------------------------------------------------------------- users
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
            raise ValueError(f"vector of length {len(v)}; the tastings vector has {len(self.vec)}")
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

    def _status_moves(self, t: int) -> bool:
        """Whether a subscription event at ``t`` sets the status (the latest by event time)."""
        return self.status_us is None or t >= self.status_us

    def subscription(self, status: str, t: int) -> None:
        """Apply a ``subscription_<status>`` event at ``t``."""
        if status == "renewed":
            self.renewals += 1
        if self._status_moves(t):
            previous = self.status
            self.status, self.status_us = status, t
            if status == "paused":
                self.pause_streak += 1
                if previous != "paused":
                    self.paused_since = t
            else:
                self.pause_streak = 0
                self.paused_since = None

    def contrib(self) -> tuple[int, int]:
        """This user's contribution to its arms' (cancelled, renewed) counts."""
        return (1 if self.status == "cancelled" else 0, 1 if self.renewals else 0)

    def contrib_after(self, status: str, t: int) -> tuple[int, int]:
        """:meth:`contrib` as it will be after :meth:`subscription` (``status``, ``t``)."""
        final = status if self._status_moves(t) else self.status
        renewed = self.renewals or status == "renewed"
        return (1 if final == "cancelled" else 0, 1 if renewed else 0)

    def to_json(self) -> dict[str, Any]:
        """JSON-able state (format 2): the tastings vector as :func:`encode_vector` text, day
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


class UserAggregate(KeyedAggregate[UserActivity]):
    """Per user: every valid event (read-out: :func:`signals.user_signals`)."""

    name = "user"
    types = frozenset(EVENT_TYPES)

    def key(self, ev: Event) -> str:
        return ev.user

    def init(self) -> UserActivity:
        return UserActivity()

    def update(self, u: UserActivity, ev: Event, t: int) -> None:
        kind = ev.type
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
        elif isinstance(ev, BoxRated):
            rating = ev.rating
        elif isinstance(ev, LabSession):
            rating = ev.rating
            u.n_lab += 1
            u.lab_last = add_day(u.lab_days, u.lab_last, t // _DAY, 1, LAB_DAYS)
        elif kind in SUBSCRIPTION_TYPES:
            exp, arm = getattr(ev, "experiment", None), getattr(ev, "arm", None)
            if exp is not None and arm is not None and exp not in u.arms:
                u.arms[exp] = arm
            u.subscription(kind.removeprefix("subscription_"), t)
        if rating is not None:
            u.add_rating(rating, t)

    def read(self, key: str, state: UserActivity, as_of_us: int) -> dict[str, Any]:
        return user_signals(key, state, as_of_us)

    def encode(self, state: UserActivity) -> str:
        return dumps(state.to_json())

    def decode(self, text: str) -> UserActivity:
        return UserActivity.from_json(json.loads(text))


# ----------------------------------------------------------------------------- coffees
class CoffeeStats:
    """One partition's share of a coffee's stats: counts and the daily rating buckets of
    the trend."""

    __slots__ = (
        "n_feedback",
        "n_likes",
        "n_dislikes",
        "n_skips",
        "n_clicks",
        "n_ratings",
        "sum_rating",
        "sum_rating_sq",
        "days",
        "last",
    )

    def __init__(self, counts: list[int] | None = None) -> None:
        (
            self.n_feedback,
            self.n_likes,
            self.n_dislikes,
            self.n_skips,
            self.n_clicks,
            self.n_ratings,
            self.sum_rating,
            self.sum_rating_sq,
        ) = counts if counts is not None else [0] * len(COFFEE_FIELDS)
        self.days: dict[int, list[int]] = {}
        self.last: int | None = None

    def counts(self) -> list[int]:
        """The counts in :data:`COFFEE_FIELDS` order (the stored form)."""
        return [getattr(self, name) for name in COFFEE_FIELDS]

    def add_rating(self, rating: int, t: int) -> None:
        self.n_ratings += 1
        self.sum_rating += rating
        self.sum_rating_sq += rating * rating
        self.last = add_day(self.days, self.last, t // _DAY, rating, TREND_DAYS)


COFFEE_FIELDS = CoffeeStats.__slots__[:8]


class CoffeeAggregate(KeyedAggregate[CoffeeStats]):
    """Per coffee: feedback about it, ``box_rated`` naming it, clicks on it."""

    name = "coffee"
    types = frozenset({"feedback_given", "box_rated", "recommendation_clicked"})

    def key(self, ev: Event) -> str | None:
        return getattr(ev, "coffee", None)

    def init(self) -> CoffeeStats:
        return CoffeeStats()

    def update(self, c: CoffeeStats, ev: Event, t: int) -> None:
        if isinstance(ev, FeedbackGiven):
            c.n_feedback += 1
            if ev.signal == "liked":
                c.n_likes += 1
            elif ev.signal == "disliked":
                c.n_dislikes += 1
            elif ev.signal == "skipped":
                c.n_skips += 1
            if ev.rating is not None:
                c.add_rating(ev.rating, t)
        elif isinstance(ev, BoxRated):
            c.add_rating(ev.rating, t)
        elif isinstance(ev, RecommendationClicked):
            c.n_clicks += 1

    def encode(self, state: CoffeeStats) -> str:
        # Day keys are ints; ``json`` writes them as strings (decode reads both).
        return dumps({"counts": state.counts(), "days": state.days, "last": state.last})

    def decode(self, text: str) -> CoffeeStats:
        data = json.loads(text)
        c = CoffeeStats(list(data["counts"]))
        c.days = _days_load(data["days"])
        c.last = data["last"]
        return c

    def merge(self, a: CoffeeStats, b: CoffeeStats) -> CoffeeStats:
        out = CoffeeStats([x + y for x, y in zip(a.counts(), b.counts(), strict=True)])
        for days in (a.days, b.days):
            for d, (n, s) in days.items():
                bucket = out.days.setdefault(d, [0, 0])
                bucket[0] += n
                bucket[1] += s
        lasts = [x for x in (a.last, b.last) if x is not None]
        out.last = max(lasts) if lasts else None
        return out

    def read(self, key: str, state: CoffeeStats, as_of_us: int) -> dict[str, Any]:
        c, last = state, state.last
        return {
            "coffee": key,
            "n_feedback": c.n_feedback,
            "n_likes": c.n_likes,
            "n_dislikes": c.n_dislikes,
            "n_skips": c.n_skips,
            "n_clicks": c.n_clicks,
            "like_rate": c.n_likes / c.n_feedback if c.n_feedback else None,
            "rating": rating_stats(c.n_ratings, c.sum_rating, c.sum_rating_sq),
            "rating_trend_per_week": trend_per_week(c.days, last),
            "last_rating_day": None if last is None else iso(last * DAY_US)[:10],
        }


# -------------------------------------------------------------------------------- arms
@dataclass(slots=True)
class ArmCounts:
    """One partition's share of an experiment arm's counts."""

    shown: int = 0
    clicks: int = 0
    n_box_ratings: int = 0
    sum_box_rating: int = 0
    subscribers: int = 0
    cancelled: int = 0
    renewed: int = 0


ARM_FIELDS = tuple(f.name for f in fields(ArmCounts))


class ArmAggregate(KeyedAggregate[ArmCounts]):
    """Per experiment arm (key ``experiment/arm``), from events carrying both.

    ``subscribers`` = users whose first subscription event carrying the experiment named
    this arm; ``cancelled`` / ``renewed`` = how many of them are cancelled now / renewed at
    least once: a subscription event moves the counts of every arm of its user by the
    change it makes, so this aggregate reads the user's state (``users``) before
    :class:`UserAggregate` applies the event (it is listed first). Its :meth:`keys` is the
    default (the event's own arm): the arms a subscription event finds in its user's state
    are not known before the user is loaded, so the worker loads such an arm on its own if
    it is not in memory (arms are few and used often: they rarely leave memory)."""

    name = "arm"
    types = frozenset({"recommendation_shown", "recommendation_clicked", "box_rated"})
    types |= SUBSCRIPTION_TYPES

    def __init__(self, users: UserAggregate) -> None:
        self.users = users

    def key(self, ev: Event) -> str | None:
        exp, arm = getattr(ev, "experiment", None), getattr(ev, "arm", None)
        return None if exp is None or arm is None else f"{exp}/{arm}"

    def init(self) -> ArmCounts:
        return ArmCounts()

    def update(self, a: ArmCounts, ev: Event, t: int) -> None:
        if isinstance(ev, BoxRated):
            a.n_box_ratings += 1
            a.sum_box_rating += ev.rating
        elif isinstance(ev, RecommendationClicked):
            a.clicks += 1
        elif isinstance(ev, RecommendationShown):
            a.shown += 1

    def apply(self, ev: Event, t: int, ctx: Context) -> None:
        if ev.type not in SUBSCRIPTION_TYPES:
            super().apply(ev, t, ctx)
            return
        u: UserActivity = ctx.state(self.users, ev.user)
        before = u.contrib()
        keys = [f"{e}/{a}" for e, a in u.arms.items()]
        exp, arm = getattr(ev, "experiment", None), getattr(ev, "arm", None)
        if exp is not None and arm is not None and exp not in u.arms:
            new: ArmCounts = ctx.state(self, f"{exp}/{arm}")
            new.subscribers += 1
            new.cancelled += before[0]
            new.renewed += before[1]
            keys.append(f"{exp}/{arm}")
        after = u.contrib_after(ev.type.removeprefix("subscription_"), t)
        if after != before:
            for key in keys:
                a: ArmCounts = ctx.state(self, key)
                a.cancelled += after[0] - before[0]
                a.renewed += after[1] - before[1]

    def encode(self, state: ArmCounts) -> str:
        return dumps_ints(astuple(state))

    def decode(self, text: str) -> ArmCounts:
        return ArmCounts(*json.loads(text))

    def merge(self, a: ArmCounts, b: ArmCounts) -> ArmCounts:
        return ArmCounts(*(x + y for x, y in zip(astuple(a), astuple(b), strict=True)))

    def read(self, key: str, state: ArmCounts, as_of_us: int) -> dict[str, Any]:
        """CTR = clicks / shown (recommendation events carrying the arm); satisfaction =
        mean ``box_rated`` rating carrying the arm; retention = share of the arm's
        subscribers whose latest subscription event (by event time) is not a
        cancellation; renewal_rate = share of them with at least one renewal."""
        c = state
        experiment, _, arm = key.partition("/")
        return {
            "experiment": experiment,
            "arm": arm,
            **dict(zip(ARM_FIELDS, astuple(c), strict=True)),
            "ctr": c.clicks / c.shown if c.shown else None,
            "satisfaction": c.sum_box_rating / c.n_box_ratings if c.n_box_ratings else None,
            "retention": (c.subscribers - c.cancelled) / c.subscribers if c.subscribers else None,
            "renewal_rate": c.renewed / c.subscribers if c.subscribers else None,
        }


# ---------------------------------------------------------------------------- windowed
class CoffeeDaily(WindowedAggregate):
    """Per coffee and day: feedback and ratings (``feedback_given``, ``box_rated`` naming
    the coffee)."""

    name = "coffee_daily"
    spec = COFFEE_DAILY
    fields = ("n_feedback", "n_likes", "n_dislikes", "n_skips", "n_ratings", "sum_rating")
    types = frozenset({"feedback_given", "box_rated"})

    def contribute(self, ev: Event) -> tuple[str, tuple[int, ...]] | None:
        if isinstance(ev, FeedbackGiven):
            r, sig = ev.rating, ev.signal
            return ev.coffee, (
                1,
                1 if sig == "liked" else 0,
                1 if sig == "disliked" else 0,
                1 if sig == "skipped" else 0,
                0 if r is None else 1,
                r or 0,
            )
        if isinstance(ev, BoxRated) and ev.coffee is not None:
            return ev.coffee, (0, 0, 0, 0, 1, ev.rating)
        return None


class UserWeekly(WindowedAggregate):
    """Per user, 7 days hopping by a day: every valid event, its ratings (as for the user's
    rating stats) and Lab sessions."""

    name = "user_weekly"
    spec = USER_WEEKLY
    fields = ("n_events", "n_ratings", "sum_rating", "n_lab")
    types = frozenset(EVENT_TYPES)

    def contribute(self, ev: Event) -> tuple[str, tuple[int, ...]]:
        if isinstance(ev, FeedbackGiven):
            r = ev.rating
            return ev.user, (1, 0, 0, 0) if r is None else (1, 1, r, 0)
        if isinstance(ev, BoxRated):
            return ev.user, (1, 1, ev.rating, 0)
        if isinstance(ev, LabSession):
            return ev.user, (1, 1, ev.rating, 1)
        return ev.user, (1, 0, 0, 0)


class ArmHourly(WindowedAggregate):
    """Per experiment arm and hour: recommendations shown and clicked, box ratings."""

    name = "arm_hourly"
    spec = ARM_HOURLY
    fields = ("shown", "clicks", "n_box_ratings", "sum_box_rating")
    types = frozenset({"recommendation_shown", "recommendation_clicked", "box_rated"})

    def contribute(self, ev: Event) -> tuple[str, tuple[int, ...]] | None:
        exp, arm = getattr(ev, "experiment", None), getattr(ev, "arm", None)
        if exp is None or arm is None:
            return None
        if isinstance(ev, BoxRated):
            return f"{exp}/{arm}", (0, 0, 1, ev.rating)
        if isinstance(ev, RecommendationClicked):
            return f"{exp}/{arm}", (0, 1, 0, 0)
        return f"{exp}/{arm}", (1, 0, 0, 0)


USERS = UserAggregate()
COFFEES = CoffeeAggregate()
ARMS = ArmAggregate(USERS)
#: What the worker runs, in this order (the arm aggregate reads a user's state before the
#: user aggregate applies the event).
DEFAULT_AGGREGATES: tuple[Aggregate, ...] = (
    ARMS,
    USERS,
    COFFEES,
    CoffeeDaily(),
    UserWeekly(),
    ArmHourly(),
)
#: The windowed aggregates' fields (the parity contract's row columns).
FIELDS: dict[str, tuple[str, ...]] = {
    a.name: a.fields for a in DEFAULT_AGGREGATES if isinstance(a, WindowedAggregate)
}

__all__ = [
    "ARMS",
    "ARM_FIELDS",
    "COFFEES",
    "COFFEE_FIELDS",
    "DEFAULT_AGGREGATES",
    "ENGAGEMENT",
    "FIELDS",
    "LAB_DAYS",
    "TREND_DAYS",
    "USERS",
    "ArmAggregate",
    "ArmCounts",
    "ArmHourly",
    "CoffeeAggregate",
    "CoffeeDaily",
    "CoffeeStats",
    "UserActivity",
    "UserAggregate",
    "UserWeekly",
]
