"""``create_app(settings)``: the FastAPI application, with a lifespan that loads the model.

Nothing happens at import time: tests build apps with their own settings.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from threadpoolctl import threadpool_limits

from taste2vec import __version__
from taste2vec.api import errors
from taste2vec.api.middleware import BodyLimit, Metrics
from taste2vec.api.ratelimit import RateLimiter
from taste2vec.api.routes import (
    coffees,
    curation,
    embed,
    events,
    experiments,
    health,
    models,
    onboarding,
    recommendations,
    stream,
    users,
)
from taste2vec.config import Settings
from taste2vec.learning import LearnerLease
from taste2vec.model.taste2vec import Taste2Vec, text_encoder_for
from taste2vec.registry import ModelRegistry, RegistryModelSource, open_registry
from taste2vec.registry.learner import RegistryPublisher
from taste2vec.service import TasteService, seed_demo
from taste2vec.service.arms import ArmRouter
from taste2vec.service.controller import ExperimentController
from taste2vec.service.model_source import ModelSource
from taste2vec.service.monitoring import ModelMonitor
from taste2vec.service.retrain import RetrainScheduler
from taste2vec.service.stream import start_stream
from taste2vec.store import create_store
from taste2vec.ui import mount as mount_ui

log = logging.getLogger(__name__)

DESCRIPTION = """
Taste2Vec learns each customer's taste in coffee from the tastings they log and
the feedback they give, and recommends coffees with reasons.

Authenticate with `Authorization: Bearer <key>` (or `X-API-Key`). A user key
reaches only its own user's data; the admin key manages the catalogue.
Every write is acknowledged only after it is committed, and repeating a write
with the same client id is safe (idempotent).
"""


def demo_keys_file(settings: Settings) -> Path:
    return settings.model_dir.parent / "demo-keys.json"


def _learner_wiring(
    settings: Settings, registry: ModelRegistry, source: ModelSource | RegistryModelSource
) -> tuple[RegistryPublisher | None, LearnerLease | None]:
    """The online learner's publisher (``T2V_LEARNER_POLICY``; none for ``off``) and its
    lease on the store (one learner acts among replicas; none for an in-memory SQLite)."""
    if not settings.online_learning:
        return None, None
    publish = None
    if settings.learner_policy != "off":
        publish = RegistryPublisher(
            registry,
            settings.learner_policy,
            base_dir=lambda: source.path,
            # following the registry, the follower loads the new champion like every replica
            swap_on_promote=not isinstance(source, RegistryModelSource),
        )
    try:
        lease: LearnerLease | None = LearnerLease(settings.database_url)
    except ValueError as exc:
        log.warning("online learner without a lease (%s): run one process only", exc)
        lease = None
    return publish, lease


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. The lifespan opens the store, seeds the demo and loads the model."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One BLAS thread per process by default (T2V_BLAS_THREADS): a request's numpy
        # work is small (a 10k x 80 product takes 0.3 ms on one thread), and with the
        # default of one thread per core, the threads of concurrent requests and the
        # background loops wait on each other (profiled: 44.6% of a loaded server's samples
        # on that one product; 39 -> 226 req/s and p99 622 -> 198 ms with one thread,
        # bench/profile_recommend.py). Scale with processes (--workers) instead. torch keeps
        # its own thread setting; this is the server process only, not `taste2vec train`.
        if settings.blas_threads:
            threadpool_limits(limits=settings.blas_threads, user_api="blas")
        store = create_store(settings.database_url)
        try:
            if settings.seed_demo and seed_demo(store, demo_keys_file(settings)):
                log.info("demo data loaded; keys in %s", demo_keys_file(settings))
            app.state.model_registry = open_registry(settings, store)  # opened lazily

            def load(path: Path) -> Taste2Vec:
                return Taste2Vec.load(path, settings)

            source: ModelSource | RegistryModelSource = (
                RegistryModelSource(
                    app.state.model_registry, loader=load, poll_s=settings.registry_poll_s
                )
                if settings.model_source == "registry"
                else ModelSource(settings.model_dir, load)
            )
            model = source.load()
            publish, lease = _learner_wiring(settings, app.state.model_registry, source)
            service = TasteService(
                store,
                model,
                settings.online_learning,
                settings.learner_lr,
                max_clock_skew_s=settings.max_clock_skew_s,
                follow_interval_s=settings.follow_interval_s,
                registry=app.state.registry,
                model_source=source,
                learner_publish=publish,
                learner_lease=lease,
                monitor=app.state.model_monitor,
                max_cached_users=settings.user_cache_size,
            )
            app.state.service = service
            if settings.model_source == "registry":  # A/B experiments (issue 12)
                registry = app.state.model_registry
                arms = ArmRouter(service, registry, load, settings.follow_interval_s)
                service.arms = arms
                service.runtime.add(arms, start=True)
                if settings.controller:  # one acts at a time (a lease in the store)
                    controller = ExperimentController(
                        registry, interval_s=settings.controller_interval_s
                    )
                    service.runtime.add(controller, on_stop=controller.release, start=True)
                if settings.retrain_interval_s > 0:  # one replica runs it (a lease)
                    scheduler = RetrainScheduler(
                        registry,
                        lambda: text_encoder_for(settings),  # made on the first round
                        interval_s=settings.retrain_interval_s,
                        work_dir=settings.retrain_dir,
                        store_url=settings.database_url,
                        log_url=settings.event_log_url_value(),
                    )
                    service.runtime.add(scheduler, start=True)
            try:
                handle = start_stream(settings, service)
            except BaseException:
                service.close()
                raise
            app.state.stream_reader = handle.reader
            # The catalogue snapshot is hundreds of thousands of long-lived objects; a full
            # garbage collection walking them stalled requests for ~200 ms (measured), so
            # move everything alive now out of the collector's generations.
            gc.collect()
            gc.freeze()
            yield
            app.state.stream_reader = None
            handle.stop()
            service.close()
        finally:
            store.close()

    app = FastAPI(
        title="Taste2Vec",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.admin_key = settings.admin_key_value()
    app.state.key_cache = {}
    app.state.rate_limiter = (
        RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        if settings.rate_limit_per_s > 0
        else None
    )
    registry = CollectorRegistry()
    app.state.registry = registry
    app.state.model_monitor = ModelMonitor(registry)  # per-version latency, errors, drift
    errors.install(app)
    for module in (
        health,
        users,
        onboarding,
        coffees,
        events,
        recommendations,
        embed,
        stream,
        models,
        curation,
        experiments,
    ):
        app.include_router(module.router)
    mount_ui(app)  # the web UI at / (taste2vec.ui)
    app.add_middleware(Metrics, registry=registry, monitor=app.state.model_monitor)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app
