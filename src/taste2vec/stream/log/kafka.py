"""The Kafka event log (``confluent-kafka``, extra ``[kafka]``).

Topic
    Created with the AdminClient when missing (``partitions`` of them, replication
    factor ``replication``). An existing topic keeps its partition count; asking for a
    different one raises :class:`~taste2vec.errors.StoreError`.

Partitioning
    The producer picks the partition itself with
    :func:`~taste2vec.stream.log.base.partition_for` (CRC-32 of the UTF-8 key modulo the
    count), not with librdkafka's default partitioner, so a key lands on the same
    partition number in the embedded SQLite log and in Kafka.

Durability
    The producer waits for every in-sync replica (``acks=all``) and keeps one request in
    flight per connection (so a retry never reorders a key's entries). It is *not*
    idempotent by default: on Tansu 0.6.0 with ``s3://`` storage an idempotent producer's
    retry after a broker crash is answered ``DUPLICATE_SEQUENCE_NUMBER``, which librdkafka
    reports as delivered although the batch was never written (measured in
    ``tests/stream/test_log_kafka_durability.py``). Without idempotence the retry writes
    the batch again: it may be stored twice, which consumers absorb by deduplicating on
    ``event_id``, but an acknowledged entry is never missing. On Apache Kafka you may set
    ``producer.enable.idempotence=true`` in the URL to avoid the duplicates.
    :meth:`KafkaLog.append` flushes and returns only when every entry has a successful
    delivery report, and raises :class:`~taste2vec.errors.StoreError` if any report is
    an error (the broker refused it or ``message.timeout.ms`` ran out). Entries of a
    failed call may still have been stored (at-least-once): retrying the call can
    duplicate them, which consumers absorb by deduplicating on ``event_id``. After a
    fatal producer error (idempotence state lost, e.g. the broker forgot the producer
    id across a restart), or any failed delivery, the next call starts a new producer.

Consumer groups
    Real group membership: ``group.id``, ``enable.auto.commit=false``,
    ``auto.offset.reset=earliest``; eager rebalancing, so ``on_revoke`` gets every
    partition the member held and ``on_assign`` the new full set, both from inside
    :meth:`KafkaConsumer.poll`. :meth:`KafkaConsumer.commit` is synchronous.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer as _Consumer
from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from taste2vec.errors import StoreError
from taste2vec.stream.log.base import LogEntry, RebalanceCallback, partition_for
from taste2vec.stream.log.sqlite import (
    DEFAULT_PARTITIONS,
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    validate_entries,
)

_LOG = logging.getLogger("taste2vec.stream.kafka")  # librdkafka's own log lines go here
OFFSET_INVALID = -1001  # librdkafka's "no offset"
# Room for the record framing around the largest value and key.
_MAX_MESSAGE_BYTES = MAX_VALUE_BYTES + MAX_KEY_BYTES + 64 * 1024

PRODUCER_DEFAULTS: dict[str, Any] = {
    # Not idempotent, on purpose (see "Durability" in the module docstring): one request in
    # flight per connection keeps per-key order across retries instead.
    "enable.idempotence": False,
    "max.in.flight.requests.per.connection": 1,
    "acks": "all",
    "allow.auto.create.topics": False,  # only _ensure_topic creates, with our partition count
    "linger.ms": 5,
    "message.timeout.ms": 30_000,
    "message.max.bytes": _MAX_MESSAGE_BYTES,
    "log_level": 3,
}
CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "enable.partition.eof": False,
    "session.timeout.ms": 10_000,
    "heartbeat.interval.ms": 1_000,
    "max.poll.interval.ms": 300_000,
    # Tansu holds every fetch for fetch.wait.max.ms even when data is ready; 100 ms keeps
    # the end-to-end lag low (a standard broker answers as soon as data arrives anyway).
    "fetch.wait.max.ms": 100,
    "fetch.max.bytes": 4 * _MAX_MESSAGE_BYTES,
    "max.partition.fetch.bytes": 2 * _MAX_MESSAGE_BYTES,
    "log_level": 3,
}


def _err_text(err: Any) -> str:
    if isinstance(err, KafkaException) and err.args and isinstance(err.args[0], KafkaError):
        err = err.args[0]
    if isinstance(err, KafkaError):
        return f"{err.name()}: {err.str()}"
    return str(err)


class KafkaLog:
    """One Kafka topic as an :class:`~taste2vec.stream.log.base.EventLog`.

    ``servers`` is ``bootstrap.servers``; ``config`` adds librdkafka properties to the
    producer, consumers and admin client alike (e.g. ``security.protocol``);
    ``consumer_config``/``producer_config`` override those of one side only.
    """

    def __init__(
        self,
        servers: str,
        topic: str,
        partitions: int | None = None,
        *,
        replication: int = 1,
        config: Mapping[str, Any] | None = None,
        producer_config: Mapping[str, Any] | None = None,
        consumer_config: Mapping[str, Any] | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        if partitions is not None and (isinstance(partitions, bool) or partitions < 1):
            raise StoreError(f"partitions must be a positive integer, got {partitions!r}")
        if not topic:
            raise StoreError("the Kafka event log needs a topic name")
        self.servers = servers
        self.topic = topic
        self.timeout_s = timeout_s
        self._common: dict[str, Any] = {
            "bootstrap.servers": servers,
            "logger": _LOG,
            **(config or {}),
        }
        self._producer_conf = {**PRODUCER_DEFAULTS, **self._common, **(producer_config or {})}
        self._consumer_conf = {**CONSUMER_DEFAULTS, **self._common, **(consumer_config or {})}
        self._admin = AdminClient({**self._common})
        self._partitions = self._ensure_topic(partitions, replication)
        self._producer: Producer | None = None
        self._produce_lock = threading.Lock()
        self._reader: _Consumer | None = None
        self._reader_lock = threading.Lock()
        self._closed = False

    # -- topic --------------------------------------------------------------------
    def _topic_partitions(self) -> int | None:
        try:
            meta = self._admin.list_topics(timeout=self.timeout_s)
        except KafkaException as exc:
            raise StoreError(
                f"cannot reach the Kafka brokers {self.servers}: {_err_text(exc)}"
            ) from exc
        topic = meta.topics.get(self.topic)
        if topic is None or topic.error is not None:
            return None
        return len(topic.partitions)

    def _ensure_topic(self, partitions: int | None, replication: int) -> int:
        existing = self._topic_partitions()
        if existing is None:
            count = partitions or DEFAULT_PARTITIONS
            # The broker stamps each record with its append time, so a producer's clock
            # cannot set the time the stream worker trusts (see "Clocks" in docs/stream.md).
            new = NewTopic(
                self.topic,
                num_partitions=count,
                replication_factor=replication,
                config={"message.timestamp.type": "LogAppendTime"},
            )
            future = self._admin.create_topics([new], operation_timeout=self.timeout_s)[self.topic]
            try:
                future.result(timeout=self.timeout_s)
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                if not (
                    isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS
                ):
                    raise StoreError(
                        f"cannot create the Kafka topic {self.topic!r}: {_err_text(exc)}"
                    ) from exc
            existing = self._topic_partitions()
            if existing is None:
                raise StoreError(f"the Kafka topic {self.topic!r} was created but is not visible")
        if partitions is not None and partitions != existing:
            raise StoreError(
                f"the Kafka topic {self.topic!r} has {existing} partitions, not {partitions}; "
                "the count is fixed at creation (keys would move to other partitions)"
            )
        return existing

    def ensure_topic(self) -> None:
        """Create the topic again if it is gone (a memory-only broker that restarted)."""
        self._ensure_topic(self._partitions, 1)

    @property
    def partitions(self) -> int:
        return self._partitions

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the Kafka event log {self.topic!r} is closed")

    # -- producing ----------------------------------------------------------------
    def append(self, entries: Sequence[tuple[str, bytes]]) -> None:
        """Produce every entry and wait for all delivery reports; raise on any failure."""
        validate_entries(entries)
        if not entries:
            return
        n = self._partitions
        errors: list[str] = []
        acked = 0
        broken = False  # the producer is unusable (fatal error): drop it

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            nonlocal acked, broken
            if err is None:
                acked += 1
            else:
                broken = broken or err.fatal()
                errors.append(f"partition {msg.partition()}: {_err_text(err)}")

        with self._produce_lock:
            self._check_open()
            if self._producer is None:
                self._producer = Producer(self._producer_conf)
            producer = self._producer
            try:
                for key, value in entries:
                    while True:
                        try:
                            producer.produce(
                                self.topic,
                                value=value,
                                key=key.encode(),
                                partition=partition_for(key, n),
                                on_delivery=on_delivery,
                            )
                            break
                        except BufferError:  # local queue full: serve reports, retry
                            producer.poll(0.05)
                # flush() returns the number still queued; message.timeout.ms bounds it.
                while producer.flush(1.0) > 0:
                    pass
            except Exception as exc:  # noqa: BLE001 - KafkaException, or SystemError after a fatal error
                broken = True
                errors.append(_err_text(exc))
            if broken or errors:
                # Idempotence state is gone (e.g. a restarted broker forgot the producer id),
                # or a delivery failed: give up on what is queued; the next call starts a new
                # producer. Not only after fatal errors: after a broker restart an idempotent
                # producer whose messages timed out (non-fatal _MSG_TIMED_OUT) can stay
                # wedged, every later append timing out too (seen with Tansu in the
                # restart test).
                self._producer = None
                with contextlib.suppress(Exception):
                    producer.purge()
                    producer.flush(0)
        if errors or acked != len(entries):
            missing = len(entries) - acked
            first = errors[0] if errors else "no delivery report"
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise StoreError(
                f"{missing} of {len(entries)} entries were not acknowledged by Kafka "
                f"({self.servers}, topic {self.topic!r}): {first}{more}"
            )

    # -- reading without a group --------------------------------------------------
    def _reader_consumer(self) -> _Consumer:
        if self._reader is None:
            conf = {
                **self._consumer_conf,
                "group.id": f"taste2vec-reader-{uuid.uuid4().hex}",  # never joined
                # Tansu answers a fetch only after fetch.wait.max.ms, even with data ready.
                "fetch.wait.max.ms": 10,
            }
            self._reader = _Consumer(conf)
        return self._reader

    def _fetch(self, reader: _Consumer, partition: int, start: int, want: int) -> list[LogEntry]:
        """``want`` entries of ``partition`` from ``start`` (they must exist).

        A fetch that brings nothing for a second is re-issued (see below); the whole
        read gives up after ``timeout_s``.
        """
        out: list[LogEntry] = []
        deadline = time.monotonic() + self.timeout_s
        try:
            reader.assign([TopicPartition(self.topic, partition, start)])
            while len(out) < want:
                batch = reader.consume(want - len(out), timeout=1.0)
                got = [m for m in batch if m.error() is None]
                for msg in batch:
                    if msg.error() is not None:
                        _raise_if_fatal(msg)
                got = [m for m in got if (m.offset() or 0) >= start + len(out)]
                out.extend(_entry(m) for m in got)
                if got:
                    continue
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"reading partition {partition} of {self.topic!r} timed out "
                        f"at offset {start + len(out)}"
                    )
                # Tansu serves nothing from beyond its (base-offset) high watermark, i.e.
                # from inside the last batch: re-fetch from that batch's base and skip
                # what is before the wanted offset.
                nxt = start + len(out)
                try:
                    low, high = reader.get_watermark_offsets(
                        TopicPartition(self.topic, partition), timeout=1.0, cached=False
                    )
                    nxt = min(nxt, max(high - 1, low, 0))
                except KafkaException:
                    pass
                reader.unassign()
                reader.assign([TopicPartition(self.topic, partition, nxt)])
        finally:
            reader.unassign()
        return out[:want]

    def _end_offset(self, reader: _Consumer, partition: int) -> tuple[int, int]:
        """``(low, end)`` of ``partition``, where ``end`` is the last offset + 1.

        The high watermark alone is not enough on Tansu 0.6.0: after a multi-record
        batch it reports the batch's *base* offset + 1. So fetch from ``high - 1`` (the
        last batch, delivered whole) and take its last offset + 1; on a standard broker
        that is ``high`` itself.
        """
        tp = TopicPartition(self.topic, partition)
        try:
            low, high = reader.get_watermark_offsets(tp, timeout=self.timeout_s, cached=False)
        except KafkaException as exc:
            raise StoreError(f"cannot read the Kafka topic: {_err_text(exc)}") from exc
        if high <= max(low, 0):
            return low, high
        reader.assign([TopicPartition(self.topic, partition, high - 1)])
        last = high - 1
        try:
            deadline = time.monotonic() + self.timeout_s
            got: list[Message] = []
            while not got and time.monotonic() < deadline:
                got = [m for m in reader.consume(1, timeout=0.5) if m.error() is None]
            if not got:
                raise StoreError(f"cannot read the end of partition {partition} of {self.topic!r}")
            # The rest of that fetched batch is already queued: drain without waiting.
            got.extend(m for m in reader.consume(100_000, timeout=0) if m.error() is None)
            last = max(int(m.offset() or 0) for m in got)
        finally:
            reader.unassign()
        return low, max(high, last + 1)

    def read(self, partition: int, offset: int, max_records: int = 500) -> list[LogEntry]:
        """Entries of ``partition`` from ``offset`` on (assign + fetch; no group, no commit)."""
        self._check_partition(partition)
        with self._reader_lock:
            self._check_open()
            reader = self._reader_consumer()
            low, end = self._end_offset(reader, partition)
            start = max(offset, low, 0)
            if start >= end:
                return []
            return self._fetch(reader, partition, start, min(max_records, end - start))

    def end_offsets(self) -> dict[int, int]:
        with self._reader_lock:
            self._check_open()
            reader = self._reader_consumer()
            return {p: self._end_offset(reader, p)[1] for p in range(self._partitions)}

    def consumer(
        self,
        group: str,
        on_assign: RebalanceCallback | None = None,
        on_revoke: RebalanceCallback | None = None,
    ) -> KafkaConsumer:
        self._check_open()
        return KafkaConsumer(self, group, on_assign, on_revoke)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._produce_lock:
            if self._producer is not None:
                self._producer.flush(self.timeout_s)
                self._producer = None
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def __enter__(self) -> KafkaLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KafkaLog({self.servers!r}, {self.topic!r}, partitions={self._partitions})"

    def _check_partition(self, partition: int) -> None:
        if not 0 <= partition < self._partitions:
            raise StoreError(
                f"partition {partition} does not exist (the topic has {self._partitions})"
            )


def _entry(msg: Message) -> LogEntry:
    key = msg.key()
    value = msg.value()
    _, ts = msg.timestamp()
    partition = msg.partition()
    offset = msg.offset()
    assert partition is not None and offset is not None  # noqa: S101 - set on fetched messages
    return LogEntry(
        partition=partition,
        offset=offset,
        key=key.decode() if isinstance(key, bytes) else str(key or ""),
        value=value if isinstance(value, bytes) else bytes(value or b""),
        timestamp_ms=int(ts),
    )


def _raise_if_fatal(msg: Message) -> None:
    err = msg.error()
    if err is not None and err.fatal():
        raise StoreError(f"Kafka consumer failed: {_err_text(err)}")


class KafkaConsumer:
    """A member of a Kafka consumer group on a :class:`KafkaLog`."""

    def __init__(
        self,
        log: KafkaLog,
        group: str,
        on_assign: RebalanceCallback | None,
        on_revoke: RebalanceCallback | None,
    ) -> None:
        if not isinstance(group, str) or not group:
            raise StoreError("a consumer group needs a non-empty name")
        self._log = log
        self.group = group
        self._topic = log.topic
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._assigned: set[int] = set()
        self._closing = False
        self._closed = False
        self._consumer = _Consumer({**log._consumer_conf, "group.id": group})
        self._consumer.subscribe(
            [log.topic],
            on_assign=self._assigned_cb,
            on_revoke=self._revoked_cb,
            on_lost=self._revoked_cb,
        )

    def _assigned_cb(self, _consumer: Any, parts: list[TopicPartition]) -> None:
        mine = sorted(tp.partition for tp in parts if tp.topic == self._topic)
        self._assigned = set(mine)
        if self._on_assign is not None and not self._closing:
            self._on_assign(mine)

    def _revoked_cb(self, _consumer: Any, parts: list[TopicPartition]) -> None:
        gone = sorted(tp.partition for tp in parts if tp.topic == self._topic)
        self._assigned -= set(gone)
        if self._on_revoke is not None and not self._closing:
            self._on_revoke(gone)

    def assignment(self) -> set[int]:
        return set(self._assigned)

    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[LogEntry]:
        """Wait up to ``timeout_s`` for the first entry, then take what is already fetched."""
        self._check_open()
        if max_records < 1:
            raise StoreError(f"max_records must be >= 1, got {max_records}")
        consumer = self._consumer
        out: list[LogEntry] = []
        first = consumer.poll(max(timeout_s, 0.0))
        if first is None:
            return out
        batch = [first]
        if max_records > 1:
            batch.extend(consumer.consume(max_records - 1, timeout=0))
        for msg in batch:
            if msg.error() is not None:
                _raise_if_fatal(msg)  # others (a broker went away...) librdkafka retries
                continue
            out.append(_entry(msg))
        return out

    def seek(self, partition: int, offset: int) -> None:
        self._check_open()
        if partition not in self._assigned:
            raise StoreError(
                f"cannot seek partition {partition}: it is not assigned to this member "
                f"(assignment: {sorted(self._assigned)})"
            )
        if offset < 0:
            raise StoreError(f"offset must be >= 0, got {offset}")
        try:
            self._consumer.seek(TopicPartition(self._topic, partition, offset))
        except KafkaException as exc:
            raise StoreError(f"seek to {partition}:{offset} failed: {_err_text(exc)}") from exc

    def commit(self, offsets: Mapping[int, int]) -> None:
        self._check_open()
        if not offsets:
            return
        tps = [TopicPartition(self._topic, p, o) for p, o in offsets.items()]
        try:
            result = self._consumer.commit(offsets=tps, asynchronous=False)
        except KafkaException as exc:
            raise StoreError(f"commit failed for group {self.group!r}: {_err_text(exc)}") from exc
        for tp in result or []:
            if tp.error is not None:
                raise StoreError(
                    f"commit failed for group {self.group!r}, partition {tp.partition}: "
                    f"{_err_text(tp.error)}"
                )

    def committed(self, partitions: Sequence[int] | None = None) -> dict[int, int]:
        self._check_open()
        wanted = range(self._log.partitions) if partitions is None else partitions
        tps = [TopicPartition(self._topic, p) for p in wanted]
        try:
            result = self._consumer.committed(tps, timeout=self._log.timeout_s)
        except KafkaException as exc:
            raise StoreError(f"cannot read committed offsets: {_err_text(exc)}") from exc
        return {tp.partition: tp.offset for tp in result if tp.offset >= 0}

    def close(self) -> None:
        if self._closed:
            return
        self._closing = True
        try:
            self._consumer.close()
        finally:
            self._closed = True
            self._assigned = set()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"this consumer of group {self.group!r} is closed")

    def __enter__(self) -> KafkaConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
