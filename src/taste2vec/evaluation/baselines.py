"""Baselines the model is compared against, with one ``fit`` / ``predict`` interface.

Every baseline is ``fit(X, Y, mask=None) -> self`` and ``predict(X) -> ndarray``.
``X`` is a list of texts (``Tfidf*``) or a dense feature matrix such as MiniLM
sentence embeddings (``Embedding*``); ``MeanBaseline`` ignores it except for its
length. ``Y`` is (n_samples, n_targets); ``mask`` (True = observed) and NaN both
mark missing targets.

Missing targets are never imputed: each target column is fitted on the rows
where it is observed, with its own regularisation chosen by efficient
leave-one-out cross-validation (``RidgeCV``). Imputing the column mean instead
would add fake rows at the mean and shrink predictions toward it. Text and
embedding features are learned from all training rows, since they need no labels.

All baselines are deterministic: ridge is closed-form and the logistic
regressions use the deterministic ``lbfgs`` solver with a fixed ``random_state``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, RidgeCV

from taste2vec.errors import ModelError, SchemaError

__all__ = [
    "RIDGE_ALPHAS",
    "EmbeddingLogistic",
    "EmbeddingRidge",
    "MeanBaseline",
    "TfidfLogistic",
    "TfidfRidge",
    "retrieval_scores_via_regression",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]

Texts = Sequence[str | None] | np.ndarray[Any, Any]
"""Tasting texts: a sequence (or 1-D object array) of strings; ``None`` counts as empty."""

RIDGE_ALPHAS: FloatArray = np.logspace(-2, 3, 12)
RANDOM_STATE = 0


def _targets(Y: Any, mask: Any, n_rows: int) -> tuple[FloatArray, BoolArray]:
    """``Y`` as 2-D float and the observed-entry matrix (not NaN and ``mask`` True)."""
    y = np.asarray(Y, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    if y.ndim != 2 or y.shape[0] != n_rows:
        raise SchemaError(f"Y must have {n_rows} rows (one per input), got shape {y.shape}.")
    observed = ~np.isnan(y)
    if mask is not None:
        m = np.asarray(mask)
        m = m[:, None] if m.ndim == 1 else m
        if m.shape != y.shape:
            raise SchemaError(f"mask has shape {m.shape}, expected {y.shape}.")
        observed &= m.astype(bool)
    empty = np.flatnonzero(~observed.any(axis=0))
    if len(empty):
        raise ModelError(f"Target column(s) {empty.tolist()} have no observed training rows.")
    return y, observed


def _texts(X: Texts) -> list[str]:
    # None and pandas' NaN for a missing note both count as an empty text.
    out = ["" if x is None or (isinstance(x, float) and math.isnan(x)) else x for x in X]
    bad = [i for i, x in enumerate(out) if not isinstance(x, str)]
    if bad:
        raise SchemaError(f"Texts must be strings; row {bad[0]} is {type(out[bad[0]]).__name__}.")
    return out


def _check_fitted(model: object, attribute: str) -> None:
    if not hasattr(model, attribute):
        raise ModelError(f"{type(model).__name__} is not fitted yet; call fit() first.")


def _make_tfidf() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)


def _fit_tfidf(vectorizer: TfidfVectorizer, texts: list[str]) -> Any:
    try:
        return vectorizer.fit_transform(texts)
    except ValueError as exc:  # e.g. "After pruning, no terms remain"
        raise ModelError(
            f"TF-IDF found no usable terms in {len(texts)} training texts "
            f"(terms must occur in at least 2 texts): {exc}"
        ) from exc


class _Standardiser:
    """Column z-scores with training statistics; constant columns are only centred."""

    def fit(self, X: Any) -> FloatArray:
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2 or not np.isfinite(x).all():
            raise SchemaError(f"Features must be a finite 2-D matrix, got shape {x.shape}.")
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return np.asarray((x - self.mean_) / self.scale_, dtype=np.float64)

    def transform(self, X: Any) -> FloatArray:
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.mean_) or not np.isfinite(x).all():
            raise SchemaError(
                f"Features must be a finite matrix with {len(self.mean_)} columns, got {x.shape}."
            )
        return np.asarray((x - self.mean_) / self.scale_, dtype=np.float64)


class MeanBaseline:
    """Predicts each target's training mean, over its observed rows."""

    def fit(self, X: Sequence[Any] | np.ndarray[Any, Any], Y: Any, mask: Any = None) -> Self:
        y, observed = _targets(Y, mask, len(X))
        self.means_: FloatArray = np.array([y[observed[:, j], j].mean() for j in range(y.shape[1])])
        return self

    def predict(self, X: Sequence[Any] | np.ndarray[Any, Any]) -> FloatArray:
        _check_fitted(self, "means_")
        return np.tile(self.means_, (len(X), 1))


