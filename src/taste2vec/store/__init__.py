"""The operational store: users, API keys, the coffee catalogue, tastings, feedback,
taste profiles and coffee embeddings.

Embedded default: SQLite in WAL mode. Scale-out: PostgreSQL, by URL. The same
code and the same tests run against both.

>>> import tempfile
>>> from taste2vec.schema import TasteRecord
>>> folder = tempfile.TemporaryDirectory()
>>> store = create_store(f"sqlite:///{folder.name}/t2v.db")
>>> record = TasteRecord(id="r1", user="ana", notes="자몽, 재스민")
>>> store.add_record(record).created, store.add_record(record).created
(True, False)
>>> store.close()
>>> folder.cleanup()

Durability: a write returns only after its transaction has committed
(acknowledged = committed). SQLite runs with ``synchronous=FULL``; PostgreSQL
with its default ``synchronous_commit=on``.
"""

from __future__ import annotations

from taste2vec.store._accounts import Account, UiSession
from taste2vec.store._aliases import AliasEvent
from taste2vec.store._curation import CurationRun, Pick, Subscription, check_month, month_minus
from taste2vec.store._experiments import ArmRequests, Experiment, Fence, StoredEvent
from taste2vec.store._export import FACT_TABLES, export_dimension, export_facts
from taste2vec.store._migrate import alembic_config, migrate
from taste2vec.store._outbox import OutboxEntry
from taste2vec.store._revisions import CatalogueRevision, FeedbackRevision, UserRevision
from taste2vec.store._store import Store, create_store
from taste2vec.store._types import (
    PROFILE_DIM,
    AddResult,
    ApiKeyInfo,
    Profile,
    Role,
    UpsertCounts,
    User,
)
from taste2vec.store._users import hash_api_key

__all__ = [
    "Account",
    "AliasEvent",
    "PROFILE_DIM",
    "AddResult",
    "ApiKeyInfo",
    "CatalogueRevision",
    "CurationRun",
    "ArmRequests",
    "Experiment",
    "Pick",
    "Subscription",
    "check_month",
    "month_minus",
    "Fence",
    "FeedbackRevision",
    "OutboxEntry",
    "Profile",
    "Role",
    "Store",
    "StoredEvent",
    "UiSession",
    "UpsertCounts",
    "User",
    "UserRevision",
    "FACT_TABLES",
    "alembic_config",
    "export_dimension",
    "export_facts",
    "create_store",
    "hash_api_key",
    "migrate",
]
