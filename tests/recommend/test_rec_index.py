"""Vector indexes: the exact oracle, the faiss HNSW index, exclusion, ties."""

from __future__ import annotations

import numpy as np
import pytest

from taste2vec.errors import SchemaError
from taste2vec.recommend.index import (
    ANN_THRESHOLD,
    ExactIndex,
    FaissHNSWIndex,
    VectorIndex,
    make_index,
)


def _unit(n: int, d: int = 128, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    out: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def _built(index: VectorIndex, matrix: np.ndarray) -> VectorIndex:
    index.build([f"c{i}" for i in range(len(matrix))], matrix)
    return index


def test_exact_matches_brute_force_ranking() -> None:
    m, q = _unit(300), _unit(1, seed=1)[0]
    got = _built(ExactIndex(), m).search(q, 10)
    expected = np.argsort(-(m @ q), kind="stable")[:10]
    assert [c for c, _ in got] == [f"c{i}" for i in expected]
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)


def test_faiss_agrees_with_exact_on_random_vectors() -> None:
    m, queries = _unit(3000), _unit(100, seed=2)
    exact, ann = _built(ExactIndex(), m), _built(FaissHNSWIndex(), m)
    hits = 0
    for q in queries:
        truth = {c for c, _ in exact.search(q, 10)}
        hits += len(truth & {c for c, _ in ann.search(q, 10)})
    assert hits / (10 * len(queries)) >= 0.95


@pytest.mark.parametrize("kind", ["exact", "faiss"])
def test_exclusion_still_returns_k(kind: str) -> None:
    m, q = _unit(500), _unit(1, seed=3)[0]
    index = _built(make_index(kind, 500), m)
    top = [c for c, _ in index.search(q, 50)]
    exclude = set(top[:40]) | {"not-indexed"}
    got = index.search(q, 10, exclude)
    assert len(got) == 10
    assert not exclude & {c for c, _ in got}
    # nearly everything excluded: what is left comes back
    everything_but_3 = {f"c{i}" for i in range(497)}
    assert {c for c, _ in index.search(q, 10, everything_but_3)} == {"c497", "c498", "c499"}


@pytest.mark.parametrize("kind", ["exact", "faiss"])
def test_ties_break_by_insertion_order_and_small_indexes(kind: str) -> None:
    index = make_index(kind, 3)
    assert index.search(np.ones(3), 2) == []
    index.build(["b", "a", "c"], np.eye(3, dtype=np.float32))
    assert len(index) == 3
    assert [c for c, _ in index.search(np.array([0.0, 0.0, 1.0]), 3)] == ["c", "b", "a"]
    assert len(index.search(np.array([1.0, 0.0, 0.0]), 10)) == 3
    assert index.search(np.array([1.0, 0.0, 0.0]), 0) == []


def test_make_index_and_input_checks() -> None:
    assert make_index("auto", 10).name == "exact"
    assert make_index("auto", ANN_THRESHOLD).name == "faiss"
    with pytest.raises(SchemaError, match="unknown index kind"):
        make_index("annoy", 10)
    index = ExactIndex()
    with pytest.raises(SchemaError, match="one row per id"):
        index.build(["a"], np.zeros((2, 3)))
    with pytest.raises(SchemaError, match="unique"):
        index.build(["a", "a"], np.zeros((2, 3)))
    index.build(["a"], np.ones((1, 3)))
    with pytest.raises(SchemaError, match="dimensions"):
        index.search(np.ones(4), 1)