class _PerTargetRidge:
    """``RidgeCV`` per target column, each on that column's observed rows.

    Columns observed on exactly the same rows share one fit (``alpha_per_target``),
    which gives the same result as separate fits at the cost of a single
    decomposition of the features.
    """

    def _fit_ridges(self, features: Any, y: FloatArray, observed: BoolArray) -> None:
        groups: dict[bytes, list[int]] = {}
        for j in range(y.shape[1]):
            if observed[:, j].sum() < 2:
                raise ModelError(f"Target column {j} has fewer than 2 observed training rows.")
            groups.setdefault(np.packbits(observed[:, j]).tobytes(), []).append(j)
        self.n_targets_ = y.shape[1]
        self.models_: list[tuple[list[int], RidgeCV]] = []
        for cols in groups.values():
            rows = observed[:, cols[0]]
            model = RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=True)
            self.models_.append((cols, model.fit(features[rows], y[rows][:, cols])))

    @property
    def alphas_(self) -> FloatArray:
        """The regularisation strength chosen for each target."""
        out = np.empty(self.n_targets_)
        for cols, model in self.models_:
            out[cols] = model.alpha_
        return out

    def _predict_ridges(self, features: Any) -> FloatArray:
        out = np.empty((features.shape[0], self.n_targets_))
        for cols, model in self.models_:
            out[:, cols] = np.reshape(model.predict(features), (-1, len(cols)))
        return out


class TfidfRidge(_PerTargetRidge):
    """Word 1-2 gram TF-IDF (sublinear tf, min_df=2) and per-target ``RidgeCV``."""

    def fit(self, X: Texts, Y: Any, mask: Any = None) -> Self:
        texts = _texts(X)
        y, observed = _targets(Y, mask, len(texts))
        self.vectorizer_ = _make_tfidf()
        self._fit_ridges(_fit_tfidf(self.vectorizer_, texts), y, observed)
        return self

    def predict(self, X: Texts) -> FloatArray:
        _check_fitted(self, "models_")
        return self._predict_ridges(self.vectorizer_.transform(_texts(X)))


class EmbeddingRidge(_PerTargetRidge):
    """Standardised dense features (e.g. MiniLM sentence embeddings) and per-target ``RidgeCV``."""

    def fit(self, X: Any, Y: Any, mask: Any = None) -> Self:
        self.scaler_ = _Standardiser()
        features = self.scaler_.fit(X)
        y, observed = _targets(Y, mask, len(features))
        self._fit_ridges(features, y, observed)
        return self

    def predict(self, X: Any) -> FloatArray:
        _check_fitted(self, "models_")
        return self._predict_ridges(self.scaler_.transform(X))


class _PerLabelLogistic:
    """One balanced ``LogisticRegression`` per label (one-vs-rest), threshold 0.5.

    A label that is constant over its observed training rows gets no classifier:
    it predicts that constant (probability 0 or 1), as sklearn's one-vs-rest
    does, but without its warning.
    """

    def __init__(self, C: float = 1.0, max_iter: int = 2000) -> None:
        self.C = C
        self.max_iter = max_iter

    def _fit_labels(self, features: Any, Y: Any, mask: Any) -> None:
        y, observed = _targets(Y, mask, features.shape[0])
        if not np.isin(y[observed], (0.0, 1.0)).all():
            raise SchemaError("Labels must be boolean or 0/1.")
        self.models_: list[LogisticRegression | float] = []
        for j in range(y.shape[1]):
            rows = observed[:, j]
            labels = y[rows, j].astype(int)
            if labels.min() == labels.max():
                self.models_.append(float(labels[0]))
                continue
            model = LogisticRegression(
                C=self.C, class_weight="balanced", max_iter=self.max_iter, random_state=RANDOM_STATE
            )
            self.models_.append(model.fit(features[rows], labels))

    def _proba(self, features: Any) -> FloatArray:
        n = features.shape[0]
        cols = [
            np.full(n, m) if isinstance(m, float) else m.predict_proba(features)[:, 1]
            for m in self.models_
        ]
        return np.column_stack(cols).astype(np.float64)


