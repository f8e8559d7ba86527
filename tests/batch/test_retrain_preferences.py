"""``taste2vec retrain`` on everything accumulated: feedback, box ratings and Lab sessions
fine-tune the retrained model (the preference stage), and the registration gate is a
paired test on the holdout (docs/batch.md, "Retraining")."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch

from taste2vec.batch.preferences import (
    PreferenceConfig,
    PreferenceError,
    fine_tune,
    load_preferences,
    user_ranking,
)
from taste2vec.batch.retrain import RetrainConfig, RetrainError, paired_gain, retrain
from taste2vec.batch.snapshot import Snapshot, export_snapshot
from taste2vec.data.demo import demo_tastings, load_demo_catalogue
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.registry import ModelRegistry
from taste2vec.schema import Feedback, FeedbackSignal
from taste2vec.store import Store, create_store
from taste2vec.stream.events import BoxRated, BoxShipped, LabSession, encode_event
from taste2vec.stream.log import open_log
from tests.conftest import HashingEncoder

pytestmark = [pytest.mark.xdist_group("batch-retrain")]

T0 = datetime(2026, 10, 1, tzinfo=UTC)
LIKED = ["demo-001", "demo-002", "demo-003"]
DISLIKED = "demo-050"
CFG = RetrainConfig(epochs=4, include_cqi=False, bundled_limit=120, refit=False, seed=7)


def _tastings(store: Store, n: int = 40) -> None:
    store.upsert_coffees(load_demo_catalogue())
    for rec in demo_tastings()[:n]:
        store.add_record(rec.model_copy(update={"id": f"s-{rec.id}"}))


def _feedback(store: Store) -> None:
    """13 users who like the same three coffees and dislike ``DISLIKED``."""
    n = 0
    for user in [*(f"u{i}" for i in range(12)), "demo-ana"]:
        for coffee, signal in [*((c, FeedbackSignal.LIKED) for c in LIKED), (DISLIKED, "disliked")]:
            n += 1
            store.add_feedback(
                Feedback(
                    id=f"fb{n}",
                    user=user,
                    coffee=coffee,
                    signal=FeedbackSignal(signal),
                    timestamp=T0 + timedelta(hours=n),
                )
            )


def _events(root: Path):  # type: ignore[no-untyped-def]
    """Box ratings (a whole box, so its shipped coffees) and Lab sessions in a log."""
    log = open_log(f"sqlite:///{root}/events.db?partitions=2")
    evs: list[BoxShipped | BoxRated | LabSession] = []
    for i in range(6):
        user = f"b{i}"
        evs += [
            BoxShipped(
                event_id=f"ship{i}",
                user=user,
                event_time=T0,
                box="box-1",
                coffees=[DISLIKED, "demo-051"],
            ),
            BoxRated(
                event_id=f"rate{i}",
                user=user,
                event_time=T0 + timedelta(days=1),
                box="box-1",
                rating=1,
            ),
            LabSession(
                event_id=f"lab{i}",
                user=user,
                event_time=T0 + timedelta(days=2),
                recipe="V60 4:6",
                coffee="demo-004",
                rating=5,
            ),
        ]
    evs += [  # not usable: a box never shipped, a Lab session without a coffee; a duplicate
        BoxRated(event_id="rate-x", user="b0", event_time=T0, box="box-9", rating=4),
        LabSession(event_id="lab-x", user="b0", event_time=T0, recipe="Aeropress", rating=3),
    ]
    log.append([(e.user, encode_event(e)) for e in [*evs, evs[1]]])
    return log


@pytest.fixture(scope="module")
def snap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("prefs-snap")
    with create_store(f"sqlite:///{home / 'store.db'}") as store:
        _tastings(store)
        _feedback(store)
        export_snapshot(home / "snap", store=store, log=_events(home))
    return home / "snap"


def test_every_kind_of_reaction_is_read(snap: Path) -> None:
    prefs = load_preferences(Snapshot.open(snap))
    assert prefs.counts == {
        "feedback": 13 * 4,
        "box_ratings": 6,  # each: both coffees of the shipped box
        "box_ratings_without_shipment": 1,
        "lab_sessions": 6,
        "lab_sessions_without_coffee": 1,
        "unknown_coffee": 0,
        "reactions": 13 * 4 + 6 * 2 + 6,
    }
    box = [fb for fb in prefs.reactions if fb.id.startswith("box:")]
    assert {fb.coffee for fb in box} == {DISLIKED, "demo-051"}
    assert all(fb.preference == -1.0 for fb in box)  # a 1 of 5
    lab = [fb for fb in prefs.reactions if fb.id.startswith("lab:")]
    assert {(fb.coffee, fb.preference) for fb in lab} == {("demo-004", 1.0)}
    assert len(prefs.catalogue) == len(load_demo_catalogue())


@pytest.fixture(scope="module")
def run(snap: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("prefs-run")
    with create_store(f"sqlite:///{root / 'store.db'}") as store:
        registry = ModelRegistry(f"sqlite:///{root / 'mlflow.db'}", store, cache_dir=root / "c")
        result = retrain(snap, registry, HashingEncoder(), root / "ck", CFG, progress=False)
    assert result.decision == "champion", result.message
    assert result.preferences is not None and result.preferences["ran"]
    assert result.preferences["reactions"] == 70 and result.preferences["epochs"] == 8
    assert result.data["used"]["box_ratings"] == 6 and result.data["used"]["lab_sessions"] == 6
    return root / "ck", snap


def test_a_challenger_version_carries_the_paired_interval(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    """Against a broken champion (scrambled weights) the retrained model registers as
    challenger; the interval and n are in the audit log and in the version's metrics."""
    ck, snap = run
    root = ck.parent
    with create_store(f"sqlite:///{root / 'store.db'}") as store:
        registry = ModelRegistry(f"sqlite:///{root / 'mlflow.db'}", store, cache_dir=root / "c")
        assert registry.version("1").metrics["retrain_gate.candidate_holdout.n"] == 8
        broken = Taste2Vec.load(ck / "tuned", text_encoder=HashingEncoder())
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in broken.net.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 3)
        broken.save(tmp_path / "broken", {"fingerprint": "broken"}, {})
        info, _ = registry.register(tmp_path / "broken", actor="test")
        registry.promote(info.version, actor="test", reason="a broken champion")
        cfg = RetrainConfig(epochs=2, include_cqi=False, bundled_limit=120, refit=False, seed=8)
        result = retrain(snap, registry, HashingEncoder(), tmp_path / "ck", cfg, progress=False)
        assert result.decision == "challenger", result.message
        paired = result.paired
        assert paired is not None and paired["n"] == 8 and 0 < paired["lower"]
        assert "one-sided 95% bounds" in result.message
        event = registry.history("challenger")[0]
        assert event.evidence["paired_test"] == paired
        assert event.evidence["preferences"]["ran"] is True
        metrics = registry.version(result.version).metrics  # type: ignore[arg-type]
        assert metrics["retrain_gate.paired_test.lower"] == pytest.approx(paired["lower"])
        assert metrics["retrain_gate.paired_test.upper"] == pytest.approx(paired["upper"])
        assert metrics["retrain_gate.paired_test.n"] == 8
        assert metrics["preferences.reactions"] == 70


