"""Cost of the per-model-version metrics (issue 12, service.monitoring) per request.

Times the API's Metrics middleware on a trivial ASGI app, in process, with and without
the ModelMonitor (the baseline: the per-route counters every request already had), and
``ModelMonitor.observe_embeddings`` for one 128-d embedding (a /v1/embed answer or a
logged tasting) with the full 1,000-embedding drift window. No target in the issue; the
figure to compare with is a recommendation's own time (bench/RESULTS.md, HTTP load:
p50 of several ms), so the monitor should stay in microseconds.

    python bench/model_metrics.py [--n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import numpy as np
from prometheus_client import CollectorRegistry
from starlette.types import Message, Receive, Scope, Send

from taste2vec.api.middleware import Metrics
from taste2vec.service.monitoring import EmbeddingReference, ModelMonitor


class _Route:
    path = "/v1/users/{user_id}/recommendations"


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    scope["route"] = _Route()
    scope.setdefault("state", {})["model_version"] = "0123456789ab"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _request(app: Metrics) -> None:
    scope: Scope = {"type": "http", "method": "GET", "path": "/v1/users/u/recommendations"}

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        return None

    await app(scope, receive, send)


def _per_call_us(app: Metrics, n: int, repeats: int) -> float:
    async def run() -> float:
        for _ in range(500):  # warm up: label children created
            await _request(app)
        start = time.perf_counter()
        for _ in range(n):
            await _request(app)
        return (time.perf_counter() - start) / n * 1e6

    return statistics.median(asyncio.run(run()) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    base = _per_call_us(Metrics(_app, CollectorRegistry()), args.n, args.repeats)
    registry = CollectorRegistry()
    with_monitor = _per_call_us(
        Metrics(_app, registry, monitor=ModelMonitor(registry)), args.n, args.repeats
    )

    rng = np.random.default_rng(0)
    monitor = ModelMonitor(CollectorRegistry())
    ref = rng.normal(size=(500, 128))
    monitor.set_reference("v", EmbeddingReference.from_embeddings(ref, "artifact"))
    vectors = rng.normal(size=(args.n + 1000, 128))
    for row in vectors[:1000]:  # fill the window
        monitor.observe_embeddings("v", row)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for row in vectors[1000:]:
            monitor.observe_embeddings("v", row)
        times.append((time.perf_counter() - start) / args.n * 1e6)
    embed_us = statistics.median(times)

    print(f"requests: {args.n} x {args.repeats} (median of repeats), one process")
    print(f"  middleware, per-route metrics only (baseline): {base:7.1f} us/request")
    print(f"  middleware + per-version metrics:              {with_monitor:7.1f} us/request")
    print(f"  added by the per-version metrics:              {with_monitor - base:7.1f} us/request")
    print(f"observe_embeddings, one 128-d embedding, full window: {embed_us:7.1f} us")


if __name__ == "__main__":
    main()
