"""Group commit (``store._group``): concurrent tastings and reactions share one commit,
each refused write is rolled back alone, and nobody is answered before the commit.

Batches are formed deterministically: a first write holds the committer thread until the
others are queued behind it, so they must travel together in the next transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from taste2vec.errors import ConflictError, NotFoundError
from taste2vec.store import Store
from taste2vec.store._group import GroupCommitter
from taste2vec.stream.events import SubscriptionPaused
from tests.store.helpers import T0, make_coffee, make_feedback, make_record


@pytest.fixture
def stocked(store: Store) -> Store:
    store.upsert_coffees([make_coffee("c1"), make_coffee("c2")])
    return store


def _queued_behind_a_held_write(
    store: Store, calls: Sequence[Callable[[], Any]]
) -> list[Future[Any]]:
    """Start ``calls`` from threads while the committer is busy; return their futures."""
    group = store._group
    entered, release = threading.Event(), threading.Event()

    def hold(_: Session) -> None:
        entered.set()
        assert release.wait(30)

    pool = ThreadPoolExecutor(len(calls) + 1)
    holder = pool.submit(group.submit, hold)
    assert entered.wait(30)
    before = group.writes
    futures = [pool.submit(call) for call in calls]
    # every call is queued (it has handed its job over) before the holder lets go
    for _ in range(3000):
        if group._queue.qsize() >= len(calls):
            break
        threading.Event().wait(0.01)
    assert group._queue.qsize() == len(calls)
    release.set()
    holder.result(30)
    for f in futures:
        f.exception(30)
    pool.shutdown()
    assert group.writes - before == len(calls) + 1
    return futures


def test_concurrent_writes_share_one_commit(stocked: Store) -> None:
    commits = stocked._group.commits
    calls: list[Callable[[], Any]] = [
        partial(stocked.add_feedback, make_feedback(f"f{i}", "c1", minutes=i)) for i in range(20)
    ]
    calls += [partial(stocked.add_record, make_record(f"r{i}", minutes=i)) for i in range(5)]
    futures = _queued_behind_a_held_write(stocked, calls)
    assert all(f.result().created for f in futures)
    assert stocked._group.commits - commits == 2  # the held write's, then all 25 together
    assert len(stocked.feedback_for_user("ana")) == 20
    assert len(stocked.records_for_user("ana")) == 5
    assert stocked.count_unpublished() == 25  # each write's outbox event is in, once


def test_a_refused_write_is_rolled_back_alone(stocked: Store) -> None:
    stocked.add_feedback(make_feedback("taken", "c1"))
    calls = [
        lambda: stocked.add_feedback(make_feedback("ok1", "c1")),
        lambda: stocked.add_feedback(make_feedback("taken", "c2")),  # id reused: conflict
        lambda: stocked.add_feedback(make_feedback("ghost-fb", "ghost")),  # unknown coffee
        lambda: stocked.add_record(make_record("ok2")),
        lambda: stocked.add_feedback(make_feedback("taken", "c1")),  # a true retry
    ]
    ok1, conflict, ghost, ok2, retry = _queued_behind_a_held_write(stocked, calls)
    assert ok1.result().created and ok2.result().created
    assert isinstance(conflict.exception(), ConflictError)
    assert isinstance(ghost.exception(), NotFoundError)
    assert retry.result().created is False
    assert [f.id for f in stocked.feedback_for_user("ana")] == ["taken", "ok1"]
    assert stocked.get_feedback("ghost-fb") is None
    assert [r.id for r in stocked.records_for_user("ana")] == ["ok2"]


def test_the_same_id_twice_in_one_batch_is_stored_once(stocked: Store) -> None:
    calls = [lambda: stocked.add_feedback(make_feedback("same", "c1")) for _ in range(4)]
    futures = _queued_behind_a_held_write(stocked, calls)
    assert sorted(f.result().created for f in futures) == [False, False, False, True]
    assert [f.id for f in stocked.feedback_for_user("ana")] == ["same"]
    assert stocked.count_unpublished() == 1


@contextmanager
def _savepoints(store: Store) -> Iterator[list[str]]:
    """The SAVEPOINT statements the store's engine runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SAVEPOINT"):
            seen.append(statement)

    event.listen(store._engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store._engine, "before_cursor_execute", record)


