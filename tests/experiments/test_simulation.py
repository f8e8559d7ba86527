"""Validity by seeded Monte Carlo (taste2vec.sim.experiments; bench/experiment_stats.py
runs the large version). Each rate is tested with its Monte Carlo standard error
``se = sqrt(p (1 - p) / runs)``; the tolerance is 3 se of the target."""

from __future__ import annotations

import math

import numpy as np
import pytest

from taste2vec.experiments.stats import (
    ArmData,
    DecisionConfig,
    MetricSummary,
    confidence_sequence,
    decide,
)
from taste2vec.sim.experiments import (
    mc_se,
    simulate_cuped,
    simulate_peeking,
    simulate_srm,
)

ALPHA = 0.05
RUNS = 4000  # se of a rate near 0.05: 0.0034
LOOKS = 50


@pytest.mark.parametrize("share", [0.5, 0.1])
def test_aa_sequential_keeps_the_false_positive_rate_under_peeking(share: float) -> None:
    """A/A experiments looked at after every one of 50 batches: the always-valid interval
    excludes 0 at ANY look in at most alpha of the runs (+3 MC se); naive repeated
    z-tests on the very same runs reject far more often."""
    sim = simulate_peeking(
        101, runs=RUNS, looks=LOOKS, users_per_look=1000, p_control=0.1, treatment_share=share
    )
    seq, seq_se = sim.rate("sequential_any")
    naive, naive_se = sim.rate("naive_any")
    final, final_se = sim.rate("naive_final")
    tol = 3 * mc_se(ALPHA, RUNS)
    print(
        f"\nA/A share={share} runs={RUNS} looks={LOOKS}: "
        f"sequential FPR {seq:.4f} +- {seq_se:.4f}, naive peeking {naive:.4f} +- {naive_se:.4f}, "
        f"one planned z-test {final:.4f} +- {final_se:.4f}"
    )
    assert seq <= ALPHA + tol, (seq, seq_se)
    # peeking inflates: 50 looks of a 5% test reject in well over 15% of A/A runs
    assert naive > 0.15, (naive, naive_se)
    assert naive - ALPHA > 20 * naive_se
    # the single planned z-test is calibrated (a check on the simulation itself)
    assert abs(final - ALPHA) <= tol, (final, final_se)
    # and no A/A run should come anywhere near a promotion
    assert sim.rate("promote_any")[0] <= 0.01


def test_power_for_a_true_ten_percent_lift_is_reported() -> None:
    """CTR 10% -> 11% (a 10% relative lift), 50/50 split, 50 looks up to ~50k users per
    arm. Reported: how often the always-valid interval excludes 0 (detects) and clears +5%
    (would promote) at some look, next to one planned z-test at the end."""
    runs = 2000
    sim = simulate_peeking(
        202, runs=runs, looks=LOOKS, users_per_look=2000, p_control=0.1, lift=0.1
    )
    detect, detect_se = sim.rate("sequential_any")
    promote, promote_se = sim.rate("promote_any")
    fixed, fixed_se = sim.rate("naive_final")
    print(
        f"\npower, 10% lift, {sim.final_n_per_arm} users per arm at the end, runs={runs}: "
        f"sequential detects {detect:.3f} +- {detect_se:.3f}, clears +5% {promote:.3f} +- "
        f"{promote_se:.3f}; one planned z-test {fixed:.3f} +- {fixed_se:.3f}"
    )
    # normal approximation, last look alone: detects 0.94, clears +5% 0.19 (earlier looks add)
    assert detect > 0.6
    assert 0 < promote < detect
    assert sim.rate("rollback_any")[0] == 0.0  # never rolls back a better model here


def test_decide_agrees_with_the_simulation_formulas() -> None:
    """The vectorised Monte Carlo computes the interval with the same formulas as
    decide(): a few A/A runs checked look by look through the public API."""
    rng = np.random.default_rng(9)
    cfg = DecisionConfig(treatment_share=0.5, min_duration_s=0, min_users_per_arm=0, cuped=False)
    actions = []
    for _ in range(40):
        sc = st = nc = nt = 0
        for _look in range(20):
            bt = int(rng.binomial(1000, 0.5))
            nc, nt = nc + 1000 - bt, nt + bt
            sc += int(rng.binomial(1000 - bt, 0.1))
            st += int(rng.binomial(bt, 0.1))
            c = ArmData(users=nc, metrics={"recommendation_ctr": MetricSummary.from_counts(sc, nc)})
            t = ArmData(users=nt, metrics={"recommendation_ctr": MetricSummary.from_counts(st, nt)})
            d = decide(c, t, duration_s=1.0, config=cfg)
            actions.append(d.action)
            if d.action == "halt":  # SRM: a false alarm at p < 0.001 per look
                continue
            seq = confidence_sequence(
                c.metrics["recommendation_ctr"], t.metrics["recommendation_ctr"]
            )
            assert d.evidence["primary"]["interval"] == pytest.approx(list(seq.interval))
    assert "promote" not in actions  # A/A
    assert actions.count("halt") <= 5  # 800 looks at p < 0.001 (each look: 0.001)


def test_srm_catches_a_52_48_split() -> None:
    runs = 2000
    caught, caught_se = simulate_srm(
        303, runs=runs, users=20000, true_share=0.52, expected_share=0.5
    )
    false_halt, fh_se = simulate_srm(
        304, runs=runs, users=20000, true_share=0.5, expected_share=0.5
    )
    print(
        f"\nSRM, 20000 users, p < 0.001: 52/48 caught {caught:.4f} +- {caught_se:.4f}; "
        f"50/50 halted {false_halt:.4f} +- {fh_se:.4f}"
    )
    # chi-square noncentrality 16 -> power 0.99 at p < 0.001
    assert caught >= 0.97
    assert false_halt <= 0.001 + 3 * mc_se(0.001, runs)


def test_cuped_reduces_variance_on_correlated_pre_period_data() -> None:
    """corr(pre, post) = 0.7: theory says the lift estimator's variance falls to
    1 - 0.7^2 = 0.51 of the plain one. Measured across runs, with its se."""
    sim = simulate_cuped(404, runs=600, n_per_arm=1000, correlation=0.7, lift=0.05)
    ratio, se = sim.empirical_variance_ratio, sim.ratio_se()
    print(
        f"\nCUPED corr 0.7, runs={sim.runs}, {sim.n_per_arm} per arm: Var ratio {ratio:.3f} "
        f"+- {se:.3f} (theory 0.51); in-sample variance ratio {sim.variance_ratios.mean():.3f}"
    )
    assert ratio < 1 - 10 * se
    assert abs(ratio - 0.51) < 4 * se
    # unbiased: both estimators centre on the true 5% lift
    for lifts in (sim.plain_lifts, sim.cuped_lifts):
        assert abs(lifts.mean() - 0.05) < 4 * lifts.std(ddof=1) / math.sqrt(sim.runs)
    # uncorrelated pre-period data: no harm
    none = simulate_cuped(405, runs=300, n_per_arm=1000, correlation=0.0)
    assert abs(none.empirical_variance_ratio - 1) < 4 * none.ratio_se() + 0.01
