"""Vector indexes over coffee embeddings: exact (numpy, the oracle) and approximate (HNSW).

Every index holds unit vectors, so cosine similarity is the dot product. The interface is
tiny: :meth:`~VectorIndex.build` once, then :meth:`~VectorIndex.search` from any number of
threads (an index is never modified after ``build``; the engine swaps whole indexes).

``search(query, k, exclude)`` returns up to ``k`` ``(id, score)`` pairs, best first, none
of them in ``exclude``; ``k`` results come back whenever the index holds ``k`` ids outside
``exclude`` (the exact index masks excluded ids; the HNSW index over-fetches
``k + len(exclude)`` candidates, since each excluded id can take at most one slot). Ties are
broken by insertion order, so results are deterministic.

Which to use was decided by measurement (``bench/ann_choice.py``, section ``ann_choice`` of
``bench/RESULTS.md``): for catalogues up to tens of thousands of coffees the exact numpy
scan is fast enough and has perfect recall, so :func:`make_index` picks it under ``"auto"``
below :data:`ANN_THRESHOLD` coffees and the faiss HNSW index (:class:`FaissHNSWIndex`)
above it.

>>> import numpy as np
>>> idx = ExactIndex()
>>> idx.build(["a", "b", "c"], np.eye(3, dtype=np.float32))
>>> idx.search(np.array([0.0, 1.0, 0.0]), k=2, exclude={"b"})
[('a', 0.0), ('c', 0.0)]
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Sequence
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from taste2vec.errors import SchemaError

__all__ = [
    "ANN_THRESHOLD",
    "BLOCK_ROWS",
    "ExactIndex",
    "FaissHNSWIndex",
    "IndexKind",
    "VectorIndex",
    "make_index",
]

FloatArray = npt.NDArray[np.float32]
IndexKind = Literal["auto", "exact", "faiss"]

#: Rows per single-threaded block of :meth:`ExactIndex.scores`.
BLOCK_ROWS = 1024
#: Catalogue size from which ``"auto"`` uses the approximate index (see the module docstring).
ANN_THRESHOLD = 50_000


class VectorIndex(Protocol):
    """A read-only nearest-neighbour index over unit vectors (inner product = cosine)."""

    name: str

    def build(self, ids: Sequence[str], matrix: npt.ArrayLike) -> None:
        """Index ``matrix`` (one row per id); replaces anything indexed before."""
        ...

    def search(
        self, query: npt.ArrayLike, k: int, exclude: Collection[str] = frozenset()
    ) -> list[tuple[str, float]]:
        """Up to ``k`` ``(id, score)`` pairs, best first, none in ``exclude``."""
        ...

    def __len__(self) -> int: ...


def _as_matrix(ids: Sequence[str], matrix: npt.ArrayLike) -> FloatArray:
    m = np.ascontiguousarray(np.asarray(matrix, dtype=np.float32))
    if m.ndim != 2 or m.shape[0] != len(ids):
        raise SchemaError(f"need one row per id: {len(ids)} ids, matrix shape {m.shape}")
    if len(set(ids)) != len(ids):
        raise SchemaError("index ids must be unique")
    return m


def _as_query(query: npt.ArrayLike, dim: int) -> FloatArray:
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    if q.shape[0] != dim:
        raise SchemaError(f"query has {q.shape[0]} dimensions, the index has {dim}")
    return q


def _filter(
    pairs: list[tuple[str, float]], k: int, exclude: Collection[str]
) -> list[tuple[str, float]]:
    if not exclude:
        return pairs[:k]
    return [p for p in pairs if p[0] not in exclude][:k]


class ExactIndex:
    """Brute-force inner product with numpy: exact, the test oracle and the default.

    Scores are computed in blocks of :data:`BLOCK_ROWS` rows: each block is a
    single-threaded BLAS call, which keeps the tail latency low when many requests run at
    once (a multi-threaded matrix-vector product spins its threads against the others;
    measured p99 4 ms vs 0.15 ms for 10k x 128 on a busy 2-core machine). Excluded ids are
    masked out rather than over-fetched.
    """

    name = "exact"

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._matrix: FloatArray = np.zeros((0, 0), dtype=np.float32)

    def build(self, ids: Sequence[str], matrix: npt.ArrayLike) -> None:
        """Keep a contiguous float32 copy of ``matrix``."""
        self._matrix = _as_matrix(ids, matrix)
        self._ids = list(ids)
        self._pos = {c: i for i, c in enumerate(self._ids)}

    def __len__(self) -> int:
        return len(self._ids)

    def scores(self, query: npt.ArrayLike) -> FloatArray:
        """The inner product of ``query`` with every indexed vector, in insertion order."""
        q = _as_query(query, self._matrix.shape[1])
        out = np.empty(len(self._ids), dtype=np.float32)
        for i in range(0, len(self._ids), BLOCK_ROWS):
            np.dot(self._matrix[i : i + BLOCK_ROWS], q, out=out[i : i + BLOCK_ROWS])
        return out

    def search(
        self, query: npt.ArrayLike, k: int, exclude: Collection[str] = frozenset()
    ) -> list[tuple[str, float]]:
        """Top ``k`` by inner product, ties by insertion order, skipping ``exclude``."""
        n = len(self._ids)
        if k <= 0 or n == 0:
            return []
        scores = self.scores(query)
        masked = [j for c in exclude if (j := self._pos.get(c)) is not None]
        keep = np.ones(n, dtype=bool)
        keep[masked] = False
        candidates = np.flatnonzero(keep)
        fetch = min(k, len(candidates))
        if fetch == 0:
            return []
        sub = scores[candidates]
        if fetch < len(candidates):
            top = np.argpartition(-sub, fetch - 1)[:fetch]
            # everything tied with the k-th score competes, so ties resolve by position
            top = np.flatnonzero(sub >= sub[top].min())
        else:
            top = np.arange(len(candidates))
        order = top[np.lexsort((candidates[top], -sub[top]))][:fetch]
        return [(self._ids[j], float(scores[j])) for j in candidates[order].tolist()]


def _import_faiss() -> Any:
    try:
        return importlib.import_module("faiss")
    except ImportError as exc:  # pragma: no cover - faiss-cpu is a core dependency
        raise SchemaError(
            "the 'faiss' index needs faiss-cpu; install it with: pip install faiss-cpu"
        ) from exc


class FaissHNSWIndex:
    """HNSW graph from ``faiss-cpu`` (``IndexHNSWFlat``, inner product), for large catalogues.

    ``m`` (graph degree), ``ef_construction`` and ``ef_search`` are the HNSW knobs; the
    defaults gave recall@10 of 1.000 on real embeddings and >= 0.99 on 10k random 128-d unit
    vectors (the hard case) in ``bench/ann_choice.py``. ``ef_search`` is fixed at build time
    (searches never write to the index, so they are safe from many threads). Building sets
    faiss's own OpenMP pool to one thread: a single query gains nothing from threads, and a
    single-threaded build is deterministic. Results are re-scored exactly and re-sorted, so
    ties break by insertion order as in :class:`ExactIndex`.
    """

    name = "faiss"

    def __init__(self, m: int = 32, ef_construction: int = 200, ef_search: int = 256) -> None:
        self._faiss = _import_faiss()
        self.m, self.ef_construction, self.ef_search = m, ef_construction, ef_search
        self._ids: list[str] = []
        self._matrix: FloatArray = np.zeros((0, 0), dtype=np.float32)
        self._index: Any = None

    def build(self, ids: Sequence[str], matrix: npt.ArrayLike) -> None:
        """Build the HNSW graph over ``matrix`` (single-threaded, deterministic)."""
        m = _as_matrix(ids, matrix)
        self._faiss.omp_set_num_threads(1)
        index = self._faiss.IndexHNSWFlat(
            max(m.shape[1], 1), self.m, self._faiss.METRIC_INNER_PRODUCT
        )
        index.hnsw.efConstruction = self.ef_construction
        index.hnsw.efSearch = self.ef_search
        if len(ids):
            index.add(m)
        self._index, self._matrix, self._ids = index, m, list(ids)

    def __len__(self) -> int:
        return len(self._ids)

    def search(
        self, query: npt.ArrayLike, k: int, exclude: Collection[str] = frozenset()
    ) -> list[tuple[str, float]]:
        """Approximate top ``k``; over-fetches for ``exclude``, exact scan past half the index."""
        n = len(self._ids)
        if k <= 0 or n == 0:
            return []
        q = _as_query(query, self._matrix.shape[1])
        fetch = min(n, k + len(exclude))
        if 2 * fetch >= n:  # most of the index is wanted: a scan is cheaper and exact
            keys = np.arange(n)
        else:
            found = self._index.search(q[None, :], fetch)[1][0]
            keys = found[found >= 0].astype(np.int64)
        scores = self._matrix[keys] @ q
        order = np.lexsort((keys, -scores))
        pairs = [(self._ids[keys[i]], float(scores[i])) for i in order.tolist()]
        return _filter(pairs, k, exclude)


def make_index(kind: IndexKind | str, n: int) -> VectorIndex:
    """An empty index of ``kind``; ``"auto"`` is exact below :data:`ANN_THRESHOLD` coffees."""
    if kind == "auto":
        kind = "faiss" if n >= ANN_THRESHOLD else "exact"
    if kind == "exact":
        return ExactIndex()
    if kind == "faiss":
        return FaissHNSWIndex()
    raise SchemaError(f"unknown index kind {kind!r}; choose 'auto', 'exact' or 'faiss'")
