"""Web UI sign-in: accounts, sessions and failed sign-in counters.

The store keeps what it is given: the password hash (the service hashes with argon2),
the SHA-256 of each session token (the cookie's token is 32 random bytes, so a fast hash
is enough, as for API keys) and a per-session CSRF token. Counters of failed sign-ins are
kept here so that every replica slows the same user name and address down.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from taste2vec.store._base import StoreBase, check_id, ensure_user_in
from taste2vec.store._engine import upsert_stmt
from taste2vec.store._tables import AccountRow, LoginFailureRow, UiSessionRow, utcnow
from taste2vec.store._types import ROLES, Role

_MAX_TOKEN_CHARS = 256


@dataclass(frozen=True, slots=True)
class Account:
    """A web UI account (the password hash stays in the store's callers' hands only to
    verify it)."""

    name: str
    role: Role
    user_id: str | None
    password_hash: str


@dataclass(frozen=True, slots=True)
class UiSession:
    """A signed-in browser: whose it is and its CSRF token."""

    account: str
    role: Role
    user_id: str | None
    csrf_token: str
    expires_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _role(value: str) -> Role:
    return "admin" if value == "admin" else "user"


class AccountsMixin(StoreBase):
    """Accounts, sessions and failed sign-ins of the web UI."""

    def set_account(
        self, name: str, password_hash: str, role: Role = "user", user_id: str | None = None
    ) -> None:
        """Create or replace the account ``name``; a taster account acts as ``user_id``
        (created if new)."""
        check_id(name, "user name")
        if role not in ROLES:
            raise ValueError(f"role must be 'user' or 'admin', got {role!r}")
        if role == "user" and user_id is None:
            raise ValueError("a 'user' account needs the user_id it acts as")
        now = utcnow()
        with self._write() as session:
            if user_id is not None:
                ensure_user_in(session, user_id)
            values = {"user_id": user_id, "role": role, "password_hash": password_hash}
            insert = upsert_stmt(session, AccountRow).values(
                name=name, created_at=now, updated_at=now, **values
            )
            session.execute(
                insert.on_conflict_do_update(
                    index_elements=["name"], set_={**values, "updated_at": now}
                )
            )

    def get_account(self, name: str) -> Account | None:
        """The account called ``name``, or None."""
        if not name or len(name) > 128:
            return None
        with self._read() as session:
            row = session.get(AccountRow, name)
            if row is None:
                return None
            return Account(row.name, _role(row.role), row.user_id, row.password_hash)

    def count_accounts(self) -> int:
        with self._read() as session:
            return session.scalar(select(func.count()).select_from(AccountRow)) or 0

    def create_ui_session(self, account: str, ttl: timedelta) -> tuple[str, str]:
        """A new session for ``account``: ``(cookie token, CSRF token)``; the token is
        returned only here."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = utcnow()
        with self._write() as session:
            session.execute(delete(UiSessionRow).where(UiSessionRow.expires_at < now))
            session.add(
                UiSessionRow(
                    token_hash=_token_hash(token),
                    account=account,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return token, csrf

    def resolve_ui_session(self, token: str) -> UiSession | None:
        """The live session of this cookie token, or None (unknown or expired)."""
        if not token or len(token) > _MAX_TOKEN_CHARS:
            return None
        with self._read() as session:
            row = session.get(UiSessionRow, _token_hash(token))
            if row is None or row.expires_at <= utcnow():
                return None
            acc = session.get(AccountRow, row.account)
            if acc is None:
                return None
            return UiSession(acc.name, _role(acc.role), acc.user_id, row.csrf_token, row.expires_at)

    def delete_ui_session(self, token: str) -> None:
        """Sign this session out (nothing happens for an unknown token)."""
        if not token or len(token) > _MAX_TOKEN_CHARS:
            return
        with self._write() as session:
            session.execute(
                delete(UiSessionRow).where(UiSessionRow.token_hash == _token_hash(token))
            )

    def login_failures(self, key: str) -> tuple[int, datetime | None]:
        """``(failures since the last success, time of the last one)`` for ``key``."""
        with self._read() as session:
            row = session.get(LoginFailureRow, key)
            return (0, None) if row is None else (row.count, row.last_at)

    def add_login_failure(self, key: str) -> int:
        """Count one failed sign-in for ``key``; returns the new count."""
        now = utcnow()
        with self._write() as session:
            insert = upsert_stmt(session, LoginFailureRow).values(key=key, count=1, last_at=now)
            session.execute(
                insert.on_conflict_do_update(
                    index_elements=["key"],
                    set_={"count": LoginFailureRow.count + 1, "last_at": now},
                )
            )
            row = session.get_one(LoginFailureRow, key)
            return row.count

    def clear_login_failures(self, key: str) -> None:
        with self._write() as session:
            session.execute(delete(LoginFailureRow).where(LoginFailureRow.key == key))
