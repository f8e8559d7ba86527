"""The crowd refit reads a bounded sample (issue 11): the same snapshot and recommendations
as the computation over every feedback that ``set_crowd`` did before, which is copied here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from taste2vec.recommend.bayes import (
    BayesConfig,
    CrowdPrior,
    _cold_scores,
    _item_residual,
    crowd_hash,
    default_prior,
    fit_crowd_prior,
)
from taste2vec.recommend.engine import RecommendationEngine, feedback_stats
from taste2vec.recommend.snapshot import CrowdFeedback, Snapshot
from taste2vec.schema import Coffee, Feedback, FeedbackSignal
from taste2vec.store import create_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
Make = Callable[..., RecommendationEngine]


def _crowd(catalogue: Sequence[Coffee], n_users: int, per_user: int, seed: int) -> list[Feedback]:
    """Random reactions, with re-rated coffees and equal timestamps."""
    rng = np.random.default_rng(seed)
    signals = ["liked", "disliked", "rated", "skipped"]
    out = []
    for i in range(n_users * per_user):
        signal = signals[int(rng.integers(4))]
        out.append(
            Feedback(
                id=f"f{i}",
                user=f"user-{int(rng.integers(n_users))}",
                coffee=catalogue[int(rng.integers(30))].id,
                signal=FeedbackSignal(signal),
                rating=int(rng.integers(1, 6)) if signal == "rated" else None,
                timestamp=T0 + timedelta(hours=int(rng.integers(0, 20))),
            )
        )
    return out


def _old_snapshot(engine: RecommendationEngine, feedback: Sequence[Feedback]) -> Snapshot:
    """What ``set_crowd(feedback)`` produced before issue 11 (its code, copied)."""
    items = sorted(feedback, key=lambda f: f.timestamp)
    crowd: dict[str, dict[str, float]] = {}
    for fb in items:
        crowd.setdefault(fb.user, {})[fb.coffee] = fb.preference
    snap = engine.snapshot.with_stats(feedback_stats(items) if items else None)
    prefs = {
        user: {snap.pos[c]: p for c, p in its.items() if c in snap.pos}
        for user, its in crowd.items()
    }
    x = snap.features.matrix
    return snap.with_crowd(fit_crowd_prior(x, snap.features.names, prefs, engine.bayes))


def _assert_same(new: Snapshot, old: Snapshot) -> None:
    a, b = new.crowd, old.crowd
    assert a.n_users == b.n_users and a.sigma2 == b.sigma2
    for name in ("mean", "precision", "residual"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.cold is None) == (b.cold is None)
    if a.cold is not None and b.cold is not None:
        np.testing.assert_array_equal(a.cold, b.cold)
    for name in ("population", "prior"):
        x, y = getattr(new, name), getattr(old, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=name)


def _recommendations(engine: RecommendationEngine, feedback: Sequence[Feedback]) -> list[object]:
    out: list[object] = []
    for user in ("user-0", "user-3", "nobody"):
        mine = [f for f in feedback if f.user == user]
        state = engine.state(mine)
        seen = {f.coffee for f in mine}
        out.append([(r.coffee_id, r.score) for r in engine.recommend(None, 8, seen, state=state)])
    return out


def test_fewer_users_than_max_users_gives_the_old_snapshot_and_ranking(
    make_engine: Make, catalogue: list[Coffee], tmp_path: Path
) -> None:
    feedback = _crowd(catalogue, 40, 8, seed=11)
    engine = make_engine()
    old = _old_snapshot(engine, feedback)
    engine.set_crowd(feedback)  # in memory
    _assert_same(engine.snapshot, old)
    assert engine.snapshot.crowd.n_users == 40
    in_memory = _recommendations(engine, feedback)

    with create_store(f"sqlite:///{tmp_path / 'crowd.db'}") as store:  # through SQL
        store.upsert_coffees(catalogue)
        for fb in feedback:
            store.add_feedback(fb)
        fresh = make_engine()
        fresh.set_crowd(store.crowd_feedback(fresh.bayes.max_users))
    _assert_same(fresh.snapshot, old)
    assert _recommendations(fresh, feedback) == in_memory

    # a rebuild on a smaller catalogue refits on the same users, as before
    engine.rebuild(engine.snapshot.model, catalogue[:20])
    reference = make_engine(catalogue[:20])
    _assert_same(engine.snapshot, _old_snapshot(reference, feedback))


def test_more_users_than_max_users_samples_the_same_users(
    make_engine: Make, catalogue: list[Coffee], tmp_path: Path
) -> None:
    bayes = BayesConfig(max_users=5)
    feedback = _crowd(catalogue, 30, 6, seed=12)
    engine = make_engine(bayes=bayes)
    old = _old_snapshot(engine, feedback)
    engine.set_crowd(feedback)
    _assert_same(engine.snapshot, old)
    assert engine.snapshot.crowd.n_users == 30  # the crowd, not the sample
    assert len(engine._crowd.prefs) == 5  # bounded by the sample
    with create_store(f"sqlite:///{tmp_path / 'crowd.db'}") as store:
        store.upsert_coffees(catalogue)
        for fb in feedback:
            store.add_feedback(fb)
        crowd = store.crowd_feedback(bayes.max_users)
    assert crowd.prefs == engine._crowd.prefs and crowd.n_users == 30
    fresh = make_engine(bayes=bayes)
    fresh.set_crowd(crowd)
    _assert_same(fresh.snapshot, old)
    assert _recommendations(fresh, feedback) == _recommendations(engine, feedback)


def test_a_sample_larger_than_max_users_is_refused(make_engine: Make) -> None:
    engine = make_engine(bayes=BayesConfig(max_users=2))
    crowd = CrowdFeedback(None, {"a": {}, "b": {}, "c": {}}, 3)
    with pytest.raises(ValueError, match=r"holds 3 users, more than BayesConfig.max_users \(2\)"):
        engine.set_crowd(crowd)


def test_from_feedback_validates_max_users() -> None:
    with pytest.raises(ValueError, match="max_users"):
        CrowdFeedback.from_feedback([], 0)
    assert CrowdFeedback.from_feedback([], 3) == CrowdFeedback(None, {}, 0)


def _old_fit(x: np.ndarray, names: list[str], prefs: dict[str, dict[int, float]]) -> CrowdPrior:
    """``fit_crowd_prior`` before issue 11 (its EM, copied): it kept every user's d x d
    inverse in a list and averaged them with ``np.mean(invs, axis=0)``."""
    config = BayesConfig()
    n_items, d = x.shape
    base = default_prior(names, n_items, config, x)
    users = sorted((u for u, p in prefs.items() if p), key=lambda u: (crowd_hash(u), u))
    rows = [
        (np.fromiter(prefs[u].keys(), dtype=np.int64), np.fromiter(prefs[u].values(), float))
        for u in users[: config.max_users]
    ]

    def posteriors(mean: np.ndarray, precision: np.ndarray) -> tuple[list[Any], list[Any]]:
        pm = precision @ mean
        means, covs = [], []
        for items, y in rows:
            xu = x[items]
            inv = np.asarray(np.linalg.inv(precision + xu.T @ xu), dtype=np.float64)
            means.append(inv @ (pm + xu.T @ y))
            covs.append(inv)
        return means, covs

    mean, cov, sigma2 = base.mean.copy(), np.linalg.inv(base.precision), 1.0
    n_obs = sum(len(y) for _, y in rows)
    for _ in range(config.em_iterations):
        precision = sigma2 * np.linalg.inv(cov)
        means, invs = posteriors(mean, precision)
        m = np.stack(means)
        mean = m.mean(axis=0)
        dev = m - mean
        post = sigma2 * np.mean(invs, axis=0)
        cov = dev.T @ dev / len(rows) + post
        diag = np.diag(np.diag(cov))
        cov = (1 - config.covariance_shrink) * cov + config.covariance_shrink * diag
        cov += config.covariance_floor * np.eye(d)
        resid = 0.0
        for (items, y), mu, inv in zip(rows, means, invs, strict=True):
            xu = x[items]
            r = y - xu @ mu
            resid += float(r @ r) + sigma2 * float(np.einsum("ij,jk,ik->", xu, inv, xu))
        sigma2 = float(np.clip(resid / n_obs, 0.05, 1.0))
    precision = sigma2 * np.linalg.inv(cov)
    means, _ = posteriors(mean, precision)
    residual = _item_residual(x, rows, means, mean, sigma2, n_items, config)
    cold = _cold_scores(x, rows, mean, config)
    return CrowdPrior(mean, precision, sigma2, residual, len(users), cold)


def test_the_em_holding_one_inverse_gives_the_prior_of_the_one_holding_all(
    make_engine: Make, catalogue: list[Coffee]
) -> None:
    snap = make_engine().snapshot
    x, names = snap.features.matrix, list(snap.features.names)
    rng = np.random.default_rng(13)
    prefs = {
        f"p{u}": {
            int(j): float(rng.choice([-1.0, -0.5, -0.25, 0.0, 0.5, 1.0]))
            for j in rng.choice(len(x), size=int(rng.integers(1, 12)), replace=False)
        }
        for u in range(150)
    }
    new, old = fit_crowd_prior(x, names, prefs, BayesConfig()), _old_fit(x, names, prefs)
    assert new.n_users == old.n_users == 150 and new.sigma2 == old.sigma2
    for name in ("mean", "precision", "residual", "cold"):
        np.testing.assert_array_equal(getattr(new, name), getattr(old, name), err_msg=name)
