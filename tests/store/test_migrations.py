"""Migrations: the migrated schema equals the ORM metadata on both backends."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from taste2vec.errors import StoreError
from taste2vec.store import alembic_config, create_store, migrate
from taste2vec.store._engine import make_engine
from taste2vec.store._tables import Base

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
TABLES = {
    "users",
    "api_keys",
    "coffees",
    "tasting_records",
    "feedback",
    "user_profiles",
    "coffee_embeddings",
    "outbox",
    "user_onboarding",
    "ui_accounts",
    "ui_sessions",
    "ui_login_failures",
    "experiment_arm_requests",
    "model_alias_events",
    "experiments",
    "controller_leases",
    "subscriptions",
    "curation_runs",
    "curation_picks",
}


def _diff_and_version(url: str) -> tuple[list[object], str | None, set[str]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
            return diff, context.get_current_revision(), set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _downgrade_to_base(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(store_url: str) -> None:
    migrate(store_url)
    diff, version, tables = _diff_and_version(store_url)
    assert diff == []
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert tables == TABLES | {"alembic_version"}
    assert set(Base.metadata.tables) == TABLES


def test_migrate_is_idempotent_and_reversible(store_url: str) -> None:
    migrate(store_url)
    migrate(store_url)
    _downgrade_to_base(store_url)
    _, version, tables = _diff_and_version(store_url)
    assert version is None and tables <= {"alembic_version"}
    with create_store(store_url) as store:
        assert store.count_coffees() == 0
    diff, version, _ = _diff_and_version(store_url)
    assert diff == [] and version == HEAD


def test_concurrent_first_starts_migrate_once(store_url: str) -> None:
    barrier = threading.Barrier(4)

    def start(_: int) -> int:
        barrier.wait()
        with create_store(store_url) as store:
            return store.count_coffees()

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(start, range(4))) == [0, 0, 0, 0]
    diff, version, _ = _diff_and_version(store_url)
    assert diff == [] and version == HEAD


def test_a_database_from_a_newer_release_is_refused_clearly(store_url: str) -> None:
    migrate(store_url)
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="upgrade taste2vec"):
        create_store(store_url)
