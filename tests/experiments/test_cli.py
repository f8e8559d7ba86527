"""``taste2vec experiment create|status|stop`` and ``taste2vec controller --once`` on the
embedded registry."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from taste2vec.cli import app


def test_experiment_cli_create_status_stop_and_controller(
    tiny_model_dir: Path, other_model_dir: Path, tmp_path: Path
) -> None:
    env = {
        "T2V_REGISTRY_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "T2V_REGISTRY_MODEL_NAME": "cli-exp",
        "T2V_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "T2V_CACHE_DIR": str(tmp_path / "cache"),
    }
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env=env)
        return result.exit_code, result.output

    code, text = run("experiment", "create", "--treatment", "1")
    assert code == 2 and "no champion" in text, text
    assert run("model", "register", str(tiny_model_dir), "--promote")[0] == 0
    assert run("model", "register", str(other_model_dir))[0] == 0
    code, text = run("experiment", "create", "--treatment", "2", "--share", "1.5")
    assert code == 2 and "treatment_share" in text, text
    code, text = run("experiment", "create", "--treatment", "2", "--set", "bogus=1")
    assert code == 2 and "unknown experiment setting" in text, text
    code, text = run(
        "experiment", "create", "--treatment", "2", "--id", "cli-1", "--set", "min_users_per_arm=5"
    )
    assert code == 0 and "cli-1: running" in text and "treatment v2 (10% of users)" in text, text
    code, text = run("experiment", "create", "--treatment", "2")
    assert code == 2 and "active experiment" in text, text
    code, text = run("experiment", "status", "cli-1", "--evaluate", "--json")
    assert code == 0, text
    [shown] = json.loads(text)
    assert shown["config"] == {"min_users_per_arm": 5} and shown["current"]["action"] == "continue"
    code, text = run("controller", "--once")
    assert code == 0 and "cli-1: continue -> running" in text, text
    code, text = run("experiment", "stop", "cli-1", "--reason", "done")
    assert code == 0 and "cli-1: stopped" in text, text
    assert run("experiment", "stop", "cli-1")[0] == 2  # not running any more
    code, text = run("model", "history", "--alias", "challenger", "--json")
    actions = [e["action"] for e in json.loads(text)]
    assert actions == ["remove", "promote"]  # set for the experiment, cleared by stop
