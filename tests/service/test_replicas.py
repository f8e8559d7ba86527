"""Replicas over one store stay consistent: what one process accepts, every other process
serves on its next read (users' states), or within the follower's interval (catalogue,
crowd statistics). Two service objects on one store stand for two processes; the API test
``tests/api/test_replicas.py`` runs two real servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.text import HFSentenceEncoder
from taste2vec.schema import Coffee, Feedback, FeedbackSignal, TasteRecord
from taste2vec.service import TasteService, seed_demo
from taste2vec.service.follower import Follower
from taste2vec.store import Store, create_store
from tests.store.conftest import postgres_db_url, postgres_server_url, postgres_url  # noqa: F401

pytestmark = pytest.mark.xdist_group("postgres")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def replicas(
    store_url: str, tiny_model_dir: Path, minilm: HFSentenceEncoder, tmp_path: Path
) -> Iterator[tuple[TasteService, TasteService]]:
    stores: list[Store] = [create_store(store_url), create_store(store_url)]
    seed_demo(stores[0], tmp_path / "keys.json")
    services = [
        TasteService(s, Taste2Vec.load(tiny_model_dir, text_encoder=minilm)) for s in stores
    ]
    yield services[0], services[1]
    for service, store in zip(services, stores, strict=True):
        service.close()
        store.close()


def _rated(fid: str, user: str, coffee: str, rating: int) -> Feedback:
    return Feedback(id=fid, user=user, coffee=coffee, signal=FeedbackSignal.RATED, rating=rating)


def _top(service: TasteService, user: str, k: int = 5) -> list[str]:
    return [r.coffee_id for r in service.recommend(user, k)]


def test_feedback_through_one_replica_is_served_by_the_other_at_once(
    replicas: tuple[TasteService, TasteService],
) -> None:
    a, b = replicas
    user = "replica-user"
    for i in range(8):  # B caches the user's state before each write through A
        top = _top(b, user)
        assert _top(b, user) == top  # cached: the same answer
        a.add_feedback(
            Feedback(id=f"rep-{i}", user=user, coffee=top[0], signal=FeedbackSignal.DISLIKED)
        )
        after = _top(b, user)
        assert top[0] not in after, f"round {i}: B still recommends {top[0]} after A's dislike"
        assert after == _top(a, user)  # both replicas give the same answer


def test_a_tasting_and_an_onboarding_answer_through_one_replica_reach_the_other(
    replicas: tuple[TasteService, TasteService],
) -> None:
    a, b = replicas
    user = "replica-taster"
    before = b.user_vector(user)
    a.add_record(TasteRecord(id="rep-t1", user=user, notes="smoky dark chocolate, heavy body"))
    after = b.user_vector(user)
    assert before is None and after is not None
    assert (after == a.user_vector(user)).all()
    assert b._user_state("replica-onboard").families == frozenset()
    a.onboard("replica-onboard", ["Floral"], {})
    assert b._user_state("replica-onboard").families == frozenset({"Floral"})
    assert _top(b, "replica-onboard", 10) == _top(a, "replica-onboard", 10)


def test_local_writes_stay_on_the_instant_path_and_match_a_rebuild(
    replicas: tuple[TasteService, TasteService],
) -> None:
    a, b = replicas
    user = "replica-local"
    coffees = _top(a, user, 6)
    for i, coffee in enumerate(coffees):
        rating = 5 - i % 5
        a.add_feedback(_rated(f"loc-{i}", user, coffee, rating))
        cached = a._states[user]
        assert cached.revision == a.store.user_revision(user)  # no rebuild needed
    assert _top(a, user) == _top(b, user)  # B rebuilt from the store: the same answer


def test_the_follower_carries_catalogue_changes_and_crowd_statistics_across(
    replicas: tuple[TasteService, TasteService],
) -> None:
    a, b = replicas
    follower = Follower(b, interval_s=0.01, stats_every=3, stats_max_age_s=3600)
    new = Coffee(
        id="rep-new", name="Replica Gesha", roaster="R", roaster_notes="jasmine, bergamot", stock=5
    )
    a.import_coffees([new], background=False)
    assert "rep-new" in a.names and "rep-new" not in b.names
    follower.sync_once()
    assert "rep-new" in b.names and follower.rebuilds == 1
    follower.sync_once()
    assert follower.rebuilds == 1  # nothing changed since

    a.delete_coffee("rep-new")
    follower.sync_once()
    assert "rep-new" not in b.names

    before = b.crowd_revision
    for i in range(2):
        a.add_feedback(_rated(f"crowd-{i}", f"crowd-{i}", "demo-001", 5))
    follower.sync_once()
    assert b.crowd_revision == before and follower.refits == 0  # 2 < stats_every
    a.add_feedback(_rated("crowd-2", "crowd-2", "demo-001", 5))
    follower.sync_once()
    assert b.crowd_revision == b.store.feedback_revision() and follower.refits == 1


def test_crowd_refits_take_at_most_their_duty_share_of_time(
    replicas: tuple[TasteService, TasteService], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refit of d seconds holds the next one back for d * (1 / refit_duty - 1): under
    steady feedback the refit (seconds of EM) cannot keep a core busy. The clock is
    simulated, so the test does not depend on how fast the machine is."""
    a, b = replicas
    clock = [1000.0]
    refit = b.refresh_stats

    def slow_refit() -> None:  # a refit that takes 2 s of (simulated) time
        refit()
        clock[0] += 2.0

    monkeypatch.setattr(b, "refresh_stats", slow_refit)
    follower = Follower(
        b,
        interval_s=0.01,
        stats_every=1,
        stats_max_age_s=3600,
        refit_duty=0.2,
        clock=lambda: clock[0],
    )
    a.add_feedback(_rated("duty-0", "duty-0", "demo-001", 5))
    follower.sync_once()
    assert follower.refits == 1  # ended at 1002: the next may start at 1002 + 2 * 4 = 1010
    a.add_feedback(_rated("duty-1", "duty-1", "demo-002", 4))
    clock[0] = 1009.9
    follower.sync_once()
    assert follower.refits == 1 and b.crowd_revision != b.store.feedback_revision()
    clock[0] = 1010.0
    follower.sync_once()
    assert follower.refits == 2 and b.crowd_revision == b.store.feedback_revision()
    with pytest.raises(ValueError, match="refit_duty"):
        Follower(b, refit_duty=0.0)


