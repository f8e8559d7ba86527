"""Issue 10: clean supervision, epoch choice on validation, and the refit on train + val.

Fast: bundled data only and the hashing stand-in for the text tower.
"""

from __future__ import annotations

import numpy as np
import pytest

from taste2vec.model.scaler import record_source
from taste2vec.schema import METRIC_NAMES
from taste2vec.training.corpus import build_corpus
from taste2vec.training.train import TrainConfig, train
from tests.conftest import HashingEncoder


@pytest.fixture(scope="module")
def small_corpus():  # type: ignore[no-untyped-def]
    corpus = build_corpus(None)
    demo = [r for r in corpus.train if record_source(r) == "app"]
    cqi = [r for r in corpus.train if r.user == "cqi"]
    corpus.train = demo[:80] + cqi[:40]
    corpus.val = [r for r in corpus.val if record_source(r) == "app"][:12] + [
        r for r in corpus.val if r.user == "cqi"
    ][:8]
    return corpus


def test_cqi_trains_the_numbers_only(small_corpus) -> None:  # type: ignore[no-untyped-def]
    cqi = [r for r in small_corpus.train if r.user == "cqi"]
    assert cqi and all(r.notes == "" for r in cqi)
    assert all(r.metrics.aroma is not None for r in cqi[:20])


def test_epoch_count_is_chosen_on_validation_then_refit_on_train_and_val(small_corpus) -> None:  # type: ignore[no-untyped-def]
    cfg = TrainConfig(epochs=3, patience=1, seed=3)
    result = train(small_corpus, HashingEncoder(), cfg, progress=False)
    n_all = len(small_corpus.train) + len(small_corpus.val)
    assert 1 <= result.best_epoch <= 3
    assert result.refit == {
        "records": n_all,
        "epochs": result.best_epoch,
        "final": result.refit["final"],
    }
    assert result.metrics()["refit"]["epochs"] == result.best_epoch
    # the selection criterion is the text view's sensory MSE + family BCE on validation
    row = result.history[0]
    assert row["select"] == pytest.approx(row["select_sensory_text"] + row["select_family_text"])
    # the refitted model's scaler saw train + val, per source
    aroma = METRIC_NAMES.index("aroma")
    counts = result.model.scaler.scale("cqi").counts[aroma]
    assert counts == sum(
        1 for r in [*small_corpus.train, *small_corpus.val] if r.user == "cqi" and r.metrics.aroma
    )
    no_refit = TrainConfig(epochs=1, seed=3, refit=False)
    single = train(small_corpus, HashingEncoder(), no_refit, progress=False)
    assert single.refit == {}
    assert single.model.scaler.scale("cqi").counts[aroma] == sum(
        1 for r in small_corpus.train if r.user == "cqi" and r.metrics.aroma
    )
    # the reading's penalties were chosen per target (RidgeCV), saved with the vocabulary
    alphas = result.model.vocab.reading_alpha
    assert alphas.shape == (12,) and np.isfinite(alphas).any()
