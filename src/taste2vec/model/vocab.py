"""The sensory tower's fitted word vocabulary: a TF-IDF bag over tasting-note words.

The flavour wheel names *what* a coffee tastes of; reviewers grade *how well*
with words the wheel does not hold ("crisp", "muted", "flat", "syrupy",
"delicate"). The sensory tower therefore also embeds the note's words and
word pairs, weighted by TF-IDF, through a learned linear map (a weighted
embedding bag). The vocabulary is fitted on the training notes after Korean
descriptors are rendered in English, and saved with the model, so the edge
runtime can reproduce it with plain code: tokenise, look up, weight, normalise.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from taste2vec.errors import ArtifactError

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|[\uac00-\ud7a3]+")
STOPWORDS = frozenset(
    "a an and the of in on at to with by for from as is it its this that be are was "
    "were or but into than then so very too also which who what while".split()
)


def tokenize(text: str) -> list[str]:
    """Lower-cased words (Latin or Hangul), stopwords removed, plus adjacent word pairs."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


@dataclass(frozen=True)
class SensoryVocabulary:
    """Terms with their IDF weights; ``encode`` gives L2-normalised sublinear TF-IDF rows.

    ``reading`` (terms × sensory metrics) and ``reading_bias`` map a note's
    TF-IDF row to a ridge estimate of each standardised sensory metric (each
    source on its own scale): the vocabulary's "lexical sensory reading", fitted
    in closed form on the training notes with a per-target penalty chosen by
    leave-one-out CV, ``reading_alpha`` (see :func:`fit_reading`).
    """

    terms: tuple[str, ...]
    idf: np.ndarray
    reading: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    reading_bias: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    reading_alpha: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    # True (models trained since the Korean parallel check): each note's text is followed
    # by the lexicon's canonical English rendering of its descriptors before tokenising,
    # so a Korean note and its translation share most terms (see features.word_texts).
    descriptor_terms: bool = False

    def with_reading(
        self, weights: np.ndarray, bias: np.ndarray, alpha: np.ndarray | None = None
    ) -> SensoryVocabulary:
        return replace(
            self,
            reading=weights.astype(np.float32),
            reading_bias=bias.astype(np.float32),
            reading_alpha=(np.zeros(0) if alpha is None else np.asarray(alpha, dtype=np.float64)),
        )

    def read(self, tfidf: np.ndarray, n_outputs: int) -> np.ndarray:
        """The lexical sensory reading of TF-IDF rows, ``(n, n_outputs)`` (zeros if unfitted)."""
        if self.reading.shape != (self.size, n_outputs):
            return np.zeros((tfidf.shape[0], n_outputs), dtype=np.float32)
        out = tfidf @ self.reading + self.reading_bias
        has_words = tfidf.any(axis=1, keepdims=True)
        return np.where(has_words, out, 0.0).astype(np.float32)

    @property
    def size(self) -> int:
        return len(self.terms)

    @classmethod
    def fit(
        cls,
        texts: Iterable[str],
        min_df: int = 3,
        max_terms: int = 4000,
        descriptor_terms: bool = False,
    ) -> SensoryVocabulary:
        docs = [set(tokenize(t)) for t in texts]
        df = Counter(term for doc in docs for term in doc)
        kept = sorted((t for t, n in df.items() if n >= min_df), key=lambda t: (-df[t], t))[
            :max_terms
        ]
        n = len(docs)
        idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in kept], dtype=np.float32)
        return cls(tuple(kept), idf, descriptor_terms=descriptor_terms)

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        """Term -> column (built once: rebuilding it took a quarter of embedding a tasting)."""
        return {t: i for i, t in enumerate(self.terms)}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        index = self._index
        out = np.zeros((len(texts), self.size), dtype=np.float32)
        for row, text in enumerate(texts):
            for term, count in Counter(tokenize(text)).items():
                j = index.get(term)
                if j is not None:
                    out[row, j] = (1.0 + math.log(count)) * self.idf[j]
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out

    def save(self, path: Path) -> None:
        payload = {
            "terms": list(self.terms),
            "idf": self.idf.tolist(),
            "reading": self.reading.tolist(),
            "reading_bias": self.reading_bias.tolist(),
            # per-target ridge penalty (RidgeCV); null where the target had too few rows
            "reading_alpha": [None if not np.isfinite(a) else float(a) for a in self.reading_alpha],
            "descriptor_terms": self.descriptor_terms,
        }
        path.write_text(json.dumps(payload, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> SensoryVocabulary:
        try:
            payload = json.loads(path.read_text())
            reading = np.asarray(payload["reading"], dtype=np.float32)
            return cls(
                tuple(payload["terms"]),
                np.asarray(payload["idf"], dtype=np.float32),
                reading.reshape(len(payload["terms"]), -1) if reading.size else reading,
                np.asarray(payload["reading_bias"], dtype=np.float32),
                np.asarray(
                    [np.nan if a is None else a for a in payload.get("reading_alpha", [])],
                    dtype=np.float64,
                ),
                descriptor_terms=bool(payload.get("descriptor_terms", False)),
            )
        except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"cannot read vocabulary {path}: {exc}; retrain") from exc

    @classmethod
    def empty(cls) -> SensoryVocabulary:
        return cls((), np.zeros(0, dtype=np.float32))


READING_ALPHAS: np.ndarray = np.logspace(-2, 3, 12)  # the TF-IDF + ridge baseline's grid
MIN_READING_ROWS = 10


def choose_alphas(
    tfidf: np.ndarray, targets: np.ndarray, mask: np.ndarray, alphas: np.ndarray = READING_ALPHAS
) -> np.ndarray:
    """Per-target ridge penalty chosen by efficient leave-one-out CV (``RidgeCV``).

    Targets with fewer than ``MIN_READING_ROWS`` observed rows with words get
    ``nan`` (their reading stays unfitted, i.e. 0).
    """
    from scipy import sparse  # type: ignore[import-untyped]
    from sklearn.linear_model import RidgeCV

    x = sparse.csr_matrix(tfidf)
    has_words = tfidf.any(axis=1)
    chosen = np.full(targets.shape[1], np.nan)
    for j in range(targets.shape[1]):
        rows = (mask[:, j] > 0) & has_words
        if rows.sum() < MIN_READING_ROWS:
            continue
        chosen[j] = float(RidgeCV(alphas=alphas).fit(x[rows], targets[rows, j]).alpha_)
    return chosen


def fit_reading(
    tfidf: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray,
    alpha: float | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge weights ``(terms, k)`` and bias ``(k,)`` per target, on observed rows with words.

    ``alpha``: one penalty, one per target (``nan`` = leave that target unfitted),
    or ``None`` to choose them by :func:`choose_alphas`.
    """
    from scipy import sparse
    from sklearn.linear_model import Ridge

    k = targets.shape[1]
    alphas = (
        choose_alphas(tfidf, targets, mask)
        if alpha is None
        else np.broadcast_to(np.asarray(alpha, dtype=np.float64), (k,))
    )
    x = sparse.csr_matrix(tfidf)
    has_words = tfidf.any(axis=1)
    weights = np.zeros((tfidf.shape[1], k), dtype=np.float32)
    bias = np.zeros(k, dtype=np.float32)
    for j in range(k):
        rows = (mask[:, j] > 0) & has_words
        if rows.sum() < MIN_READING_ROWS or not np.isfinite(alphas[j]):
            continue
        model = Ridge(alpha=float(alphas[j]), solver="sparse_cg").fit(x[rows], targets[rows, j])
        weights[:, j] = model.coef_
        bias[j] = model.intercept_
    return weights, bias


def cross_fitted_reading(
    tfidf: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    alpha: float | np.ndarray | None = None,
) -> np.ndarray:
    """Out-of-fold readings for these rows, so nothing downstream sees an in-sample fit.

    ``alpha`` as in :func:`fit_reading`; ``None`` chooses the per-target alphas
    once on all rows (the same alphas the full fit uses) and reuses them per fold.
    """
    alphas = choose_alphas(tfidf, targets, mask) if alpha is None else alpha
    rng = np.random.default_rng(seed)
    fold_of = rng.integers(0, folds, size=tfidf.shape[0])
    out = np.zeros(targets.shape, dtype=np.float32)
    for f in range(folds):
        held = fold_of == f
        w, b = fit_reading(tfidf[~held], targets[~held], mask[~held], alphas)
        out[held] = tfidf[held] @ w + b
    return np.where(tfidf.any(axis=1, keepdims=True), out, 0.0).astype(np.float32)
