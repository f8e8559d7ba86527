"""One runtime for every background loop of a service process.

A :class:`Loop` is anything with a ``name`` and a ``run(stop)`` method that works until
``stop`` is set and raises when something fails. The :class:`Supervisor` runs each loop
on a thread of its own and owns the only retry policy of the service: a loop that raises
(or returns before it was asked to stop) is logged, counted and started again after an
exponential :class:`Backoff`; the backoff resets once a run has stayed up for
``healthy_after_s``. Loops start in the order they were added and stop in reverse order
(the stream worker stops before the relay that feeds it, which stops before the store
closes), each after its ``on_stop`` hook.

:meth:`Supervisor.health` is what ``/readyz`` shows per loop, and the supervisor keeps
Prometheus metrics (``t2v_loop_up``, ``t2v_loop_restarts_total``) when given a registry.

The loops of a service: the outbox relay and the event buffer
(:mod:`taste2vec.service.relay`), the embedded stream worker
(:mod:`taste2vec.service.stream`), the follower that keeps the process in step with the
shared store (:mod:`taste2vec.service.follower`) and the online learner.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["Backoff", "Loop", "LoopHealth", "Supervisor"]

log = logging.getLogger(__name__)


class Loop(Protocol):
    """A background loop: ``run`` works until ``stop`` is set, and raises on failure. A
    loop that waits on an event of its own also has a ``wake()`` method, which the
    supervisor calls when it stops the loop."""

    name: str

    def run(self, stop: threading.Event) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """``min(max_s, base_s * 2**(failures - 1))`` seconds after the n-th failure in a row."""

    base_s: float = 0.05
    max_s: float = 5.0

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return float(min(self.max_s, self.base_s * 2 ** min(failures - 1, 30)))


@dataclass
class LoopHealth:
    """What the supervisor knows about one loop (read without a lock: approximate)."""

    state: str = "new"  # new, running, backoff, stopped
    restarts: int = 0
    failures_in_row: int = 0
    last_error: str | None = None
    last_error_at: float | None = None  # time.time()
    started_at: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }


_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, tuple[Gauge, Counter]] = (
    weakref.WeakKeyDictionary()
)
_METRICS_LOCK = threading.Lock()


def _loop_metrics(registry: CollectorRegistry) -> tuple[Gauge, Counter]:
    """The loop metrics of ``registry``, created once (an app may start several times)."""
    with _METRICS_LOCK:
        found = _METRICS.get(registry)
        if found is None:
            found = (
                Gauge("t2v_loop_up", "1 while a background loop runs", ["loop"], registry=registry),
                Counter(
                    "t2v_loop_restarts",
                    "Background loop restarts after a failure",
                    ["loop"],
                    registry=registry,
                ),
            )
            _METRICS[registry] = found
        return found


class _Supervised:
    def __init__(
        self,
        loop: Loop,
        on_stop: Callable[[], None] | None,
        backoff: Backoff,
        healthy_after_s: float,
        metrics: tuple[Gauge, Counter] | None,
    ) -> None:
        self.loop = loop
        self.on_stop = on_stop
        self.backoff = backoff
        self.healthy_after_s = healthy_after_s
        self.metrics = metrics
        self.health = LoopHealth()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._main, name=f"t2v-{loop.name}", daemon=True)

    def _main(self) -> None:
        health = self.health
        while not self.stop.is_set():
            health.state = "running"
            health.started_at = time.monotonic()
            self._up(1)
            try:
                self.loop.run(self.stop)
                if self.stop.is_set():
                    break
                raise RuntimeError("the loop returned before it was asked to stop")
            except Exception as exc:
                self._up(0)
                if time.monotonic() - (health.started_at or 0.0) >= self.healthy_after_s:
                    health.failures_in_row = 0
                health.failures_in_row += 1
                health.restarts += 1
                health.last_error = f"{type(exc).__name__}: {exc}"
                health.last_error_at = time.time()
                if self.metrics is not None:
                    self.metrics[1].labels(self.loop.name).inc()
                delay = self.backoff.delay(health.failures_in_row)
                log.warning(
                    "%s failed (%s); restarting in %.2f s (failure %d in a row)",
                    self.loop.name,
                    health.last_error,
                    delay,
                    health.failures_in_row,
                    exc_info=health.failures_in_row == 1,
                )
                health.state = "backoff"
                self.stop.wait(delay)
        self._up(0)
        health.state = "stopped"

    def _up(self, value: int) -> None:
        if self.metrics is not None:
            self.metrics[0].labels(self.loop.name).set(value)


class Supervisor:
    """Runs loops on threads, restarts the ones that fail, and stops them in order."""

    def __init__(
        self,
        backoff: Backoff | None = None,
        healthy_after_s: float = 30.0,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.backoff = backoff or Backoff()
        self.healthy_after_s = healthy_after_s
        self._loops: list[_Supervised] = []
        self._lock = threading.Lock()
        self._metrics = None if registry is None else _loop_metrics(registry)

    def add(
        self,
        loop: Loop,
        on_stop: Callable[[], None] | None = None,
        backoff: Backoff | None = None,
        start: bool = False,
    ) -> Loop:
        """Register ``loop`` (and ``on_stop``, called after it stopped); start it at once
        when ``start`` (or when the supervisor is already running)."""
        entry = _Supervised(
            loop, on_stop, backoff or self.backoff, self.healthy_after_s, self._metrics
        )
        with self._lock:
            if any(e.loop.name == loop.name for e in self._loops):
                raise ValueError(f"a loop named {loop.name!r} is already supervised")
            self._loops.append(entry)
            running = any(e.thread.is_alive() for e in self._loops[:-1])
        if start or running:
            entry.thread.start()
        return loop

    def start(self) -> Supervisor:
        """Start every registered loop that is not running yet, in order."""
        with self._lock:
            entries = list(self._loops)
        for entry in entries:
            if entry.thread.ident is None:
                entry.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loops in reverse order: set its flag, join it, run its ``on_stop``."""
        with self._lock:
            entries = list(reversed(self._loops))
        for entry in entries:
            self._stop(entry, timeout)

    def remove(self, name: str, timeout: float = 10.0) -> bool:
        """Stop one loop (and run its ``on_stop``); False when no loop has that name."""
        with self._lock:
            entry = next((e for e in self._loops if e.loop.name == name), None)
        if entry is None:
            return False
        self._stop(entry, timeout)
        return True

    def _stop(self, entry: _Supervised, timeout: float) -> None:
        entry.stop.set()
        wake = getattr(entry.loop, "wake", None)
        if callable(wake):  # a loop waiting on an event of its own
            wake()
        if entry.thread.ident is not None:
            entry.thread.join(timeout)
            if entry.thread.is_alive():
                log.warning("%s did not stop within %.0f s", entry.loop.name, timeout)
        with self._lock:
            if entry in self._loops:
                self._loops.remove(entry)
        if entry.on_stop is not None:
            try:
                entry.on_stop()
            except Exception:
                log.exception("stopping %s failed", entry.loop.name)

    def health(self) -> dict[str, LoopHealth]:
        """Each loop's health, by name, in start order."""
        with self._lock:
            return {e.loop.name: e.health for e in self._loops}

    def running(self, name: str) -> bool:
        with self._lock:
            entry = next((e for e in self._loops if e.loop.name == name), None)
        return entry is not None and entry.thread.is_alive()
