"""The same core flow against a real ``mlflow server`` process (started here, on a free
loopback port, with its own sqlite backend and proxied artifact store), and the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from taste2vec.cli import app
from taste2vec.registry import ModelRegistry
from taste2vec.sim.server import free_port
from taste2vec.store import Store, create_store
from tests.registry.flow import core_flow

MLFLOW = Path(sys.executable).with_name("mlflow")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not MLFLOW.exists():
        pytest.skip("mlflow (the full package, dev extra) is not installed")
    home = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            str(MLFLOW),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{home / 'server.db'}",
            "--artifacts-destination",
            str(home / "artifacts"),
        ],  # fmt: skip
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240  # a cold start migrates its database: ~1 min here
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (home / "server.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"mlflow server did not start (exit {proc.poll()}):\n{tail}")
            time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    home = tmp_path_factory.mktemp("server-store")
    with create_store(f"sqlite:///{home / 'store.db'}") as opened:
        yield opened


def test_core_flow_against_an_mlflow_server(
    server: str, store: Store, tiny_model_dir: Path, second_model_dir: Path, tmp_path: Path
) -> None:
    registry = ModelRegistry(server, store, name="flow", cache_dir=tmp_path / "cache")
    core_flow(registry, tiny_model_dir, second_model_dir)
    # the artifacts went through the server (proxied), and download verifies them
    root = registry.download(registry.aliases()["champion"])
    assert (root / "model" / "model.safetensors").is_file()


def test_cli_register_promote_rollback_history(
    server: str, tiny_model_dir: Path, second_model_dir: Path, tmp_path: Path
) -> None:
    env = {
        "T2V_REGISTRY_URI": server,
        "T2V_REGISTRY_MODEL_NAME": "cli",
        "T2V_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "T2V_CACHE_DIR": str(tmp_path / "cache"),
    }
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["model", *args], env=env)
        return result.exit_code, result.output

    code, text = run("register", str(tiny_model_dir), "--promote", "--reason", "first")
    assert code == 0 and "registered version 1" in text and "champion: - -> 1" in text
    code, text = run("register", str(second_model_dir))
    assert code == 0 and "registered version 2" in text
    code, text = run("promote", "2", "--reason", "A/B", "--evidence", '{"lift": 0.06}')
    assert code == 0 and "champion: 1 -> 2" in text
    code, text = run("list")
    assert code == 0 and "champion" in text
    code, text = run("rollback", "--reason", "guardrail")
    assert code == 0 and "champion: 2 -> 1" in text
    code, text = run("history", "--alias", "champion", "--json")
    assert code == 0 and '"lift": 0.06' in text
    assert run("promote", "7")[0] == 2  # missing version
    assert run("promote", "1", "--alias", "production")[0] == 2  # unknown alias
    assert run("promote", "1", "--evidence", "[1]")[0] == 2  # evidence not an object
