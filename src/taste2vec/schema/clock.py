"""Event time you can trust: the bounds every client-supplied time must lie within.

A time that a client sends (a tasting's or a feedback's ``timestamp``, an app event's
``event_time``) feeds shared computations: the stream worker's watermark, the ``as_of``
of every user's signals, the crowd's per-coffee trends. One wrong clock must not move
them for everyone, so two bounds apply at every edge:

- **the past floor** :data:`MIN_EVENT_TIME` (1990-01-01 UTC, before any specialty-coffee
  review we load): a time before it is refused by the schema itself, everywhere;
- **the future bound**: a time more than ``max_skew_s`` after a trusted clock is refused.
  The API checks against the server's clock when the write arrives
  (``T2V_MAX_CLOCK_SKEW_S``, 300 s by default); the stream worker and the Flink job
  check against the event log's append time, so an event that reached the log some
  other way is refused there too (dead-lettered with :data:`FUTURE_REASON`).

With the skew no larger than the stream's out-of-orderness bound (both 5 minutes by
default), the watermark (largest event time - out-of-orderness) therefore never passes
the log's own append clock.

>>> from datetime import timedelta
>>> now = datetime(2026, 1, 1, tzinfo=UTC)
>>> check_not_future(now + timedelta(seconds=299), "timestamp", now=now, max_skew_s=300)
>>> check_not_future(now + timedelta(hours=1), "timestamp", now=now, max_skew_s=300)
Traceback (most recent call last):
...
taste2vec.errors.SchemaError: timestamp: 2026-01-01T01:00:00Z is 3600 s in the future of the \
server clock (2026-01-01T00:00:00Z); at most 300 s of clock skew is accepted
"""

from __future__ import annotations

from datetime import UTC, datetime

from taste2vec.errors import SchemaError

MIN_EVENT_TIME = datetime(1990, 1, 1, tzinfo=UTC)
MIN_EVENT_US = 631_152_000_000_000  # MIN_EVENT_TIME in microseconds since the epoch
DEFAULT_MAX_SKEW_S = 300.0
FUTURE_REASON = "event_time in the future of its log append time"


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def check_floor(value: datetime) -> datetime:
    """``value`` (timezone-aware) unless it lies before :data:`MIN_EVENT_TIME`; a
    ``ValueError`` (pydantic reports it on the field) otherwise."""
    if value < MIN_EVENT_TIME:
        raise ValueError(
            f"{_iso(value)} is before {_iso(MIN_EVENT_TIME)}, the earliest time accepted"
        )
    return value


def check_not_future(value: datetime, field: str, *, now: datetime, max_skew_s: float) -> None:
    """Raise :class:`SchemaError` naming ``field`` when ``value`` is more than
    ``max_skew_s`` seconds after ``now`` (the server's clock)."""
    ahead = (value - now).total_seconds()
    if ahead > max_skew_s:
        message = (
            f"{_iso(value)} is {ahead:.0f} s in the future of the server clock ({_iso(now)}); "
            f"at most {max_skew_s:.0f} s of clock skew is accepted"
        )
        raise SchemaError(f"{field}: {message}", [(field, message)])


def future_of_append(event_us: int, append_us: int, max_skew_us: int) -> bool:
    """Whether an event stamped ``event_us`` is too far ahead of its log append time."""
    return event_us > append_us + max_skew_us
