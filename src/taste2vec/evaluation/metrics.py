"""Evaluation metrics in plain numpy: regression, retrieval and multi-label F1.

Conventions shared by every function here:

- A ``mask`` is boolean (or 0/1) with True where an entry is observed and scored,
  the same convention as the model's input masks. NaN targets are always skipped.
- Retrieval ``scores[i, j]`` is the similarity of query ``i`` to candidate ``j``
  (higher is better); ``relevant[i, j]`` marks the right answers. Ties in score
  are broken at random *in expectation*: a query whose relevant candidate shares
  its score with irrelevant ones gets the exact probability that a uniformly
  random tie order puts it in the top k (or the expected reciprocal rank). Index
  order never decides, so a constant scorer gets chance-level recall, not 1.0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from taste2vec.errors import SchemaError

__all__ = [
    "mae_per_target",
    "mrr",
    "mrr_from_scores",
    "multilabel_f1",
    "r2_per_target",
    "recall_at_k",
    "recall_at_k_from_scores",
    "unique_candidates",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


def _as_2d(name: str, values: Any) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise SchemaError(f"{name} must be 1-D or 2-D, got shape {arr.shape}.")
    return arr


def _valid_entries(y_true: Any, y_pred: Any, mask: Any) -> tuple[FloatArray, FloatArray, BoolArray]:
    true = _as_2d("y_true", y_true)
    pred = _as_2d("y_pred", y_pred)
    if true.shape != pred.shape:
        raise SchemaError(f"y_true has shape {true.shape} but y_pred has shape {pred.shape}.")
    valid = ~np.isnan(true)
    if mask is not None:
        m = np.asarray(mask)
        m = m[:, None] if m.ndim == 1 else m
        if m.shape != true.shape:
            raise SchemaError(f"mask has shape {m.shape}, expected {true.shape}.")
        valid &= m.astype(bool)
    if np.isnan(pred[valid]).any() or np.isinf(pred[valid]).any():
        raise SchemaError("y_pred has NaN or infinite values where the target is observed.")
    return true, pred, valid


def r2_per_target(y_true: Any, y_pred: Any, mask: Any = None) -> FloatArray:
    """Coefficient of determination of each column, over its observed entries.

    Each column uses its own observed rows (non-NaN target and, if given,
    ``mask`` True) and its own mean of those rows as the reference, as
    :func:`sklearn.metrics.r2_score` does. A column with fewer than two observed
    rows, or a constant observed target, gets NaN (undefined). A 1-D input is one
    column; the result always has one value per column.
    """
    true, pred, valid = _valid_entries(y_true, y_pred, mask)
    out = np.full(true.shape[1], np.nan)
    for j in range(true.shape[1]):
        t, p = true[valid[:, j], j], pred[valid[:, j], j]
        if len(t) < 2:
            continue
        ss_tot = float(np.sum((t - t.mean()) ** 2))
        if ss_tot > 0.0:
            out[j] = 1.0 - float(np.sum((t - p) ** 2)) / ss_tot
    return out


def mae_per_target(y_true: Any, y_pred: Any, mask: Any = None) -> FloatArray:
    """Mean absolute error of each column over its observed entries (NaN if none)."""
    true, pred, valid = _valid_entries(y_true, y_pred, mask)
    out = np.full(true.shape[1], np.nan)
    for j in range(true.shape[1]):
        if valid[:, j].any():
            out[j] = float(np.mean(np.abs(true[valid[:, j], j] - pred[valid[:, j], j])))
    return out


def _cosine_scores(query_emb: Any, candidate_emb: Any) -> FloatArray:
    q = np.asarray(query_emb, dtype=np.float64)
    c = np.asarray(candidate_emb, dtype=np.float64)
    if q.ndim != 2 or c.ndim != 2 or q.shape[1] != c.shape[1]:
        raise SchemaError(
            f"query_emb and candidate_emb must be 2-D with the same width, "
            f"got {q.shape} and {c.shape}."
        )
    if not (np.isfinite(q).all() and np.isfinite(c).all()):
        raise SchemaError("Embeddings contain NaN or infinite values.")
    # A zero vector gets similarity 0 to everything instead of a division by zero.
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    return np.asarray(q @ c.T, dtype=np.float64)


def _check_retrieval(scores: Any, relevant: Any) -> tuple[FloatArray, BoolArray]:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] == 0:
        raise SchemaError(f"scores must be a non-empty (n_query, n_cand) matrix, got {s.shape}.")
    if np.isnan(s).any():
        raise SchemaError("scores contain NaN.")
    if relevant is None:
        if s.shape[0] > s.shape[1]:
            raise SchemaError(
                f"Without `relevant`, query i's answer is candidate i, so n_query ({s.shape[0]}) "
                f"may not exceed n_cand ({s.shape[1]})."
            )
        rel = np.eye(s.shape[0], s.shape[1], dtype=bool)
    else:
        rel = np.asarray(relevant).astype(bool)
        if rel.shape != s.shape:
            raise SchemaError(f"relevant has shape {rel.shape}, expected {s.shape}.")
    empty = np.flatnonzero(~rel.any(axis=1))
    if len(empty):
        raise SchemaError(
            f"{len(empty)} queries have no relevant candidate (first: query {int(empty[0])}); "
            "recall and MRR are undefined for them."
        )
    return s, rel


def _first_relevant(
    scores: FloatArray, relevant: BoolArray
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], ...]:
    """Per query: (#candidates strictly above the best relevant score,
    #relevant tied at it, #irrelevant tied at it)."""
    best = np.where(relevant, scores, -np.inf).max(axis=1, keepdims=True)
    above = (scores > best).sum(axis=1)
    tied = scores == best
    rel_tied = (tied & relevant).sum(axis=1)
    irr_tied = (tied & ~relevant).sum(axis=1)
    return above.astype(np.int64), rel_tied.astype(np.int64), irr_tied.astype(np.int64)


def _prob_no_relevant_in_first(m: int, n_rel: int, n_irr: int) -> float:
    """P(the first ``m`` of a random order of relevant + irrelevant items are all irrelevant)."""
    if m > n_irr:
        return 0.0
    total = n_rel + n_irr
    l_ = np.arange(m, dtype=np.float64)
    return float(np.prod((n_irr - l_) / (total - l_)))


def recall_at_k_from_scores(scores: Any, k: int = 10, relevant: Any = None) -> float:
    """Fraction of queries with a relevant candidate among their ``k`` best scores.

    ``relevant`` defaults to the identity (query i ↔ candidate i). Ties count in
    expectation over random tie orders (module docstring). ``k`` larger than the
    number of candidates means all of them.
    """
    if k < 1:
        raise SchemaError(f"k must be at least 1, got {k}.")
    s, rel = _check_retrieval(scores, relevant)
    above, rel_tied, irr_tied = _first_relevant(s, rel)
    hits = np.zeros(len(above))
    for i in range(len(above)):
        slots = k - int(above[i])
        if slots > 0:
            hits[i] = 1.0 - _prob_no_relevant_in_first(slots, int(rel_tied[i]), int(irr_tied[i]))
    return float(hits.mean())


def recall_at_k(
    query_emb: Any, candidate_emb: Any, k: int = 10, relevant: np.ndarray[Any, Any] | None = None
) -> float:
    """Recall@k of cosine-similarity retrieval from query to candidate embeddings."""
    return recall_at_k_from_scores(_cosine_scores(query_emb, candidate_emb), k, relevant)


def mrr_from_scores(scores: Any, relevant: Any = None) -> float:
    """Mean reciprocal rank of the first relevant candidate (expected over tie orders)."""
    s, rel = _check_retrieval(scores, relevant)
    above, rel_tied, irr_tied = _first_relevant(s, rel)
    rr = np.zeros(len(above))
    for i in range(len(above)):
        n_rel, n_irr = int(rel_tied[i]), int(irr_tied[i])
        # P(first relevant sits at tie position j) = P(none in first j-1) - P(none in first j).
        l_ = np.arange(n_irr + 1, dtype=np.float64)
        p_none = np.concatenate(([1.0], np.cumprod((n_irr - l_) / (n_rel + n_irr - l_))))
        p_first = p_none[:-1] - p_none[1:]
        ranks = above[i] + np.arange(1, n_irr + 2)
        rr[i] = float(np.sum(p_first / ranks))
    return float(rr.mean())


def mrr(query_emb: Any, candidate_emb: Any, relevant: np.ndarray[Any, Any] | None = None) -> float:
    """Mean reciprocal rank of cosine-similarity retrieval (see :func:`mrr_from_scores`)."""
    return mrr_from_scores(_cosine_scores(query_emb, candidate_emb), relevant)


def unique_candidates(profiles: Any) -> tuple[np.ndarray[Any, np.dtype[np.int64]], BoolArray]:
    """Deduplicate a candidate set of profiles: ``(keep, relevant)``.

    ``keep`` holds the row of each distinct profile's first occurrence (in row
    order) and ``relevant[i, g]`` is True where row ``i`` has profile ``keep[g]``;
    NaN matches NaN. Retrieve among ``candidates[keep]`` with this ``relevant``.

    Use it when many rows share one profile: with duplicates in the candidate
    set, a scorer that ranks a profile first fills its top k with copies of that
    one profile, so it can score below random (which samples k rows and so
    sees several profiles); among distinct profiles recall@k measures whether
    the right profile is in the k best.
    """
    arr = np.asarray(profiles, dtype=np.float64)
    arr = arr[:, None] if arr.ndim == 1 else arr
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise SchemaError(f"profiles must be a non-empty (n, d) matrix, got shape {arr.shape}.")
    key = np.where(np.isnan(arr), np.inf, arr)  # NaN == NaN; scores are finite
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)  # groups in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    relevant = np.zeros((arr.shape[0], len(first)), dtype=bool)
    relevant[np.arange(arr.shape[0]), rank[inverse.ravel()]] = True
    return first[order].astype(np.int64), relevant


