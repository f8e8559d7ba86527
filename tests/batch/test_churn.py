"""The churn model: trained on SIMULATED subscribers from a snapshot, calibrated, registered
as taste2vec-churn, and scoring the stream's signals instead of rule-v1 (the rule stays
the fallback)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from taste2vec.batch.churn import (
    ChurnTraining,
    build_dataset,
    default_cutoffs,
    reliability_table,
    train_churn,
)
from taste2vec.batch.snapshot import SnapshotError, export_snapshot
from taste2vec.config import Settings
from taste2vec.errors import ArtifactError
from taste2vec.registry.churn import ChurnRegistry, ChurnScorerSource, load_churn_model
from taste2vec.service.stream import churn_source
from taste2vec.sim.churn import simulate_subscribers
from taste2vec.store import Store, create_store
from taste2vec.stream.log import open_log
from taste2vec.stream.signals import CHURN_RULE, LogisticChurnModel, churn_risk
from taste2vec.stream.state import StreamReader
from taste2vec.stream.worker import run_to_end

# one worker builds the simulated population and trains once for the whole module
pytestmark = [pytest.mark.xdist_group("batch-churn")]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SIMULATED population in a log, the worker's state, and a snapshot."""
    home = tmp_path_factory.mktemp("churn")
    log = open_log(f"sqlite:///{home / 'events.db'}?partitions=4")
    log.append(simulate_subscribers(1200, days=150, seed=3))
    export_snapshot(home / "snap", log=log)
    run_to_end(log, home / "state.db")
    log.close()
    return home


@pytest.fixture(scope="module")
def trained(home: Path) -> ChurnTraining:
    cutoffs = default_cutoffs(home / "snap", horizon_days=30)
    data = build_dataset(home / "snap", cutoffs, horizon_days=30)
    return train_churn(data)


@pytest.fixture(scope="module")
def store(home: Path) -> Iterator[Store]:
    with create_store(f"sqlite:///{home / 'store.db'}") as opened:
        yield opened


def test_training_is_calibrated_and_beats_the_rule_on_held_out_subscribers(
    trained: ChurnTraining,
) -> None:
    m = trained.metrics
    assert m["simulated"] is True
    assert m["examples"]["holdout"] > 500 and m["model"]["positives"] > 30
    # deterministic (seeded simulation and split): the learned model ranks better than
    # the hand-set rule on the same held-out examples
    assert m["model"]["auc"] > m[CHURN_RULE]["auc"]
    assert m["model"]["brier"] < m[CHURN_RULE]["brier"]
    # calibration: predicted and observed rates agree where bins hold enough examples
    for row in m["model"]["reliability"]:
        if row["n"] >= 100:
            assert abs(row["mean_predicted"] - row["observed"]) < 0.08, row
    model = LogisticChurnModel(trained.model)
    assert 0.0 <= model.calibrate(-1e9) <= model.calibrate(1e9) <= 1.0


def test_reliability_table_bins() -> None:
    rows = reliability_table([0.05, 0.15, 0.15, 1.0], [0, 1, 0, 1], bins=10)
    assert [r["n"] for r in rows] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert rows[1]["observed"] == 0.5 and rows[9]["mean_predicted"] == 1.0


def test_model_document_is_validated(tmp_path: Path, trained: ChurnTraining) -> None:
    bad = dict(trained.model, features=["x"])
    with pytest.raises(ValueError, match="other features"):
        LogisticChurnModel(bad)
    with pytest.raises(ValueError, match="format"):
        LogisticChurnModel({"format": "pickle"})
    (tmp_path / "churn.json").write_text("{ nope")
    with pytest.raises(ArtifactError, match="not a usable churn model"):
        load_churn_model(tmp_path)


