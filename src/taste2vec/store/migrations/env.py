"""Alembic environment for the taste2vec operational store.

Run through :func:`taste2vec.store.migrate`, which passes an open connection in
``config.attributes["connection"]``. A ``sqlalchemy.url`` main option works too
(for ``command.revision(..., autogenerate=True)``); there is no ``alembic.ini``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from taste2vec.store._engine import make_engine
from taste2vec.store._tables import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: use taste2vec.store.migrate(url)")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; use migrate(url)")
_main()
