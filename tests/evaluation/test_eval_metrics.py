"""Tests for the evaluation metrics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, mean_absolute_error, r2_score

from taste2vec.errors import SchemaError
from taste2vec.evaluation.metrics import (
    mae_per_target,
    mrr,
    mrr_from_scores,
    multilabel_f1,
    r2_per_target,
    recall_at_k,
    recall_at_k_from_scores,
    unique_candidates,
)

RNG_SEED = 1234


def _targets(n: int = 200, d: int = 5) -> np.ndarray:
    return np.random.default_rng(RNG_SEED).normal(7.5, 0.8, size=(n, d))


# --- regression ---------------------------------------------------------------


def test_r2_perfect_is_one_and_mean_is_zero() -> None:
    y = _targets()
    np.testing.assert_allclose(r2_per_target(y, y), 1.0)
    mean_pred = np.tile(y.mean(axis=0), (len(y), 1))
    np.testing.assert_allclose(r2_per_target(y, mean_pred), 0.0, atol=1e-12)
    np.testing.assert_allclose(mae_per_target(y, y), 0.0)


def test_r2_and_mae_match_sklearn() -> None:
    y = _targets()
    pred = y + np.random.default_rng(0).normal(0, 0.5, size=y.shape)
    np.testing.assert_allclose(r2_per_target(y, pred), r2_score(y, pred, multioutput="raw_values"))
    np.testing.assert_allclose(
        mae_per_target(y, pred), mean_absolute_error(y, pred, multioutput="raw_values")
    )


def test_nan_targets_and_mask_are_ignored_per_column() -> None:
    y = _targets(50, 3)
    pred = y + np.random.default_rng(2).normal(0, 0.3, size=y.shape)
    y_nan = y.copy()
    y_nan[:10, 0] = np.nan
    pred_nan = pred.copy()
    pred_nan[:10, 0] = np.nan  # predictions where the target is missing are never read
    got = r2_per_target(y_nan, pred_nan)
    assert got[0] == pytest.approx(r2_score(y[10:, 0], pred[10:, 0]))
    assert got[1] == pytest.approx(r2_score(y[:, 1], pred[:, 1]))
    mask = np.ones_like(y, dtype=bool)
    mask[:10, 0] = False
    np.testing.assert_allclose(r2_per_target(y, pred_nan, mask=mask), got)
    assert mae_per_target(y_nan, pred, mask)[0] == pytest.approx(
        np.abs(y[10:, 0] - pred[10:, 0]).mean()
    )


def test_undefined_columns_are_nan_and_one_d_is_one_column() -> None:
    y = np.array([[1.0, 5.0], [np.nan, 5.0], [np.nan, 5.0]])
    got = r2_per_target(y, np.zeros_like(y))
    assert np.isnan(got).all()  # one observed row; constant column
    assert np.isnan(mae_per_target([np.nan, np.nan], [1.0, 2.0])).all()
    assert r2_per_target([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]).shape == (1,)


def test_regression_input_errors() -> None:
    with pytest.raises(SchemaError, match="shape"):
        r2_per_target(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(SchemaError, match="NaN"):
        mae_per_target([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(SchemaError, match="mask"):
        r2_per_target(np.zeros((3, 2)), np.zeros((3, 2)), mask=np.ones((2, 2)))


# --- retrieval ----------------------------------------------------------------


def test_identity_retrieval_is_perfect() -> None:
    emb = np.random.default_rng(RNG_SEED).normal(size=(50, 16))
    assert recall_at_k(emb, emb, k=1) == 1.0
    assert recall_at_k(emb, 3.0 * emb, k=10) == 1.0  # cosine ignores scale
    assert mrr(emb, emb) == 1.0


def test_random_retrieval_is_about_k_over_n() -> None:
    rng = np.random.default_rng(RNG_SEED)
    n, k = 100, 10
    results = [
        recall_at_k(rng.normal(size=(n, 8)), rng.normal(size=(n, 8)), k=k) for _ in range(200)
    ]
    # Mean of 20,000 Bernoulli(0.1) draws: standard error 0.002.
    assert np.mean(results) == pytest.approx(k / n, abs=0.01)


def test_constant_scores_give_chance_not_index_order() -> None:
    n, k = 50, 10
    scores = np.zeros((n, n))
    assert recall_at_k_from_scores(scores, k) == pytest.approx(k / n)
    # Expected reciprocal rank of a uniformly random position: mean of 1/r.
    assert mrr_from_scores(scores) == pytest.approx(np.mean(1.0 / np.arange(1, n + 1)))


def test_relevance_matrix_marks_equal_profiles() -> None:
    # Candidates 0-2 share one profile, 3-5 another; query embeddings point at a
    # group, not at a single candidate.
    scores = np.array(
        [
            [0.1, 0.9, 0.2, 0.0, 0.0, 0.0],  # best is candidate 1, relevant via the matrix
            [0.0, 0.0, 0.0, 0.3, 0.8, 0.5],  # query 1 belongs to group 0: rank 4
        ]
    )
    group = np.array([0, 0, 0, 1, 1, 1])
    relevant = np.stack([group == 0, group == 0])
    assert recall_at_k_from_scores(scores, k=1, relevant=relevant) == 0.5
    assert recall_at_k_from_scores(scores, k=3, relevant=relevant) == 0.5
    assert recall_at_k_from_scores(scores, k=4, relevant=relevant) == 1.0
    assert mrr_from_scores(scores, relevant) == pytest.approx((1.0 + 1.0 / 4) / 2)
    # Without the matrix, query 0's answer is candidate 0 only (rank 3).
    assert recall_at_k_from_scores(scores, k=2) == 0.0
    assert recall_at_k_from_scores(scores, k=3) == 0.5


def test_ties_between_relevant_and_irrelevant_count_in_expectation() -> None:
    # One relevant and three irrelevant candidates share the top score: with one
    # slot, a random tie order finds the relevant one with probability 1/4.
    scores = np.array([[1.0, 1.0, 1.0, 1.0, 0.0]])
    relevant = np.array([[False, False, True, False, False]])
    assert recall_at_k_from_scores(scores, 1, relevant) == pytest.approx(0.25)
    assert recall_at_k_from_scores(scores, 2, relevant) == pytest.approx(0.5)
    assert recall_at_k_from_scores(scores, 4, relevant) == pytest.approx(1.0)
    assert mrr_from_scores(scores, relevant) == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    # Two relevant among four tied, one slot: 1/2; two slots: 1 - (2/4)(1/3) = 5/6.
    relevant2 = np.array([[True, False, True, False, False]])
    assert recall_at_k_from_scores(scores, 1, relevant2) == pytest.approx(0.5)
    assert recall_at_k_from_scores(scores, 2, relevant2) == pytest.approx(5 / 6)


def test_tie_expectation_matches_simulation() -> None:
    rng = np.random.default_rng(RNG_SEED)
    scores = rng.integers(0, 3, size=(30, 40)).astype(float)
    relevant = rng.random((30, 40)) < 0.1
    relevant[:, 0] = True
    k = 5
    hits = []
    for _ in range(400):
        jitter = scores + rng.random(scores.shape) * 1e-3  # random tie order
        hits.append(recall_at_k_from_scores(jitter, k, relevant))
    assert recall_at_k_from_scores(scores, k, relevant) == pytest.approx(np.mean(hits), abs=0.01)


def test_k_larger_than_candidates_and_rectangular_default() -> None:
    emb = np.random.default_rng(0).normal(size=(5, 4))
    assert recall_at_k(emb, emb, k=50) == 1.0
    cands = np.vstack([emb, -emb])
    assert recall_at_k(emb, cands, k=1) == 1.0


def test_retrieval_input_errors() -> None:
    with pytest.raises(SchemaError, match="k must be"):
        recall_at_k_from_scores(np.zeros((2, 2)), k=0)
    with pytest.raises(SchemaError, match="no relevant"):
        recall_at_k_from_scores(np.zeros((2, 2)), 1, np.array([[True, False], [False, False]]))
    with pytest.raises(SchemaError, match="may not exceed"):
        recall_at_k_from_scores(np.zeros((3, 2)), 1)
    with pytest.raises(SchemaError, match="same width"):
        recall_at_k(np.zeros((2, 3)), np.zeros((2, 4)))


# --- multi-label F1 -----------------------------------------------------------


@pytest.mark.parametrize("zero_division", [0.0, 1.0])
def test_multilabel_f1_matches_sklearn(zero_division: float) -> None:
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(20):
        y_true = rng.random((40, 9)) < 0.25
        y_pred = rng.random((40, 9)) < 0.3
        y_true[:, 3] = False  # a family nobody tasted ...
        y_pred[:, 3] = False  # ... and nobody predicted: ill-defined for macro
        y_true[5], y_pred[5] = False, False  # an empty sample: ill-defined for samples
        got = multilabel_f1(y_true, y_pred, zero_division=zero_division)
        for average in ("micro", "macro", "samples"):
            expected = f1_score(y_true, y_pred, average=average, zero_division=zero_division)
            assert got[average] == pytest.approx(expected), average


def test_multilabel_f1_constructed_cases() -> None:
    y = np.array([[1, 0, 1], [0, 1, 0]], dtype=bool)
    assert multilabel_f1(y, y) == {"micro": 1.0, "macro": 1.0, "samples": 1.0}
    assert multilabel_f1(y, ~y) == {"micro": 0.0, "macro": 0.0, "samples": 0.0}
    nothing = np.zeros_like(y)
    assert multilabel_f1(nothing, nothing)["micro"] == 0.0
    with pytest.raises(SchemaError, match="boolean"):
        multilabel_f1(np.full((2, 2), 2), np.zeros((2, 2)))


# --- duplicate profiles -------------------------------------------------------


def test_unique_candidates_groups_equal_profiles_and_nan() -> None:
    profiles = np.array([[8.0, 7.0], [9.0, np.nan], [8.0, 7.0], [9.0, np.nan], [9.0, 8.0]])
    keep, relevant = unique_candidates(profiles)
    assert keep.tolist() == [0, 1, 4]
    assert relevant.tolist() == [
        [True, False, False],
        [False, True, False],
        [True, False, False],
        [False, True, False],
        [False, False, True],
    ]


def test_duplicate_candidates_crowd_the_top_k() -> None:
    # 5 profiles, 20 copies each. A scorer that ranks the right profile second
    # fills its top 10 with copies of the wrong one: recall@10 is 0 with
    # duplicates, 1 once candidates are deduplicated.
    group = np.repeat(np.arange(5), 20)
    right_second = np.where(group[None, :] == (group[:, None] + 1) % 5, 2.0, 0.0)
    right_second += np.where(group[None, :] == group[:, None], 1.0, 0.0)
    relevant = group[:, None] == group[None, :]
    assert recall_at_k_from_scores(right_second, 10, relevant) == 0.0
    keep, rel_unique = unique_candidates(group.astype(float))
    assert recall_at_k_from_scores(right_second[:, keep], 10, rel_unique) == 1.0
    assert recall_at_k_from_scores(right_second[:, keep], 1, rel_unique) == 0.0
