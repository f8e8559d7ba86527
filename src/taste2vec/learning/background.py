"""``BackgroundLearner``: run the :class:`OnlineLearner` on its own thread, out of the way.

- :meth:`BackgroundLearner.observe` is what the request path calls: it appends to a queue
  (at most ``max_queue`` reactions, the oldest dropped first) and returns at once. It
  never blocks on training and never raises.
- The worker thread moves queued reactions into the learner and runs an update (a
  :meth:`~OnlineLearner.step`) every ``every_n`` reactions or every ``every_s`` seconds
  when at least one reaction arrived; every ``gate_every`` updates it runs the gate
  (:meth:`~OnlineLearner.promote`), which hot-swaps the model through the learner's
  :class:`~taste2vec.learning.holder.ModelHolder` when the candidate is better.
- The worker limits torch to **one** intra-op thread *for itself* (torch's thread count is
  per calling thread with the OpenMP backend), so training never competes with the API's
  inference for every core.
- Any exception in an update is logged and counted (``failures``, ``last_error``); the
  working copy is thrown away and the worker carries on. The live model is never at risk:
  it only changes through the gate.
- :meth:`stop` sets a flag, wakes the worker and joins it; an update in progress finishes
  first (updates take milliseconds to a few seconds).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from types import TracebackType

import torch

from taste2vec.learning.learner import GateDecision, OnlineLearner
from taste2vec.schema import Feedback

__all__ = ["BackgroundLearner"]

log = logging.getLogger(__name__)


class BackgroundLearner:
    """A daemon thread driving an :class:`OnlineLearner` (see the module docstring)."""

    def __init__(
        self,
        learner: OnlineLearner,
        every_n: int = 64,
        every_s: float = 60.0,
        gate_every: int = 1,
        name: str = "online-learner",
        max_queue: int = 10_000,
    ) -> None:
        if every_n < 1 or every_s <= 0 or gate_every < 1 or max_queue < every_n:
            raise ValueError(
                "every_n and gate_every must be >= 1, every_s > 0 and max_queue >= every_n"
            )
        self.learner = learner
        self.every_n = every_n
        self.every_s = every_s
        self.gate_every = gate_every
        self.name = name
        self.updates = 0
        self.gates = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_decision: GateDecision | None = None
        self.torch_threads: int | None = None  # what the worker thread runs with
        # Bounded: a replica that does not hold the learner lease queues but never drains
        # (the lease holder reads the store's feedback instead); the oldest drop first.
        self._queue: deque[Feedback] = deque(maxlen=max_queue)
        self._since_update = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._runs = 0

    # ------------------------------------------------------------------ caller side
    def observe(self, feedback: Feedback) -> None:
        """Queue one reaction for the learner. O(1); never blocks on training, never raises."""
        try:
            self._queue.append(feedback)
            if len(self._queue) >= self.every_n:
                self._wake.set()
        except Exception:  # pragma: no cover - deque.append does not fail in practice
            log.exception("could not queue feedback for the online learner")

    def wake(self) -> None:
        """End the current wait (a supervisor calls it when it stops the loop)."""
        self._wake.set()

    @property
    def running(self) -> bool:
        """True while :meth:`run` works (on the thread :meth:`start` made, or a
        supervisor's)."""
        return self._runs > 0

    def start(self) -> None:
        """Run :meth:`run` on a thread of its own (a no-op when it already runs); a
        service runs it under its supervisor instead."""
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self.run, args=(self._stopping,), name=f"t2v-{self.name}", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Stop the thread :meth:`start` started; True when it ended within ``timeout``."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def __enter__(self) -> BackgroundLearner:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ worker side
    def _drain(self) -> None:
        """Move queued reactions into the learner until an update is due or none is left."""
        while self._queue and self._since_update < self.every_n:
            if self.learner.observe(self._queue.popleft()):
                self._since_update += 1

    def run(self, stop: threading.Event) -> None:
        """The worker loop, until ``stop`` is set. An update that fails is logged, counted
        and thrown away here (the live model is never at risk), so this never raises."""
        self._runs += 1
        try:
            self._loop(stop)
        finally:
            self._runs -= 1

    def _loop(self, stop: threading.Event) -> None:
        torch.set_num_threads(1)
        self.torch_threads = torch.get_num_threads()
        last_update = time.monotonic()
        while not stop.is_set():
            self._wake.wait(timeout=min(self.every_s, 1.0))
            self._wake.clear()
            while not stop.is_set():  # one update per every_n queued reactions
                try:
                    self._drain()
                    full = self._since_update >= self.every_n
                    late = time.monotonic() - last_update >= self.every_s
                    if not (full or (late and self._since_update > 0)):
                        break
                    last_update = time.monotonic()
                    self._update()
                except Exception as exc:
                    self.failures += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.exception("online learning update failed; the live model is unchanged")
                    self._reset_quietly()

    def _update(self) -> None:
        self._since_update = 0
        if self.learner.step() is None:
            return
        self.updates += 1
        if self.updates % self.gate_every == 0:
            decision = self.learner.promote()
            self.gates += 1
            self.last_decision = decision
            log.info(
                "online learning gate: %s (%s), live %.4f, candidate %.4f, version %d",
                "promoted"
                if decision.promoted
                else ("published" if decision.published else "kept live"),
                decision.reason,
                decision.live.auc,
                decision.candidate.auc,
                decision.version,
            )

    def _reset_quietly(self) -> None:
        try:
            self.learner.reset()
        except Exception:  # pragma: no cover - reset only drops references
            log.exception("could not reset the online learner")
