"""The retraining job on a schedule inside the service (``T2V_RETRAIN_INTERVAL_S``, off by
default): every interval, one replica exports a snapshot of the store and the event log
and runs :func:`taste2vec.batch.retrain.retrain` on it (docs/batch.md, "Retraining").

Only one replica runs it at a time: the loop takes the store's named lease
(``Store.acquire_lease``, the experiment controller's mechanism) as ``retrain:<model>``
for ``lease_ttl_s`` (default: the longer of two intervals and an hour, longer than a
run), and gives it back when the run ends. A replica without the lease skips the round.
Input that cannot be retrained on yet (no tastings, too few for a holdout) is logged and
the round skipped; anything else raises, and the supervisor backs off and retries.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from taste2vec.batch.retrain import RetrainConfig, RetrainError, RetrainResult, retrain
from taste2vec.batch.snapshot import SnapshotError, export_from_urls
from taste2vec.model.text import TextEncoder
from taste2vec.registry.core import ModelRegistry

__all__ = ["RETRAIN_SCHEDULER_ACTOR", "RetrainScheduler"]

log = logging.getLogger(__name__)

RETRAIN_SCHEDULER_ACTOR = "retrain-scheduler"


class RetrainScheduler:
    """A supervised loop (``run``) and one round (:meth:`tick`).

    ``text_encoder`` is the tower new models train with, or a function that makes it on
    the first round (the service passes one: the static tower's table may have to be
    built, which should not hold up start-up).
    """

    name = "retrain"

    def __init__(
        self,
        registry: ModelRegistry,
        text_encoder: TextEncoder | Callable[[], TextEncoder],
        *,
        interval_s: float,
        work_dir: Path,
        store_url: str,
        log_url: str | None = None,
        cfg: RetrainConfig | None = None,
        lease_ttl_s: float | None = None,
        holder: str | None = None,
    ) -> None:
        if not interval_s > 0:
            raise ValueError("interval_s must be > 0")
        self.registry = registry
        self.store = registry.store
        self._text_encoder = text_encoder
        self.interval_s = interval_s
        self.work_dir = Path(work_dir)
        self.store_url = store_url
        self.log_url = log_url
        self.cfg = cfg or RetrainConfig()
        self.lease_ttl_s = lease_ttl_s if lease_ttl_s is not None else max(2 * interval_s, 3600.0)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lease_name = f"retrain:{registry.name}"
        self.rounds = 0
        self.runs = 0
        self.last: RetrainResult | None = None
        self._wake = threading.Event()

    @property
    def text_encoder(self) -> TextEncoder:
        if callable(self._text_encoder) and not hasattr(self._text_encoder, "encode"):
            self._text_encoder = self._text_encoder()
        return self._text_encoder  # type: ignore[return-value]

    def wake(self) -> None:
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if stop.is_set():
                return
            self.tick()

    def tick(self) -> RetrainResult | None:
        """One round: None when another replica holds the lease or there is nothing to
        retrain on yet; else the job's result."""
        self.rounds += 1
        fence = self.store.acquire_lease(self.lease_name, self.holder, self.lease_ttl_s)
        if fence is None:
            return None
        try:
            snapshot = self.work_dir / "snapshot"
            try:
                export_from_urls(snapshot, log_url=self.log_url, store_url=self.store_url)
            except SnapshotError as exc:
                if not (snapshot / "manifest.json").is_file():
                    log.warning("scheduled retrain skipped: %s", exc)
                    return None
                raise
            try:
                result = retrain(
                    snapshot,
                    self.registry,
                    self.text_encoder,
                    self.work_dir / "checkpoint",
                    self.cfg,
                    progress=False,
                    actor=RETRAIN_SCHEDULER_ACTOR,
                )
            except RetrainError as exc:
                log.warning("scheduled retrain skipped: %s", exc)
                return None
            self.runs += 1
            self.last = result
            log.info("scheduled retrain: %s", result.message)
            return result
        finally:
            self.store.release_lease(fence)
