"""The event log interface: append, read from an offset, consumer groups.

A log is one topic split into ``partitions``; an entry's partition is chosen
from its key (the user id), so one person's events keep their order. Offsets
count from 0 within a partition. A consumer in a group is assigned partitions,
reads from its position and commits "the next offset to read" per partition.

Two backends implement it: :class:`~taste2vec.stream.log.sqlite.SQLiteLog`
(embedded, the default) and :class:`~taste2vec.stream.log.kafka.KafkaLog`
(``confluent-kafka``, extra ``[kafka]``). One contract test suite runs against both.

Durability: :meth:`EventLog.append` returns only once every entry is stored
(SQLite committed with ``synchronous=FULL``; Kafka acknowledged by all in-sync
replicas with an idempotent producer), and raises otherwise. Delivery to
consumers is at-least-once; exactly-once effects are the consumer's job
(the stream worker checkpoints its state with the offsets it consumed).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

RebalanceCallback = Callable[[list[int]], None]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One stored entry."""

    partition: int
    offset: int
    key: str
    value: bytes
    timestamp_ms: int  # when the log stored it (append time), ms since the epoch


def partition_for(key: str, partitions: int) -> int:
    """The embedded log's partitioner: CRC-32 of the UTF-8 key, modulo the partition count."""
    return zlib.crc32(key.encode()) % partitions


class Consumer(Protocol):
    """A member of a consumer group."""

    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[LogEntry]:
        """Up to ``max_records`` entries from the assigned partitions, in offset order
        within each partition; an empty list when nothing arrives within ``timeout_s``."""
        ...

    def assignment(self) -> set[int]:
        """The partitions this member owns right now."""
        ...

    def seek(self, partition: int, offset: int) -> None:
        """Read ``partition`` from ``offset`` next (it must be assigned)."""
        ...

    def commit(self, offsets: Mapping[int, int]) -> None:
        """Durably record, per partition, the next offset the group should read."""
        ...

    def committed(self, partitions: Sequence[int] | None = None) -> dict[int, int]:
        """The group's committed next offsets (partitions never committed are absent)."""
        ...

    def close(self) -> None:
        """Leave the group (without committing)."""
        ...


class EventLog(Protocol):
    """One topic of the event log."""

    @property
    def partitions(self) -> int: ...

    def append(self, entries: Sequence[tuple[str, bytes]]) -> None:
        """Store ``(key, value)`` pairs durably; raise :class:`~taste2vec.errors.StoreError`
        (or a subclass) if any of them could not be stored."""
        ...

    def read(self, partition: int, offset: int, max_records: int = 500) -> list[LogEntry]:
        """Entries of ``partition`` from ``offset`` on, without any group."""
        ...

    def end_offsets(self) -> dict[int, int]:
        """Per partition, the offset the next appended entry will get."""
        ...

    def consumer(
        self,
        group: str,
        on_assign: RebalanceCallback | None = None,
        on_revoke: RebalanceCallback | None = None,
    ) -> Consumer:
        """Join ``group``. A member starts at the group's committed offsets (or at 0).
        ``on_assign``/``on_revoke`` run inside :meth:`Consumer.poll` when the
        member's partitions change, before any entry of a new partition is returned."""
        ...

    def close(self) -> None: ...
