"""Evaluation of taste2vec against baselines on a time-based split.

Building blocks live in submodules: :mod:`.metrics` (R², MAE, recall@k, MRR,
multi-label F1) and
:mod:`.baselines` (mean, TF-IDF and embedding ridge/logistic baselines). The
``taste2vec evaluate`` orchestration is built on top of them. The time-based
train/val/test split is :mod:`taste2vec.data.split` (shared with training; re-exported here).
"""

from __future__ import annotations

from taste2vec.data.split import SplitIndices, time_split
from taste2vec.evaluation.baselines import (
    EmbeddingLogistic,
    EmbeddingRidge,
    MeanBaseline,
    TfidfLogistic,
    TfidfRidge,
    retrieval_scores_via_regression,
)
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

__all__ = [
    "EmbeddingLogistic",
    "EmbeddingRidge",
    "MeanBaseline",
    "SplitIndices",
    "TfidfLogistic",
    "TfidfRidge",
    "mae_per_target",
    "mrr",
    "mrr_from_scores",
    "multilabel_f1",
    "r2_per_target",
    "recall_at_k",
    "recall_at_k_from_scores",
    "retrieval_scores_via_regression",
    "time_split",
    "unique_candidates",
]
