"""``taste2vec retrain``: snapshot -> train -> evaluate on the newest tastings against the
champion -> register (first model: champion; better: challenger; else nothing), resumable
after SIGKILL, refusing empty or corrupt input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from taste2vec.batch.retrain import (
    RetrainConfig,
    RetrainError,
    RetrainResult,
    load_accumulated,
    retrain,
    split_by_time,
)
from taste2vec.batch.snapshot import SnapshotError, export_snapshot
from taste2vec.data.demo import demo_tastings, load_demo_catalogue
from taste2vec.model.artifact import weights_version
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.registry import ModelRegistry
from taste2vec.store import Store, create_store
from tests.conftest import HashingEncoder

# one worker trains the module's model once
pytestmark = [pytest.mark.xdist_group("batch-retrain")]

REPO = Path(__file__).resolve().parents[2]
#: Tiny on purpose: a few hundred records, four epochs, no refit (seconds, not minutes).
CFG = RetrainConfig(epochs=4, include_cqi=False, bundled_limit=120, refit=False, seed=7)


def _fill(store: Store, n: int) -> None:
    """``n`` of the demo tastings again, under new ids (the store's own tastings)."""
    store.upsert_coffees(load_demo_catalogue())
    for rec in demo_tastings()[:n]:
        store.add_record(rec.model_copy(update={"id": f"s-{rec.id}"}))


@pytest.fixture(scope="module")
def snap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("retrain-snap")
    with create_store(f"sqlite:///{home / 'store.db'}") as store:
        _fill(store, 40)
        export_snapshot(home / "snap", store=store)
    return home / "snap"


@contextmanager
def _env(root: Path) -> Iterator[Env]:
    root.mkdir(parents=True, exist_ok=True)
    with create_store(f"sqlite:///{root / 'store.db'}") as store:
        registry = ModelRegistry(f"sqlite:///{root / 'mlflow.db'}", store, cache_dir=root / "cache")
        yield Env(root, store, registry)


@dataclass
class Env:
    root: Path
    store: Store
    registry: ModelRegistry


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with _env(tmp_path_factory.mktemp("retrain-env")) as opened:
        yield opened


@pytest.fixture(scope="module")
def first(snap: Path, env: Env) -> RetrainResult:
    """The uninterrupted run: no champion yet, so its model becomes the champion."""
    return retrain(snap, env.registry, HashingEncoder(), env.root / "ck", CFG, progress=False)


def _redo_from(ck: Path, stage: str) -> None:
    """Forget the stages after ``stage`` (as if the run had been killed after it)."""
    state = json.loads((ck / "state.json").read_text())
    keep = state["done"][: state["done"].index(stage) + 1]
    (ck / "state.json").write_text(json.dumps({**state, "done": keep}))


def test_first_model_becomes_champion_with_evidence(first: RetrainResult, env: Env) -> None:
    assert first.decision == "champion", first.message
    assert "no champion yet" in first.message and first.version == "1"
    assert env.registry.aliases() == {"champion": "1"}
    event = env.registry.history("champion")[0]
    assert event.actor == "retrain"
    ev = event.evidence
    assert ev["champion_holdout"] is None
    assert ev["candidate_holdout"]["sensory_mae"] == first.candidate["sensory_mae"]
    assert ev["holdout"]["kind"] == "time" and ev["holdout"]["n"] == 8  # 20 % of 40
    assert ev["data_fingerprint"] == first.data["fingerprint"]
    assert ev["accumulated"]["tastings"] == 40
    # no feedback, box rating or Lab session in this snapshot: the stage is skipped
    assert first.preferences == {"ran": False, "why": "no usable reaction"}
    assert ev["preferences"] == first.preferences
    # the holdout is the newest data: every training tasting is older than it
    assert ev["holdout"]["train_tastings_until"] <= ev["holdout"]["from"]
    info = env.registry.version("1")
    assert info.data_fingerprint == first.data["fingerprint"]


def test_a_finished_run_is_not_repeated(first: RetrainResult, snap: Path, env: Env) -> None:
    again = retrain(snap, env.registry, HashingEncoder(), env.root / "ck", CFG, progress=False)
    assert again.resumed["stages"] == ["data", "train", "preferences", "evaluate", "register"]
    assert again.decision == first.decision and again.version == first.version
    assert len(env.registry.versions()) == 1


def test_not_better_registers_nothing_and_better_becomes_challenger(
    first: RetrainResult, snap: Path, env: Env
) -> None:
    ck = env.root / "ck"
    # The same candidate against itself as champion: not better, nothing registered.
    _redo_from(ck, "train")
    same = retrain(snap, env.registry, HashingEncoder(), ck, CFG, progress=False)
    assert same.decision == "not better", same.message
    assert same.message.startswith("not better") and same.version is None
    assert same.champion == same.candidate and same.champion_version == "1"
    # the paired test: every row's difference is 0, so the lower bound is not above 0
    assert same.paired is not None and same.paired["n"] == 8
    assert same.paired["mean_gain"] == 0 and same.paired["lower"] <= 0
    assert "lower bound is not above 0" in same.message
    assert len(env.registry.versions()) == 1 and env.registry.aliases() == {"champion": "1"}

    # A broken champion (scrambled weights): the candidate beats it and becomes challenger.
    broken = Taste2Vec.load(ck / "candidate", text_encoder=HashingEncoder())
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in broken.net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 3)
    broken.save(env.root / "broken", {"fingerprint": "broken"}, {})
    info, _ = env.registry.register(env.root / "broken", actor="test")
    env.registry.promote(info.version, actor="test", reason="a broken champion")
    _redo_from(ck, "train")
    better = retrain(snap, env.registry, HashingEncoder(), ck, CFG, progress=False)
    assert better.decision == "challenger", better.message
    assert better.champion_version == info.version
    assert better.candidate["sensory_mae"] < better.champion["sensory_mae"]  # type: ignore[index]
    assert env.registry.aliases() == {"champion": info.version, "challenger": better.version}
    event = env.registry.history("challenger")[0]
    assert event.actor == "retrain"
    assert event.evidence["champion_holdout"] == better.champion
    assert event.evidence["candidate_holdout"] == better.candidate
    assert event.evidence["holdout"]["ids_sha256"] == first.holdout["ids_sha256"]
    paired = event.evidence["paired_test"]
    assert paired == better.paired and paired["n"] == 8 and paired["confidence"] == 0.95
    assert 0 < paired["lower"] <= paired["mean_gain"] <= paired["upper"]


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from taste2vec.batch.retrain import RetrainConfig, retrain
    from taste2vec.registry import ModelRegistry
    from taste2vec.store import create_store
    from taste2vec.training import train as train_mod
    from tests.conftest import HashingEncoder

    save = train_mod.EpochCheckpoint.save

    def save_then_die(self, phase, state):
        save(self, phase, state)
        if state["epoch"] == 2:  # killed right after epoch 2 is on disk
            os.kill(os.getpid(), signal.SIGKILL)

    train_mod.EpochCheckpoint.save = save_then_die
    root = Path({root!r})
    with create_store(f"sqlite:///{{root / 'store.db'}}") as store:
        reg = ModelRegistry(f"sqlite:///{{root / 'mlflow.db'}}", store, cache_dir=root / "cache")
        retrain(Path({snap!r}), reg, HashingEncoder(), root / "ck", RetrainConfig(**{cfg}),
                progress=False)
    """
)


def test_sigkilled_run_resumes_from_its_last_epoch(
    first: RetrainResult, snap: Path, env: Env, tmp_path: Path
) -> None:
    root = tmp_path / "killed"
    root.mkdir()
    cfg = {"epochs": 4, "include_cqi": False, "bundled_limit": 120, "refit": False, "seed": 7}
    assert RetrainConfig(**cfg) == CFG  # type: ignore[arg-type]
    script = KILLER.format(repo=str(REPO), root=str(root), snap=str(snap), cfg=cfg)
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    state = json.loads((root / "ck" / "state.json").read_text())
    assert state["done"] == ["data"]  # killed inside the train stage
    assert not (root / "ck" / "candidate").exists()
    with _env(root) as resumed_env:
        result = retrain(
            snap, resumed_env.registry, HashingEncoder(), root / "ck", CFG, progress=False
        )
        assert result.resumed["stages"] == ["data"]
        assert result.resumed["epochs"] == {"select": 2}  # epochs 3-4 only, not 1-4 again
        assert result.decision == "champion"
        # the resumed run ends with exactly the weights of the run that was never stopped
        assert weights_version(root / "ck" / "candidate") == weights_version(
            env.root / "ck" / "candidate"
        )


# ---------------------------------------------------------------------- bad input
def test_empty_snapshot_is_refused(tmp_path: Path) -> None:
    with create_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.upsert_coffees(load_demo_catalogue())
        export_snapshot(tmp_path / "snap", store=store, allow_empty=True)
    with pytest.raises(RetrainError, match="no tasting records"):
        load_accumulated(tmp_path / "snap")


def test_corrupt_or_missing_snapshot_is_refused(snap: Path, tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no snapshot"):
        load_accumulated(tmp_path / "nothing")
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(snap), str(copy)], check=True)
    part = next((copy / "tasting_records").rglob("*.parquet"))
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different bytes
    part.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="corrupt"):
        load_accumulated(copy)


def test_too_few_tastings_for_a_holdout_are_refused() -> None:
    recs = demo_tastings()[:4]
    with pytest.raises(RetrainError, match="too few tastings"):
        split_by_time(recs, 0.2, 5)
    train_recs, holdout, definition = split_by_time(demo_tastings()[:30], 0.2, 5)
    assert len(holdout) == 6 and definition["n"] == 6
    assert max(r.timestamp for r in train_recs) <= min(r.timestamp for r in holdout)


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(RetrainError, match="holdout_fraction"):
        RetrainConfig(holdout_fraction=1.0)
    with pytest.raises(RetrainError, match="min_improvement"):
        RetrainConfig(min_improvement=float("nan"))
    with pytest.raises(RetrainError, match="confidence"):
        RetrainConfig(confidence=1.0)


def test_corrupt_checkpoint_is_refused(snap: Path, tmp_path: Path) -> None:
    with _env(tmp_path) as e:
        (tmp_path / "ck").mkdir()
        (tmp_path / "ck" / "state.json").write_text("{not json")
        with pytest.raises(RetrainError, match="corrupt"):
            retrain(snap, e.registry, HashingEncoder(), tmp_path / "ck", CFG, progress=False)


def test_cli_dry_run_and_exit_2(
    snap: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import taste2vec.model.taste2vec as t2v
    from taste2vec.cli import app

    monkeypatch.setattr(t2v, "text_encoder_for", lambda _s: HashingEncoder())
    monkeypatch.setenv("T2V_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("T2V_REGISTRY_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("T2V_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    ck = ["--checkpoint-dir", str(tmp_path / "ck")]
    res = runner.invoke(app, ["retrain", "--snapshot", str(snap), *ck, "--dry-run", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["decision"] == "dry run" and summary["holdout"]["n"] == 8
    assert summary["data"]["accumulated"]["tastings"] == 40
    assert not (tmp_path / "ck" / "candidate").exists()
    res = runner.invoke(app, ["retrain", "--snapshot", str(tmp_path / "none"), *ck])
    assert res.exit_code == 2 and "no snapshot" in " ".join(res.output.split())
    res = runner.invoke(app, ["retrain", "--snapshot", str(snap), *ck, "--min-holdout", "40"])
    assert res.exit_code == 2 and "too few tastings" in " ".join(res.output.split())


def test_scheduled_retrain_runs_on_one_replica_at_a_time(tmp_path: Path) -> None:
    from taste2vec.service.retrain import RETRAIN_SCHEDULER_ACTOR, RetrainScheduler

    with _env(tmp_path) as e:
        _fill(e.store, 40)
        url = f"sqlite:///{tmp_path / 'store.db'}"

        def scheduler(holder: str) -> RetrainScheduler:
            return RetrainScheduler(
                e.registry,
                HashingEncoder(),
                interval_s=3600,
                work_dir=tmp_path / holder,
                store_url=url,
                cfg=CFG,
                holder=holder,
            )

        a, b = scheduler("replica-a"), scheduler("replica-b")
        fence = e.store.acquire_lease(b.lease_name, "replica-b", 60)  # b is mid-run
        assert fence is not None
        assert a.tick() is None and a.runs == 0  # a skips the round
        assert e.registry.versions() == []
        e.store.release_lease(fence)
        result = a.tick()
        assert result is not None and result.decision == "champion", result
        assert e.registry.aliases() == {"champion": result.version}
        assert e.registry.history("champion")[0].actor == RETRAIN_SCHEDULER_ACTOR
        # the lease is given back after the run: b may take it now
        assert e.store.acquire_lease(b.lease_name, "replica-b", 60) is not None


def test_scheduler_skips_a_store_without_tastings(tmp_path: Path) -> None:
    from taste2vec.service.retrain import RetrainScheduler

    with _env(tmp_path) as e:
        e.store.upsert_coffees(load_demo_catalogue())
        s = RetrainScheduler(
            e.registry,
            HashingEncoder(),
            interval_s=3600,
            work_dir=tmp_path / "work",
            store_url=f"sqlite:///{tmp_path / 'store.db'}",
            cfg=CFG,
        )
        assert s.tick() is None and s.runs == 0
        assert e.registry.versions() == []


def test_no_holdout_tasting_trains() -> None:
    """The demo store holds the bundled demo tastings: the holdout's copies in the base
    corpus (same id, or same notes and metrics) are left out of training."""
    from taste2vec.batch.retrain import build_training_corpus

    tastings = demo_tastings()[:40]
    train_recs, holdout, _ = split_by_time(tastings, 0.2, 5)
    cfg = RetrainConfig(include_cqi=False)
    corpus = build_training_corpus(cfg, None, train_recs, holdout)
    trained = [*corpus.train, *corpus.val]
    held = {r.id for r in holdout}
    assert not held & {r.id for r in trained}
    assert not {r.notes for r in holdout} & {r.notes for r in trained if r.notes}
    assert corpus.sources["base_left_out_as_holdout"] >= len(holdout)
    # the older store tastings are in the base corpus already (same ids): not added twice
    assert corpus.sources["store"] == 0
    assert len({r.id for r in trained}) == len(trained)


def test_champion_of_another_text_tower_loads_with_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the default text tower changed (MiniLM -> static), a retrain's candidate
    is scored against a champion trained with the other tower: the champion must load
    with the tower its artifact names, not with the candidate's encoder (which its
    weights do not fit), and with the candidate's encoder when they match."""
    from taste2vec.batch import retrain as rt

    calls: list[object] = []
    monkeypatch.setattr(
        rt.Taste2Vec, "load", classmethod(lambda cls, path, **kw: calls.append(kw) or "m")
    )
    encoder = HashingEncoder()
    for model_id in ("model:minilm-like:mean-v2", encoder.model_id):
        champ = tmp_path / model_id.replace(":", "_")
        champ.mkdir()
        (champ / "config.json").write_text(json.dumps({"text_model_id": model_id}))
        assert rt._load_champion(champ, encoder) == "m"
    assert calls == [{}, {"text_encoder": encoder}]
