"""The taste2vec command line: help, output formats, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from taste2vec.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T2V_CACHE_DIR", str(Path(".cache/taste2vec-tests").resolve()))


@pytest.mark.parametrize("command", ["train", "evaluate", "embed", "lexicon"])
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_lexicon_json_finds_english_and_korean() -> None:
    result = runner.invoke(app, ["lexicon", "--json", "자몽과 꿀, with a hint of stone fruit"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    paths = {d["path"] for d in payload["descriptors"]}
    assert any("Grapefruit" in p for p in paths) and any("Honey" in p for p in paths)
    assert "grapefruit" in payload["rendered"].lower()


def test_lexicon_table_output() -> None:
    result = runner.invoke(app, ["lexicon", "dark chocolate and walnut"])
    assert result.exit_code == 0
    assert "Dark Chocolate" in result.output and "다크 초콜릿" in result.output


@pytest.mark.slow
def test_embed_single_record(tiny_model_dir: Path, tmp_path: Path, env: None) -> None:
    f = tmp_path / "one.json"
    f.write_text(json.dumps({"id": "t1", "user": "ana", "notes": "bright lemon, black tea"}))
    result = runner.invoke(app, ["embed", str(f), "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["id"] == "t1" and len(payload["embedding"]) == 128
    assert set(payload["explanation"]) == {"sensory", "families"}
    assert "acidity" in payload["explanation"]["sensory"]


@pytest.mark.slow
def test_embed_json_lines_from_stdin(tiny_model_dir: Path, env: None) -> None:
    lines = "\n".join(
        json.dumps({"id": f"t{i}", "user": "u", "notes": note})
        for i, note in enumerate(["plum and cocoa", "재스민, 자몽", ""])
    )
    result = runner.invoke(app, ["embed", "-", "--model", str(tiny_model_dir)], input=lines)
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in result.stdout.strip().splitlines()]
    assert [r["id"] for r in rows] == ["t0", "t1", "t2"]


@pytest.mark.slow
def test_embed_rejects_bad_records_with_field_and_exit_2(tiny_model_dir: Path, env: None) -> None:
    bad = json.dumps({"id": "t1", "user": "u", "metrics": {"acidity": 42}})
    result = runner.invoke(app, ["embed", "-", "--model", str(tiny_model_dir)], input=bad)
    assert result.exit_code == 2
    assert "metrics.acidity" in result.stderr and "0 to 10" in result.stderr
    result = runner.invoke(app, ["embed", "-", "--model", str(tiny_model_dir)], input="{nope")
    assert result.exit_code == 2 and "not valid JSON" in result.stderr
    result = runner.invoke(app, ["embed", "-", "--model", str(tiny_model_dir)], input="")
    assert result.exit_code == 2


def test_embed_without_a_model_exits_3(tmp_path: Path, env: None) -> None:
    result = runner.invoke(
        app, ["embed", "-", "--model", str(tmp_path / "missing")], input='{"id": "a", "user": "u"}'
    )
    assert result.exit_code == 3
    assert "taste2vec train" in result.stderr


def test_evaluate_needs_a_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["evaluate", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 4


@pytest.mark.slow
def test_evaluate_if_data_without_data_prints_validation(
    tiny_model_dir: Path, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("taste2vec.cli.Settings", _no_data_settings)
    result = runner.invoke(app, ["evaluate", "--if-data", "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    assert "sensory_text" in result.stdout and "T2V_DATA_DIR" in result.stdout


def _no_data_settings():  # type: ignore[no-untyped-def]
    from taste2vec.config import Settings

    return Settings(data_dir=None)
