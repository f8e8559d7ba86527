"""Per-key rate limiting: a token bucket per user API key, 429 with Retry-After.

The HTTP tests run an app with a small rate (one request per 2 s, bursts of 5) so that a
handful of requests drains a bucket even on a slow machine; no test asserts how fast
anything is.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from taste2vec.api.ratelimit import RateLimiter
from taste2vec.config import Settings
from tests.adversarial.conftest import ADMIN_KEY, Api, check, demo_keys, running_app

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

RATE, BURST = 0.5, 5


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_grants_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)  # one token takes 1/rate s
    assert limiter.acquire("b") == 0.0  # another key has its own bucket
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 3600  # refills to the burst, never beyond
    assert [limiter.acquire("a") for _ in range(4)][-1] > 0
    assert limiter.limited == 3


def test_refusal_is_a_429_with_integer_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_s=0.1, burst=1, clock=clock)
    limiter.check("k")
    with pytest.raises(Exception) as info:
        limiter.check("k")
    exc = info.value
    assert getattr(exc, "status_code", None) == 429
    assert exc.headers == {"Retry-After": "10"}  # type: ignore[attr-defined]
    assert "rate limit" in exc.detail  # type: ignore[attr-defined]
    fast = RateLimiter(rate_per_s=1000.0, burst=1, clock=clock)
    fast.check("k")
    with pytest.raises(Exception) as info:
        fast.check("k")
    assert info.value.headers == {"Retry-After": "1"}  # type: ignore[attr-defined]  # >= 1 s


def test_rate_zero_disables_and_bad_values_are_refused() -> None:
    off = RateLimiter(rate_per_s=0, burst=1)
    assert not off.enabled and all(off.acquire("k") == 0.0 for _ in range(1000))
    with pytest.raises(ValueError):
        RateLimiter(rate_per_s=-1, burst=1)
    with pytest.raises(ValueError):
        RateLimiter(rate_per_s=1, burst=0)


def test_bucket_table_is_bounded() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_s=1.0, burst=2, clock=clock, max_buckets=100)
    for i in range(1000):
        limiter.acquire(f"key-{i}")
        clock.now += 0.001
    assert len(limiter._buckets) <= 100
    clock.now += 10  # every bucket refilled: idle ones are dropped first
    limiter.acquire("fresh")
    assert len(limiter._buckets) == 1


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("T2V_RATE_LIMIT_PER_S", raising=False)
    monkeypatch.delenv("T2V_RATE_LIMIT_BURST", raising=False)
    defaults = Settings()
    assert (defaults.rate_limit_per_s, defaults.rate_limit_burst) == (50.0, 100)
    monkeypatch.setenv("T2V_RATE_LIMIT_PER_S", "0")
    monkeypatch.setenv("T2V_RATE_LIMIT_BURST", "7")
    env = Settings()
    assert (env.rate_limit_per_s, env.rate_limit_burst) == (0.0, 7)
    monkeypatch.setenv("T2V_RATE_LIMIT_PER_S", "-1")
    with pytest.raises(ValueError):
        Settings()


@pytest.fixture(scope="module")
def limited(
    request: pytest.FixtureRequest, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("adv-rate")
    extra = {"rate_limit_per_s": RATE, "rate_limit_burst": BURST}
    with running_app("sqlite", request, tiny_model_dir, tmp, "rate", **extra) as client:
        yield client


def _until_limited(api: Api, key: str, user: str) -> tuple[int, object]:
    """Quick GETs until one is refused; (how many were granted, the refusal)."""
    for granted in range(200):
        resp = api.get(f"/v1/users/{user}", key=key)
        if resp.status_code == 429:
            return granted, resp
        check(resp.status_code == 200, f"{resp.status_code} {resp.text}")
    raise AssertionError("200 quick requests and never a 429")


def test_one_key_is_limited_others_and_admin_are_not(limited: TestClient) -> None:
    api = Api(limited)
    keys = demo_keys(limited)
    granted, refused = _until_limited(api, keys["demo-ana"], "demo-ana")
    assert granted >= BURST  # the whole burst first
    assert refused.json()["detail"].startswith("rate limit exceeded")  # type: ignore[attr-defined]
    retry_after = refused.headers["Retry-After"]  # type: ignore[attr-defined]
    assert retry_after.isdigit() and int(retry_after) >= 1
    # a write is refused too, and nothing is stored
    body = {"id": "rate-r1", "user": "demo-ana", "notes": "too fast"}
    assert api.post("/v1/records", body, key=keys["demo-ana"]).status_code == 429
    # another user's key is unaffected
    assert api.get("/v1/users/demo-ben", key=keys["demo-ben"]).status_code == 200
    # the admin key is never limited, also on the limited user's routes
    for _ in range(3 * BURST):
        assert api.get("/v1/users/demo-ana", key=ADMIN_KEY).status_code == 200
    records = api.get("/v1/users/demo-ana/records?limit=1000", key=ADMIN_KEY).json()
    assert "rate-r1" not in {r["id"] for r in records}
    # after Retry-After the key works again (one request: one token has come back)
    time.sleep(int(retry_after))
    resp = api.post("/v1/records", body, key=keys["demo-ana"])
    assert resp.status_code == 201, resp.text


def test_unauthenticated_and_unlimited_routes(limited: TestClient) -> None:
    api = Api(limited)
    keys = demo_keys(limited)
    _until_limited(api, keys["demo-lena"], "demo-lena")
    # the limit applies to the key whatever it asks for (checked right after
    # authentication, before the route's own 403) ...
    assert api.get("/v1/users/demo-ben", key=keys["demo-lena"]).status_code == 429
    # ... while an unknown key is 401 (it has no bucket), and health checks need no key
    assert api.get("/v1/users/demo-lena", key="not-a-key").status_code == 401
    assert api.get("/healthz").status_code == 200


def test_openapi_and_metrics_still_work_when_limited(limited: TestClient) -> None:
    api = Api(limited)
    keys = demo_keys(limited)
    _until_limited(api, keys["demo-kofi"], "demo-kofi")
    assert api.get("/openapi.json").status_code == 200
    metrics = api.get("/metrics").text
    assert 'status="429"' in metrics
