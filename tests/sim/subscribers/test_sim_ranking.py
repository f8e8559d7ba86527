"""NDCG@k and Recall@k against hand-computed values."""

from __future__ import annotations

import math

import pytest

from taste2vec.errors import SchemaError
from taste2vec.sim.subscribers import ndcg_at_k, recall_at_k


def test_ndcg_matches_a_hand_computed_example() -> None:
    # relevant at positions 1 and 3 (0-based 0 and 2) of the top 3, three relevant in all:
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/log2(4) = 2.1309...
    ranked = ["a", "x", "b", "c"]
    relevant = {"a", "b", "c"}
    expected = 1.5 / (1.0 + 1.0 / math.log2(3) + 0.5)
    assert ndcg_at_k(ranked, relevant, k=3) == pytest.approx(expected)
    assert ndcg_at_k(ranked, relevant, k=3) == pytest.approx(0.703918, abs=1e-6)


def test_ndcg_edge_cases() -> None:
    assert ndcg_at_k(["a", "b"], {"a", "b"}, k=10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], {"a"}, k=10) == 0.0
    assert ndcg_at_k(["a"], set(), k=10) == 0.0
    assert ndcg_at_k([], {"a"}, k=10) == 0.0
    assert ndcg_at_k(["a", "a", "a"], {"a", "b"}, k=3) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["x", "a"], {"a"}, k=1) == 0.0
    with pytest.raises(SchemaError):
        ndcg_at_k(["a"], {"a"}, k=0)


def test_recall_over_min_k_and_relevant() -> None:
    assert recall_at_k(["a", "x", "b"], {"a", "b", "c"}, k=3) == pytest.approx(2 / 3)
    assert recall_at_k(["a", "x"], {"a", "b", "c"}, k=2) == pytest.approx(0.5)
    # more relevant than k: all k hits is a perfect score
    assert recall_at_k(["a", "b"], {"a", "b", "c", "d"}, k=2) == 1.0
    assert recall_at_k(["a"], set(), k=5) == 0.0
    with pytest.raises(SchemaError):
        recall_at_k(["a"], {"a"}, k=0)
