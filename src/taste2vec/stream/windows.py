"""Event-time windows, watermarks and lateness: pure functions on integer microseconds.

Times are integer microseconds since the Unix epoch (UTC), so window arithmetic is exact.
Windows are aligned to the epoch and half-open, ``[start, end)``.

>>> day = DAY_US
>>> tumbling_start(day + 5, day)
86400000000
>>> [s // day for s in window_starts(10 * day + 7, USER_WEEKLY)]
[4, 5, 6, 7, 8, 9, 10]
>>> latest_end(10 * day + 7, USER_WEEKLY) // day
17

The contract (``docs/stream.md``, shared with the Flink job):

- watermark = largest event time seen - out-of-orderness (5 minutes by default);
  before any event it is :data:`NO_WATERMARK`;
- an event more than the clock skew (5 minutes by default) after its log append time is
  dead-lettered (:func:`future_reason`), so with skew <= out-of-orderness the watermark
  never passes the log's append clock, whatever one client's clock says;
- a window is final once ``watermark >= end + allowed_lateness``
  (:func:`is_closed`); its row is then emitted, once;
- an event is *late* when every window it belongs to is final (:func:`is_late`). Every
  valid event belongs to its user's 7-day ``user_weekly`` windows, whose latest one ends
  last, so that is the one that decides. A non-late event still skips the windows of the
  other aggregates that are already final (it counts everywhere else).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from taste2vec.schema.clock import FUTURE_REASON

SECOND_US = 1_000_000
MINUTE_US = 60 * SECOND_US
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US
NO_WATERMARK = -(2**62)  # before the first event: nothing is final, nothing is late
END_OF_TIME = 2**62  # the watermark of a drained partition: every window is final
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """A window family: tumbling when ``slide_us == size_us``, hopping (sliding) otherwise."""

    name: str
    size_us: int
    slide_us: int

    def __post_init__(self) -> None:
        if self.size_us <= 0 or self.slide_us <= 0 or self.size_us % self.slide_us:
            raise ValueError("size and slide must be positive and size a multiple of slide")


COFFEE_DAILY = WindowSpec("coffee_daily", DAY_US, DAY_US)
USER_WEEKLY = WindowSpec("user_weekly", 7 * DAY_US, DAY_US)
ARM_HOURLY = WindowSpec("arm_hourly", HOUR_US, HOUR_US)
SPECS: dict[str, WindowSpec] = {s.name: s for s in (COFFEE_DAILY, USER_WEEKLY, ARM_HOURLY)}


def to_us(t: datetime) -> int:
    """A timezone-aware datetime as integer microseconds since the epoch (exact)."""
    return (t - _EPOCH) // _US


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def iso(us: int) -> str:
    """ISO-8601 UTC with a ``Z``, as in the window rows: ``2026-01-01T00:00:00Z``
    (fractional seconds only when non-zero)."""
    t = from_us(us)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        text += f".{t.microsecond:06d}"
    return text + "Z"


def tumbling_start(t_us: int, size_us: int) -> int:
    """Start of the epoch-aligned tumbling window of ``size_us`` holding ``t_us``."""
    return t_us - t_us % size_us


def window_starts(t_us: int, spec: WindowSpec) -> range:
    """Starts of every window of ``spec`` holding ``t_us``, oldest first
    (one for tumbling windows, ``size / slide`` for hopping ones)."""
    last = t_us - t_us % spec.slide_us
    first = last - spec.size_us + spec.slide_us
    return range(first, last + 1, spec.slide_us)


def latest_end(t_us: int, spec: WindowSpec) -> int:
    """End of the last window of ``spec`` holding ``t_us``."""
    return t_us - t_us % spec.slide_us + spec.size_us


def watermark(max_event_us: int | None, out_of_orderness_us: int) -> int:
    """The watermark after seeing events up to ``max_event_us`` (None: nothing seen)."""
    return NO_WATERMARK if max_event_us is None else max_event_us - out_of_orderness_us


def future_reason(t_us: int, append_us: int, max_skew_us: int) -> str:
    """The dead-letter reason of an event stamped ``t_us`` that is more than
    ``max_skew_us`` after its log append time ``append_us`` (see ``schema.clock``)."""
    return (
        f"{FUTURE_REASON}: event_time {iso(t_us)} is more than {max_skew_us // SECOND_US} s "
        f"after it was appended ({iso(append_us)})"
    )


def is_closed(end_us: int, watermark_us: int, allowed_lateness_us: int) -> bool:
    """Whether the window ending at ``end_us`` is final (emitted; takes no more events)."""
    return end_us + allowed_lateness_us <= watermark_us


def is_late(t_us: int, watermark_us: int, allowed_lateness_us: int) -> bool:
    """Whether an event at ``t_us`` is late: all its windows are final. Its last window is
    its latest ``user_weekly`` window (every valid event has one; it ends last)."""
    return is_closed(latest_end(t_us, USER_WEEKLY), watermark_us, allowed_lateness_us)
