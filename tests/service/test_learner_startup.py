"""The online learner's start-up reads stored feedback lazily and keeps a bounded
validation set (issue 11): fed from the store's generator, never a list of every row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import taste2vec.service.core as core
from taste2vec.learning import OnlineLearner, ValidationSet
from taste2vec.learning.validation import sample_key
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.text import HFSentenceEncoder
from taste2vec.schema import Feedback
from taste2vec.service import TasteService, seed_demo
from taste2vec.store import create_store

pytestmark = pytest.mark.slow


def test_start_up_streams_feedback_and_samples_the_validation_users(
    tiny_model_dir: Path,
    minilm: HFSentenceEncoder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = create_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        seed_demo(store, tmp_path / "keys.json")
        coffees = [c.id for c in store.list_coffees(limit=6)]
        for u in range(25):  # more users than the cap below
            for step in range(4 + u % 3):
                signal = "liked" if (u + step) % 2 else "disliked"
                fid = f"st-{u}-{step}"
                coffee = coffees[(u + step) % len(coffees)]
                store.add_feedback(Feedback(id=fid, user=f"su{u}", coffee=coffee, signal=signal))
        every = list(store.all_feedback())
        monkeypatch.setattr(core, "MAX_VALIDATION_USERS", 5)

        alive = {"now": 0, "most": 0, "yielded": 0}
        stream = store.all_feedback

        def counted() -> Iterator[Feedback]:
            for item in stream():
                alive["now"] += 1
                alive["yielded"] += 1
                alive["most"] = max(alive["most"], alive["now"])
                yield item

        observe = OnlineLearner.observe

        def observed(self: OnlineLearner, feedback: Feedback) -> bool:
            alive["now"] -= 1
            return observe(self, feedback)

        monkeypatch.setattr(store, "all_feedback", counted)
        monkeypatch.setattr(OnlineLearner, "observe", observed)
        model = Taste2Vec.load(tiny_model_dir, text_encoder=minilm)
        service = TasteService(store, model, online_learning=True)
        try:
            assert service.background is not None
            learner = service.background.learner
            # Each stored reaction reached the learner before the next one was read.
            assert alive["yielded"] == len(every)
            assert alive["most"] == 1
            validation = learner.validation
            assert validation == ValidationSet.from_feedback(every, max_users=5)
            full = ValidationSet.from_feedback(every)
            assert len(full.held_out) > 5
            assert list(validation.held_out) == sorted(sorted(full.held_out, key=sample_key)[:5])
            assert learner.stats.refused_held_out == len(validation.held_out_ids)
        finally:
            service.close()
    finally:
        store.close()
