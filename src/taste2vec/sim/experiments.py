"""Seeded Monte Carlo of A/B experiments for :mod:`taste2vec.experiments.stats`.

Used by ``tests/experiments`` and ``bench/experiment_stats.py``: the same simulation,
sized small in the tests and large in the bench. Every figure comes with its Monte Carlo
standard error ``sqrt(p (1 - p) / runs)``.

- :func:`simulate_peeking`: experiments on a proportion (CTR, retention), looked at after
  every batch of users. Per run and look it records whether the always-valid interval
  (:func:`~taste2vec.experiments.stats.cs_halfwidth`, the formula
  :func:`~taste2vec.experiments.stats.confidence_sequence` uses) excludes 0 or clears
  +-threshold, and whether a naive fixed-horizon two-proportion z-test is significant.
- :func:`simulate_cuped`: the relative-lift estimator's spread with and without CUPED on
  correlated pre-period data, through :func:`~taste2vec.experiments.stats.cuped`.
- :func:`simulate_srm`: how often :func:`~taste2vec.experiments.stats.srm_p_value` halts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps  # type: ignore[import-untyped]

from taste2vec.experiments.assignment import arm_of
from taste2vec.experiments.stats import (
    MetricSummary,
    cs_halfwidth,
    cuped,
    relative_lift,
    relative_lift_variance,
    srm_p_value,
)
from taste2vec.store import Experiment, Store
from taste2vec.stream.events import RecommendationClicked, RecommendationShown

__all__ = [
    "CupedSimulation",
    "PeekingSimulation",
    "mc_se",
    "simulate_cuped",
    "simulate_peeking",
    "simulate_srm",
]


def mc_se(rate: float, runs: int) -> float:
    """Monte Carlo standard error of a rate estimated from ``runs`` independent runs."""
    return math.sqrt(max(rate * (1.0 - rate), 0.0) / runs)


@dataclass(frozen=True)
class PeekingSimulation:
    """Per-run outcomes (boolean arrays of length ``runs``) over ``looks`` looks."""

    runs: int
    looks: int
    sequential_any: NDArray[np.bool_]  # the always-valid interval excluded 0 at some look
    naive_any: NDArray[np.bool_]  # a z-test had p < alpha at some look (peeking)
    naive_final: NDArray[np.bool_]  # the z-test at the last look only (one planned look)
    promote_any: NDArray[np.bool_]  # the interval lay above +threshold at some look
    rollback_any: NDArray[np.bool_]  # the interval lay below -threshold at some look
    final_n_per_arm: tuple[int, int]  # mean control / treatment observations at the end

    def rate(self, name: str) -> tuple[float, float]:
        """``(rate, Monte Carlo standard error)`` of one outcome."""
        x: NDArray[np.bool_] = getattr(self, name)
        r = float(x.mean())
        return r, mc_se(r, self.runs)


def simulate_peeking(
    seed: int,
    *,
    runs: int,
    looks: int,
    users_per_look: int,
    p_control: float,
    lift: float = 0.0,
    treatment_share: float = 0.5,
    alpha: float = 0.05,
    tuning: float = 5000.0,
    lift_threshold: float = 0.05,
) -> PeekingSimulation:
    """Bernoulli users (one observation each) arrive in batches of ``users_per_look``,
    assigned to treatment with probability ``treatment_share``; the treatment converts at
    ``p_control * (1 + lift)``. After each batch, on the cumulative data:

    - sequential: ``lift_hat +- cs_halfwidth(se, n)`` with the delta-method ``se`` and the
      ddof-1 variance of :class:`~taste2vec.experiments.stats.MetricSummary` (exactly what
      ``confidence_sequence`` computes);
    - naive: the pooled two-proportion z-test, ``p < alpha``.
    """
    if not 0 < p_control < 1 or not 0 < p_control * (1 + lift) < 1:
        raise ValueError("conversion rates must lie in (0, 1)")
    rng = np.random.default_rng(seed)
    n_t = rng.binomial(users_per_look, treatment_share, size=(runs, looks))
    n_c = users_per_look - n_t
    s_c = rng.binomial(n_c, p_control)
    s_t = rng.binomial(n_t, p_control * (1 + lift))
    nc, nt = n_c.cumsum(1).astype(np.float64), n_t.cumsum(1).astype(np.float64)
    sc, st = s_c.cumsum(1).astype(np.float64), s_t.cumsum(1).astype(np.float64)

    with np.errstate(divide="ignore", invalid="ignore"):
        mc, mt = sc / nc, st / nt
        vc = (sc - sc * sc / nc) / (nc - 1)
        vt = (st - st * st / nt) / (nt - 1)
        est = relative_lift(mc, mt)
        se = np.sqrt(relative_lift_variance(mc, vc, nc, mt, vt, nt))
        hw = cs_halfwidth(se, nc + nt, alpha, tuning)
        usable = (nc >= 2) & (nt >= 2) & (mc > 0) & (se > 0)
        lo, hi = est - hw, est + hw
        seq = usable & ((lo > 0) | (hi < 0))
        promote = usable & (lo > lift_threshold)
        rollback = usable & (hi < -lift_threshold)

        pooled = (sc + st) / (nc + nt)
        se0 = np.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt))
        z = (mt - mc) / se0
        p = 2.0 * sps.norm.sf(np.abs(z))
        naive = (se0 > 0) & (p < alpha)

    return PeekingSimulation(
        runs=runs,
        looks=looks,
        sequential_any=_any_look(seq),
        naive_any=_any_look(naive),
        naive_final=np.asarray(naive[:, -1], dtype=np.bool_),
        promote_any=_any_look(promote),
        rollback_any=_any_look(rollback),
        final_n_per_arm=(int(nc[:, -1].mean()), int(nt[:, -1].mean())),
    )


def _any_look(x: NDArray[np.bool_]) -> NDArray[np.bool_]:
    return np.asarray(x.any(axis=1), dtype=np.bool_)


@dataclass(frozen=True)
class CupedSimulation:
    runs: int
    n_per_arm: int
    correlation: float
    plain_lifts: NDArray[np.float64]  # relative-lift estimates without CUPED
    cuped_lifts: NDArray[np.float64]  # with CUPED
    variance_ratios: NDArray[np.float64]  # per-run pooled adjusted / unadjusted variance

    @property
    def empirical_variance_ratio(self) -> float:
        """Var(CUPED lift) / Var(plain lift) across runs (theory: 1 - correlation^2)."""
        return float(self.cuped_lifts.var(ddof=1) / self.plain_lifts.var(ddof=1))

    def ratio_se(self) -> float:
        """Standard error of :attr:`empirical_variance_ratio` by the delta method on the
        two sample variances (their covariance estimated from the runs)."""
        a = self.cuped_lifts - self.cuped_lifts.mean()
        b = self.plain_lifts - self.plain_lifts.mean()
        va, vb = float((a * a).mean()), float((b * b).mean())
        # influence function of va / vb per run: (a^2 - va) / vb - va (b^2 - vb) / vb^2
        infl = (a * a - va) / vb - va * (b * b - vb) / vb**2
        return float(infl.std(ddof=1) / math.sqrt(self.runs))


def simulate_cuped(
    seed: int,
    *,
    runs: int,
    n_per_arm: int,
    correlation: float = 0.7,
    mean: float = 3.5,
    sd: float = 1.0,
    lift: float = 0.0,
) -> CupedSimulation:
    """Per user a pre-period value ``x ~ N(mean, sd)`` and an in-experiment value
    ``y = mean + correlation (x - mean) + sqrt(1 - correlation^2) sd e`` (so
    ``corr(x, y) = correlation``); the treatment's ``y`` is scaled by ``1 + lift``. Each run
    estimates the relative lift plainly and with :func:`~taste2vec.experiments.stats.cuped`."""
    rng = np.random.default_rng(seed)
    r = correlation
    plain = np.empty(runs)
    adj = np.empty(runs)
    ratios = np.empty(runs)
    for i in range(runs):
        x = rng.normal(mean, sd, size=(2, n_per_arm))
        y = mean + r * (x - mean) + math.sqrt(1 - r * r) * sd * rng.normal(size=(2, n_per_arm))
        y[1] *= 1 + lift
        c = MetricSummary.from_values(y[0], pre=x[0])
        t = MetricSummary.from_values(y[1], pre=x[1])
        plain[i] = float(relative_lift(c.mean, t.mean))
        cu = cuped(c, t)
        adj[i] = float(relative_lift(cu.control.mean, cu.treatment.mean))
        ratios[i] = cu.variance_ratio
    return CupedSimulation(runs, n_per_arm, r, plain, adj, ratios)


def simulate_srm(
    seed: int,
    *,
    runs: int,
    users: int,
    true_share: float,
    expected_share: float,
    threshold: float = 0.001,
    looks: int = 1,
) -> tuple[float, float]:
    """``(halt rate, Monte Carlo SE)``: the share of runs whose SRM p-value is below
    ``threshold`` when ``users`` are assigned to treatment with probability
    ``true_share`` but the experiment expects ``expected_share``. With ``looks > 1`` the
    users arrive in equal batches and the gate is checked after each (a halt at any look
    counts)."""
    rng = np.random.default_rng(seed)
    per_look = users // looks
    treated = rng.binomial(per_look, true_share, size=(runs, looks)).cumsum(axis=1)
    seen = per_look * np.arange(1, looks + 1)
    w = [1 - expected_share, expected_share]
    halts = [
        any(
            srm_p_value([int(n - t), int(t)], w) < threshold for n, t in zip(seen, row, strict=True)
        )
        for row in treated
    ]
    rate = float(np.mean(halts))
    return rate, mc_se(rate, runs)


def drive_exposures(
    store: Store,
    exp: Experiment,
    users: Iterable[int],
    ctr: Mapping[str, float],
    seed: int = 0,
    coffees: tuple[str, str] = ("c1", "c2"),
) -> None:
    """Store what a served experiment produces: each user ``{exp.id}-u{i}`` sees 4
    recommendations (``recommendation_shown`` with the experiment and their sticky arm) and
    clicks each with the probability ``ctr[arm]`` (``recommendation_clicked`` on the first
    coffee). Seeded, so a test or bench can replay it."""
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    events: list[RecommendationShown | RecommendationClicked] = []
    for i in users:
        user = f"{exp.id}-u{i}"
        arm = arm_of(exp.salt, user, exp.treatment_share)
        for r in range(4):
            request = f"{user}-r{r}"
            events.append(
                RecommendationShown(
                    event_id=f"shown:{request}",
                    user=user,
                    event_time=now,
                    request=request,
                    coffees=list(coffees),
                    experiment=exp.id,
                    arm=arm,
                )
            )
            if rng.random() < ctr[arm]:
                events.append(
                    RecommendationClicked(
                        event_id=f"click:{request}",
                        user=user,
                        event_time=now,
                        coffee=coffees[0],
                        request=request,
                    )
                )
    for start in range(0, len(events), 2000):
        results = store.add_events(events[start : start + 2000])
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise failed[0]
