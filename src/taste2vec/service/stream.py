"""The service's part of the stream layer: publish the outbox to the event log, run the
embedded stream worker, and open the reader the signal routes use.

Everything here runs under the service's :class:`~taste2vec.service.runtime.Supervisor`;
the API only calls :func:`start_stream` at start-up and the function it returns at
shutdown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from taste2vec.config import Settings
from taste2vec.registry.churn import ChurnRegistry, ChurnScorerSource
from taste2vec.service.core import TasteService
from taste2vec.stream.log import EventLog, open_log
from taste2vec.stream.state import StreamReader
from taste2vec.stream.worker import DEFAULT_MAX_KEYS, StreamWorker

__all__ = ["EmbeddedWorker", "StreamHandle", "start_stream"]

log = logging.getLogger(__name__)

EMBEDDED_CHECKPOINT_S = 0.2  # the embedded worker's checkpoint interval: signals lag by ~this
# Checkpoints holding only the service's own recommendation_shown events (nobody waits for
# them; they come with every answer) wait this long instead: fewer state and log fsyncs.
EMBEDDED_LAZY_CHECKPOINT_S = 1.0
EMBEDDED_LAZY_TYPES = frozenset({"recommendation_shown"})
CHURN_POLL_S = 30.0  # how often the service looks up the churn champion


class EmbeddedWorker:
    """The stream worker as a supervised loop: each run opens a worker, runs it until the
    stop flag is set (or it fails: the supervisor runs it again after a backoff) and
    closes it."""

    name = "stream-worker"

    def __init__(
        self,
        event_log: EventLog,
        state_path: Path,
        skew_s: float,
        max_keys: int | None = DEFAULT_MAX_KEYS,
    ) -> None:
        self.event_log = event_log
        self.state_path = state_path
        self.skew_s = skew_s
        self.max_keys = max_keys
        # created here so the state file exists before the first read
        self._first: StreamWorker | None = self._worker()

    def _worker(self) -> StreamWorker:
        return StreamWorker(
            self.event_log,
            self.state_path,
            max_clock_skew_s=self.skew_s,
            checkpoint_interval_s=EMBEDDED_CHECKPOINT_S,
            lazy_types=EMBEDDED_LAZY_TYPES,
            lazy_interval_s=EMBEDDED_LAZY_CHECKPOINT_S,
            max_keys=self.max_keys,
        )

    def run(self, stop: threading.Event) -> None:
        worker, self._first = self._first or self._worker(), None
        try:
            worker.run(stop)
        finally:
            try:
                worker.close()
            except Exception:
                log.exception("closing the embedded stream worker failed")

    def close(self) -> None:
        """Close a worker that never ran."""
        if self._first is not None:
            self._first.close()
            self._first = None


@dataclass
class StreamHandle:
    """What :func:`start_stream` opened; :meth:`stop` undoes it."""

    reader: StreamReader
    stop: Callable[[], None]


def churn_source(settings: Settings, service: TasteService) -> ChurnScorerSource | None:
    """The churn model the signals are scored with: the ``taste2vec-churn`` champion of the
    registry (looked up in the background every 30 s), or None -- the rule ``rule-v1`` --
    when there is no registry to look in (an embedded ``sqlite:///`` registry whose file
    does not exist yet: nothing was ever registered, so MLflow is not even imported)."""
    uri = settings.registry_uri_value()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return None
    registry = ChurnRegistry(uri, service.store, cache_dir=settings.registry_cache_dir())
    return ChurnScorerSource(registry, poll_s=CHURN_POLL_S).start()


def start_stream(settings: Settings, service: TasteService) -> StreamHandle:
    """Open the event log, start publishing the outbox to it and, with
    ``settings.stream_worker``, the embedded stream worker (both under the service's
    supervisor); open the reader the signal routes use, scoring churn with the registry's
    churn champion when there is one (:func:`churn_source`)."""
    event_log = open_log(settings.event_log_url_value())
    state_path = settings.stream_state_path()
    worker: EmbeddedWorker | None = None
    churn: ChurnScorerSource | None = None
    try:
        retention = timedelta(hours=settings.outbox_retention_hours)
        service.start_publishing(event_log, retention=retention)
        if settings.stream_worker:
            worker = EmbeddedWorker(
                event_log, state_path, settings.max_clock_skew_s, settings.stream_max_keys
            )
            service.runtime.add(worker, on_stop=worker.close, start=True)
        churn = churn_source(settings, service)
        reader = StreamReader(state_path, churn_scorer=churn)
    except BaseException:
        if churn is not None:
            churn.stop()
        service.stop_loop(EmbeddedWorker.name)
        service.stop_publishing()
        event_log.close()
        raise

    def stop() -> None:
        try:
            service.stop_publishing()  # publishes what is queued, while the log is open
            service.stop_loop(EmbeddedWorker.name)
        finally:
            if churn is not None:
                churn.stop()
            reader.close()
            event_log.close()

    return StreamHandle(reader, stop)
