"""Feedback-to-visible latency, in process, on a 10k-coffee catalogue.

    .venv/bin/python bench/feedback_latency.py [--model artifacts/model] [--n 10000]

Builds a :class:`~taste2vec.recommend.engine.RecommendationEngine` over a synthetic catalogue
(:func:`~taste2vec.sim.recommend.synthetic.synthetic_catalogue`: the demo coffees varied, embedded
once), gives a user 20 feedback, then times ``--iters`` rounds of: apply one new feedback
with the O(d) incremental update, then ``recommend`` top 10 excluding what the user has
seen (the feedback is visible in that answer). Baseline: a ``recommend`` call alone, timed
in the same run, interleaved. Target: feedback visible within 100 ms.
Also checks, each round, that the incremental vector equals the batch closed form.
Writes the ``feedback_latency`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import torch

from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.recommend.engine import RecommendationEngine
from taste2vec.schema import Feedback, FeedbackSignal
from taste2vec.sim.recommend.synthetic import synthetic_catalogue

TARGET_MS = 100.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _feedback(i: int, coffee: str, rng: np.random.Generator) -> Feedback:
    signal = FeedbackSignal(rng.choice(["liked", "disliked", "rated", "skipped"]))
    rating = int(rng.integers(1, 6)) if signal is FeedbackSignal.RATED else None
    return Feedback(
        id=f"fb-{i}",
        user="bench-user",
        coffee=coffee,
        signal=signal,
        rating=rating,
        timestamp=T0 + timedelta(hours=i),
    )


def _pct(values: list[float]) -> tuple[float, float]:
    a = np.array(values) * 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--iters", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = Taste2Vec.load(args.model)
    coffees = synthetic_catalogue(args.n, seed=args.seed)
    t0 = time.perf_counter()
    engine = RecommendationEngine(model, coffees)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)
    ids = [c.id for c in coffees]
    history = [
        _feedback(i, ids[int(j)], rng) for i, j in enumerate(rng.integers(len(ids), size=20))
    ]
    state = engine.state(history)
    seen = {fb.coffee for fb in history}
    for _ in range(20):  # warm up
        engine.recommend(state.vector(), 10, seen)
    visible, alone, update_only = [], [], []
    max_gap = 0.0
    for i in range(len(history), len(history) + args.iters):
        fb = _feedback(i, ids[int(rng.integers(len(ids)))], rng)
        history.append(fb)
        seen.add(fb.coffee)
        t0 = time.perf_counter()
        engine.update(state, fb)
        t1 = time.perf_counter()
        engine.recommend(state.vector(), 10, seen)
        t2 = time.perf_counter()
        engine.recommend(state.vector(), 10, seen)
        t3 = time.perf_counter()
        visible.append(t2 - t0)
        update_only.append(t1 - t0)
        alone.append(t3 - t2)
        if i % 100 == 0:
            batch = engine.user_vector(history)
            inc = state.vector()
            assert batch is not None and inc is not None
            max_gap = max(max_gap, float(np.abs(batch - inc).max()))
    rows = []
    for label, values, target in (
        ("recommend alone (baseline)", alone, ""),
        ("incremental update alone", update_only, ""),
        ("feedback → visible (update + recommend)", visible, f"{TARGET_MS:.0f}"),
    ):
        p50, p99 = _pct(values)
        ratio = f"{p99 / TARGET_MS:.3f}×" if target else ""
        rows.append([label, f"{p50:.3f}", f"{p99:.3f}", target, ratio])
    table = markdown_table(["operation", "p50 ms", "p99 ms", "target p99 ms", "p99 / target"], rows)
    p99 = _pct(visible)[1]
    verdict = "meets" if p99 <= TARGET_MS else "does NOT meet"
    text = (
        "## Feedback to visible recommendation (in process)\n\n"
        f"Command: `.venv/bin/python bench/feedback_latency.py --n {args.n} --iters "
        f"{args.iters}`. Synthetic catalogue of {args.n:,} coffees (demo coffees varied; "
        f"engine built in {build_s:.1f} s, index `{engine.snapshot.index.name}`), one user "
        f"with 20 earlier reactions; each of {args.iters} rounds applies one feedback with "
        "the O(d) incremental update and asks for the top 10. Baseline: `recommend` alone "
        "in the same rounds. No HTTP; one thread.\n\n"
        f"{table}\n\nFeedback becomes visible in p99 {p99:.2f} ms: {verdict} the "
        f"{TARGET_MS:.0f} ms target. Largest gap between the incremental and the batch "
        f"closed-form vector over the run: {max_gap:.1e}.\n"
    )
    print(text)
    update_section(args.results, "feedback_latency", text)


if __name__ == "__main__":
    main()
