"""The standing adversarial suite: shared apps, request accounting and the stream drain.

Two profiles:

- CI (default): bounded and derandomized (Hypothesis' fixed seed), a few examples per
  backend; the whole suite runs in a couple of minutes.
- soak (``T2V_SOAK=1``, ``make soak``): random seeds, rounds of examples until
  ``T2V_SOAK_SECONDS`` (default 600, split between the backends) run out. Each round's
  seed is printed; rerun one with ``T2V_SOAK_SEED=<seed>``. The run prints, and writes to
  ``T2V_SOAK_REPORT`` when set, how many requests, interleavings (examples) and invariant
  checks ran and how many invariant violations there were.

Every request goes through :class:`Api`, which counts it and fails on any 5xx.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from taste2vec.api import create_app
from taste2vec.config import DEV_ADMIN_KEY
from taste2vec.service import TasteService
from taste2vec.store._engine import normalise_url
from taste2vec.stream.log.base import LogEntry
from taste2vec.stream.state import StreamReader
from tests.api.conftest import make_settings
from tests.store.conftest import postgres_server_url  # noqa: F401 - a shared fixture

ADMIN_KEY = DEV_ADMIN_KEY
SOAK = os.environ.get("T2V_SOAK", "").strip().lower() in ("1", "true", "yes")
SOAK_SECONDS = float(os.environ.get("T2V_SOAK_SECONDS", "600"))
BACKENDS = ["sqlite", "postgres"]


@dataclass
class Stats:
    """What the suite did (printed by the soak run; also useful in CI logs with -s)."""

    requests: int = 0
    interleavings: int = 0  # state-machine examples run (each a random interleaving)
    steps: int = 0  # rule applications
    invariant_checks: int = 0  # individual invariant assertions evaluated
    signal_comparisons: int = 0  # /signals or /stats answers compared with batch_aggregate
    drains: int = 0
    violations: int = 0  # failed examples (soak keeps going and reports them)
    status_counts: dict[str, int] = field(default_factory=dict)
    rules: dict[str, int] = field(default_factory=dict)  # rule applications by name
    failures: list[str] = field(default_factory=list)

    def count_rule(self, name: str) -> None:
        self.rules[name] = self.rules.get(name, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


STATS = Stats()


class ServerError(AssertionError):
    pass


class Api:
    """A counting wrapper over the TestClient: every answer below 500, or the test fails."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def request(
        self,
        method: str,
        url: str,
        key: str | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        hdrs = dict(headers or {})
        if key is not None:
            hdrs["Authorization"] = f"Bearer {key}"
        STATS.requests += 1
        try:
            if content is not None:
                hdrs.setdefault("content-type", "application/json")
                resp = self.client.request(method, url, headers=hdrs, content=content)
            elif body is not None:
                resp = self.client.request(method, url, headers=hdrs, json=body)
            else:
                resp = self.client.request(method, url, headers=hdrs)
        except Exception as exc:  # the TestClient re-raises what the app did not handle
            STATS.status_counts["500"] = STATS.status_counts.get("500", 0) + 1
            raise ServerError(
                f"{method} {url} -> 500 (unhandled {type(exc).__name__}: {exc})"[:2000]
            ) from exc
        code = str(resp.status_code)
        STATS.status_counts[code] = STATS.status_counts.get(code, 0) + 1
        STATS.invariant_checks += 1  # "no 5xx, ever"
        if resp.status_code >= 500:
            raise ServerError(f"{method} {url} -> {resp.status_code}: {resp.text[:2000]}")
        return resp

    def get(self, url: str, key: str | None = None) -> httpx.Response:
        return self.request("GET", url, key)

    def post(self, url: str, body: Any, key: str | None = None) -> httpx.Response:
        return self.request("POST", url, key, body=body)


def check(condition: bool, message: str) -> None:
    """One invariant assertion, counted."""
    STATS.invariant_checks += 1
    assert condition, message