def test_feedback_moves_a_disliked_coffee_down_the_users_ranking(run: tuple[Path, Path]) -> None:
    """The encoder before the preference stage (``candidate/``) against the model the job
    registered (``tuned/``): only the reactions differ between the two."""
    ck, snap = run
    prefs = load_preferences(Snapshot.open(snap))
    liked = [fb for fb in prefs.reactions if fb.user == "demo-ana" and fb.preference > 0]
    before = Taste2Vec.load(ck / "candidate", text_encoder=HashingEncoder())
    after = Taste2Vec.load(ck / "tuned", text_encoder=HashingEncoder())
    rank_before = user_ranking(before, prefs.catalogue, liked).index(DISLIKED)
    rank_after = user_ranking(after, prefs.catalogue, liked).index(DISLIKED)
    assert rank_after > rank_before, (rank_before, rank_after)  # lower in her ranking
    # and the coffee the Lab sessions rated 5 rises for the users who brewed it
    lab_users = [fb for fb in prefs.reactions if fb.user == "b0" and fb.id.startswith("lab:")]
    assert user_ranking(after, prefs.catalogue, lab_users)[0] == "demo-004"


def test_preference_stage_resumes_after_its_last_epoch(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    ck, snap = run
    prefs = load_preferences(Snapshot.open(snap))
    cfg = PreferenceConfig(epochs=4)

    def fresh() -> Taste2Vec:
        return Taste2Vec.load(ck / "candidate", text_encoder=HashingEncoder())

    whole = fresh()
    fine_tune(whole, prefs, cfg, tmp_path / "whole.pt", seed=3, progress=False)

    def die(epoch: int) -> None:
        if epoch == 2:
            raise KeyboardInterrupt  # stands in for a kill right after epoch 2 is on disk

    with pytest.raises(KeyboardInterrupt):
        fine_tune(fresh(), prefs, cfg, tmp_path / "cut.pt", seed=3, progress=False, after_epoch=die)
    resumed = fresh()
    summary = fine_tune(resumed, prefs, cfg, tmp_path / "cut.pt", seed=3, progress=False)
    assert summary["resumed_after_epoch"] == 2
    for a, b in zip(
        whole.net.state_dict().values(), resumed.net.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)


def test_reactions_without_pairs_or_catalogue_are_refused(run: tuple[Path, Path]) -> None:
    ck, snap = run
    prefs = load_preferences(Snapshot.open(snap))
    model = Taste2Vec.load(ck / "candidate", text_encoder=HashingEncoder())
    one = [prefs.reactions[0]]  # a single reaction: nothing to compare it with
    lonely = type(prefs)(one, prefs.catalogue, prefs.counts)
    assert prefs.has_pairs() and not lonely.has_pairs()  # the job skips such a stage
    with pytest.raises(PreferenceError, match="no preference pair"):
        fine_tune(model, lonely, PreferenceConfig(epochs=1), ck / "x.pt", progress=False)
    with pytest.raises(PreferenceError, match="no catalogue"):
        fine_tune(model, type(prefs)(one, [], {}), PreferenceConfig(), ck / "y.pt", progress=False)
    with pytest.raises(PreferenceError, match="no usable reactions"):
        fine_tune(model, type(prefs)([], [], {}), PreferenceConfig(), ck / "z.pt", progress=False)
    with pytest.raises(PreferenceError, match="epochs"):
        PreferenceConfig(epochs=-1)
    with pytest.raises(PreferenceError, match="lr"):
        PreferenceConfig(lr=float("nan"))
    (ck / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PreferenceError, match="unreadable"):
        fine_tune(model, prefs, PreferenceConfig(), ck / "bad.pt", progress=False)


def test_a_corrupt_reaction_in_the_snapshot_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with create_store(f"sqlite:///{db}") as store:
        _tastings(store)
        _feedback(store)
    with sqlite3.connect(db) as conn:  # a row the API would never have written
        conn.execute(
            'UPDATE feedback SET payload = \'{"id": "fb3", "user": "u0"}\' WHERE id = \'fb3\''
        )
    with create_store(f"sqlite:///{db}") as store:
        export_snapshot(tmp_path / "snap", store=store)
    with pytest.raises(RetrainError, match="feedback seq .* is not a valid reaction"):
        with create_store(f"sqlite:///{tmp_path / 'r.db'}") as store:
            reg = ModelRegistry(f"sqlite:///{tmp_path / 'm.db'}", store, cache_dir=tmp_path / "c")
            retrain(tmp_path / "snap", reg, HashingEncoder(), tmp_path / "ck", CFG, progress=False)


# ------------------------------------------------------------------------------ the gate
def test_paired_gate_refuses_a_noise_level_gain_and_accepts_a_real_one() -> None:
    rng = np.random.default_rng(7)
    champion = rng.uniform(0.5, 1.5, size=30)
    # noise: per-row differences with a tiny positive mean and a large spread; the old
    # rule (candidate MAE < champion MAE) would have registered this candidate
    noise = champion - (0.004 + rng.normal(0, 0.1, size=30))
    noisy = paired_gain(champion, noise, seed=1)
    assert noisy["n"] == 30 and noisy["mean_gain"] > 0 and noise.mean() < champion.mean()
    assert noisy["lower"] <= 0 < noisy["upper"]
    # a real gain: every row about 0.1 better, with some spread
    real = paired_gain(champion, champion - 0.1 - rng.normal(0, 0.02, size=30), seed=1)
    assert real["lower"] > 0 and real["rows_better"] == 30 and real["p_one_sided"] < 0.001
    # deterministic under the seed
    assert paired_gain(champion, noise, seed=1) == noisy
    with pytest.raises(RetrainError, match="rows"):
        paired_gain([1.0, 2.0], [1.0], seed=1)
    with pytest.raises(RetrainError, match="not finite"):
        paired_gain([1.0, float("nan")], [1.0, 1.0], seed=1)