def test_a_batch_with_no_refused_write_runs_without_savepoints(stocked: Store) -> None:
    calls: list[Callable[[], Any]] = [
        partial(stocked.add_feedback, make_feedback(f"fast{i}", "c1", minutes=i)) for i in range(6)
    ]
    calls.append(partial(stocked.add_feedback, make_feedback("fast0", "c1", minutes=0)))
    with _savepoints(stocked) as seen:
        futures = _queued_behind_a_held_write(stocked, calls)
        stocked.add_record(make_record("alone"))  # a batch of one
    assert [f.result().created for f in futures] == [True] * 6 + [False]  # a retry is no refusal
    assert seen == []
    assert len(stocked.feedback_for_user("ana")) == 6
    assert stocked.count_unpublished() == 7


def test_a_refused_write_makes_its_batch_run_again_in_savepoints(stocked: Store) -> None:
    stocked.add_feedback(make_feedback("taken", "c1"))
    calls = [
        lambda: stocked.add_feedback(make_feedback("ok1", "c1")),
        lambda: stocked.add_feedback(make_feedback("taken", "c2")),  # conflict: refused
        lambda: stocked.add_feedback(make_feedback("ok2", "c2")),
    ]
    with _savepoints(stocked) as seen:
        ok1, conflict, ok2 = _queued_behind_a_held_write(stocked, calls)
        with pytest.raises(NotFoundError):  # a batch of one: rolled back whole, no savepoint
            stocked.add_feedback(make_feedback("ghost-fb", "ghost"))
    assert len(seen) == 3  # the second run: one per write of the batch
    assert ok1.result().created and ok2.result().created
    assert isinstance(conflict.exception(), ConflictError)
    assert [f.id for f in stocked.feedback_for_user("ana")] == ["taken", "ok1", "ok2"]
    assert stocked.get_feedback("ghost-fb") is None
    assert stocked.count_unpublished() == 3  # nothing of the first, rolled-back run stays


class _FailingCommit:
    """A transaction whose commit fails after every write ran (a full disk, a lost server)."""

    def __init__(self) -> None:
        self.ran: list[int] = []

    @contextmanager
    def __call__(self) -> Iterator[Any]:
        class _Session:
            @contextmanager
            def begin_nested(self) -> Iterator[None]:
                yield

        yield _Session()
        raise OSError("disk full")


def test_a_failed_commit_answers_every_writer_with_its_error() -> None:
    failing = _FailingCommit()
    group = GroupCommitter(failing)
    try:
        with pytest.raises(OSError, match="disk full"):
            group.submit(lambda _s: failing.ran.append(1))
        assert failing.ran == [1] and group.commits == 0 and group.writes == 0
    finally:
        group.close()


def test_close_finishes_the_queued_writes_then_refuses(stocked: Store) -> None:
    group = stocked._group
    results: list[int] = []
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(group.submit, lambda _s, i=i: results.append(i)) for i in range(8)]
        for f in futures:
            f.result(30)
    group.close()
    assert sorted(results) == list(range(8))
    with pytest.raises(RuntimeError, match="closed"):
        group.submit(lambda _s: None)


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        GroupCommitter(lambda: None, max_batch=0)  # type: ignore[arg-type,return-value]


def test_the_outboxs_own_writes_ride_the_group_commit(stocked: Store) -> None:
    """App events and the relay's "published" marks queue behind the committer like the
    tastings do: in a write transaction of their own they waited for SQLite's write lock,
    which the committer takes again at once while writes keep coming (the relay's marks
    took 14.2 of 15 s under 50 writing clients, bench/RESULTS.md, 'Speed, second round')."""
    stocked.add_record(make_record("r0"))
    published = [e.seq for e in stocked.unpublished_events(10)]
    assert published
    commits = stocked._group.commits
    calls: list[Callable[[], Any]] = [
        partial(stocked.add_event, _paused("p1")),
        partial(stocked.add_events, [_paused("p2"), _paused("p3")]),
        partial(stocked.mark_published, published),
        partial(stocked.add_record, make_record("r1", minutes=1)),
    ]
    futures = _queued_behind_a_held_write(stocked, calls)
    assert stocked._group.commits - commits == 2  # the held write's, then all four together
    assert futures[0].result().created
    assert [r.created for r in futures[1].result()] == [True, True]  # type: ignore[union-attr]
    assert futures[2].result() == len(published)
    assert stocked.count_unpublished() == 4  # p1, p2, p3 and r1's event; r0's is published


def _paused(eid: str) -> SubscriptionPaused:
    return SubscriptionPaused(event_id=eid, user="ana", event_time=T0)
