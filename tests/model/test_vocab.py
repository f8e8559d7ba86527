"""The sensory word vocabulary and its ridge reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taste2vec.errors import ArtifactError
from taste2vec.model.vocab import (
    SensoryVocabulary,
    cross_fitted_reading,
    fit_reading,
    tokenize,
)


def test_tokenize_keeps_words_and_pairs_and_drops_stopwords() -> None:
    tokens = tokenize("Crisp and juicy, with a syrupy body. 자몽 향")
    assert "crisp" in tokens and "juicy" in tokens and "syrupy body" in tokens
    assert "and" not in tokens and "자몽" in tokens


def test_encode_is_l2_normalised_and_empty_is_zero() -> None:
    vocab = SensoryVocabulary.fit(["crisp lemon", "crisp plum", "crisp cocoa", "flat"], min_df=1)
    x = vocab.encode(["crisp lemon lemon", "", "unknown words only"])
    assert x.shape == (3, vocab.size)
    assert np.linalg.norm(x[0]) == pytest.approx(1.0)
    assert not x[1].any() and not x[2].any()
    assert vocab.idf[vocab.terms.index("crisp")] < vocab.idf[vocab.terms.index("lemon")]


def test_reading_learns_a_word_to_score_signal() -> None:
    rng = np.random.default_rng(0)
    texts, y = [], []
    for _ in range(400):
        bright = rng.random() < 0.5
        texts.append(("crisp bright lemon" if bright else "flat dull muted") + " coffee cup")
        y.append(1.0 if bright else -1.0)
    vocab = SensoryVocabulary.fit(texts, min_df=2)
    x = vocab.encode(texts)
    targets = np.array(y, dtype=np.float32)[:, None]
    mask = np.ones_like(targets)
    w, b = fit_reading(x, targets, mask)
    pred = vocab.with_reading(w, b).read(vocab.encode(["crisp lemon", "dull muted"]), 1)
    assert pred[0, 0] > 0.5 and pred[1, 0] < -0.5
    oof = cross_fitted_reading(x, targets, mask, folds=5, seed=1)
    assert np.corrcoef(oof[:, 0], targets[:, 0])[0, 1] > 0.9


def test_unfitted_reading_is_zero_and_round_trip(tmp_path: Path) -> None:
    vocab = SensoryVocabulary.fit(["a plum", "plum jam", "jam"], min_df=1)
    assert not vocab.read(vocab.encode(["plum"]), 12).any()
    fitted = vocab.with_reading(np.ones((vocab.size, 12)), np.full(12, 0.5))
    fitted.save(tmp_path / "v.json")
    loaded = SensoryVocabulary.load(tmp_path / "v.json")
    assert loaded.terms == fitted.terms
    np.testing.assert_array_equal(loaded.reading, fitted.reading)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ArtifactError):
        SensoryVocabulary.load(tmp_path / "bad.json")
