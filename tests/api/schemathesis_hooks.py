"""Schemathesis generation hooks for the rules JSON Schema cannot state.

The OpenAPI schema says everything about a request that JSON Schema can say. One rule it
cannot: a client time (a tasting's or feedback's ``timestamp``, an event's ``event_time``)
must lie between 1990-01-01 and a few minutes after *now* (see ``taste2vec.schema.clock``;
the field descriptions and the 422 response say so). Schema-valid times from year 1 to
9999 would be refused with 422, so the generated ``date-time`` strings stay inside that
window; everything else is generated from the schema as it is.

Used by tests/api/test_schemathesis.py, and by the CLI::

    SCHEMATHESIS_HOOKS=tests.api.schemathesis_hooks schemathesis run ...
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import schemathesis
from hypothesis import strategies as st

FLOOR = datetime(1990, 1, 2)  # naive bounds, zoned below; a day clear of the 1990-01-01 floor

DATE_TIMES = st.datetimes(
    min_value=FLOOR,
    max_value=datetime(2026, 1, 1),  # in the past for as long as this file lives
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))]),
).map(lambda dt: dt.isoformat())


def register() -> None:
    schemathesis.openapi.format("date-time", DATE_TIMES)


register()
