"""Locust workload for ``bench/load_test.py``: a mixed day of app traffic.

Each simulated client acts, on every task, as a user drawn at random among the store's
load users (10,000 by default), with that user's own API key, so every request goes
through the real key lookup, the per-user state check and the user's own history:

- ``GET /v1/users/{id}/recommendations?k=10`` (weight 10);
- ``POST /v1/feedback``: liked / disliked / rated / skipped on a random coffee (weight 4);
- ``POST /v1/records``: a tasting with notes drawn from a pool of 66 two-descriptor
  phrases (with ``T2V_LOAD_UNIQUE_NOTES=1`` each note gets a unique lot number, so the
  text tower embeds every one: its in-memory cache fills to ``T2V_TEXT_CACHE_SIZE``),
  some sensory metrics and sometimes a coffee (weight 3);
- ``POST /v1/events``: ``recommendation_clicked`` or ``box_rated`` (weight 3).

Every write carries a fresh unique id, so each is a new row (201); a 200 (exact repeat)
is counted as a failure here because the workload never repeats. The users, their keys
and the coffee ids come from the JSON file named by ``T2V_LOAD_DATA`` (written by the
driver): ``{"keys": {user: key}, "coffees": [id, ...]}``.

    locust -f bench/load/locustfile.py --headless --host http://127.0.0.1:8000 ...
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid
from datetime import UTC, datetime
from typing import Any

from locust import FastHttpUser, between, task

_DATA = json.loads(open(os.environ["T2V_LOAD_DATA"]).read())  # noqa: SIM115
KEYS: dict[str, str] = _DATA["keys"]
USERS: list[str] = sorted(KEYS)
COFFEES: list[str] = _DATA["coffees"]
DESCRIPTORS = [
    "plum",
    "cocoa",
    "jasmine",
    "lemon",
    "caramel",
    "hazelnut",
    "blueberry",
    "black tea",
    "brown sugar",
    "bergamot",
    "grapefruit",
    "molasses",
]
NOTES = [f"{a} and {b}" for a, b in itertools.combinations(DESCRIPTORS, 2)]
UNIQUE_NOTES = os.environ.get("T2V_LOAD_UNIQUE_NOTES", "") == "1"


def _now() -> str:
    return datetime.now(UTC).isoformat()


class AppClient(FastHttpUser):
    """One connection of the app's traffic; a short think time between requests."""

    wait_time = between(0.05, 0.25)

    def _as_user(self) -> tuple[str, dict[str, str]]:
        user = random.choice(USERS)  # noqa: S311 (load generation, not security)
        return user, {"Authorization": f"Bearer {KEYS[user]}"}

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        with self.client.post(path, json=body, headers=headers, catch_response=True) as resp:
            if resp.status_code != 201:
                resp.failure(f"{resp.status_code}: {(resp.text or '')[:200]}")

    @task(10)
    def recommendations(self) -> None:
        user, headers = self._as_user()
        self.client.get(
            f"/v1/users/{user}/recommendations?k=10",
            headers=headers,
            name="/v1/users/[id]/recommendations",
        )

    @task(4)
    def feedback(self) -> None:
        user, headers = self._as_user()
        signal = random.choice(["liked", "disliked", "rated", "skipped"])  # noqa: S311
        body: dict[str, Any] = {
            "id": f"fb-{uuid.uuid4().hex}",
            "user": user,
            "coffee": random.choice(COFFEES),  # noqa: S311
            "signal": signal,
            "timestamp": _now(),
        }
        if signal == "rated":
            body["rating"] = random.randint(1, 5)  # noqa: S311
        self._post("/v1/feedback", body, headers)

    @task(3)
    def tasting(self) -> None:
        user, headers = self._as_user()
        body: dict[str, Any] = {
            "id": f"rec-{uuid.uuid4().hex}",
            "user": user,
            "timestamp": _now(),
            "notes": random.choice(NOTES)  # noqa: S311
            + (f", lot {uuid.uuid4().hex[:10]}" if UNIQUE_NOTES else ""),
            "metrics": {
                "acidity": random.randint(1, 9),  # noqa: S311
                "sweetness": random.randint(1, 9),  # noqa: S311
                "body": random.randint(1, 9),  # noqa: S311
            },
        }
        if random.random() < 0.5:  # noqa: S311
            body["coffee"] = random.choice(COFFEES)  # noqa: S311
        self._post("/v1/records", body, headers)

    @task(3)
    def event(self) -> None:
        user, headers = self._as_user()
        common = {"event_id": f"ev-{uuid.uuid4().hex}", "user": user, "event_time": _now()}
        body: dict[str, Any]
        if random.random() < 0.5:  # noqa: S311
            body = {
                **common,
                "type": "recommendation_clicked",
                "coffee": random.choice(COFFEES),  # noqa: S311
            }
        else:
            body = {
                **common,
                "type": "box_rated",
                "box": f"box-{uuid.uuid4().hex[:12]}",
                "rating": random.randint(1, 5),  # noqa: S311
            }
        self._post("/v1/events", body, headers)
