"""The service wires the slow learning path: learner thread, model swap, index rebuild."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taste2vec.learning import clone_model
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.text import HFSentenceEncoder
from taste2vec.schema import Feedback
from taste2vec.service import TasteService, seed_demo
from taste2vec.store import create_store

pytestmark = pytest.mark.slow


def test_learner_runs_and_a_swap_rebuilds_the_index(
    tiny_model_dir: Path, minilm: HFSentenceEncoder, tmp_path: Path
) -> None:
    store = create_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        seed_demo(store, tmp_path / "keys.json")
        model = Taste2Vec.load(tiny_model_dir, text_encoder=minilm)
        service = TasteService(store, model, online_learning=True, learner_lr=1e-3)
        try:
            assert service.background is not None and service.background.running
            before = service.engine.snapshot.version
            recs_before = service.recommend("demo-ana", 5)
            # A promotion, as the learner would do it: the index follows the new weights.
            new = clone_model(service.model)
            with np.errstate(all="ignore"):
                for p in new.net.parameters():
                    p.data.mul_(1.01)
            assert service.holder.swap(new) is not None
            assert service.model is new
            assert service.engine.snapshot.version > before
            assert len(service.recommend("demo-ana", 5)) == len(recs_before)
            # Feedback reaches the learner's queue as well as the instant path.
            fb = Feedback(id="svc-fb-1", user="demo-ana", coffee="demo-002", signal="liked")
            assert service.add_feedback(fb).created
        finally:
            service.close()
        assert not service.background.running
    finally:
        store.close()
