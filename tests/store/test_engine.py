"""URLs, SQLite durability settings, configuration, the public surface and doctests."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

import taste2vec.store
from taste2vec.config import Settings
from taste2vec.errors import StoreError
from taste2vec.store import create_store
from taste2vec.store._engine import make_engine, normalise_url

DOCTESTED = ["taste2vec.store", "taste2vec.store._types", "taste2vec.store._store"]
DOCTESTED += ["taste2vec.store._engine"]


def test_urls_are_normalised_to_psycopg3() -> None:
    for url in (
        "postgres://u:p@h:5/db",
        "postgresql://u:p@h:5/db",
        "postgresql+psycopg://u:p@h:5/db",
    ):
        assert normalise_url(url).drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").database == "x.db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("mysql://u@h/db", "unsupported database backend 'mysql'"),
        ("postgresql+asyncpg://u@h/db", "psycopg 3"),
        ("not a url", "invalid database URL"),
    ],
)
def test_bad_urls_say_what_to_use(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        normalise_url(url)


def test_sqlite_runs_wal_full_sync_with_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "t2v.db"
    with create_store(f"sqlite:///{path}") as store:
        assert store.backend == "sqlite" and path.exists()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            pragmas = {
                name: conn.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 30000,
    }


def test_store_repr_hides_the_password(store_url: str) -> None:
    password = make_url(store_url).password
    with create_store(store_url) as store:
        assert not password or (str(password) not in repr(store) and "***" in store.url)
        assert store.backend == ("sqlite" if store_url.startswith("sqlite") else "postgresql")


def test_database_url_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("T2V_DATABASE_URL", raising=False)
    assert Settings().database_url == "sqlite:///artifacts/taste2vec.db"
    monkeypatch.setenv("T2V_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert Settings().database_url == "postgresql+psycopg://u@h/db"


def test_exports_match_all() -> None:
    public = {n for n in dir(taste2vec.store) if not n.startswith("_")}
    public -= {"annotations"}
    assert set(taste2vec.store.__all__) == public


@pytest.mark.parametrize("module", DOCTESTED)
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
