"""Which vector index: exact numpy vs usearch vs hnswlib vs faiss HNSW, measured.

    .venv/bin/python bench/ann_choice.py [--model artifacts/model] [--queries 1000]

For each data set (10k random 128-d unit vectors; the bundled demo catalogue, Coffee Review
(one coffee per roaster and name, when the research data is present) and a 10k synthetic
catalogue, all embedded by the trained model) it builds every index and reports build time,
single-query top-10 latency p50/p99 (one thread, one query at a time, as a service request
does) and recall@10 against the exact scan, every HNSW index at the same two settings
(:data:`SETTINGS`). Queries: random unit vectors for the random set; catalogue
vectors plus noise (renormalised) for the real ones. Writes the ``ann_choice`` section of
``bench/RESULTS.md``. Only faiss-cpu is a dependency; the other candidates are measured when
installed (``pip install usearch hnswlib``) and skipped otherwise.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from taste2vec.config import Settings
from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.recommend.index import ExactIndex, FaissHNSWIndex

K = 10
#: (M, efConstruction, ef) of every HNSW index: a light setting and FaissHNSWIndex's default.
SETTINGS = ((16, 128, 128), (32, 200, 256))

Search = Callable[[np.ndarray], np.ndarray]
Factory = Callable[[np.ndarray, int, int, int], Search]


@dataclass
class Row:
    data: str
    n: int
    index: str
    build_ms: float
    p50_us: float
    p99_us: float
    recall: float


def _ids(n: int) -> list[str]:
    return [str(i) for i in range(n)]


def _exact(matrix: np.ndarray) -> Search:
    idx = ExactIndex()
    idx.build(_ids(len(matrix)), matrix)
    return lambda q: np.array([int(i) for i, _ in idx.search(q, K)])


def _ours(matrix: np.ndarray, m: int, efc: int, ef: int) -> Search:
    idx = FaissHNSWIndex(m, efc, ef)
    idx.build(_ids(len(matrix)), matrix)
    return lambda q: np.array([int(i) for i, _ in idx.search(q, K)])


def _usearch(matrix: np.ndarray, m: int, efc: int, ef: int) -> Search:
    ui = importlib.import_module("usearch.index")
    idx = ui.Index(
        ndim=matrix.shape[1],
        metric="ip",
        dtype="f32",
        connectivity=m,
        expansion_add=efc,
        expansion_search=ef,
    )
    idx.add(np.arange(len(matrix), dtype=np.uint64), matrix, threads=1)
    return lambda q: np.asarray(idx.search(q, K, threads=1).keys)


def _hnswlib(matrix: np.ndarray, m: int, efc: int, ef: int) -> Search:
    hnswlib = importlib.import_module("hnswlib")
    idx = hnswlib.Index(space="ip", dim=matrix.shape[1])
    idx.init_index(max_elements=len(matrix), ef_construction=efc, M=m, random_seed=0)
    idx.add_items(matrix, np.arange(len(matrix)), num_threads=1)
    idx.set_ef(ef)
    return lambda q: idx.knn_query(q[None, :], k=K, num_threads=1)[0][0]


def _faiss(matrix: np.ndarray, m: int, efc: int, ef: int) -> Search:
    faiss = importlib.import_module("faiss")
    faiss.omp_set_num_threads(1)
    idx = faiss.IndexHNSWFlat(matrix.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    idx.hnsw.efConstruction = efc
    idx.hnsw.efSearch = ef
    idx.add(matrix)
    return lambda q: idx.search(q[None, :], K)[1][0]


CANDIDATES: dict[str, Factory] = {
    "usearch": _usearch,
    "hnswlib": _hnswlib,
    "faiss-cpu IndexHNSWFlat": _faiss,
    "FaissHNSWIndex (ours: faiss + exact re-score)": _ours,
}


def _unit(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


def _time(
    data: str, label: str, make: Callable[[], Search], queries: np.ndarray, truth: list[set[int]]
) -> Row:
    """Build one index, then time single queries and count recall."""
    t0 = time.perf_counter()
    search = make()
    build = (time.perf_counter() - t0) * 1e3
    for q in queries[:50]:  # warm up
        search(q)
    times, hits = [], 0
    for q, true in zip(queries, truth, strict=True):
        t0 = time.perf_counter()
        found = search(q)
        times.append(time.perf_counter() - t0)
        hits += len(true & {int(i) for i in found})
    us = np.array(times) * 1e6
    p50, p99 = (float(np.percentile(us, p)) for p in (50, 99))
    row = Row(data, 0, label, build, p50, p99, hits / (K * len(queries)))
    print(row)
    return row


def measure(data: str, matrix: np.ndarray, queries: np.ndarray) -> list[Row]:
    """Every available candidate at every setting on one data set."""
    exact = _exact(matrix)
    truth = [set(exact(q).tolist()) for q in queries]
    rows = [_time(data, "exact numpy (oracle)", lambda: _exact(matrix), queries, truth)]
    for m, efc, ef in SETTINGS:
        for label, factory in CANDIDATES.items():
            try:
                make = functools.partial(factory, matrix, m, efc, ef)
                rows.append(_time(data, f"{label}, M={m} ef={ef}", make, queries, truth))
            except ImportError:
                print(f"{label}: not installed, skipped")
    for row in rows:
        row.n = len(matrix)
    return rows


def data_sets(model_dir: Path, n_queries: int, seed: int) -> dict[str, tuple[Any, Any]]:
    """``{name: (matrix, queries)}``."""
    rng = np.random.default_rng(seed)
    out: dict[str, tuple[Any, Any]] = {
        "random unit vectors": (_unit(rng.normal(size=(10_000, 128))), None)
    }
    if (model_dir / "config.json").exists():
        from taste2vec.data.demo import load_demo_catalogue
        from taste2vec.model.taste2vec import Taste2Vec
        from taste2vec.recommend.catalogue import embed_coffees
        from taste2vec.sim.recommend.synthetic import synthetic_catalogue

        model = Taste2Vec.load(model_dir)
        out["demo catalogue (embedded)"] = (embed_coffees(model, load_demo_catalogue()), None)
        data_dir = Settings().data_dir
        if data_dir is not None:
            from taste2vec.data.coffeereview import load_reviews
            from taste2vec.sim.subscribers import catalogue_from_reviews

            cat = catalogue_from_reviews(load_reviews(data_dir))
            out["Coffee Review (embedded)"] = (embed_coffees(model, cat.coffees), None)
        out["10k synthetic catalogue (embedded)"] = (
            embed_coffees(model, synthetic_catalogue(10_000, seed=seed)),
            None,
        )
    for name, (matrix, _) in out.items():
        if name.startswith("random"):
            queries = _unit(rng.normal(size=(n_queries, 128)))
        else:
            pick = matrix[rng.integers(len(matrix), size=n_queries)]
            queries = _unit(pick + rng.normal(0.0, 0.05, pick.shape))
        out[name] = (matrix, queries)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    rows: list[Row] = []
    for name, (matrix, queries) in data_sets(args.model, args.queries, args.seed).items():
        rows += measure(name, matrix, queries)
    table = markdown_table(
        ["data", "n", "index", "build ms", "p50 µs", "p99 µs", f"recall@{K}"],
        [
            [
                r.data,
                f"{r.n:,}",
                r.index,
                f"{r.build_ms:,.1f}",
                f"{r.p50_us:,.0f}",
                f"{r.p99_us:,.0f}",
                f"{r.recall:.3f}",
            ]
            for r in rows
        ],
    )
    text = (
        "## Vector index choice\n\n"
        f"Command: `.venv/bin/python bench/ann_choice.py --queries {args.queries}`. "
        f"Single-query top-{K} on one thread; HNSW (M, efConstruction, ef) in {SETTINGS}; "
        f"recall@{K} against the exact scan. Baseline: exact numpy. Target: "
        "recommendation p99 ≤ 15 ms over HTTP at 10 clients with 10k coffees, so the index "
        "should take well under 1 ms.\n\n" + table + "\n\n" + CHOICE + "\n"
    )
    print(text)
    update_section(args.results, "ann_choice", text)


CHOICE = (
    "**Is an ANN index needed at 10k coffees? No.** The exact numpy scan answers a top-10 "
    "query over 10k coffees in about 0.2 ms with perfect recall, far inside the 15 ms "
    "HTTP budget, so `make_index('auto', n)` uses the exact scan (`ExactIndex`, also the "
    "test oracle) below 50,000 coffees. **Choice above that: faiss-cpu (`IndexHNSWFlat`, "
    "wrapped as `FaissHNSWIndex`, M=32, efConstruction=200, ef=256).** At equal settings "
    "hnswlib was the fastest per query and faiss second (usearch's Python call overhead "
    "made it the slowest here), and faiss reached the highest recall on the hard random "
    "set (0.999 vs 0.996 at M=32/ef=256). hnswlib was not chosen because PyPI has no "
    "wheel for it on this platform (pip compiles it from source, so every install needs a "
    "C++ toolchain); faiss-cpu and usearch install as wheels of similar size (~60 MB)."
)


if __name__ == "__main__":
    main()