def test_registered_champion_replaces_the_rule_in_the_stream_signals(
    home: Path, store: Store, trained: ChurnTraining
) -> None:
    registry = ChurnRegistry(f"sqlite:///{home / 'mlflow.db'}", store, cache_dir=home / "cache")
    source = ChurnScorerSource(registry)
    assert source.refresh() is None  # nothing registered: the rule
    reader = StreamReader(home / "state.db", churn_scorer=source)
    users = [f"s{i:06d}" for i in range(40)]
    before = [reader.user_signals(u) for u in users]
    assert all(s is not None and s["churn_rule"] == CHURN_RULE for s in before)

    folder = trained.save(home / "churn-model")
    info, created = registry.register(folder, actor="test")
    assert created and info.weights_version and info.metrics["model.auc"] > 0.5
    again, created = registry.register(folder, actor="test")  # the same document
    assert (again.version, created) == (info.version, False)
    assert source.refresh() is None  # registered, but no champion yet
    registry.promote(info.version, actor="test", reason="beats rule-v1 (SIMULATED)")
    model = source.refresh()
    assert model is not None and model.name == f"taste2vec-churn/{info.version}"
    n_model = 0
    for u in users:
        s = reader.user_signals(u)
        assert s is not None
        if s["subscription_status"] == "cancelled":
            assert s["churn_risk"] == 1.0
            continue
        n_model += 1
        assert s["churn_rule"] == f"taste2vec-churn/{info.version}"
        assert s["churn_risk"] == pytest.approx(model.score(s))
        assert s["churn_risk"] != pytest.approx(churn_risk(s))  # not the rule's number
    assert n_model > 5

    # the service wires the same source from its settings: the registry's champion
    settings = Settings(registry_uri=f"sqlite:///{home / 'mlflow.db'}", cache_dir=home / "svc")
    wired = churn_source(settings, SimpleNamespace(store=store))  # type: ignore[arg-type]
    assert wired is not None
    try:
        assert wired.wait_loaded(60.0)
        loaded = wired()
        assert loaded is not None and loaded.name == model.name
    finally:
        wired.stop()
    none = Settings(registry_uri=f"sqlite:///{home / 'no-such-mlflow.db'}")
    assert churn_source(none, SimpleNamespace(store=store)) is None  # type: ignore[arg-type]

    # a scorer that fails falls back to the rule, for that read
    class Broken:
        name = "broken/1"

        def score(self, signals: object) -> float:
            raise RuntimeError("boom")

    fallback = StreamReader(home / "state.db", churn_scorer=lambda: Broken())
    active = next(
        u
        for u, s in zip(users, before, strict=True)
        if s and s["subscription_status"] != "cancelled"
    )
    s = fallback.user_signals(active)
    assert s is not None and s["churn_rule"] == CHURN_RULE
    assert s["churn_risk"] == pytest.approx(churn_risk(s))
    reader.close()
    fallback.close()
    assert json.loads((folder / "metrics.json").read_text())["simulated"] is True


def test_too_short_a_snapshot_is_refused(tmp_path: Path) -> None:
    log = open_log(f"sqlite:///{tmp_path}/events.db?partitions=1")
    log.append(simulate_subscribers(20, days=20, seed=1))
    export_snapshot(tmp_path / "snap", log=log)
    log.close()
    with pytest.raises(SnapshotError, match="too short"):
        default_cutoffs(tmp_path / "snap", horizon_days=30)


def test_cli_trains_registers_and_promotes(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from taste2vec.cli import app

    monkeypatch.setenv("T2V_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("T2V_REGISTRY_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("T2V_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    args = ["churn-train", "--snapshot", str(home / "snap"), "--out", str(tmp_path / "m")]
    res = runner.invoke(app, [*args, "--register", "--promote"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["promoted"] is True and summary["version"] == "1"
    assert summary["auc"] > summary["rule_auc"]
    with create_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        registry = ChurnRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}", store)
        assert registry.aliases() == {"champion": "1"}
        assert registry.history("champion")[0].evidence["rule_auc"] == summary["rule_auc"]
    res = runner.invoke(app, ["churn-train", "--snapshot", str(tmp_path / "none")])
    assert res.exit_code == 2 and "no snapshot" in " ".join(res.output.split())
    res = runner.invoke(app, [*args, "--promote"])
    assert res.exit_code == 2  # --promote needs --register
