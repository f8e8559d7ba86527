"""Schema migrations with Alembic, configured in code (no ``alembic.ini`` at run time).

The revisions live in ``taste2vec/store/migrations/versions`` and ship with the
package. :func:`migrate` brings a database to the newest revision; the store
calls it on start. Concurrent starts are safe: on PostgreSQL an advisory lock
serialises them, on SQLite the migration runs inside ``BEGIN IMMEDIATE``.

To add a revision after changing ``_tables.py``::

    from alembic import command
    from taste2vec.store import alembic_config
    command.revision(alembic_config("sqlite:///scratch.db"), "what changed",
                     autogenerate=True)

(run it against a database migrated to the current head).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from taste2vec.errors import StoreError
from taste2vec.store._engine import make_engine, normalise_url, writer

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 0x7A57E2EC  # arbitrary, constant: "taste2vec migrations"


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged migrations (and at ``url`` if given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        rendered = normalise_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def migrate_engine(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` in one transaction."""
    with writer(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        config = alembic_config()
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, revision)
        except CommandError as exc:
            raise StoreError(
                f"cannot migrate the database schema: {exc}. If the database was migrated by a "
                "newer taste2vec, upgrade taste2vec; never point an older one at it."
            ) from exc


def migrate(url: str | URL, revision: str = "head") -> None:
    """Create or upgrade the schema at ``url`` to ``revision`` (default: the newest)."""
    engine = make_engine(url)
    try:
        migrate_engine(engine, revision)
    finally:
        engine.dispose()
