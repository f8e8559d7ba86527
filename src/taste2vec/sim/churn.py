"""SIMULATED subscribers whose cancellations depend on a hidden satisfaction: the training
and evaluation data of the churn model (``taste2vec.batch.churn``, ``bench/churn.py``).

Everything here is made up. Each subscriber has a hidden daily *satisfaction*
``s_t = base + drift * t + walk_t`` (a random walk) and an activity level. Each day, while
subscribed:

- they engage with probability ``activity * sigmoid(0.8 + 1.2 s_t)``: a tasting, feedback
  (skipped with probability ``sigmoid(-1.5 - 1.5 s_t)``, else rated ``3 + 1.2 s_t + noise``
  or liked/disliked), a recommendation click, or a Lab session (rating from ``s_t``);
- every 14 days a box ships (and the subscription renews); the box is rated within a week
  with probability ``sigmoid(0.5 + s_t)``, the rating ``3 + 1.3 s_t + noise``;
- an active subscriber pauses with probability ``0.006 * exp(-s_t)`` and a paused one
  resumes with probability 0.08 per day;
- they cancel with probability ``sigmoid(-6.2 - 1.5 s_t + 1.0 [paused])`` per day.

So churn is driven by what the signals only see through noise: falling ratings, skips,
going quiet, pauses. Events are the stream's schema (``taste2vec.stream.events``),
returned as ``(user, bytes)`` pairs in event-time order, ready for ``EventLog.append``.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["SIM_T0", "simulate_subscribers"]

SIM_T0 = datetime(2026, 1, 1, tzinfo=UTC)
_RECIPES = ("V60 4:6", "AeroPress inverted", "Chemex 1:16", "Espresso 1:2")


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _clip_rating(x: float) -> int:
    return max(1, min(5, round(x)))


def simulate_subscribers(
    users: int, days: int = 180, seed: int = 0, *, coffees: int = 60, start: datetime = SIM_T0
) -> list[tuple[str, bytes]]:
    """Events of ``users`` SIMULATED subscribers over ``days`` days (see the module
    docstring); subscriptions start during the first 30 days. Deterministic in ``seed``."""
    if users < 1 or days < 1 or coffees < 1:
        raise ValueError("users, days and coffees must be positive")
    rng = random.Random(seed)  # noqa: S311 - simulation, not cryptography
    coffee_ids = [f"c{i:04d}" for i in range(coffees)]
    out: list[tuple[float, str, bytes]] = []
    n = 0

    def emit(uid: str, t: datetime, body: dict[str, Any]) -> None:
        nonlocal n
        n += 1
        body = {"event_id": f"sim-{seed}-{n}", "user": uid, "event_time": _iso(t), **body}
        out.append((t.timestamp(), uid, json.dumps(body, separators=(",", ":")).encode()))

    for i in range(users):
        uid = f"s{i:06d}"
        base = rng.gauss(0.3, 0.9)
        drift = rng.gauss(-0.004, 0.012)
        activity = min(1.0, rng.lognormvariate(-1.0, 0.5))
        walk = 0.0
        first = rng.randrange(30)
        t0 = start + timedelta(days=first, seconds=rng.randrange(86_400))
        emit(uid, t0, {"type": "subscription_started", "plan": "fortnightly"})
        status = "active"
        box = 0
        pending_box: tuple[str, int] | None = None  # (box id, day it shipped)
        for day in range(first + 1, days):
            walk += rng.gauss(0.0, 0.06)
            s = base + drift * (day - first) + walk
            t = start + timedelta(days=day, seconds=rng.randrange(86_400))
            if status == "active":
                if rng.random() < _sigmoid(-6.2 - 1.5 * s):
                    emit(uid, t, {"type": "subscription_cancelled", "reason": "simulated"})
                    break
                if rng.random() < 0.006 * math.exp(-s):
                    emit(uid, t, {"type": "subscription_paused"})
                    status = "paused"
                    continue
                if (day - first) % 14 == 0:
                    box += 1
                    bid = f"box-{uid}-{box}"
                    emit(
                        uid,
                        t,
                        {"type": "box_shipped", "box": bid, "coffees": rng.sample(coffee_ids, 3)},
                    )
                    emit(uid, t + timedelta(minutes=1), {"type": "subscription_renewed"})
                    pending_box = (bid, day)
                elif pending_box is not None and day - pending_box[1] <= 7:
                    if rng.random() < _sigmoid(0.5 + s) / 4:
                        rating = _clip_rating(3 + 1.3 * s + rng.gauss(0, 0.7))
                        emit(uid, t, {"type": "box_rated", "box": pending_box[0], "rating": rating})
                        pending_box = None
            else:  # paused
                if rng.random() < _sigmoid(-6.2 - 1.5 * s + 1.0):
                    emit(uid, t, {"type": "subscription_cancelled", "reason": "simulated"})
                    break
                if rng.random() < 0.08:
                    emit(uid, t, {"type": "subscription_resumed"})
                    status = "active"
                continue
            if rng.random() >= activity * _sigmoid(0.8 + 1.2 * s):
                continue
            coffee = rng.choice(coffee_ids)
            x = rng.random()
            if x < 0.35:
                if rng.random() < _sigmoid(-1.5 - 1.5 * s):
                    emit(
                        uid,
                        t,
                        {
                            "type": "feedback_given",
                            "feedback": f"f{n}",
                            "coffee": coffee,
                            "signal": "skipped",
                        },
                    )
                elif rng.random() < 0.5:
                    rating = _clip_rating(3 + 1.2 * s + rng.gauss(0, 0.8))
                    emit(
                        uid,
                        t,
                        {
                            "type": "feedback_given",
                            "feedback": f"f{n}",
                            "coffee": coffee,
                            "signal": "rated",
                            "rating": rating,
                        },
                    )
                else:
                    liked = 3 + s + rng.gauss(0, 1) >= 3
                    emit(
                        uid,
                        t,
                        {
                            "type": "feedback_given",
                            "feedback": f"f{n}",
                            "coffee": coffee,
                            "signal": "liked" if liked else "disliked",
                        },
                    )
            elif x < 0.6:
                emit(uid, t, {"type": "tasting_logged", "record": f"r{n}", "coffee": coffee})
            elif x < 0.85:
                emit(uid, t, {"type": "recommendation_clicked", "coffee": coffee})
            else:
                rating = _clip_rating(3 + s + rng.gauss(0, 0.8))
                emit(
                    uid,
                    t,
                    {
                        "type": "lab_session",
                        "recipe": rng.choice(_RECIPES),
                        "rating": rating,
                        "coffee": coffee,
                    },
                )
    out.sort(key=lambda e: (e[0], e[1]))
    return [(uid, value) for _, uid, value in out]
