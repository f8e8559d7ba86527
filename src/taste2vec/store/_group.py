"""Group commit: concurrent small writes share one transaction, so one durable commit.

A tasting or a reaction is a few rows, and its cost is the commit: SQLite with
``synchronous=FULL`` (and PostgreSQL with ``synchronous_commit=on``) waits for the disk
on every commit, which caps one writer at about a hundred commits a second on an
ordinary disk. :class:`GroupCommitter` lets the writers that arrive while a commit is in
flight ride the next one together:

- a caller hands :meth:`GroupCommitter.submit` a function of a session and blocks;
- one committer thread takes every waiting function (up to ``max_batch``), opens one
  write transaction, runs them all, commits once, and only then answers every caller;
- a refused write (a function that raises: a conflicting retry, an unknown coffee) must
  be rolled back alone while the others keep their rows. Refusals are rare, so the batch
  first runs without savepoints (two statements less per write); when a function raises,
  that transaction is rolled back whole and the batch runs again with each function in
  its own SAVEPOINT. A batch of one needs no savepoint at all: its transaction is rolled
  back and its caller gets the error.

Nothing is acknowledged before its commit returned: a crash (kill -9) before the commit
loses only writes that no caller was told about. A lone writer waits for nobody: the
thread starts a transaction as soon as there is one function, and batches form only from
what queued during the previous commit, so there is no added delay to tune.

The thread is started on first use and again in a forked child (threads do not survive
``fork``), and stops with :meth:`GroupCommitter.close`.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy.orm import Session

__all__ = ["MAX_BATCH", "GroupCommitter"]

T = TypeVar("T")
#: The most writes one commit carries.
MAX_BATCH = 256

_Job = tuple[Callable[[Session], Any], "Future[Any]"]
_STOP = object()


class _Refused(Exception):  # noqa: N818 - internal: ends a batch attempt without savepoints
    """A write function raised ``error`` in a batch run without savepoints."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class GroupCommitter:
    """Runs write functions in shared transactions, one commit per batch (module docstring)."""

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Session]],
        max_batch: int = MAX_BATCH,
        name: str = "t2v-group-commit",
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._transaction = transaction
        self._max_batch = max_batch
        self._name = name
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False
        self.commits = 0  # committed transactions (for tests and metrics)
        self.writes = 0  # functions that ran in them

    def submit(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in a shared write transaction; return its result once that
        transaction has committed, or raise what ``fn`` raised (its savepoint rolled back)
        or what the commit raised."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            self._ensure_thread()
            self._queue.put((fn, future))
        return future.result()

    def close(self, timeout: float = 10.0) -> None:
        """Finish the queued writes, then stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread if self._pid == os.getpid() else None
            self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout)

    def _ensure_thread(self) -> None:
        if self._pid != os.getpid():  # a forked child: the parent's thread is not here
            self._pid, self._thread = os.getpid(), None
            self._queue = queue.SimpleQueue()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _batches(self) -> Iterator[list[_Job]]:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[_Job] = [first]  # type: ignore[list-item]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            yield batch
            if stop:
                return

    def _run(self) -> None:
        for batch in self._batches():
            self._commit(batch)

    def _attempt(self, batch: list[_Job], isolated: bool) -> list[tuple[bool, Any]]:
        """Run the batch in one transaction and commit it: each function in a savepoint
        (``isolated``; a refused one is rolled back alone), or all together, when the
        first to raise ends the attempt with :class:`_Refused` (the transaction rolled
        back, nothing committed)."""
        outcomes: list[tuple[bool, Any]] = []
        with self._transaction() as session:
            for fn, _ in batch:
                if not isolated:
                    try:
                        outcomes.append((True, fn(session)))
                    except Exception as exc:
                        raise _Refused(exc) from exc
                    continue
                try:
                    with session.begin_nested():
                        outcomes.append((True, fn(session)))
                except Exception as exc:  # noqa: BLE001 - handed to its caller
                    outcomes.append((False, exc))
        return outcomes

    def _commit(self, batch: list[_Job]) -> None:
        try:
            try:
                outcomes = self._attempt(batch, isolated=False)
            except _Refused as refused:
                if len(batch) == 1:  # rolled back: nothing of it is in; the caller is told
                    batch[0][1].set_exception(refused.error)
                    return
                outcomes = self._attempt(batch, isolated=True)  # the others keep their rows
        except BaseException as exc:  # the commit (or BEGIN) failed: nobody's write is in
            for _, future in batch:
                future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.commits += 1
        self.writes += len(batch)
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
