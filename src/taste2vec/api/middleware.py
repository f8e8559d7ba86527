"""ASGI middleware: request-size limit and Prometheus metrics."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taste2vec.service.monitoring import ModelMonitor

#: A route that served a request with another model than the process's default (per-arm
#: serving) names it here: ``request.state.model_version = "<weights hash>"``.
MODEL_VERSION_STATE = "model_version"


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Answer 413 when a request body exceeds ``limit`` bytes (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _reply_413(send, self.limit)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _reply_413(send, self.limit)


async def _reply_413(send: Send, limit: int) -> None:
    body = f'{{"detail": "request body larger than {limit} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Metrics:
    """Count requests and time them per route template, into the app's own registry;
    with a ``monitor``, also per model version (``/v1/`` routes, model admin excluded)."""

    def __init__(
        self, app: ASGIApp, registry: CollectorRegistry, monitor: ModelMonitor | None = None
    ) -> None:
        self.app = app
        self.monitor = monitor
        self.requests = Counter(
            "t2v_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "t2v_http_request_seconds",
            "HTTP request latency",
            ["route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route: Any = scope.get("route")
            name = getattr(route, "path", "unmatched")
            seconds = time.perf_counter() - start
            self.requests.labels(scope["method"], name, str(status)).inc()
            self.latency.labels(name).observe(seconds)
            if self.monitor is not None and _per_model(name):
                self.monitor.observe_request(_served_by(scope), name, status, seconds)


def _per_model(route: str) -> bool:
    """Whether a route's requests count for the model version that answered them."""
    return route.startswith("/v1/") and not route.startswith("/v1/models")


def _served_by(scope: Scope) -> str | None:
    """The model version that answered: the route's ``request.state.model_version`` when
    it set one (per-arm serving), else the version the process serves."""
    state = scope.get("state") or {}
    version = state.get(MODEL_VERSION_STATE) if isinstance(state, dict) else None
    if version:
        return str(version)
    app = scope.get("app")
    service = getattr(getattr(app, "state", None), "service", None)
    served = getattr(service, "model_version", None)
    return None if served is None else str(served)