# --------------------------------------------------------------------------- apps
@contextmanager
def own_database(request: pytest.FixtureRequest, tag: str) -> Iterator[str]:
    """A fresh PostgreSQL database of this module's own (so the demo seeds and writes
    demo-keys.json), dropped afterwards."""
    server_url: str = request.getfixturevalue("postgres_server_url")
    server = normalise_url(server_url)
    name = f"t2v_adv_{tag}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def running_app(
    backend: str,
    request: pytest.FixtureRequest,
    tiny_model_dir: Path,
    tmp: Path,
    tag: str,
    **extra: object,
) -> Iterator[TestClient]:
    """The service on ``backend`` with the demo data, the embedded relay and worker."""
    values: dict[str, object] = {"rate_limit_per_s": 0, **extra}
    with contextmanager_or_none(backend == "postgres", request, tag) as url:
        if url is not None:
            values["database_url"] = url
        app = create_app(make_settings(tmp, tiny_model_dir, **values))
        with TestClient(app) as client:
            client.keys = json.loads((tmp / "demo-keys.json").read_text())  # type: ignore[attr-defined]
            yield client


@contextmanager
def contextmanager_or_none(
    postgres: bool, request: pytest.FixtureRequest, tag: str
) -> Iterator[str | None]:
    if not postgres:
        yield None
        return
    with own_database(request, tag) as url:
        yield url


def demo_keys(client: TestClient) -> dict[str, str]:
    keys: dict[str, str] = client.keys  # type: ignore[attr-defined]
    return keys


# --------------------------------------------------------------------------- stream
def service_of(client: TestClient) -> TasteService:
    service: TasteService = client.app.state.service  # type: ignore[attr-defined]
    return service


def all_entries(client: TestClient) -> list[LogEntry]:
    relay = service_of(client).relay
    assert relay is not None, "the service is not publishing"
    log = relay.log
    out: list[LogEntry] = []
    for partition in range(log.partitions):
        offset = 0
        while batch := log.read(partition, offset, 5000):
            out += batch
            offset = batch[-1].offset + 1
    return out


def drain(client: TestClient, timeout: float = 60.0) -> list[LogEntry]:
    """Wait until every committed write is in the event log and the embedded worker has
    checkpointed all of it; return the log's entries (stable across the wait)."""
    service = service_of(client)
    reader: StreamReader = client.app.state.stream_reader  # type: ignore[attr-defined]
    relay = service.relay
    assert relay is not None, "the service is not publishing"
    log = relay.log
    deadline = time.monotonic() + timeout
    STATS.drains += 1
    while True:
        if service.emitted is not None:
            service.emitted.flush()  # the service's own recommendation_shown events
        relay.notify()
        if service.store.count_unpublished() == 0:
            ends = log.end_offsets()
            parts = reader.progress()["partitions"]
            if all(
                end == 0 or parts.get(p, {}).get("next_offset", 0) >= end for p, end in ends.items()
            ):
                entries = all_entries(client)
                if log.end_offsets() == ends and service.store.count_unpublished() == 0:
                    return entries
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the stream did not drain within {timeout} s: "
                f"{service.store.count_unpublished()} unpublished, "
                f"log ends {log.end_offsets()}, worker {reader.progress()['partitions']}"
            )
        time.sleep(0.02)


def jsonable(value: Any) -> Any:
    """What a value looks like after a JSON round trip (as the API serves it)."""
    return json.loads(json.dumps(value))


def report(where: str, since: dict[str, Any] | None = None) -> None:
    """Print the counters (session totals, and what changed ``since`` a snapshot of
    ``STATS.as_dict()``) and append them to T2V_SOAK_REPORT when set."""
    record: dict[str, Any] = {"where": where, "soak": SOAK, **STATS.as_dict()}
    if since is not None:
        record["this_test"] = {
            k: v - since[k] for k, v in STATS.as_dict().items() if isinstance(v, int)
        }
    line = json.dumps(record, sort_keys=True)
    print(f"\n[adversarial] {line}")
    out = os.environ.get("T2V_SOAK_REPORT")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
