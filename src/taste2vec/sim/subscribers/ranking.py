"""Top-k ranking metrics for one ranked list against a set of relevant ids (binary relevance).

>>> round(ndcg_at_k(["a", "x", "b"], {"a", "b"}, k=3), 4)
0.9197
>>> recall_at_k(["a", "x", "b"], {"a", "b", "c"}, k=2)
0.5
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

from taste2vec.errors import SchemaError

__all__ = ["ndcg_at_k", "recall_at_k"]


def _discount(rank: int) -> float:
    """The DCG discount of 0-based position ``rank``: ``1 / log2(rank + 2)``."""
    return 1.0 / math.log2(rank + 2)


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """NDCG@k: DCG of the first ``k`` ids over the DCG of an ideal list (0 if none relevant).

    ``DCG = sum_i rel_i / log2(i + 2)`` over 0-based positions ``i < k``; the ideal list
    puts ``min(k, len(relevant))`` relevant ids first. Repeated ids count once.
    """
    if k < 1:
        raise SchemaError(f"k must be >= 1, got {k}")
    if not relevant:
        return 0.0
    seen: set[str] = set()
    dcg = 0.0
    for i, item in enumerate(ranked[:k]):
        if item in relevant and item not in seen:
            dcg += _discount(i)
        seen.add(item)
    ideal = sum(_discount(i) for i in range(min(k, len(relevant))))
    return dcg / ideal


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Relevant ids among the first ``k``, over ``min(k, len(relevant))`` (0 if none relevant).

    Dividing by ``min(k, |relevant|)`` rather than ``|relevant|`` keeps 1.0 reachable when
    more than ``k`` coffees are relevant (large catalogues).
    """
    if k < 1:
        raise SchemaError(f"k must be >= 1, got {k}")
    if not relevant:
        return 0.0
    hits = len(set(ranked[:k]) & set(relevant))
    return hits / min(k, len(relevant))
