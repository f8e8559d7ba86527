"""Batch fixtures: one local Spark session per test session (it takes 10-60 s to start)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A ``local[2]`` SparkSession shared by every Spark test of this process (the Spark
    tests are in xdist group ``spark``, so one worker runs them all). Without pyspark or
    Java the tests skip locally and FAIL under ``CI=true`` (``make test`` installs the
    ``[spark]`` extra; Java 17 is already needed for Flink)."""
    import shutil

    from taste2vec.errors import MissingExtraError

    reason = None
    if shutil.which("java") is None:
        reason = "java not found (Spark needs Java 17)"
    try:
        from taste2vec.batch.spark import spark_session

        session = None if reason else spark_session()
    except MissingExtraError as exc:
        reason = str(exc)
    if reason is not None or session is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the Spark parity test cannot run under CI: {reason}")
        pytest.skip(str(reason))
    yield session
    session.stop()
