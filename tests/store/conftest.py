"""Fixtures for the store tests: every ``store`` test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``T2V_TEST_POSTGRES_URL`` when set (the role needs
CREATEDB), otherwise from ``scripts/postgres.sh start``, which installs Debian's
``postgresql`` if needed and starts a private cluster under ``.cache/postgres``.
If neither works, the PostgreSQL tests fail in CI (``CI=true``) and are skipped
with the reason elsewhere.

Each pytest process gets a database of its own (dropped at the end) and each
test a fresh ``public`` schema, migrated by ``create_store``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from taste2vec.store import Store, create_store
from taste2vec.store._engine import normalise_url

REPO = Path(__file__).resolve().parents[2]
POSTGRES_SCRIPT = REPO / "scripts" / "postgres.sh"
BACKENDS = ["sqlite", "postgres"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL is required in CI but unavailable: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable ({reason}); set T2V_TEST_POSTGRES_URL to use one")


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """A PostgreSQL URL whose role may create databases."""
    url = os.environ.get("T2V_TEST_POSTGRES_URL")
    if url:
        return url
    try:
        proc = subprocess.run(
            ["bash", str(POSTGRES_SCRIPT), "start"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"scripts/postgres.sh start did not finish: {exc}")
        raise  # unreachable: _unavailable always raises
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        _unavailable(f"scripts/postgres.sh start exited {proc.returncode}: {tail}")
    return lines[-1]


@pytest.fixture(scope="session")
def postgres_db_url(postgres_server_url: str) -> Iterator[str]:
    """A database for this pytest process, dropped when the session ends."""
    server = normalise_url(postgres_server_url)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"t2v_test_{worker}_{os.getpid()}"
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


@pytest.fixture
def postgres_url(postgres_db_url: str) -> str:
    """The per-process database with an empty ``public`` schema."""
    engine = create_engine(make_url(postgres_db_url))
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    return postgres_db_url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated, empty store, once per backend; closed afterwards."""
    opened = create_store(store_url)
    yield opened
    opened.close()
