"""Tests for the evaluation baselines."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import RidgeCV

from taste2vec.errors import ModelError, SchemaError
from taste2vec.evaluation.baselines import (
    RIDGE_ALPHAS,
    EmbeddingLogistic,
    EmbeddingRidge,
    MeanBaseline,
    TfidfLogistic,
    TfidfRidge,
    retrieval_scores_via_regression,
)
from taste2vec.evaluation.metrics import r2_per_target, recall_at_k_from_scores

FILLER = "cup notes sweet finish clean roast origin washed natural cocoa citrus floral".split()
SIGNALS = ("bright", "syrupy")  # each raises one score


def _synthetic(n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts where 'bright' raises target 0 and 'syrupy' raises target 1; target 2 is noise."""
    rng = np.random.default_rng(seed)
    present = rng.random((n, 2)) < 0.5
    texts, y = [], np.empty((n, 3))
    for i in range(n):
        words = list(rng.choice(FILLER, size=6))
        words += [w for w, on in zip(SIGNALS, present[i], strict=True) if on]
        rng.shuffle(words)
        texts.append(" ".join(words))
    noise = rng.normal(0, 0.3, size=(n, 3))
    y[:, 0] = 7.0 + 1.5 * present[:, 0] + noise[:, 0]
    y[:, 1] = 7.0 + 1.0 * present[:, 1] + noise[:, 1]
    y[:, 2] = 7.5 + noise[:, 2]
    return texts, y, present


def test_mean_baseline_is_nan_aware() -> None:
    y = np.array([[1.0, np.nan], [3.0, 4.0], [np.nan, 6.0]])
    model = MeanBaseline().fit(["a", "b", "c"], y)
    np.testing.assert_allclose(model.means_, [2.0, 5.0])
    assert model.predict(["x", "y"]).shape == (2, 2)
    masked = MeanBaseline().fit(["a", "b", "c"], np.nan_to_num(y), mask=~np.isnan(y))
    np.testing.assert_allclose(masked.means_, [2.0, 5.0])
    with pytest.raises(ModelError, match="no observed"):
        MeanBaseline().fit(["a", "b"], [[1.0, np.nan], [2.0, np.nan]])


def test_tfidf_ridge_learns_word_signal_better_than_mean() -> None:
    train_x, train_y, _ = _synthetic(300, seed=0)
    test_x, test_y, _ = _synthetic(150, seed=1)
    ridge = TfidfRidge().fit(train_x, train_y)
    mean = MeanBaseline().fit(train_x, train_y)
    r2_ridge = r2_per_target(test_y, ridge.predict(test_x))
    r2_mean = r2_per_target(test_y, mean.predict(test_x))
    assert r2_ridge[0] > 0.7 and r2_ridge[1] > 0.5
    assert (r2_ridge[:2] > r2_mean[:2] + 0.5).all()
    assert r2_ridge[2] < 0.1  # nothing to learn in the noise column
    assert ridge.alphas_.shape == (3,) and set(ridge.alphas_) <= set(RIDGE_ALPHAS)


def test_tfidf_ridge_fits_each_target_on_its_observed_rows() -> None:
    train_x, train_y, _ = _synthetic(300, seed=0)
    test_x, test_y, _ = _synthetic(150, seed=1)
    holes = train_y.copy()
    holes[::2, 0] = np.nan  # half of target 0 missing, no imputation
    model = TfidfRidge().fit(train_x, holes)
    pred = model.predict(test_x)
    assert np.isfinite(pred).all()
    # Target 0 is exactly a RidgeCV on the observed rows' TF-IDF features.
    features = model.vectorizer_.transform(train_x)
    manual = RidgeCV(alphas=RIDGE_ALPHAS).fit(features[1::2], train_y[1::2, 0])
    np.testing.assert_allclose(pred[:, 0], manual.predict(model.vectorizer_.transform(test_x)))
    assert r2_per_target(test_y, pred)[0] > 0.5
    # The other targets are untouched by the holes in target 0.
    np.testing.assert_allclose(
        pred[:, 1:], TfidfRidge().fit(train_x, train_y).predict(test_x)[:, 1:]
    )


def test_embedding_ridge_recovers_linear_signal_and_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 20)) * rng.uniform(0.1, 50, size=20)  # wildly different scales
    w = rng.normal(size=(20, 2))
    y = (x / x.std(axis=0)) @ w + rng.normal(0, 0.1, size=(200, 2))
    x_test = rng.normal(size=(100, 20)) * x.std(axis=0)
    y_test = (x_test / x.std(axis=0)) @ w
    model = EmbeddingRidge().fit(x, y)
    assert (r2_per_target(y_test, model.predict(x_test)) > 0.95).all()
    again = EmbeddingRidge().fit(x, y)
    np.testing.assert_array_equal(model.predict(x_test), again.predict(x_test))


