"""The event log: one interface, an embedded SQLite backend and a Kafka backend.

Open one from a URL with :func:`open_log`::

    sqlite:///relative/events.db?partitions=8      embedded (the default); four slashes
    sqlite:////absolute/events.db                   for an absolute path
    kafka://127.0.0.1:9092/taste2vec-events?partitions=8   confluent-kafka, extra [kafka]

``partitions`` is optional: an existing log keeps its count (asking for a different
one is an error); a new one gets 8. Other ``kafka://`` query options are librdkafka
properties: ``consumer.<name>`` and ``producer.<name>`` for one side, plain ``<name>``
for both (e.g. ``?partitions=8&consumer.session.timeout.ms=6000``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from taste2vec.errors import MissingExtraError, StoreError
from taste2vec.stream.log.base import Consumer, EventLog, LogEntry, RebalanceCallback, partition_for
from taste2vec.stream.log.sqlite import DEFAULT_PARTITIONS, MAX_VALUE_BYTES, SQLiteLog

if TYPE_CHECKING:
    from taste2vec.stream.log.kafka import KafkaLog

__all__ = [
    "DEFAULT_PARTITIONS",
    "MAX_VALUE_BYTES",
    "Consumer",
    "EventLog",
    "KafkaLog",
    "LogEntry",
    "RebalanceCallback",
    "SQLiteLog",
    "open_log",
    "partition_for",
]

_URL_HELP = (
    "use sqlite:///path/to/events.db[?partitions=N] or "
    "kafka://host:port[,host:port]/topic[?partitions=N]"
)


def __getattr__(name: str) -> object:
    if name == "KafkaLog":
        return _kafka_log_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _kafka_log_class() -> type[KafkaLog]:
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        raise MissingExtraError("confluent-kafka", "kafka") from None
    from taste2vec.stream.log.kafka import KafkaLog

    return KafkaLog


def _partitions(query: dict[str, list[str]], url: str) -> int | None:
    values = query.pop("partitions", None)
    if not values:
        return None
    try:
        count = int(values[-1])
    except ValueError:
        count = 0
    if count < 1:
        raise StoreError(f"partitions must be a positive integer in {url!r}")
    return count


def open_log(url: str) -> EventLog:
    """Open (creating if needed) the event log named by ``url``; see the module docstring."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    partitions = _partitions(query, url)
    if parts.scheme == "sqlite":
        if parts.netloc:
            raise StoreError(f"unexpected host in {url!r}; {_URL_HELP}")
        path = unquote(parts.path)[1:]  # sqlite:///rel -> "rel", sqlite:////abs -> "/abs"
        if not path or path == ":memory:":
            raise StoreError(f"the SQLite event log needs a file path in {url!r}; {_URL_HELP}")
        if query:
            raise StoreError(f"unknown option(s) {sorted(query)} in {url!r}; {_URL_HELP}")
        return SQLiteLog(path, partitions)
    if parts.scheme == "kafka":
        topic = unquote(parts.path).strip("/")
        if not parts.netloc or not topic:
            raise StoreError(f"the Kafka event log needs servers and a topic; {_URL_HELP}")
        common: dict[str, str] = {}
        producer: dict[str, str] = {}
        consumer: dict[str, str] = {}
        for name, values in query.items():
            if name.startswith("producer."):
                producer[name.removeprefix("producer.")] = values[-1]
            elif name.startswith("consumer."):
                consumer[name.removeprefix("consumer.")] = values[-1]
            else:
                common[name] = values[-1]
        return _kafka_log_class()(
            parts.netloc,
            topic,
            partitions,
            config=common,
            producer_config=producer,
            consumer_config=consumer,
        )
    raise StoreError(f"unsupported event log URL {url!r}; {_URL_HELP}")
