"""Sign-in rules of the web UI (service.accounts): the wait after failures, passwords."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taste2vec.service.accounts import (
    FREE_FAILURES,
    MAX_WAIT_S,
    Accounts,
    SignInFailed,
    SignInThrottled,
    _wait_s,
    hash_password,
)
from taste2vec.store import create_store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_no_wait_before_the_free_failures_are_used() -> None:
    assert _wait_s(0, None, FREE_FAILURES, NOW) == 0
    assert _wait_s(FREE_FAILURES - 1, NOW, FREE_FAILURES, NOW) == 0


def test_the_wait_doubles_per_failure_and_is_capped() -> None:
    assert _wait_s(FREE_FAILURES, NOW, FREE_FAILURES, NOW) == 1
    assert _wait_s(FREE_FAILURES + 3, NOW, FREE_FAILURES, NOW) == 8
    later = NOW + timedelta(seconds=5)
    assert _wait_s(FREE_FAILURES + 3, NOW, FREE_FAILURES, later) == 3  # time already waited
    assert _wait_s(FREE_FAILURES + 40, NOW, FREE_FAILURES, NOW) == MAX_WAIT_S
    assert _wait_s(FREE_FAILURES + 40, NOW, FREE_FAILURES, NOW + timedelta(days=2)) == 0


def test_passwords_have_a_length_rule_and_are_argon2() -> None:
    with pytest.raises(ValueError, match="8 to 256"):
        hash_password("short")
    assert hash_password("long enough").startswith("$argon2id$")


def test_sign_in_then_throttled(tmp_path: object) -> None:
    store = create_store(f"sqlite:///{tmp_path}/t2v.db")
    try:
        accounts = Accounts(store)
        accounts.set_password("ana", "correct horse", "user", "ana")
        signed = accounts.sign_in("ana", "correct horse", "10.0.0.1")
        assert accounts.session(signed.token) == signed.session
        for _ in range(FREE_FAILURES):
            with pytest.raises(SignInFailed):
                accounts.sign_in("ana", "wrong password", "10.0.0.1")
        with pytest.raises(SignInThrottled) as caught:
            accounts.sign_in("ana", "correct horse", "10.0.0.2")  # another address: same name
        assert caught.value.scope == "user name" and caught.value.retry_after_s >= 1
        accounts.sign_out(signed.token)
        assert accounts.session(signed.token) is None
    finally:
        store.close()
