"""A deterministic synthetic event stream: the input of the stream tests, benches and the
Flink parity test.

>>> entries = generate(200, seed=1)
>>> len(entries), entries == generate(200, seed=1)
(200, True)
>>> from taste2vec.stream.events import parse_event
>>> key, value = entries[0]
>>> parse_event(value).user == key
True

:func:`generate` returns ``(key, value)`` pairs ready for :meth:`EventLog.append`: the key
is the user id (the partition key), the value the encoded event (:func:`encode_event`).
The same arguments always give the same bytes.

What it simulates: ``users`` people and ``coffees`` coffees over ``days`` days from
:data:`T0`; two A/B experiments (``exp-rec``: control/treatment on recommendations,
``exp-box``: a/b on boxes; every user has a fixed arm in each); all 12 event types in a
realistic mix (recommendations shown and clicked, feedback, tastings with a 128-d vector
half of the time, boxes shipped and rated, Lab sessions) and per-user subscription
lifecycles (started -> paused -> resumed / cancelled, fortnightly renewals, re-subscribing).
Users are drawn with Zipf-like weights, so a few are very active.

Faults, all optional and seeded:

- ``disorder_s``: each event is delivered up to ``disorder_s`` seconds after later events
  (delivery order = event time + uniform delay). With ``disorder_s`` <= the worker's
  out-of-orderness (5 minutes) no event is ever late: every event's time is at least the
  largest earlier-delivered event time minus ``disorder_s``.
- ``duplicates``: share of events delivered a second time (same bytes), 1 to 50 positions later.
- ``late``: share of events whose event time is set ``late_by_s`` (default 10 days) back,
  so they arrive long after their windows closed (the worker dead-letters them as "late"
  once their partition's watermark has passed their last window).
- ``malformed``: share of events replaced by a broken payload (not JSON, unknown type,
  missing field, out-of-range rating, bad time); the worker dead-letters them with the
  :class:`~taste2vec.errors.SchemaError` text.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["T0", "generate", "read_jsonl", "write_jsonl"]

T0 = datetime(2026, 1, 1, tzinfo=UTC)
EXPERIMENTS: dict[str, tuple[str, ...]] = {
    "exp-rec": ("control", "treatment"),
    "exp-box": ("a", "b"),
}
_SIGNALS = ("liked", "disliked", "rated", "skipped")
_RECIPES = ("V60 4:6", "AeroPress inverted", "Chemex 1:16", "Espresso 1:2", "French press")
_MALFORMED = (
    b"{not json",
    b'{"type": "coffee_teleported", "event_id": "bad-%d", "user": "%s",'
    b' "event_time": "2026-01-01T00:00:00Z"}',
    b'{"type": "feedback_given", "user": "%s", "event_time": "2026-01-01T00:00:00Z",'
    b' "feedback": "f", "coffee": "c", "signal": "liked", "event_id_missing": %d}',
    b'{"type": "box_rated", "event_id": "bad-%d", "user": "%s",'
    b' "event_time": "2026-01-01T00:00:00Z", "box": "b", "rating": 9}',
    b'{"type": "lab_session", "event_id": "bad-%d", "user": "%s",'
    b' "event_time": "yesterday", "recipe": "x", "rating": 3}',
)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _User:
    __slots__ = ("arms", "base", "last_request", "status", "next_renewal", "boxes", "last_box")

    def __init__(self, rng: random.Random, index: int) -> None:
        self.arms = {exp: arms[index % len(arms)] for exp, arms in EXPERIMENTS.items()}
        self.base = [rng.gauss(0.0, 1.0) for _ in range(128)]
        self.last_request: str | None = None
        self.status: str | None = None  # None, active, paused, cancelled
        self.next_renewal: datetime | None = None
        self.boxes = 0
        self.last_box: str | None = None


def generate(
    n_events: int,
    seed: int = 0,
    *,
    users: int = 200,
    coffees: int = 100,
    days: float = 30.0,
    start: datetime = T0,
    disorder_s: float = 0.0,
    duplicates: float = 0.0,
    late: float = 0.0,
    late_by_s: float = 10 * 86_400.0,
    malformed: float = 0.0,
    vectors: float = 0.5,
) -> list[tuple[str, bytes]]:
    """``n_events`` distinct events (plus injected duplicates), as ``(user, bytes)`` pairs
    in delivery order. See the module docstring for what each option does."""
    if n_events < 0 or users < 1 or coffees < 1 or days <= 0:
        raise ValueError("n_events >= 0, users >= 1, coffees >= 1 and days > 0 are required")
    rng = random.Random(seed)  # noqa: S311 - simulation, not cryptography
    people = [_User(rng, i) for i in range(users)]
    user_ids = [f"u{i:05d}" for i in range(users)]
    coffee_ids = [f"c{i:04d}" for i in range(coffees)]
    weights = [1.0 / (i + 1) ** 0.8 for i in range(users)]
    cum: list[float] = []
    acc = 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    span = timedelta(days=days)
    step = span / max(n_events, 1)
    events: list[tuple[float, int, bytes, str]] = []
    for i in range(n_events):
        t = start + step * i + timedelta(seconds=rng.random() * step.total_seconds())
        ui = _pick(rng, cum)
        uid, user = user_ids[ui], people[ui]
        body = _event(rng, i, t, uid, user, coffee_ids, vectors)
        value: bytes
        if malformed and rng.random() < malformed:
            value = _broken(rng, i, uid)
        else:
            if late and rng.random() < late:
                body["event_time"] = _iso(t - timedelta(seconds=late_by_s))
            value = json.dumps(body, separators=(",", ":")).encode()
        delay = rng.random() * disorder_s if disorder_s else 0.0
        events.append((t.timestamp() + delay, i, value, uid))
    events.sort(key=lambda e: (e[0], e[1]))
    out = [(uid, value) for _, _, value, uid in events]
    if duplicates:
        result: list[tuple[str, bytes]] = []
        pending: list[tuple[int, tuple[str, bytes]]] = []
        for pos, entry in enumerate(out):
            result.append(entry)
            if rng.random() < duplicates:
                pending.append((pos + rng.randint(1, 50), entry))
            due = [p for p in pending if p[0] <= pos]
            for p in due:
                result.append(p[1])
                pending.remove(p)
        result.extend(p[1] for p in pending)
        out = result
    return out


def _pick(rng: random.Random, cum: list[float]) -> int:
    x = rng.random() * cum[-1]
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _event(
    rng: random.Random,
    i: int,
    t: datetime,
    uid: str,
    user: _User,
    coffee_ids: list[str],
    vectors: float,
) -> dict[str, Any]:
    base: dict[str, Any] = {"event_id": f"ev-{i}", "user": uid, "event_time": _iso(t)}
    # Subscription lifecycle first: start, fortnightly renewals, occasional pause/resume/cancel.
    sub = _subscription(rng, t, user)
    if sub is not None:
        base["type"] = f"subscription_{sub}"
        base["plan"] = "fortnightly"
        exp = "exp-box"
        base["experiment"], base["arm"] = exp, user.arms[exp]
        if sub in ("paused", "cancelled") and rng.random() < 0.5:
            base["reason"] = rng.choice(("travel", "too much coffee", "price", "taste"))
        return base
    x = rng.random()
    coffee = coffee_ids[min(int(rng.paretovariate(1.2)) - 1, len(coffee_ids) - 1)]
    if x < 0.25 or (x < 0.33 and user.last_request is None):
        request = f"req-{i}"
        user.last_request = request
        base["type"] = "recommendation_shown"
        base["request"] = request
        base["coffees"] = rng.sample(coffee_ids, min(10, len(coffee_ids)))
        base["experiment"], base["arm"] = "exp-rec", user.arms["exp-rec"]
    elif x < 0.33:
        base["type"] = "recommendation_clicked"
        base["coffee"] = coffee
        base["request"] = user.last_request
        base["experiment"], base["arm"] = "exp-rec", user.arms["exp-rec"]
    elif x < 0.55:
        signal = rng.choice(_SIGNALS)
        base["type"] = "feedback_given"
        base["feedback"] = f"fb-{i}"
        base["coffee"] = coffee
        base["signal"] = signal
        if signal == "rated":
            base["rating"] = rng.randint(1, 5)
    elif x < 0.70:
        base["type"] = "tasting_logged"
        base["record"] = f"rec-{i}"
        base["coffee"] = coffee
        base["metrics"] = {"acidity": rng.randint(1, 10), "sweetness": rng.randint(1, 10)}
        if rng.random() < vectors:
            base["vector"] = [round(b + rng.gauss(0.0, 0.3), 4) for b in user.base]
    elif x < 0.78:
        user.boxes += 1
        user.last_box = f"box-{uid}-{user.boxes}"
        base["type"] = "box_shipped"
        base["box"] = user.last_box
        base["coffees"] = rng.sample(coffee_ids, min(3, len(coffee_ids)))
        base["experiment"], base["arm"] = "exp-box", user.arms["exp-box"]
    elif x < 0.88 and user.last_box is not None:
        base["type"] = "box_rated"
        base["box"] = user.last_box
        base["rating"] = rng.randint(1, 5)
        if rng.random() < 0.5:
            base["coffee"] = coffee
        base["experiment"], base["arm"] = "exp-box", user.arms["exp-box"]
    else:
        base["type"] = "lab_session"
        base["recipe"] = rng.choice(_RECIPES)
        base["rating"] = rng.randint(1, 5)
        base["variables"] = {"water_temp_c": rng.randint(85, 96)}
        if rng.random() < 0.7:
            base["coffee"] = coffee
    return base


def _subscription(rng: random.Random, t: datetime, user: _User) -> str | None:
    if user.status is None or user.status == "cancelled":
        if rng.random() < (0.3 if user.status is None else 0.01):
            user.status, user.next_renewal = "active", t + timedelta(days=14)
            return "started"
        return None
    if user.status == "active":
        if user.next_renewal is not None and t >= user.next_renewal:
            user.next_renewal = t + timedelta(days=14)
            return "renewed"
        y = rng.random()
        if y < 0.01:
            user.status = "paused"
            return "paused"
        if y < 0.014:
            user.status = "cancelled"
            return "cancelled"
        return None
    # paused
    y = rng.random()
    if y < 0.04:
        user.status, user.next_renewal = "active", t + timedelta(days=14)
        return "resumed"
    if y < 0.05:
        user.status = "cancelled"
        return "cancelled"
    if y < 0.055:
        return "paused"  # paused again while paused (a pause streak)
    return None


def _broken(rng: random.Random, i: int, uid: str) -> bytes:
    kind = rng.randrange(len(_MALFORMED))
    template = _MALFORMED[kind]
    if kind == 0:
        return template
    if kind == 2:
        return template % (uid.encode(), i)
    return template % (i, uid.encode())


def write_jsonl(path: Path | str, entries: Iterable[tuple[str, bytes]]) -> int:
    """Write the values, one per line (they are compact JSON without newlines); returns
    the count. Keys are not written: a valid event's key is its ``user``."""
    n = 0
    with Path(path).open("wb") as fh:
        for _, value in entries:
            if b"\n" in value:
                raise ValueError("a value contains a newline; it cannot be a JSON line")
            fh.write(value + b"\n")
            n += 1
    return n


def read_jsonl(path: Path | str) -> list[tuple[str, bytes]]:
    """The ``(key, value)`` pairs of a file written by :func:`write_jsonl` (the key is the
    event's ``user``, or ``""`` for a line that is not a JSON object with one)."""
    out: list[tuple[str, bytes]] = []
    for line in Path(path).read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            key = str(obj.get("user", "")) if isinstance(obj, dict) else ""
        except ValueError:
            key = ""
        out.append((key, line))
    return out
