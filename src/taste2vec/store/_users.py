"""Users and API keys.

API keys are ``t2v_`` followed by 32 random bytes (URL-safe base64). Only their
SHA-256 hex digest is stored. A fast, unsalted hash is enough here because the
keys are uniformly random 256-bit secrets, not passwords: there is no
dictionary to try, and brute-forcing 2^256 candidates is out of reach, so a
slow KDF or a pepper would add cost without adding security. The plaintext is
returned once, by :meth:`UsersMixin.create_api_key`, and never again.

Creating a user with its key is retry-safe with an idempotency key
(:meth:`UsersMixin.create_user_key`): the key row's id is derived from it, so a retry
finds the user it created and answers again, with a *fresh* key that replaces the one the
lost answer carried (that one is never stored in plaintext, so it cannot be shown again;
the client never saw it, so nothing it holds stops working).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from taste2vec.errors import ConflictError, SchemaError
from taste2vec.store._base import StoreBase, check_id, check_page, ensure_user_in, returned
from taste2vec.store._tables import ApiKeyRow, UserRow, utcnow
from taste2vec.store._types import ROLES, ApiKeyInfo, Role, User

KEY_PREFIX = "t2v_"
_MAX_KEY_CHARS = 256
#: What an idempotency key may be: 16 to 128 URL-safe characters (a UUID4 qualifies).
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{16,128}")
_IDEM_PREFIX = "idem_"


def hash_api_key(key: str) -> str:
    """SHA-256 hex digest of the key's UTF-8 bytes (what the ``api_keys`` table stores)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _key_info(row: ApiKeyRow) -> ApiKeyInfo:
    role: Role = "admin" if row.role == "admin" else "user"
    return ApiKeyInfo(row.id, role, row.user_id, row.created_at, row.revoked)


class UsersMixin(StoreBase):
    """Users and API keys."""

    def ensure_user(self, user_id: str) -> User:
        """Return the user, creating it first if it does not exist yet."""
        check_id(user_id, "user id")
        with self._write() as session:
            ensure_user_in(session, user_id)
            row = session.get_one(UserRow, user_id)
            return User(row.id, row.created_at)

    def get_user(self, user_id: str) -> User | None:
        """The user, or ``None`` if unknown."""
        with self._read() as session:
            row = session.get(UserRow, user_id)
            return None if row is None else User(row.id, row.created_at)

    def list_users(self, offset: int = 0, limit: int = 100) -> list[User]:
        """Users ordered by id."""
        check_page(offset, limit)
        with self._read() as session:
            rows = session.scalars(select(UserRow).order_by(UserRow.id).offset(offset).limit(limit))
            return [User(r.id, r.created_at) for r in rows]

    def create_api_key(self, role: Role, user_id: str | None = None) -> str:
        """Create a key and return its plaintext. This is the only time it is available.

        A ``"user"`` key acts as ``user_id`` (required; the user is created if new).
        An ``"admin"`` key may name a user or not.
        """
        if role not in ROLES:
            raise SchemaError(f"role must be 'user' or 'admin', got {role!r}", [("role", "bad")])
        if role == "user" and user_id is None:
            raise SchemaError("a 'user' API key needs the user_id it acts as", [("user_id", "")])
        if user_id is not None:
            check_id(user_id, "user id")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._write() as session:
            if user_id is not None:
                ensure_user_in(session, user_id)
            session.add(
                ApiKeyRow(
                    id="key_" + secrets.token_hex(8),
                    key_hash=hash_api_key(key),
                    role=role,
                    user_id=user_id,
                    created_at=utcnow(),
                    revoked=False,
                )
            )
        return key

    def create_user_key(self, user_id: str, idempotency_key: str | None = None) -> tuple[str, bool]:
        """Create a new user and its ``"user"`` key; return ``(key, replayed)``.

        Without ``idempotency_key`` an existing user raises :class:`ConflictError`. With
        one (see :data:`IDEMPOTENCY_KEY`), a retry of the call that created the user
        answers ``replayed=True`` with a fresh key that replaces the first one (module
        docstring); the same idempotency key for another user, or a user that exists
        without it, raises :class:`ConflictError`. One transaction either way.
        """
        check_id(user_id, "user id")
        idem_id = None
        if idempotency_key is not None:
            if not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
                raise SchemaError(
                    "Idempotency-Key must be 16 to 128 characters of A-Z, a-z, 0-9, '_' "
                    "and '-' (a UUID4 works)",
                    [("Idempotency-Key", "16-128 URL-safe characters")],
                )
            digest = hashlib.sha256(f"create_user\0{idempotency_key}".encode()).hexdigest()
            idem_id = _IDEM_PREFIX + digest[: 32 - len(_IDEM_PREFIX)]
        try:
            return self._create_user_key(user_id, idem_id)
        except IntegrityError:
            # A concurrent request with the same Idempotency-Key (PostgreSQL) inserted
            # first: this one is its retry now.
            return self._create_user_key(user_id, idem_id)

    def _create_user_key(self, user_id: str, idem_id: str | None) -> tuple[str, bool]:
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._write() as session:
            if idem_id is not None:
                row = session.get(ApiKeyRow, idem_id, with_for_update=True)
                if row is not None:
                    if row.user_id != user_id:
                        raise ConflictError(
                            "this Idempotency-Key was used to create another user; "
                            "a new request needs a new key"
                        )
                    row.key_hash, row.revoked = hash_api_key(key), False
                    return key, True
            if session.get(UserRow, user_id) is not None:
                raise ConflictError(f"user {user_id!r} already exists")
            ensure_user_in(session, user_id)
            session.add(
                ApiKeyRow(
                    id=idem_id or "key_" + secrets.token_hex(8),
                    key_hash=hash_api_key(key),
                    role="user",
                    user_id=user_id,
                    created_at=utcnow(),
                    revoked=False,
                )
            )
        return key, False

    def resolve_api_key(self, key: str) -> ApiKeyInfo | None:
        """What ``key`` grants, or ``None`` if it is unknown or revoked."""
        if not key or len(key) > _MAX_KEY_CHARS:
            return None
        with self._read() as session:
            row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == hash_api_key(key)))
            if row is None or row.revoked:
                return None
            return _key_info(row)

    def list_api_keys(self, user_id: str | None = None) -> list[ApiKeyInfo]:
        """Every key (revoked ones too), or those of one user, oldest first."""
        stmt = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        if user_id is not None:
            stmt = stmt.where(ApiKeyRow.user_id == user_id)
        with self._read() as session:
            return [_key_info(row) for row in session.scalars(stmt)]

    def revoke_api_key(self, key_id: str) -> bool:
        """Revoke the key with this id (``ApiKeyInfo.id``); False if there is no such key."""
        with self._write() as session:
            stmt = update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(revoked=True)
            return returned(session, stmt.returning(ApiKeyRow.id)) > 0
