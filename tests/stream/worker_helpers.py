"""Helpers shared by the stream worker's memory-bound tests (dedup ids, keyed states)."""

from __future__ import annotations

from typing import Any

import pytest

from taste2vec.errors import StoreError
from taste2vec.stream.log import SQLiteLog
from taste2vec.stream.state import StateStore
from taste2vec.stream.worker import StreamWorker


def consume(worker: StreamWorker, total: int) -> None:
    """Step until the worker has taken ``total`` entries in all (bounded)."""
    for _ in range(500):
        if worker.stats["entries"] >= total:
            break
        worker.step()
    assert worker.stats["entries"] == total


def all_entries(log: SQLiteLog) -> list[Any]:
    """Every entry of every partition of ``log``."""
    return [e for p in range(log.partitions) for e in log.read(p, 0, 10**9)]


def fail_next_commit(store: StateStore) -> None:
    """Make the store's next checkpoint COMMIT roll back and fail (once)."""
    finish = store._finish

    def failing(tx: Any, fenced: list[int], written: list[Any]) -> list[int]:
        store._finish = finish  # type: ignore[method-assign]
        tx.__exit__(RuntimeError, RuntimeError("injected"), None)  # ROLLBACK
        raise StoreError("injected commit failure")

    store._finish = failing  # type: ignore[method-assign]


def failed_checkpoint(worker: StreamWorker, pipelined: bool) -> None:
    """Run one checkpoint whose COMMIT fails (pipelined: the background COMMIT, collected)."""
    fail_next_commit(worker.store)
    with pytest.raises(StoreError, match="injected"):
        if pipelined:
            worker._checkpoint_async()
            worker._collect()
        else:
            worker.checkpoint()
