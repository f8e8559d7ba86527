"""Property-based API fuzzing from the OpenAPI spec: no input may cause a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from taste2vec.api import create_app
from tests.api.conftest import ADMIN, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("api")]


@pytest.fixture(scope="module")
def fuzz_app(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp = tmp_path_factory.mktemp("fuzz")
    app = create_app(make_settings(tmp, tiny_model_dir, max_batch=4))
    with TestClient(app):  # runs the lifespan: store, demo data, model
        app.state.user_key = json.loads((tmp / "demo-keys.json").read_text())["demo-ana"]
        yield app


def _fuzz(app: FastAPI, headers: dict[str, str] | None, examples: int) -> int:
    """Run every operation with generated inputs; return how many cases ran."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            nonlocal ran
            ran += 1
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        check()
    return ran


def test_no_server_errors_as_admin(fuzz_app: FastAPI) -> None:
    assert _fuzz(fuzz_app, ADMIN, 15) > 100


def test_no_server_errors_as_user_or_anonymous(fuzz_app: FastAPI) -> None:
    assert _fuzz(fuzz_app, {"X-API-Key": fuzz_app.state.user_key}, 5) > 30
    assert _fuzz(fuzz_app, None, 3) > 20
