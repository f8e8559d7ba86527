"""Web UI accounts, sessions and failed sign-in counters, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from taste2vec.errors import SchemaError
from taste2vec.store import Store


def test_an_account_is_created_and_replaced(store: Store) -> None:
    store.set_account("ana", "hash-1", "user", "ana")
    account = store.get_account("ana")
    assert account is not None
    assert (account.name, account.role, account.user_id) == ("ana", "user", "ana")
    assert store.get_user("ana") is not None  # the taster's user is created with it
    store.set_account("ana", "hash-2", "user", "ana")
    replaced = store.get_account("ana")
    assert replaced is not None and replaced.password_hash == "hash-2"  # noqa: S105
    store.set_account("root", "hash-3", "admin", None)
    assert store.count_accounts() == 2
    assert store.get_account("nobody") is None
    assert store.get_account("x" * 500) is None


def test_accounts_refuse_bad_names_and_roles(store: Store) -> None:
    with pytest.raises(SchemaError):
        store.set_account("../evil", "h", "user", "evil")
    with pytest.raises(ValueError, match="role"):
        store.set_account("ana", "h", "owner", "ana")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="user_id"):
        store.set_account("ana", "h", "user", None)


def test_sessions_resolve_until_they_expire_or_sign_out(store: Store) -> None:
    store.set_account("ana", "h", "user", "ana")
    token, csrf = store.create_ui_session("ana", timedelta(hours=1))
    session = store.resolve_ui_session(token)
    assert session is not None
    assert (session.account, session.user_id, session.csrf_token) == ("ana", "ana", csrf)
    assert store.resolve_ui_session(token + "x") is None
    assert store.resolve_ui_session("") is None
    store.delete_ui_session(token)
    assert store.resolve_ui_session(token) is None
    expired, _ = store.create_ui_session("ana", timedelta(seconds=-1))
    assert store.resolve_ui_session(expired) is None


def test_failed_sign_ins_count_until_cleared(store: Store) -> None:
    assert store.login_failures("name:ana") == (0, None)
    assert [store.add_login_failure("name:ana") for _ in range(3)] == [1, 2, 3]
    count, last = store.login_failures("name:ana")
    assert count == 3 and last is not None
    assert store.login_failures("addr:127.0.0.1") == (0, None)  # keys are separate
    store.clear_login_failures("name:ana")
    assert store.login_failures("name:ana") == (0, None)
