"""Service fixtures shared by the service tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from taste2vec.stream.log import EventLog, open_log


@pytest.fixture
def event_log(tmp_path: Path) -> Iterator[EventLog]:
    """An embedded (SQLite) event log in the test's folder."""
    opened = open_log(f"sqlite:///{tmp_path / 'events.db'}")
    yield opened
    opened.close()
