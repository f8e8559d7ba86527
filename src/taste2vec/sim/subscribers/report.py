"""Markdown rendering of :class:`~taste2vec.sim.subscribers.evaluate.QualityResults`.

Every table is titled "SIMULATED subscribers": the users are drawn by the simulator, not
real people, and the numbers say how recommenders compare on that simulation only.
"""

from __future__ import annotations

import math

from taste2vec.sim.subscribers.evaluate import COLD_SLICE, ONBOARDING_SLICE, QualityResults

__all__ = ["render_markdown"]


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def _ratio(value: float, baseline: float) -> str:
    if math.isnan(value) or math.isnan(baseline) or baseline <= 0:
        return "n/a"
    return f"{value / baseline:.2f}x"


def _slice_label(slice_: str, warm: int) -> str:
    if slice_ == COLD_SLICE:
        return f"cold users (others have {warm})"
    if slice_ == ONBOARDING_SLICE:
        return "0 + onboarding"
    return slice_.removeprefix("n=")


def render_markdown(results: QualityResults, baseline: str = "popularity") -> str:
    """One table: a row per (slice, recommender), NDCG@k and Recall@k, ratio to ``baseline``."""
    cfg = results.config
    k = cfg.k
    title = (
        f"### SIMULATED subscribers: {results.catalogue} "
        f"({results.n_coffees} coffees, {cfg.n_users} subscribers, seed {cfg.seed})"
    )
    headers = [
        "feedback per user",
        "recommender",
        f"NDCG@{k}",
        f"Recall@{k}",
        f"NDCG@{k} / {baseline}",
        "users scored",
    ]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    base = {r.slice: r.ndcg for r in results.rows if r.recommender == baseline}
    for row in results.rows:
        cells = [
            _slice_label(row.slice, cfg.cold_warm_feedback),
            row.recommender,
            _fmt(row.ndcg),
            _fmt(row.recall),
            _ratio(row.ndcg, base.get(row.slice, math.nan)),
            str(row.users_scored),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return f"{title}\n\n" + "\n".join(lines) + "\n"
