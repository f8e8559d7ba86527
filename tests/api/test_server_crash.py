"""Nothing acknowledged is lost when the server is killed with SIGKILL mid-ingestion.

A real ``taste2vec serve`` process (uvicorn) receives tastings and feedback
from several client threads; every 201/200 response is recorded as
acknowledged. The server is killed with SIGKILL while writes are in flight,
restarted on the same database, and every acknowledged id must be there.
Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from taste2vec.config import DEV_ADMIN_KEY
from taste2vec.sim.server import free_port, start_server
from tests.api.conftest import make_settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("api")]
ADMIN = {"Authorization": f"Bearer {DEV_ADMIN_KEY}"}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sigkill_loses_no_acknowledged_write(
    backend: str,
    tiny_model_dir: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    extra: dict[str, object] = {}
    if backend == "postgres":
        extra["database_url"] = request.getfixturevalue("api_postgres_url")
    settings = make_settings(tmp_path, tiny_model_dir, **extra)
    env = {
        **os.environ,
        "T2V_ENVIRONMENT": "test",
        "T2V_DATABASE_URL": settings.database_url,
        "T2V_MODEL_DIR": str(settings.model_dir),
        "T2V_CACHE_DIR": str(settings.cache_dir),
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    server = start_server(env, port, log)
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        with httpx.Client(base_url=base, headers=ADMIN, timeout=5) as http:
            i = 0
            while not stop.is_set():
                rid = f"crash-{backend}-{n}-{i}"
                body = {
                    "id": rid,
                    "user": f"crash-user-{n}",
                    "timestamp": "2026-11-01T10:00:00Z",
                    "notes": "plum and cocoa",
                    "metrics": {"acidity": 5},
                }
                try:
                    resp = http.post("/v1/records", json=body)
                except httpx.HTTPError:
                    return  # the server died mid-request: not acknowledged
                if resp.status_code in (200, 201):
                    with lock:
                        acked.append(rid)
                i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    while True:
        with lock:
            if len(acked) >= 60:
                break
        time.sleep(0.01)
    os.kill(server.pid, signal.SIGKILL)
    server.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert len(acked) >= 60

    server = start_server(env, port, log)
    try:
        found: set[str] = set()
        with httpx.Client(base_url=base, headers=ADMIN, timeout=10) as http:
            for n in range(4):
                rows = http.get(f"/v1/users/crash-user-{n}/records", params={"limit": 1000})
                found |= {r["id"] for r in rows.json()}
        missing = sorted(set(acked) - found)
        assert not missing, f"{len(missing)} acknowledged writes lost: {missing[:5]}"
    finally:
        server.kill()
        server.wait(timeout=10)
