"""The ORM tables. Private: nothing outside ``taste2vec.store`` sees these rows.

Every change here needs a new Alembic revision under ``migrations/versions``;
``tests/store/test_migrations.py`` fails when the two drift apart.

Design notes
    * Tasting records and feedback keep the validated pydantic object as JSON
      (``payload``) plus its SHA-256 (``payload_hash``, over canonical JSON) for
      idempotent ingestion. Their primary key is ``seq``, an autoincrementing
      integer that records arrival order (SQLite can only autoincrement an
      ``INTEGER PRIMARY KEY``); the client ``id`` is ``UNIQUE NOT NULL``.
    * ``coffee_id`` on records and feedback is checked at ingestion but is not a
      foreign key: deleting a coffee from the catalogue keeps its history.
    * Coffee stock lives only in ``coffees.stock``; ``payload`` holds every other
      :class:`~taste2vec.schema.Coffee` field.
    * Vectors are raw little-endian float32 bytes.
    * Times are timezone-aware UTC in Python. PostgreSQL stores ``timestamptz``;
      SQLite stores naive UTC ISO text, which sorts chronologically.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_LEN = 128
HASH_LEN = 64
EVENT_ID_LEN = 200  # taste2vec.stream.events.EventId

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (naive values are taken as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)  # noqa: S101 - the DateTime impl returns datetimes
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


SeqType = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable migration names)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("role IN ('user', 'admin')", name="role"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(HASH_LEN), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String(ID_LEN), ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class CoffeeRow(Base):
    __tablename__ = "coffees"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    roaster: Mapped[str] = mapped_column(String(200), index=True)
    origin_country: Mapped[str | None] = mapped_column(String(100), index=True)
    process: Mapped[str | None] = mapped_column(String(32))
    roast_level: Mapped[str | None] = mapped_column(String(32))
    stock: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RecordRow(Base):
    __tablename__ = "tasting_records"
    __table_args__ = (
        Index("ix_tasting_records_user_time", "user_id", "timestamp", "seq"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    user_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("users.id"))
    coffee_id: Mapped[str | None] = mapped_column(String(ID_LEN), index=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeedbackRow(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        Index("ix_feedback_user_time", "user_id", "timestamp", "seq"),
        Index("ix_feedback_user_hash", "user_hash", "user_id"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    user_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("users.id"))
    #: ``recommend.bayes.crowd_hash(user_id)``: the crowd sample's order (``_crowd``).
    user_hash: Mapped[int] = mapped_column(BigInteger)
    coffee_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    signal: Mapped[str] = mapped_column(String(16))
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxRow(Base):
    """App events awaiting publication to the event log (the transactional outbox).

    A tasting or feedback inserts its event in the same transaction as its own
    row; the relay publishes rows in ``seq`` order and stamps ``published_at``.
    ``(published_at, seq)`` is indexed so "unpublished, oldest first" is a range scan.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_unpublished", "published_at", "seq"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(EVENT_ID_LEN), unique=True)
    user_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("users.id"))
    event_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProfileRow(Base):
    __tablename__ = "user_profiles"

    user_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("users.id"), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    n_feedback: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)


class CoffeeEmbeddingRow(Base):
    __tablename__ = "coffee_embeddings"

    model_version: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    coffee_id: Mapped[str] = mapped_column(
        String(ID_LEN),
        ForeignKey("coffees.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,  # the primary key leads with model_version; deletes look up by coffee
    )
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class OnboardingRow(Base):
    """A user's onboarding answer: the flavour families they picked (their archetype
    ratings are ordinary feedback rows with deterministic ids)."""

    __tablename__ = "user_onboarding"

    user_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("users.id"), primary_key=True)
    families: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccountRow(Base):
    """A web UI sign-in: a user name, its password hash (argon2) and role. A taster's
    account name is their user id (``user_id``); an admin account may have none."""

    __tablename__ = "ui_accounts"
    __table_args__ = (CheckConstraint("role IN ('user', 'admin')", name="role"),)

    name: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(ID_LEN), ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UiSessionRow(Base):
    """A signed-in browser. Only the SHA-256 of the cookie's token is stored."""

    __tablename__ = "ui_sessions"

    token_hash: Mapped[str] = mapped_column(String(HASH_LEN), primary_key=True)
    account: Mapped[str] = mapped_column(
        String(ID_LEN), ForeignKey("ui_accounts.name", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(HASH_LEN))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LoginFailureRow(Base):
    """Failed sign-ins per key (``name:<user name>`` or ``addr:<client address>``): how many
    since the last success and when the last one was (the sign-in slows down on them)."""

    __tablename__ = "ui_login_failures"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AliasEventRow(Base):
    """One move of a model registry alias (``champion``, ``challenger``): append-only.

    ``move`` numbers the moves of one (model, alias) from 1; the unique constraint makes two
    concurrent moves of the same alias conflict instead of both landing (optimistic
    concurrency, the same on SQLite and PostgreSQL). ``new_version`` is None when the
    alias was removed. Nothing updates or deletes these rows.
    """

    __tablename__ = "model_alias_events"
    __table_args__ = (
        Index("ix_model_alias_events_alias_move", "model_name", "alias", "move", unique=True),
        Index("ix_model_alias_events_alias_time", "model_name", "alias", "created_at"),
        CheckConstraint("action IN ('promote', 'rollback', 'adopt', 'remove')", name="action"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(ID_LEN))
    alias: Mapped[str] = mapped_column(String(64))
    move: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    previous_version: Mapped[str | None] = mapped_column(String(32))
    new_version: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(ID_LEN))
    reason: Mapped[str] = mapped_column(String(2000))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


from taste2vec.store import _curation_tables as _curation_tables  # noqa: E402  (issue 13)
from taste2vec.store import _experiment_tables as _experiment_tables  # noqa: E402  (issue 12)