def test_every_replica_follows_a_model_retrained_into_the_shared_directory(
    tiny_model_dir: Path, minilm: HFSentenceEncoder, tmp_path: Path
) -> None:
    import shutil

    import torch

    from taste2vec.service.model_source import ModelSource

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    store = create_store(f"sqlite:///{tmp_path / 'store.db'}")
    seed_demo(store, tmp_path / "keys.json")

    def load(path: Path) -> Taste2Vec:
        return Taste2Vec.load(path, text_encoder=minilm)

    services = [
        TasteService(store, load(model_dir), model_source=ModelSource(model_dir, load))
        for _ in range(2)
    ]
    try:
        first = services[0].model_version
        assert first is not None and services[1].model_version == first
        assert not any(s.reload_model() for s in services)  # nothing changed

        retrained = load(model_dir)  # stands for `taste2vec train --out <model_dir>`
        with torch.no_grad():
            for param in retrained.net.parameters():
                param.add_(0.01)
        retrained.save(model_dir, {"note": "test"}, {})

        for service in services:
            follower = Follower(service, interval_s=0.01)
            follower.sync_once()
            assert follower.reloads == 1
            assert service.model_version not in (None, first)
            assert service.holder.version == 1  # swapped in, index rebuilt
        assert services[0].model_version == services[1].model_version
        assert _top(services[0], "any-user") == _top(services[1], "any-user")
    finally:
        for service in services:
            service.close()
        store.close()


def test_the_user_cache_is_bounded_and_an_evicted_user_is_rebuilt_the_same(
    replicas: tuple[TasteService, TasteService],
) -> None:
    a, _ = replicas
    a.max_cached_users = 2
    coffee = _top(a, "lru-0")[0]
    a.add_feedback(_rated("lru-fb", "lru-0", coffee, 5))
    before = _top(a, "lru-0")
    for user in ("lru-1", "lru-2", "lru-3"):
        _top(a, user)
    assert list(a._states) == ["lru-2", "lru-3"]  # least recently used went first
    assert _top(a, "lru-0") == before  # rebuilt from the store: the same answer
    assert list(a._states) == ["lru-3", "lru-0"]
