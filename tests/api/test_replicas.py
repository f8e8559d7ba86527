"""Two real ``taste2vec serve`` processes on one PostgreSQL database serve consistent
answers: a coffee disliked through replica A is gone from replica B's very next
recommendation, and a coffee deleted through A leaves B's index within the follower's
interval. (Before revisions, B served the disliked coffee as its top pick 6 s later.)"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from taste2vec.sim.server import free_port, start_server
from tests.api.conftest import ADMIN, fresh_database, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("api")]


def test_two_server_processes_on_postgresql_agree(
    tiny_model_dir: Path, tmp_path: Path, postgres_server_url: str
) -> None:
    with fresh_database(postgres_server_url, "replicas") as url:
        settings = make_settings(tmp_path, tiny_model_dir, database_url=url)
        env = {
            **os.environ,
            "T2V_ENVIRONMENT": "test",
            "T2V_DATABASE_URL": settings.database_url,
            "T2V_MODEL_DIR": str(settings.model_dir),
            "T2V_CACHE_DIR": str(settings.cache_dir),
            "T2V_ONLINE_LEARNING": "false",
            "T2V_RATE_LIMIT_PER_S": "0",
        }
        servers = []
        clients: list[httpx.Client] = []
        try:
            port_a, port_b = free_port(), free_port()
            servers.append(start_server(env, port_a, tmp_path / "a.log"))
            # one stream worker per deployment; B only serves
            servers.append(
                start_server({**env, "T2V_STREAM_WORKER": "false"}, port_b, tmp_path / "b.log")
            )
            a = httpx.Client(base_url=f"http://127.0.0.1:{port_a}", headers=ADMIN, timeout=30)
            b = httpx.Client(base_url=f"http://127.0.0.1:{port_b}", headers=ADMIN, timeout=30)
            clients = [a, b]
            user = "replica-http"

            def top(client: httpx.Client) -> list[str]:
                resp = client.get(f"/v1/users/{user}/recommendations", params={"k": 5})
                assert resp.status_code == 200, resp.text
                return [item["coffee"] for item in resp.json()["items"]]

            for i in range(5):
                first = top(b)
                assert top(b) == first  # B has the user's state cached now
                resp = a.post(
                    "/v1/feedback",
                    json={
                        "id": f"rep-http-{i}",
                        "user": user,
                        "coffee": first[0],
                        "signal": "disliked",
                    },
                )
                assert resp.status_code == 201, resp.text
                after = top(b)  # the very next request: no waiting
                assert first[0] not in after, f"B still recommends {first[0]} after A's dislike"
                assert after == top(a)

            gone = top(b)[0]
            assert a.delete(f"/v1/coffees/{gone}").status_code == 204
            deadline = time.monotonic() + 30  # the follower polls every 0.5 s
            while gone in top(b) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert gone not in top(b), "B still recommends a coffee deleted through A"
        finally:
            for client in clients:
                client.close()
            for server in servers:
                server.kill()
                server.wait(timeout=10)
