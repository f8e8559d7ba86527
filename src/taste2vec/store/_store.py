"""The :class:`Store` facade and :func:`create_store`."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from taste2vec.store._accounts import AccountsMixin
from taste2vec.store._aliases import AliasLogMixin
from taste2vec.store._catalogue import CatalogueMixin
from taste2vec.store._crowd import CrowdMixin
from taste2vec.store._curation import CurationMixin
from taste2vec.store._engine import make_engine
from taste2vec.store._events import EventsMixin
from taste2vec.store._experiments import ExperimentsMixin
from taste2vec.store._migrate import migrate_engine
from taste2vec.store._onboarding import OnboardingMixin
from taste2vec.store._outbox import OutboxMixin
from taste2vec.store._revisions import RevisionsMixin
from taste2vec.store._users import UsersMixin
from taste2vec.store._vectors import VectorsMixin


class Store(
    UsersMixin,
    CatalogueMixin,
    EventsMixin,
    CrowdMixin,
    VectorsMixin,
    OutboxMixin,
    OnboardingMixin,
    RevisionsMixin,
    AccountsMixin,
    AliasLogMixin,
    ExperimentsMixin,
    CurationMixin,
):
    """The operational store: users, API keys, catalogue, tastings, feedback, profiles,
    coffee embeddings, the app-event outbox, onboarding answers, the web UI's accounts
    and sessions and the model registry's alias audit log, in SQLite (embedded) or
    PostgreSQL; plus revisions, the fingerprints that service replicas compare their
    caches with.

    Thread-safe: it holds one engine and opens a short session per call, so the
    API may call it from a thread pool. Every method takes and returns the
    pydantic schema objects or the small value objects of this package, never
    database rows. A write method returns only after its transaction has
    committed (acknowledged = committed). Call :meth:`close` when done, or use
    the store as a context manager.

    Build one with :func:`create_store`, which also migrates the schema.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def create_store(url: str | URL, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` and bring its schema to the newest revision.

    ``url`` is ``sqlite:///path/to.db`` (the folder is created) or
    ``postgresql+psycopg://user:password@host:port/database``; plain
    ``postgresql://`` means psycopg 3 too. See ``Settings.database_url``.

    >>> import tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> with create_store(f"sqlite:///{folder.name}/sub/t2v.db") as store:
    ...     store.count_coffees()
    0
    >>> folder.cleanup()
    """
    engine = make_engine(url)
    try:
        if migrate:
            migrate_engine(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine)
