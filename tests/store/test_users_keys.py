"""Users and API keys: only the hash of a key is stored, resolve and revoke."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.engine import make_url

from taste2vec.errors import ConflictError, SchemaError
from taste2vec.store import Store, hash_api_key


def _every_stored_value(url: str) -> str:
    """Every value of every table, as text."""
    engine = create_engine(make_url(url))
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return "\n".join(
                repr(tuple(row))
                for table in meta.sorted_tables
                for row in conn.execute(select(table))
            )
    finally:
        engine.dispose()


def test_users_are_created_once_and_listed(store: Store) -> None:
    first = store.ensure_user("ana")
    assert store.ensure_user("ana") == first
    store.ensure_user("bob")
    assert store.get_user("ana") == first
    assert store.get_user("nobody") is None
    assert [u.id for u in store.list_users()] == ["ana", "bob"]
    assert [u.id for u in store.list_users(offset=1, limit=1)] == ["bob"]
    assert first.created_at.tzinfo is not None
    with pytest.raises(SchemaError, match="invalid user id"):
        store.ensure_user("not valid!")


def test_api_key_plaintext_is_never_stored(store: Store, store_url: str) -> None:
    key = store.create_api_key("user", user_id="ana")
    admin_key = store.create_api_key("admin")
    assert key.startswith("t2v_") and len(key) >= 40 and key != admin_key
    stored = _every_stored_value(store_url)
    assert hashlib.sha256(key.encode()).hexdigest() == hash_api_key(key)
    assert hash_api_key(key) in stored
    for plaintext in (key, admin_key, key[4:]):
        assert plaintext not in stored
    if store_url.startswith("sqlite"):
        database = Path(str(make_url(store_url).database))
        raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        assert hash_api_key(key).encode() in raw
        assert key.encode() not in raw and key[4:].encode() not in raw


def test_resolve_and_revoke(store: Store) -> None:
    key = store.create_api_key("user", user_id="ana")
    admin = store.create_api_key("admin")
    info = store.resolve_api_key(key)
    assert info is not None and (info.role, info.user_id, info.revoked) == ("user", "ana", False)
    admin_info = store.resolve_api_key(admin)
    assert admin_info is not None and (admin_info.role, admin_info.user_id) == ("admin", None)
    assert store.get_user("ana") is not None
    assert store.resolve_api_key(key + "x") is None
    assert store.resolve_api_key("") is None
    assert [k.id for k in store.list_api_keys(user_id="ana")] == [info.id]
    assert store.revoke_api_key(info.id) is True
    assert store.resolve_api_key(key) is None
    assert store.revoke_api_key("key_missing") is False
    assert [k.revoked for k in store.list_api_keys(user_id="ana")] == [True]
    assert store.resolve_api_key(admin) == admin_info


def test_bad_roles_and_user_keys_without_user(store: Store) -> None:
    with pytest.raises(SchemaError, match="role"):
        store.create_api_key("root")  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="user_id"):
        store.create_api_key("user")
    assert store.list_api_keys() == []


def test_create_user_key_is_retry_safe_with_an_idempotency_key(store: Store) -> None:
    idem = "0b6c1c5e-9a4f-4d7e-8f3a-2d1e5c7b9a10"
    first, replayed = store.create_user_key("kim", idem)
    assert replayed is False and store.resolve_api_key(first) is not None
    again, replayed = store.create_user_key("kim", idem)  # the answer was lost: a retry
    assert replayed is True and again != first
    info = store.resolve_api_key(again)
    assert info is not None and info.user_id == "kim" and info.role == "user"
    assert store.resolve_api_key(first) is None  # the unseen key is replaced, not added
    assert len(store.list_api_keys("kim")) == 1
    assert [u.id for u in store.list_users()].count("kim") == 1
    with pytest.raises(ConflictError, match="another user"):
        store.create_user_key("lee", idem)
    with pytest.raises(ConflictError, match="'kim' already exists"):
        store.create_user_key("kim", "another-key-0123456789")
    with pytest.raises(ConflictError, match="'kim' already exists"):
        store.create_user_key("kim")
    assert store.get_user("lee") is None


def test_create_user_key_refuses_a_malformed_idempotency_key(store: Store) -> None:
    for bad in ("short", "x" * 129, "has space in it 123", "ünïcode-key-123456"):
        with pytest.raises(SchemaError, match="Idempotency-Key"):
            store.create_user_key("kim", bad)
    assert store.get_user("kim") is None
    key, replayed = store.create_user_key("kim")
    assert replayed is False and store.resolve_api_key(key) is not None
