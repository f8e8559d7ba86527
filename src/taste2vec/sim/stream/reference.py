"""The reference: every stream output computed in one plain pass over the log's entries.

:func:`batch_aggregate` is what "the aggregates equal one clean pass" means in the
reliability and scale-out tests. It shares with the worker only the keyed aggregates'
per-event update formulas and read-outs (users, coffees, arms:
:meth:`PartitionState.apply_keyed`, the definitions) and
re-derives everything the streaming machinery adds, independently and naively: partition
order, dedup (it keeps every id, no eviction), the late rule, which windows an event
contributes to (straight from the parity contract, via :func:`window_starts`), window
finality, and no checkpoints at all.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from taste2vec.errors import SchemaError
from taste2vec.schema.clock import DEFAULT_MAX_SKEW_S
from taste2vec.stream.aggregates import ARMS, COFFEES, FIELDS, USERS
from taste2vec.stream.events import (
    BoxRated,
    Event,
    FeedbackGiven,
    LabSession,
    RecommendationClicked,
    RecommendationShown,
    parse_event,
)
from taste2vec.stream.log.base import LogEntry
from taste2vec.stream.partition import PartitionState
from taste2vec.stream.signals import as_of
from taste2vec.stream.windows import (
    ARM_HOURLY,
    COFFEE_DAILY,
    NO_WATERMARK,
    USER_WEEKLY,
    WindowSpec,
    future_reason,
    iso,
    latest_end,
    to_us,
    window_starts,
)

Contribution = tuple[str, str, WindowSpec, dict[str, int]]


def contributions(ev: Event) -> list[Contribution]:
    """The windowed-aggregate contributions of one valid event, per the parity contract:
    ``(aggregate, key, window spec, field increments)``."""
    out: list[Contribution] = []
    rating: int | None = None
    if isinstance(ev, FeedbackGiven):
        rating = ev.rating
        out.append(
            (
                "coffee_daily",
                ev.coffee,
                COFFEE_DAILY,
                {
                    "n_feedback": 1,
                    "n_likes": int(ev.signal == "liked"),
                    "n_dislikes": int(ev.signal == "disliked"),
                    "n_skips": int(ev.signal == "skipped"),
                    "n_ratings": int(rating is not None),
                    "sum_rating": rating or 0,
                },
            )
        )
    elif isinstance(ev, BoxRated):
        rating = ev.rating
        if ev.coffee is not None:
            out.append(
                (
                    "coffee_daily",
                    ev.coffee,
                    COFFEE_DAILY,
                    {"n_ratings": 1, "sum_rating": ev.rating},
                )
            )
    elif isinstance(ev, LabSession):
        rating = ev.rating
    arm = getattr(ev, "experiment", None), getattr(ev, "arm", None)
    if arm[0] is not None and arm[1] is not None:
        key = f"{arm[0]}/{arm[1]}"
        if isinstance(ev, RecommendationShown):
            out.append(("arm_hourly", key, ARM_HOURLY, {"shown": 1}))
        elif isinstance(ev, RecommendationClicked):
            out.append(("arm_hourly", key, ARM_HOURLY, {"clicks": 1}))
        elif isinstance(ev, BoxRated):
            out.append(
                (
                    "arm_hourly",
                    key,
                    ARM_HOURLY,
                    {"n_box_ratings": 1, "sum_box_rating": ev.rating},
                )
            )
    out.append(
        (
            "user_weekly",
            ev.user,
            USER_WEEKLY,
            {
                "n_events": 1,
                "n_ratings": int(rating is not None),
                "sum_rating": rating or 0,
                "n_lab": int(isinstance(ev, LabSession)),
            },
        )
    )
    return out


def batch_aggregate(
    entries: Iterable[LogEntry],
    *,
    allowed_lateness_s: float = 3600.0,
    out_of_orderness_s: float = 300.0,
    drain: bool = False,
    as_of_us: int | None = None,
    max_clock_skew_s: float = DEFAULT_MAX_SKEW_S,
) -> dict[str, Any]:
    """Everything the worker would output after consuming ``entries`` (all of a log's
    entries, any order: they are grouped by partition and sorted by offset), in the shape
    of :meth:`StreamReader.snapshot`. ``drain`` finalises every window at the end."""
    lateness = round(allowed_lateness_s * 1e6)
    ooo = round(out_of_orderness_s * 1e6)
    skew = round(max_clock_skew_s * 1e6)
    by_part: dict[int, list[LogEntry]] = {}
    for e in entries:
        by_part.setdefault(e.partition, []).append(e)
    dead: list[tuple[int, int, str]] = []
    totals = dict.fromkeys(
        ("entries", "valid", "invalid", "duplicates", "late", "late_window_drops"), 0
    )
    users: dict[str, Any] = {}
    coffee_partials: dict[str, list[Any]] = {}
    arm_partials: dict[str, list[Any]] = {}
    window_rows: dict[tuple[str, str, int], tuple[int, list[int]]] = {}
    global_max: int | None = None
    global_append: int | None = None
    for p in sorted(by_part):
        state = PartitionState(p, ooo, lateness)  # only its per-event formulas are used
        max_t: int | None = None
        seen: set[str] = set()
        windows: dict[tuple[str, str, int], dict[str, int]] = {}
        window_end: dict[tuple[str, str, int], int] = {}
        for e in sorted(by_part[p], key=lambda x: x.offset):
            totals["entries"] += 1
            appended = e.timestamp_ms * 1000
            global_append = appended if global_append is None else max(global_append, appended)
            try:
                ev = parse_event(e.value)
            except SchemaError as exc:
                totals["invalid"] += 1
                dead.append((p, e.offset, str(exc)))
                continue
            t = to_us(ev.event_time)
            if t > appended + skew:  # the client's clock is ahead of the log's: refused
                totals["invalid"] += 1
                dead.append((p, e.offset, future_reason(t, appended, skew)))
                continue
            wm = NO_WATERMARK if max_t is None else max_t - ooo
            if latest_end(t, USER_WEEKLY) + lateness <= wm:
                totals["late"] += 1
                dead.append((p, e.offset, "late"))
                continue
            if ev.event_id in seen:
                totals["duplicates"] += 1
                continue
            seen.add(ev.event_id)
            totals["valid"] += 1
            state.apply_keyed(ev, t)
            for agg, key, spec, adds in contributions(ev):
                for start in window_starts(t, spec):
                    end = start + spec.size_us
                    if end + lateness <= wm:
                        totals["late_window_drops"] += 1
                        continue
                    acc = windows.setdefault((agg, key, start), {})
                    window_end[(agg, key, start)] = end
                    for f, v in adds.items():
                        acc[f] = acc.get(f, 0) + v
            max_t = t if max_t is None else max(max_t, t)
        final_wm = NO_WATERMARK if max_t is None else max_t - ooo
        for wk, acc in windows.items():
            end = window_end[wk]
            if drain or end + lateness <= final_wm:
                values = [acc.get(f, 0) for f in FIELDS[wk[0]]]
                prev = window_rows.get(wk)
                if prev is not None:
                    values = [a + b for a, b in zip(prev[1], values, strict=True)]
                window_rows[wk] = (end, values)
        if max_t is not None:
            global_max = max_t if global_max is None else max(global_max, max_t)
        users.update(state.keyed[USERS.name])
        for key, c in state.keyed[COFFEES.name].items():
            coffee_partials.setdefault(key, []).append(c)
        for key, a in state.keyed[ARMS.name].items():
            arm_partials.setdefault(key, []).append(a)
    default_ref = as_of(global_max, global_append)
    ref = as_of_us if as_of_us is not None else (default_ref or 0)
    return {
        "users": {k: USERS.read(k, users[k], ref) for k in sorted(users)},
        "coffees": {
            k: COFFEES.read(k, functools.reduce(COFFEES.merge, v), ref)
            for k, v in sorted(coffee_partials.items())
        },
        "arms": {
            k: ARMS.read(k, functools.reduce(ARMS.merge, v), ref)
            for k, v in sorted(arm_partials.items())
        },
        "windows": [
            {
                "aggregate": agg,
                "key": key,
                "window_start": iso(start),
                "window_end": iso(end),
                **dict(zip(FIELDS[agg], values, strict=True)),
            }
            for (agg, key, start), (end, values) in sorted(window_rows.items())
        ],
        "dead_letters": sorted(dead),
        "counters": totals,
    }
