"""The supervisor: loops start in order, stop in reverse, and a crashed loop is restarted
with backoff; its health and metrics say so."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from taste2vec.service.runtime import Backoff, Supervisor


def _wait(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


class Recorder:
    """Runs until stopped; records its start and stop in a shared journal."""

    def __init__(self, name: str, journal: list[str]) -> None:
        self.name = name
        self.journal = journal
        self.runs = 0

    def run(self, stop: threading.Event) -> None:
        self.runs += 1
        self.journal.append(f"start {self.name}")
        stop.wait()
        self.journal.append(f"stop {self.name}")


class Crashy:
    """Fails its first ``failures`` runs, then runs until stopped."""

    def __init__(self, failures: int, returns: bool = False) -> None:
        self.name = "crashy"
        self.failures = failures
        self.returns = returns
        self.runs = 0
        self.healthy = threading.Event()

    def run(self, stop: threading.Event) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            if self.returns:
                return  # returning before being asked to stop is a failure too
            raise ConnectionError(f"broker down (run {self.runs})")
        self.healthy.set()
        stop.wait()


def test_loops_start_in_order_and_stop_in_reverse_with_their_hooks() -> None:
    journal: list[str] = []
    sup = Supervisor()
    for name in ("relay", "buffer", "worker"):
        sup.add(Recorder(name, journal), on_stop=lambda n=name: journal.append(f"hook {n}"))  # type: ignore[misc]
    sup.start()
    _wait(lambda: len(journal) == 3)
    assert journal == ["start relay", "start buffer", "start worker"]
    assert all(h.state == "running" for h in sup.health().values())
    sup.stop()
    assert journal[3:] == [
        "stop worker",
        "hook worker",
        "stop buffer",
        "hook buffer",
        "stop relay",
        "hook relay",
    ]
    assert sup.health() == {}


def test_a_crashed_loop_is_restarted_with_backoff_and_reported() -> None:
    registry = CollectorRegistry()
    sup = Supervisor(Backoff(0.01, 0.05), registry=registry)
    loop = Crashy(failures=3)
    sup.add(loop, start=True)
    assert loop.healthy.wait(10)
    health = sup.health()["crashy"]
    assert loop.runs == 4 and health.restarts == 3
    assert health.last_error == "ConnectionError: broker down (run 3)"
    _wait(lambda: health.state == "running")
    assert registry.get_sample_value("t2v_loop_restarts_total", {"loop": "crashy"}) == 3
    assert registry.get_sample_value("t2v_loop_up", {"loop": "crashy"}) == 1
    sup.stop()
    assert health.state == "stopped"
    assert registry.get_sample_value("t2v_loop_up", {"loop": "crashy"}) == 0


def test_a_loop_that_returns_early_counts_as_a_failure() -> None:
    sup = Supervisor(Backoff(0.01, 0.01))
    loop = Crashy(failures=2, returns=True)
    sup.add(loop, start=True)
    assert loop.healthy.wait(10)
    assert sup.health()["crashy"].restarts == 2
    assert "returned before it was asked to stop" in (sup.health()["crashy"].last_error or "")
    sup.stop()


def test_backoff_grows_exponentially_up_to_its_cap() -> None:
    b = Backoff(0.1, 1.0)
    assert [b.delay(n) for n in range(6)] == [0.0, 0.1, 0.2, 0.4, 0.8, 1.0]
    assert b.delay(10_000) == 1.0


def test_remove_stops_one_loop_and_a_stopping_loop_is_woken() -> None:
    class Sleeper:
        name = "sleeper"

        def __init__(self) -> None:
            self.event = threading.Event()
            self.done = False

        def wake(self) -> None:
            self.event.set()

        def run(self, stop: threading.Event) -> None:
            while not stop.is_set():
                self.event.wait(3600)  # only wake() ends this wait
                self.event.clear()
            self.done = True

    journal: list[str] = []
    sup = Supervisor()
    sup.add(Recorder("other", journal), start=True)
    sleeper = Sleeper()
    sup.add(sleeper, start=True)
    assert sup.remove("sleeper", timeout=30)
    assert sleeper.done  # woken and returned (not left waiting when the join timed out)
    assert not sup.remove("sleeper")
    assert sup.running("other") and not sup.running("sleeper")
    sup.stop()


def test_two_loops_may_not_share_a_name() -> None:
    sup = Supervisor()
    sup.add(Recorder("x", []))
    with pytest.raises(ValueError, match="already supervised"):
        sup.add(Recorder("x", []))