def test_tfidf_logistic_predicts_families_and_handles_constant_labels() -> None:
    train_x, _, train_present = _synthetic(300, seed=0)
    test_x, _, test_present = _synthetic(150, seed=1)
    labels = np.column_stack(
        [train_present, np.zeros(300, bool), np.ones(300, bool)]  # never / always present
    )
    model = TfidfLogistic().fit(train_x, labels)
    pred = model.predict(test_x)
    assert pred.dtype == bool and pred.shape == (150, 4)
    assert (pred[:, :2] == test_present).mean() > 0.95
    assert not pred[:, 2].any() and pred[:, 3].all()
    proba = model.predict_proba(test_x)
    assert ((proba >= 0) & (proba <= 1)).all()


def test_embedding_logistic_and_masked_labels() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 10))
    y = np.column_stack([x[:, 0] > 0, x[:, 1] > 1.0])  # second label imbalanced
    mask = np.ones_like(y)
    mask[:50, 1] = 0
    model = EmbeddingLogistic().fit(x, y, mask=mask)
    x_test = rng.normal(size=(200, 10))
    pred = model.predict(x_test)
    assert (pred[:, 0] == (x_test[:, 0] > 0)).mean() > 0.9
    assert (pred[:, 1] == (x_test[:, 1] > 1.0)).mean() > 0.8
    # A label constant over its observed rows: constant prediction.
    y2 = y.copy()
    y2[:50, 1] = True
    y2[50:, 1] = False
    constant = EmbeddingLogistic().fit(x, y2, mask=mask)
    assert not constant.predict(x_test)[:, 1].any()
    with pytest.raises(SchemaError, match="0/1"):
        EmbeddingLogistic().fit(x, np.full((200, 1), 2.0))


def test_retrieval_scores_via_regression() -> None:
    rng = np.random.default_rng(0)
    true = rng.normal(7.5, 0.5, size=(40, 5))
    mean, std = true.mean(axis=0), true.std(axis=0)
    scores = retrieval_scores_via_regression(true, true, train_mean=mean, train_std=std)
    assert scores.shape == (40, 40)
    np.testing.assert_allclose(np.diag(scores), 0.0, atol=1e-6)
    assert recall_at_k_from_scores(scores, k=1) == 1.0
    # Matches a direct computation on standardised profiles.
    pred = true + rng.normal(0, 0.2, size=true.shape)
    got = retrieval_scores_via_regression(pred, true, train_mean=mean, train_std=std)
    z_p, z_t = (pred - mean) / std, (true - mean) / std
    direct = -np.linalg.norm(z_p[:, None, :] - z_t[None, :, :], axis=2)
    np.testing.assert_allclose(got, direct, atol=1e-9)
    # Identical candidate profiles get bitwise-identical scores (ties stay ties).
    dup = np.vstack([true[:3], true[:1]])
    tied = retrieval_scores_via_regression(pred, dup, train_mean=mean, train_std=std)
    np.testing.assert_array_equal(tied[:, 0], tied[:, 3])


def test_retrieval_scores_nan_candidates_and_errors() -> None:
    mean, std = np.zeros(2), np.array([1.0, 0.0])  # zero std counts as 1
    pred = np.array([[0.0, 0.0]])
    true = np.array([[3.0, np.nan], [np.nan, np.nan], [3.0, 4.0]])
    got = retrieval_scores_via_regression(pred, true, train_mean=mean, train_std=std)
    np.testing.assert_allclose(got[0], [-3.0 * np.sqrt(2), -np.inf, -5.0])
    with pytest.raises(SchemaError):
        retrieval_scores_via_regression(pred, true[:, :1], train_mean=mean, train_std=std)
    with pytest.raises(SchemaError, match="pred_profiles"):
        retrieval_scores_via_regression(
            np.array([[np.nan, 0.0]]), true, train_mean=mean, train_std=std
        )


def test_missing_texts_count_as_empty() -> None:
    texts = np.array(["bright cup", None, float("nan"), "bright cup", "dull cup"], dtype=object)
    pred = TfidfRidge().fit(texts, [9.0, 7.0, 7.0, 9.0, 6.0]).predict([None, "bright"])
    assert pred.shape == (2, 1) and pred[1, 0] > pred[0, 0]


def test_input_errors() -> None:
    with pytest.raises(ModelError, match="not fitted"):
        TfidfRidge().predict(["a"])
    with pytest.raises(ModelError, match="no usable terms"):
        TfidfRidge().fit(["alpha", "beta", "gamma"], [1.0, 2.0, 3.0])
    with pytest.raises(SchemaError, match="rows"):
        TfidfRidge().fit(["a b", "a b"], [1.0, 2.0, 3.0])
    with pytest.raises(SchemaError, match="strings"):
        TfidfLogistic().fit(["a b", 3], [[1], [0]])  # type: ignore[list-item]
    with pytest.raises(SchemaError, match="columns"):
        EmbeddingRidge().fit(np.zeros((4, 3)), np.arange(4.0)).predict(np.zeros((1, 2)))
