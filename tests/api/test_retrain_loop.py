"""``T2V_RETRAIN_INTERVAL_S``: the service supervises the scheduled retraining loop only
when it is set (off by default), next to the experiment controller."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from taste2vec.api.app import create_app
from taste2vec.registry import open_registry
from taste2vec.store import create_store
from tests.api.conftest import make_settings


@pytest.mark.parametrize("interval", [0.0, 3600.0])
def test_retrain_loop_runs_only_when_configured(
    interval: float, tiny_model_dir: Path, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        tiny_model_dir,
        model_source="registry",
        cache_dir=tmp_path / "cache",
        retrain_interval_s=interval,
        retrain_dir=tmp_path / "retrain",
    )
    with create_store(settings.database_url) as store:
        registry = open_registry(settings, store)
        info, _ = registry.register(settings.model_dir, actor="test")
        registry.promote(info.version, actor="test", reason="first champion")
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.service.runtime  # type: ignore[attr-defined]
        assert ("retrain" in runtime.health()) is (interval > 0)
        if interval > 0:
            assert runtime.running("retrain")
    # nothing was retrained or registered at start-up: the first round waits an interval
    with create_store(settings.database_url) as store:
        assert [v.version for v in open_registry(settings, store).versions()] == ["1"]
