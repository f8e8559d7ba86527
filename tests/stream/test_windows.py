"""Window assignment, watermarks and lateness (the parity contract's arithmetic)."""

from __future__ import annotations

from datetime import UTC, datetime

from taste2vec.stream.windows import (
    ARM_HOURLY,
    COFFEE_DAILY,
    DAY_US,
    HOUR_US,
    MINUTE_US,
    NO_WATERMARK,
    USER_WEEKLY,
    WindowSpec,
    is_closed,
    is_late,
    iso,
    latest_end,
    to_us,
    tumbling_start,
    watermark,
    window_starts,
)

T = to_us(datetime(2026, 3, 4, 15, 30, 12, 345678, tzinfo=UTC))


def test_to_us_is_exact_and_iso_has_z() -> None:
    assert to_us(datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)) == 1
    assert iso(T) == "2026-03-04T15:30:12.345678Z"
    assert iso(tumbling_start(T, DAY_US)) == "2026-03-04T00:00:00Z"


def test_tumbling_windows_are_epoch_aligned_and_half_open() -> None:
    day = tumbling_start(T, DAY_US)
    assert list(window_starts(T, COFFEE_DAILY)) == [day]
    assert list(window_starts(day, COFFEE_DAILY)) == [day]  # start is inside
    assert list(window_starts(day - 1, COFFEE_DAILY)) == [day - DAY_US]  # end is outside
    assert list(window_starts(T, ARM_HOURLY)) == [tumbling_start(T, HOUR_US)]
    assert tumbling_start(-1, DAY_US) == -DAY_US  # before the epoch too


def test_hopping_windows_cover_every_start_within_size() -> None:
    starts = list(window_starts(T, USER_WEEKLY))
    assert len(starts) == 7
    assert all(s <= T < s + 7 * DAY_US for s in starts)
    assert all(s % DAY_US == 0 for s in starts)
    assert starts == sorted(starts)
    assert latest_end(T, USER_WEEKLY) == starts[-1] + 7 * DAY_US
    spec = WindowSpec("x", 10, 5)
    assert list(window_starts(12, spec)) == [5, 10]


def test_watermark_finality_and_lateness() -> None:
    assert watermark(None, 5 * MINUTE_US) == NO_WATERMARK
    wm = watermark(T, 5 * MINUTE_US)
    assert wm == T - 5 * MINUTE_US
    end = tumbling_start(T, HOUR_US)
    assert is_closed(end, wm, 0)  # the previous hour ended before the watermark
    assert not is_closed(end, wm, HOUR_US)  # ...but allowed lateness keeps it open
    assert not is_late(T - 6 * DAY_US, wm, 0)  # still has an open user_weekly window
    assert is_late(T - 8 * DAY_US, wm, 0)
    assert not is_late(T - 8 * DAY_US, NO_WATERMARK, 0)
    # Exactly at end + lateness the window is final.
    assert is_closed(100, 100 + 7, 7) and not is_closed(100, 100 + 6, 7)


def test_disorder_within_the_bound_is_never_late() -> None:
    from taste2vec.sim.stream.generate import generate
    from taste2vec.stream.events import parse_event

    max_t = None
    for _, value in generate(2000, seed=5, disorder_s=300):
        t = to_us(parse_event(value).event_time)
        wm = watermark(max_t, 5 * MINUTE_US)
        assert t >= wm
        assert not is_late(t, wm, 0)
        max_t = t if max_t is None else max(max_t, t)
