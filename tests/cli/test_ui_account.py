"""``taste2vec ui-account``: create a web UI account or set its password."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from taste2vec.cli import app
from taste2vec.service.accounts import Accounts
from taste2vec.store import create_store

runner = CliRunner()


def test_ui_account_creates_a_taster_and_an_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 't2v.db'}"
    monkeypatch.setenv("T2V_DATABASE_URL", url)
    monkeypatch.setenv("T2V_UI_PASSWORD", "a long password")
    result = runner.invoke(app, ["ui-account", "kim"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["ui-account", "ops", "--admin"])
    assert result.exit_code == 0, result.output
    with create_store(url) as store:
        kim, ops = store.get_account("kim"), store.get_account("ops")
        assert kim is not None and (kim.role, kim.user_id) == ("user", "kim")
        assert ops is not None and (ops.role, ops.user_id) == ("admin", None)
        assert (
            Accounts(store).sign_in("kim", "a long password", "127.0.0.1").session.user_id == "kim"
        )


def test_ui_account_refuses_a_short_password_and_a_bad_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T2V_DATABASE_URL", f"sqlite:///{tmp_path / 't2v.db'}")
    monkeypatch.setenv("T2V_UI_PASSWORD", "short")
    result = runner.invoke(app, ["ui-account", "kim"])
    assert result.exit_code == 2 and "8 to 256" in result.output
    monkeypatch.setenv("T2V_UI_PASSWORD", "a long password")
    result = runner.invoke(app, ["ui-account", "../x"])
    assert result.exit_code == 2