class TfidfLogistic(_PerLabelLogistic):
    """Multi-label prediction from TF-IDF text features (same vectoriser as :class:`TfidfRidge`)."""

    def fit(self, X: Texts, Y: Any, mask: Any = None) -> Self:
        texts = _texts(X)
        self.vectorizer_ = _make_tfidf()
        self._fit_labels(_fit_tfidf(self.vectorizer_, texts), Y, mask)
        return self

    def predict_proba(self, X: Texts) -> FloatArray:
        """Probability of each label, shape (n_samples, n_labels)."""
        _check_fitted(self, "models_")
        return self._proba(self.vectorizer_.transform(_texts(X)))

    def predict(self, X: Texts) -> BoolArray:
        """Boolean label matrix: probability >= 0.5."""
        return self.predict_proba(X) >= 0.5


class EmbeddingLogistic(_PerLabelLogistic):
    """Multi-label prediction from standardised dense features."""

    def fit(self, X: Any, Y: Any, mask: Any = None) -> Self:
        self.scaler_ = _Standardiser()
        self._fit_labels(self.scaler_.fit(X), Y, mask)
        return self

    def predict_proba(self, X: Any) -> FloatArray:
        """Probability of each label, shape (n_samples, n_labels)."""
        _check_fitted(self, "models_")
        return self._proba(self.scaler_.transform(X))

    def predict(self, X: Any) -> BoolArray:
        """Boolean label matrix: probability >= 0.5."""
        return self.predict_proba(X) >= 0.5


def retrieval_scores_via_regression(
    pred_profiles: Any,
    true_profiles: Any,
    *,
    train_mean: Any,
    train_std: Any,
) -> FloatArray:
    """Similarity of each predicted profile to each true profile: minus Euclidean distance.

    Both are standardised with the training targets' ``train_mean`` and
    ``train_std`` (a zero std counts as 1), so each attribute weighs the same.
    A NaN in a candidate's true profile drops that attribute from its distances,
    which are rescaled by ``sqrt(n_attributes / n_observed)`` to stay comparable;
    a candidate with no observed attribute scores ``-inf``. Returns
    (n_query, n_cand); feed it to
    :func:`taste2vec.evaluation.metrics.recall_at_k_from_scores`.
    """
    pred = np.asarray(pred_profiles, dtype=np.float64)
    true = np.asarray(true_profiles, dtype=np.float64)
    mean = np.asarray(train_mean, dtype=np.float64)
    std = np.asarray(train_std, dtype=np.float64)
    d = pred.shape[-1] if pred.ndim == 2 else -1
    if pred.ndim != 2 or true.ndim != 2 or true.shape[1] != d or mean.shape != (d,):
        raise SchemaError(
            f"Expected pred (n_query, d), true (n_cand, d), train_mean and train_std (d,); "
            f"got {pred.shape}, {true.shape}, {mean.shape}, {std.shape}."
        )
    if std.shape != (d,) or not (np.isfinite(mean).all() and np.isfinite(std).all()):
        raise SchemaError("train_mean and train_std must be finite vectors of length d.")
    if not np.isfinite(pred).all():
        raise SchemaError("pred_profiles contain NaN or infinite values.")
    scale = np.where(std > 0, std, 1.0)
    p = (pred - mean) / scale
    observed = ~np.isnan(true)
    t = np.where(observed, (true - mean) / scale, 0.0)
    m = observed.astype(np.float64)
    # sum_j m_cj (p_qj - t_cj)^2, expanded so it is one matrix product per term.
    sq = (p**2) @ m.T - 2.0 * (p @ t.T) + (t**2).sum(axis=1)[None, :]
    n_obs = m.sum(axis=1)
    dist = np.sqrt(np.maximum(sq, 0.0) * (d / np.maximum(n_obs, 1.0))[None, :])
    dist[:, n_obs == 0] = np.inf
    return np.asarray(-dist, dtype=np.float64)
