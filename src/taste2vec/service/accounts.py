"""Sign-in for the web UI: argon2 password hashes, sessions, slowed-down failures.

:class:`Accounts` wraps the store. A failed sign-in counts against the user name and
against the client address; once either has :data:`FREE_FAILURES` failures since its last
success, each further attempt must wait ``2 ** (failures - FREE_FAILURES)`` seconds (at
most :data:`MAX_WAIT_S`) after the previous failure, and is refused with
:class:`SignInThrottled` (saying how long) without even checking the password. A success
clears the user name's counter (not the address's, which only time clears: an address
guessing many names stays slow). Counters live in the store, so replicas share them.

The password check runs even for an unknown user name (against a dummy hash), so the
answer's timing does not tell which names exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from taste2vec.store import Role, Store, UiSession

FREE_FAILURES = 3  # per user name; an address gets ADDRESS_FREE_FAILURES
ADDRESS_FREE_FAILURES = 10
MAX_WAIT_S = 900.0
FORGET_AFTER = timedelta(hours=24)  # counters older than this start again from zero
SESSION_TTL = timedelta(days=7)
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anybody has")


class SignInFailed(Exception):
    """Wrong user name or password (deliberately not saying which)."""


class SignInThrottled(Exception):
    """Too many failed sign-ins for this user name or address: wait ``retry_after_s``."""

    def __init__(self, retry_after_s: int, scope: str) -> None:
        super().__init__(f"too many failed sign-ins for this {scope}; wait {retry_after_s} s")
        self.retry_after_s = retry_after_s
        self.scope = scope  # "user name" or "address"


@dataclass(frozen=True)
class SignedIn:
    """A new session: the cookie token (shown once) and the session it resolves to."""

    token: str
    session: UiSession


def hash_password(password: str) -> str:
    """An argon2id hash (argon2-cffi's defaults) of ``password``."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise ValueError(f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
    return _hasher.hash(password)


def _wait_s(count: int, last_at: datetime | None, free: int, now: datetime) -> float:
    if last_at is None or count < free or now - last_at > FORGET_AFTER:
        return 0.0
    wait = min(2.0 ** (count - free), MAX_WAIT_S)
    return max(0.0, wait - (now - last_at).total_seconds())


class Accounts:
    """Accounts, sign-in and sessions of the web UI, over the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def set_password(
        self, name: str, password: str, role: Role = "user", user_id: str | None = None
    ) -> None:
        """Create or replace an account (a taster's acts as ``user_id``)."""
        self.store.set_account(name, hash_password(password), role, user_id)

    def check_throttle(self, name: str, address: str) -> None:
        """Raise :class:`SignInThrottled` while this name or address must wait."""
        now = datetime.now(UTC)
        for key, free, scope in (
            (f"name:{name}", FREE_FAILURES, "user name"),
            (f"addr:{address}", ADDRESS_FREE_FAILURES, "address"),
        ):
            count, last_at = self.store.login_failures(key)
            wait = _wait_s(count, last_at, free, now)
            if wait > 0:
                raise SignInThrottled(math.ceil(wait), scope)

    def sign_in(self, name: str, password: str, address: str) -> SignedIn:
        """A new session for the right name and password; :class:`SignInThrottled` while
        slowed down, :class:`SignInFailed` otherwise."""
        self.check_throttle(name, address)
        account = self.store.get_account(name)
        ok = False
        try:
            ok = _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            ok = False
        if account is None or not ok:
            self.store.add_login_failure(f"name:{name}")
            self.store.add_login_failure(f"addr:{address}")
            raise SignInFailed("wrong user name or password")
        self.store.clear_login_failures(f"name:{name}")
        token, _ = self.store.create_ui_session(account.name, SESSION_TTL)
        session = self.store.resolve_ui_session(token)
        if session is None:  # pragma: no cover - just created
            raise SignInFailed("the session could not be created")
        return SignedIn(token, session)

    def session(self, token: str) -> UiSession | None:
        return self.store.resolve_ui_session(token)

    def sign_out(self, token: str) -> None:
        self.store.delete_ui_session(token)
