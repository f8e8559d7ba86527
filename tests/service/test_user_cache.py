"""The service's per-user taste-state cache is bounded (``T2V_USER_CACHE_SIZE``): the least
recently used user leaves it, and comes back rebuilt from the store with the very same
answers. The BLAS thread cap (``T2V_BLAS_THREADS``) reaches the server process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from threadpoolctl import threadpool_info

from taste2vec.api import create_app
from taste2vec.config import Settings
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.text import HFSentenceEncoder
from taste2vec.recommend.engine import Recommendation
from taste2vec.schema import Feedback, FeedbackSignal, TasteRecord
from taste2vec.service import TasteService, seed_demo
from taste2vec.store import create_store
from tests.api.conftest import make_settings


@pytest.fixture
def service(
    tiny_model_dir: Path, minilm: HFSentenceEncoder, tmp_path: Path
) -> Iterator[TasteService]:
    store = create_store(f"sqlite:///{tmp_path / 'store.db'}")
    seed_demo(store, tmp_path / "keys.json")
    svc = TasteService(
        store, Taste2Vec.load(tiny_model_dir, text_encoder=minilm), max_cached_users=2
    )
    yield svc
    svc.close()
    store.close()


def _answer(recs: list[Recommendation]) -> list[tuple[str, float, str]]:
    return [(r.coffee_id, r.score, r.explanation) for r in recs]


def test_an_evicted_user_is_rebuilt_with_identical_answers(service: TasteService) -> None:
    user = "cache-user"
    first = service.recommend(user, 5)  # cached from here on; writes update it in O(d)
    service.add_feedback(
        Feedback(
            id="cache-fb-1",
            user=user,
            coffee=first[0].coffee_id,
            signal=FeedbackSignal.RATED,
            rating=5,
        )
    )
    service.add_feedback(
        Feedback(
            id="cache-fb-2", user=user, coffee=first[1].coffee_id, signal=FeedbackSignal.DISLIKED
        )
    )
    service.add_record(
        TasteRecord(
            id="cache-rec-1",
            user=user,
            coffee=first[2].coffee_id,
            timestamp=datetime(2026, 11, 1, 8, tzinfo=UTC),
            notes="bright grapefruit, jasmine and honey",
            metrics={"acidity": 8, "sweetness": 7},
        )
    )
    cached_state = service._states[user].state
    before = _answer(service.recommend(user, 10))
    vector_before = service.user_vector(user)
    assert vector_before is not None
    for other in ("cache-other-1", "cache-other-2"):
        service.recommend(other, 3)
    assert user not in service._states  # least recently used: evicted
    assert len(service._states) == 2

    after = _answer(service.recommend(user, 10))  # rebuilt from the stored history
    assert service._states[user].state is not cached_state
    assert [a[0] for a in after] == [b[0] for b in before]
    assert [a[2] for a in after] == [b[2] for b in before]
    np.testing.assert_allclose([a[1] for a in after], [b[1] for b in before], atol=1e-9)
    vector_after = service.user_vector(user)
    assert vector_after is not None
    np.testing.assert_allclose(vector_after, vector_before, atol=1e-9)


def test_the_cache_size_must_be_positive(
    tiny_model_dir: Path, minilm: HFSentenceEncoder, tmp_path: Path
) -> None:
    store = create_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with pytest.raises(ValueError, match="max_cached_users"):
            model = Taste2Vec.load(tiny_model_dir, text_encoder=minilm)
            TasteService(store, model, max_cached_users=0)
    finally:
        store.close()
    with pytest.raises(ValidationError, match="user_cache_size"):
        Settings(user_cache_size=0)
    with pytest.raises(ValidationError, match="blas_threads"):
        Settings(blas_threads=-1)


def _blas_threads() -> list[int]:
    """numpy's BLAS threads (what scores the catalogue). Only numpy's: a BLAS library that
    another test loads later in this process (threadpoolctl limits the loaded ones)
    keeps its own default, which says nothing about the server."""
    return [
        int(p["num_threads"])
        for p in threadpool_info()
        if p["user_api"] == "blas" and "numpy" in str(p.get("filepath", ""))
    ]


def test_the_server_caps_blas_threads_and_sizes_the_cache_from_settings(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, tiny_model_dir, user_cache_size=3, blas_threads=1)
    with TestClient(create_app(settings)) as client:
        assert client.app.state.service.max_cached_users == 3  # type: ignore[attr-defined]
        assert _blas_threads() and set(_blas_threads()) == {1}
