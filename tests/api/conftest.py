"""An app per test module, on a temporary SQLite store, the tiny model and the demo data."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from taste2vec.api import create_app
from taste2vec.config import DEV_ADMIN_KEY, Settings
from taste2vec.store._engine import normalise_url
from tests.store.conftest import postgres_server_url  # noqa: F401,F811 - a shared fixture

ADMIN = {"Authorization": f"Bearer {DEV_ADMIN_KEY}"}


def make_settings(tmp: Path, model_dir: Path, **extra: object) -> Settings:
    model = tmp / "model"
    if not model.exists():
        shutil.copytree(model_dir, model)
    values: dict[str, object] = {
        "environment": "test",
        "database_url": f"sqlite:///{tmp / 't2v.db'}",
        "model_dir": model,
        "cache_dir": Path(".cache/taste2vec-tests").resolve(),
        "online_learning": False,  # deterministic API tests; see tests/service for the learner
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def fresh_database(server_url: str, suffix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on ``server_url`` (dropped afterwards); its URL."""
    server = normalise_url(server_url)
    name = f"t2v_api_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}_{suffix}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def api_postgres_url(postgres_server_url: str) -> Iterator[str]:  # noqa: F811
    """A database of its own for the API tests (the store tests reset theirs per test)."""
    with fresh_database(postgres_server_url, "session") as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def client(
    request: pytest.FixtureRequest, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("api")
    extra: dict[str, object] = {"max_body_bytes": 65536, "max_batch": 8}
    with ExitStack() as stack:
        if request.param == "postgres":
            # One database per module: the demo is seeded (and its keys written) only into
            # an empty store, so a second module on a shared database would find no keys.
            server = request.getfixturevalue("postgres_server_url")
            suffix = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:10]
            extra["database_url"] = stack.enter_context(fresh_database(server, suffix))
        app = create_app(make_settings(tmp, tiny_model_dir, **extra))
        c = stack.enter_context(TestClient(app))
        c.keys = json.loads((tmp / "demo-keys.json").read_text())  # type: ignore[attr-defined]
        yield c


def auth(client: TestClient, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.keys[user]}"}  # type: ignore[attr-defined]
