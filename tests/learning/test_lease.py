"""LearnerLease / LeasedLearner: with replicas sharing a store, one learner acts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from taste2vec.learning.lease import LearnerLease, LeasedLearner
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import Coffee
from tests.store.conftest import postgres_db_url, postgres_server_url

__all__ = ["postgres_db_url", "postgres_server_url"]  # fixtures used below


def _wait(condition, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def test_sqlite_lease_is_exclusive_and_released(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't2v.db'}"
    a, b = LearnerLease(url), LearnerLease(url)
    assert a.acquire() and a.held() and a.acquire()  # re-acquiring a held lease is a no-op
    assert not b.acquire() and not b.is_held
    other_name = LearnerLease(url, name="something-else")
    assert other_name.acquire()  # leases are per name
    a.release()
    assert not a.is_held
    assert b.acquire() and not a.acquire()
    b.close()
    other_name.close()
    assert (tmp_path / "t2v.db.online-learner.lock").is_file()


def test_sqlite_lease_of_a_killed_process_is_free_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't2v.db'}"
    code = (
        "import sys, time\n"
        "from taste2vec.learning.lease import LearnerLease\n"
        f"lease = LearnerLease({url!r})\n"
        "assert lease.acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        mine = LearnerLease(url)
        assert not mine.acquire()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert mine.acquire()  # the OS released the dead holder's lock
        mine.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_lease_needs_a_database_it_can_share() -> None:
    with pytest.raises(ValueError, match="SQLite file"):
        LearnerLease("sqlite://")
    with pytest.raises(ValueError, match="SQLite file"):
        LearnerLease("sqlite:///:memory:")


class _Inner:
    """A stand-in for the BackgroundLearner: records whether it runs and what it saw."""

    name = "online-learner"

    def __init__(self) -> None:
        self.running = threading.Event()
        self.runs = 0
        self.observed: list[str] = []

    def observe(self, item: str) -> None:
        self.observed.append(item)

    def run(self, stop: threading.Event) -> None:
        self.runs += 1
        self.running.set()
        try:
            stop.wait()
        finally:
            self.running.clear()

    def wake(self) -> None:
        pass


@pytest.fixture
def two_replicas(tmp_path: Path) -> Iterator[tuple[LeasedLearner, LeasedLearner]]:
    url = f"sqlite:///{tmp_path / 't2v.db'}"
    one = LeasedLearner(_Inner(), LearnerLease(url), retry_s=0.05, check_s=0.05)
    two = LeasedLearner(_Inner(), LearnerLease(url), retry_s=0.05, check_s=0.05)
    yield one, two
    one.lease.close()
    two.lease.close()


def test_only_one_replica_learns_and_the_other_takes_over(
    two_replicas: tuple[LeasedLearner, LeasedLearner],
) -> None:
    one, two = two_replicas
    stop_one, stop_two = threading.Event(), threading.Event()
    t1 = threading.Thread(target=one.run, args=(stop_one,))
    t1.start()
    assert _wait(one.inner.running.is_set)
    t2 = threading.Thread(target=two.run, args=(stop_two,))
    t2.start()
    time.sleep(0.5)  # many retries of the second replica
    assert one.leader and not two.leader
    assert not two.inner.running.is_set() and two.inner.runs == 0
    stop_one.set()  # the leader stops (a replica shutting down): its lease is released
    one.wake()
    t1.join(10)
    assert not t1.is_alive() and not one.inner.running.is_set() and not one.leader
    assert _wait(two.inner.running.is_set)
    assert two.leader and two.acquisitions == 1
    stop_two.set()
    two.wake()
    t2.join(10)
    assert not t2.is_alive() and not two.leader


def test_postgres_advisory_lease(postgres_db_url: str) -> None:
    a, b = LearnerLease(postgres_db_url), LearnerLease(postgres_db_url)
    try:
        assert a.acquire() and a.held()
        assert not b.acquire()
        a.release()
        assert b.acquire() and b.held() and not a.acquire()
        assert b._conn is not None  # noqa: SLF001 - end the holder's session behind its back
        pid = b._conn.execute(text("SELECT pg_backend_pid()")).scalar()  # noqa: SLF001
        b._conn.commit()  # noqa: SLF001
        admin = create_engine(postgres_db_url.replace("postgresql://", "postgresql+psycopg://"))
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            conn.commit()
        admin.dispose()
        assert not b.held() and not b.is_held  # the session is gone: so is the lease
        assert a.acquire()
    finally:
        a.close()
        b.close()


def test_the_leader_is_fed_what_every_replica_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't2v.db'}"
    stored = ["a", "b"]
    leader = LeasedLearner(
        _Inner(),
        LearnerLease(url),
        retry_s=0.05,
        check_s=0.02,
        feed=lambda: list(stored),
        revision=lambda: len(stored),
        feed_s=0.05,
    )
    stop = threading.Event()
    thread = threading.Thread(target=leader.run, args=(stop,))
    thread.start()
    try:
        assert _wait(lambda: leader.inner.observed == ["a", "b"])  # at the acquisition
        time.sleep(0.3)
        assert leader.inner.observed == ["a", "b"]  # revision unchanged: no re-read
        stored.append("c")  # another replica stored a reaction
        assert _wait(lambda: leader.inner.observed[-3:] == ["a", "b", "c"])
    finally:
        stop.set()
        leader.wake()
        thread.join(10)
        leader.lease.close()


def test_a_feed_passes_each_stored_reaction_on_before_reading_the_next(tmp_path: Path) -> None:
    """Issue 11: the feed is iterated lazily (no list of every stored reaction)."""
    inner = _Inner()
    read: list[int] = []

    def stored() -> Iterator[str]:
        for i in range(50):
            assert len(inner.observed) == i  # the previous one already reached observe
            read.append(i)
            yield f"r{i}"

    leader = LeasedLearner(inner, LearnerLease(f"sqlite:///{tmp_path / 't2v.db'}"), feed=stored)
    try:
        leader._feed(force=True)  # noqa: SLF001 - one catch-up feed, as at an acquisition
    finally:
        leader.lease.close()
    assert inner.observed == [f"r{i}" for i in range(50)] and len(read) == 50
    assert leader.feeds == 1


def test_a_replica_without_the_lease_queues_a_bounded_number_of_reactions(
    tiny_model: Taste2Vec,
    catalogue: list[Coffee],
    sim_data,  # type: ignore[no-untyped-def]
) -> None:
    from taste2vec.learning import BackgroundLearner, OnlineLearner

    stream, validation = sim_data
    background = BackgroundLearner(
        OnlineLearner(tiny_model, catalogue, validation), every_n=8, max_queue=16
    )
    for fb in stream[:100]:  # never drained: this replica's learner does not run
        background.observe(fb)
    assert len(background._queue) == 16  # noqa: SLF001
    assert list(background._queue) == stream[84:100]  # noqa: SLF001 - the newest kept