def _f1(tp: Any, fp: Any, fn: Any, zero_division: float) -> FloatArray:
    tp, fp, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    denom = 2 * tp + fp + fn
    safe = np.where(denom > 0, denom, 1.0)
    return np.where(denom > 0, 2 * tp / safe, zero_division)


def multilabel_f1(y_true: Any, y_pred: Any, zero_division: float = 0.0) -> dict[str, float]:
    """Micro, macro and samples-averaged F1 of boolean (n_samples, n_labels) matrices.

    Matches :func:`sklearn.metrics.f1_score` with the same ``zero_division``: a
    label (macro) or sample (samples) with no true and no predicted positives
    scores ``zero_division``, without a warning.
    """
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if t.ndim != 2 or t.shape != p.shape or t.shape[0] == 0:
        raise SchemaError(
            f"y_true and y_pred must be non-empty 2-D matrices of the same shape, "
            f"got {t.shape} and {p.shape}."
        )
    for name, arr in (("y_true", t), ("y_pred", p)):
        if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
            raise SchemaError(f"{name} must be boolean or 0/1.")
    t, p = t.astype(bool), p.astype(bool)
    tp, fp, fn = t & p, ~t & p, t & ~p
    micro = _f1(tp.sum(), fp.sum(), fn.sum(), zero_division)
    macro = _f1(tp.sum(axis=0), fp.sum(axis=0), fn.sum(axis=0), zero_division)
    samples = _f1(tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1), zero_division)
    return {"micro": float(micro), "macro": float(macro.mean()), "samples": float(samples.mean())}
