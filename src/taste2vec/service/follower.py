"""The follower: keeps one service process in step with the shared store.

Any replica (or a CLI import) may change the catalogue or add feedback. Each process
holds a catalogue index and the crowd's statistics in memory, so this loop compares the
store's revisions (:mod:`taste2vec.store._revisions`) with the ones the process built
from, every ``interval_s``:

* the catalogue changed: rebuild the index (built on the side, swapped atomically);
* feedback was added: refit the crowd's statistics once ``stats_every`` new rows have
  arrived, or ``stats_max_age_s`` after the first one that is not in them yet. The refit
  runs here, never on a request's write path. It costs the same whatever triggered it
  (the EM over a sample of at most 2,000 users: about 4.4 s of CPU,
  ``bench/crowd_refit.py``), so under steady feedback it would run back to back and keep
  a core busy; after a refit of ``d`` seconds the next waits at least
  ``d * (1 / refit_duty - 1)`` (``refit_duty`` 0.1: at most a tenth of one core, about
  40 s between refits of 4.4 s). A user's own feedback never waits for it: it is applied
  to that user's state at once;
* the model directory holds another model (``taste2vec train --out`` replaced it
  atomically): load it and swap it in (:meth:`~taste2vec.service.TasteService.
  reload_model`), which rebuilds the index. Until the registry of issue 12, the model
  directory is the shared state every replica follows.

Per-user taste states do not need it: the service compares a user's revision on every
read (:meth:`taste2vec.service.TasteService.recommend`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taste2vec.service.core import TasteService

__all__ = ["Follower"]

log = logging.getLogger(__name__)


class Follower:
    """A supervised loop; see the module docstring."""

    name = "follower"

    def __init__(
        self,
        service: TasteService,
        interval_s: float = 0.5,
        stats_every: int = 50,
        stats_max_age_s: float = 30.0,
        refit_duty: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 < refit_duty <= 1.0:
            raise ValueError(f"refit_duty must be in (0, 1], got {refit_duty}")
        self.service = service
        self.interval_s = interval_s
        self.stats_every = stats_every
        self.stats_max_age_s = stats_max_age_s
        self.refit_duty = refit_duty
        self._clock = clock
        self.rebuilds = 0
        self.refits = 0
        self.reloads = 0
        self._behind_since: float | None = None
        self._refit_allowed_at = 0.0  # monotonic time before which no refit starts

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            self.sync_once()

    def sync_once(self) -> None:
        """One comparison of the store's revisions with the process's (raises on a store
        failure: the supervisor retries)."""
        service = self.service
        if service.reload_model():
            self.reloads += 1
        if service.store.catalogue_revision() != service.catalogue_revision:
            log.info("the catalogue changed in the store; rebuilding the index")
            service.rebuild()
            self.rebuilds += 1
        count, _ = revision = service.store.feedback_revision()
        if revision == service.crowd_revision:
            self._behind_since = None
            return
        now = self._clock()
        if self._behind_since is None:
            self._behind_since = now
        new = count - service.crowd_revision[0]
        due = abs(new) >= self.stats_every or now - self._behind_since >= self.stats_max_age_s
        if due and now >= self._refit_allowed_at:
            service.refresh_stats()
            self.refits += 1
            self._behind_since = None
            done = self._clock()
            self._refit_allowed_at = done + (done - now) * (1.0 / self.refit_duty - 1.0)
