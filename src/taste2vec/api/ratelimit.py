"""Per-key rate limiting: a token bucket per API key, kept in this process's memory.

Each user key (identified by the SHA-256 of the key, never the key itself) owns a bucket
of ``burst`` tokens that refills at ``rate`` tokens per second; a request takes one token.
An empty bucket answers ``429 Too Many Requests`` with ``Retry-After`` (whole seconds,
at least 1: when the next token is there) and the usual ``{"detail": ...}`` body.
The admin key is never limited. ``rate == 0`` turns the limiter off.

The buckets live in the process: with several worker processes (``uvicorn --workers N``,
several replicas) each has its own, so a key may get up to N times the configured rate.

>>> limiter = RateLimiter(rate_per_s=1.0, burst=2, clock=lambda: 0.0)
>>> limiter.acquire("k"), limiter.acquire("k"), limiter.acquire("k")
(0.0, 0.0, 1.0)
>>> limiter.acquire("another key")
0.0
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from fastapi import HTTPException

MAX_BUCKETS = 100_000  # distinct keys tracked at once; idle, full buckets are dropped first


class RateLimiter:
    """Token buckets by key digest. Thread-safe (sync routes run in a thread pool)."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        if rate_per_s < 0 or burst < 1:
            raise ValueError("rate_per_s must be >= 0 and burst >= 1")
        self.rate = float(rate_per_s)
        self.burst = float(burst)
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: dict[str, tuple[float, float]] = {}  # digest -> (tokens, updated)
        self._lock = threading.Lock()
        self.limited = 0  # requests refused so far (for tests and metrics)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, digest: str) -> float:
        """Take one token from ``digest``'s bucket: 0.0 when granted, otherwise the seconds
        until a token is available (nothing is taken)."""
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self.clock()
            tokens, updated = self._buckets.get(digest, (self.burst, now))
            tokens = min(self.burst, tokens + max(now - updated, 0.0) * self.rate)
            if tokens >= 1.0:
                if digest not in self._buckets and len(self._buckets) >= self.max_buckets:
                    self._evict(now)
                self._buckets[digest] = (tokens - 1.0, now)
                return 0.0
            self._buckets[digest] = (tokens, now)
            self.limited += 1
            return (1.0 - tokens) / self.rate

    def check(self, digest: str) -> None:
        """Take a token or raise the 429 ``HTTPException`` with ``Retry-After``."""
        wait = self.acquire(digest)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise HTTPException(
                429,
                f"rate limit exceeded for this API key ({self.rate:g} requests/s, "
                f"bursts of {self.burst:g}); retry after {seconds} s",
                headers={"Retry-After": str(seconds)},
            )

    def _evict(self, now: float) -> None:
        """Drop buckets that have refilled completely (the same as absent); if every bucket
        is in use, forget them all rather than grow without bound."""
        full_after = self.burst / self.rate
        idle = [d for d, (_, updated) in self._buckets.items() if now - updated >= full_after]
        for digest in idle:
            del self._buckets[digest]
        if len(self._buckets) >= self.max_buckets:
            self._buckets.clear()
