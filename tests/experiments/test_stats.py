"""taste2vec.experiments.stats against scipy.stats / statsmodels, and the decision rule."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from taste2vec.experiments.stats import (
    ArmData,
    DecisionConfig,
    GuardrailConfig,
    LatencyCounts,
    MetricSummary,
    Moments,
    always_valid_p_value,
    check_guardrails,
    confidence_sequence,
    cs_halfwidth,
    cuped,
    decide,
    holm,
    mixing_rho,
    srm_p_value,
    two_proportion_z_test,
    welch_t_test,
)

CASES = [(40, 55, 1.0, 3.0), (300, 120, 2.0, 0.7), (2000, 2500, 5.0, 5.0)]


@pytest.mark.parametrize(("n_c", "n_t", "sd_c", "sd_t"), CASES)
def test_welch_matches_scipy(n_c: int, n_t: int, sd_c: float, sd_t: float) -> None:
    rng = np.random.default_rng(n_c)
    c = rng.normal(10.0, sd_c, n_c)
    t = rng.normal(10.4, sd_t, n_t)
    res = welch_t_test(MetricSummary.from_values(c), MetricSummary.from_values(t), alpha=0.05)
    ref = sps.ttest_ind(t, c, equal_var=False)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-7)
    assert res.df == pytest.approx(ref.df, rel=1e-9)
    ci = ref.confidence_interval(0.95)
    assert res.difference_ci == pytest.approx((ci.low, ci.high), rel=1e-7)


@pytest.mark.parametrize(("n_c", "n_t", "sd_c", "sd_t"), CASES)
def test_welch_matches_statsmodels(n_c: int, n_t: int, sd_c: float, sd_t: float) -> None:
    weightstats = pytest.importorskip("statsmodels.stats.weightstats")
    rng = np.random.default_rng(n_t)
    c = rng.normal(10.0, sd_c, n_c)
    t = rng.normal(10.4, sd_t, n_t)
    res = welch_t_test(MetricSummary.from_values(c), MetricSummary.from_values(t), alpha=0.1)
    cm = weightstats.CompareMeans(weightstats.DescrStatsW(t), weightstats.DescrStatsW(c))
    stat, p, df = cm.ttest_ind(usevar="unequal")
    assert (res.statistic, res.p_value, res.df) == pytest.approx((stat, p, df), rel=1e-7)
    assert res.difference_ci == pytest.approx(cm.tconfint_diff(alpha=0.1, usevar="unequal"))


PROPS = [(1000, 9000, 0.10, 0.12), (5000, 5000, 0.30, 0.29), (250, 400, 0.5, 0.6)]


def _counts(n_c: int, n_t: int, p_c: float, p_t: float) -> tuple[int, int]:
    return round(n_c * p_c), round(n_t * p_t)


@pytest.mark.parametrize(("n_c", "n_t", "p_c", "p_t"), PROPS)
def test_z_test_matches_the_hand_formula(n_c: int, n_t: int, p_c: float, p_t: float) -> None:
    s_c, s_t = _counts(n_c, n_t, p_c, p_t)
    res = two_proportion_z_test(
        MetricSummary.from_counts(s_c, n_c), MetricSummary.from_counts(s_t, n_t)
    )
    pc, pt, pool = s_c / n_c, s_t / n_t, (s_c + s_t) / (n_c + n_t)
    z = (pt - pc) / math.sqrt(pool * (1 - pool) * (1 / n_c + 1 / n_t))
    assert res.statistic == pytest.approx(z, rel=1e-12)
    assert res.p_value == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-9)
    half = 1.959963984540054 * math.sqrt(pt * (1 - pt) / n_t + pc * (1 - pc) / n_c)
    assert res.difference_ci == pytest.approx((pt - pc - half, pt - pc + half), rel=1e-9)
    # delta-method relative-lift interval, by hand
    var = pt * (1 - pt) / (n_t * pc**2) + pt**2 * pc * (1 - pc) / (n_c * pc**4)
    lift = pt / pc - 1
    h = 1.959963984540054 * math.sqrt(var)
    assert res.relative_lift == pytest.approx(lift)
    assert res.relative_ci == pytest.approx((lift - h, lift + h), rel=1e-9)


@pytest.mark.parametrize(("n_c", "n_t", "p_c", "p_t"), PROPS)
def test_z_test_matches_statsmodels(n_c: int, n_t: int, p_c: float, p_t: float) -> None:
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    s_c, s_t = _counts(n_c, n_t, p_c, p_t)
    res = two_proportion_z_test(
        MetricSummary.from_counts(s_c, n_c), MetricSummary.from_counts(s_t, n_t)
    )
    z, p = proportion.proportions_ztest([s_t, s_c], [n_t, n_c])
    assert (res.statistic, res.p_value) == pytest.approx((z, p), rel=1e-9)
    low, high = proportion.confint_proportions_2indep(
        s_t, n_t, s_c, n_c, method="wald", compare="diff"
    )
    assert res.difference_ci == pytest.approx((low, high), rel=1e-9)


def test_relative_lift_interval_covers_the_truth() -> None:
    """The delta-method interval of a single planned look covers the true lift ~95%
    (2000 runs: Monte Carlo SE 0.0049)."""
    rng = np.random.default_rng(7)
    runs, cover = 2000, 0
    for _ in range(runs):
        c = rng.exponential(2.0, 800)  # skewed, like revenue or session length
        t = rng.exponential(2.2, 800)
        res = welch_t_test(MetricSummary.from_values(c), MetricSummary.from_values(t))
        cover += res.relative_ci[0] <= 0.1 <= res.relative_ci[1]
    rate = cover / runs
    se = math.sqrt(0.95 * 0.05 / runs)
    assert abs(rate - 0.95) < 4 * se, (rate, se)


def test_fixed_tests_reject_bad_input() -> None:
    one = MetricSummary.from_values([1.0])
    two = MetricSummary.from_values([1.0, 2.0])
    with pytest.raises(ValueError, match=">= 2 observations"):
        welch_t_test(one, two)
    with pytest.raises(ValueError, match="not a proportion"):
        two_proportion_z_test(
            MetricSummary.from_values([0.5, 2.0]), MetricSummary.from_counts(1, 4)
        )
    with pytest.raises(ValueError, match="alpha"):
        welch_t_test(two, two, alpha=1.5)
    with pytest.raises(ValueError, match="successes"):
        MetricSummary.from_counts(5, 4)
    with pytest.raises(ValueError, match="finite"):
        MetricSummary.from_values([1.0, float("nan")])
    with pytest.raises(ValueError, match="go together"):
        MetricSummary(3, 1.0, 1.0, pre_total=1.0)


def test_confidence_sequence_is_growthbooks_formula() -> None:
    """Half-width = sigma * sqrt(2 (n rho^2 + 1) / (n^2 rho^2) * ln(sqrt(n rho^2 + 1) / alpha))
    with sigma^2 = n se^2 (the per-observation form of Waudby-Smith et al. 2023 eq. 9), and
    rho^2 = (-2 ln a + ln(-2 ln a + 1)) / N."""
    c, t = MetricSummary.from_counts(1100, 10000), MetricSummary.from_counts(1250, 10000)
    res = confidence_sequence(c, t, alpha=0.05, tuning=5000)
    n = 20000
    rho2 = (-2 * math.log(0.05) + math.log(-2 * math.log(0.05) + 1)) / 5000
    assert mixing_rho(0.05, 5000) ** 2 == pytest.approx(rho2)
    sigma2 = res.se**2 * n
    hw = math.sqrt(sigma2) * math.sqrt(
        2 * (n * rho2 + 1) / (n**2 * rho2) * math.log(math.sqrt(n * rho2 + 1) / 0.05)
    )
    assert res.interval == pytest.approx((res.relative_lift - hw, res.relative_lift + hw))
    fixed = welch_t_test(c, t)
    # always valid costs width: wider than the fixed-horizon interval
    assert res.interval[0] < fixed.relative_ci[0] and res.interval[1] > fixed.relative_ci[1]
    assert res.relative_lift == pytest.approx(fixed.relative_lift)


def test_always_valid_p_value_agrees_with_the_interval() -> None:
    """p <= alpha exactly when the interval excludes 0."""
    n = np.array([1e3, 1e4, 1e5, 1e6])
    for se in (0.01, 0.05):
        hw = cs_halfwidth(se, n, 0.05)
        for scale in (0.99, 1.01):
            p = always_valid_p_value(scale * hw / se, n, 0.05)
            assert np.all((p <= 0.05) == (scale > 1))
    assert float(always_valid_p_value(0.0, 1e4)) == 1.0


def test_cuped_matches_a_regression_by_hand() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(3.5, 1.0, (2, 500))
    y = 1.0 + 0.8 * x + rng.normal(0, 0.5, (2, 500))
    y[1] += 0.2
    c = MetricSummary.from_values(y[0], pre=x[0])
    t = MetricSummary.from_values(y[1], pre=x[1])
    res = cuped(c, t)
    # theta: pooled within-arm regression slope
    xc, yc = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
    theta = float((xc * yc).sum() / (xc * xc).sum())
    assert res.theta == pytest.approx(theta, rel=1e-9)
    xbar = x.mean()
    adj = y - theta * (x - xbar)
    assert res.control.mean == pytest.approx(adj[0].mean())
    assert res.treatment.mean == pytest.approx(adj[1].mean())
    assert res.control.variance == pytest.approx(adj[0].var(ddof=1), rel=1e-9)
    assert res.treatment.variance == pytest.approx(adj[1].var(ddof=1), rel=1e-9)
    assert res.variance_ratio < 0.5
    # no covariate information: theta 0, nothing changes
    flat = MetricSummary.from_values(y[0], pre=np.zeros(500))
    same = cuped(flat, MetricSummary.from_values(y[1], pre=np.zeros(500)))
    assert same.theta == 0.0 and same.control == c.moments()
    with pytest.raises(ValueError, match="covariate"):
        cuped(MetricSummary.from_values(y[0]), t)


def test_srm_matches_scipy_chisquare() -> None:
    for obs, w in (
        ([5200, 4800], [0.5, 0.5]),
        ([9100, 900], [0.9, 0.1]),
        ([10, 20, 30], [1, 1, 1]),
    ):
        exp = np.array(w) / sum(w) * sum(obs)
        assert srm_p_value(obs, w) == pytest.approx(sps.chisquare(obs, exp).pvalue, rel=1e-9)
    assert srm_p_value([5200, 4800], [0.5, 0.5]) < 0.001
    assert srm_p_value([0, 0], [0.5, 0.5]) == 1.0
    with pytest.raises(ValueError):
        srm_p_value([1, 2], [0.5])


def test_holm_by_hand() -> None:
    # k = 3: 0.01 <= 0.05/3 rejected; 0.03 > 0.05/2 stops; 0.04 not rejected either
    assert holm([0.04, 0.01, 0.03], 0.05) == [False, True, False]
    assert holm([0.02, 0.01, 0.04], 0.05) == [True, True, True]  # 0.01<.0167, .02<.025, .04<.05
    assert holm([], 0.05) == []


def test_holm_matches_statsmodels() -> None:
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    rng = np.random.default_rng(11)
    for _ in range(25):  # multipletests takes ~0.1 s a call here
        p = list(rng.uniform(0, 0.1, rng.integers(1, 6)))
        ref = multitest.multipletests(p, alpha=0.05, method="holm")[0]
        assert holm(p, 0.05) == list(ref)


# --------------------------------------------------------------------------- decide

CTR = "recommendation_ctr"
WEEK = 7 * 86400.0


def arm(users: int, clicks: int, shown: int, **kw: object) -> ArmData:
    return ArmData(users=users, metrics={CTR: MetricSummary.from_counts(clicks, shown)}, **kw)  # type: ignore[arg-type]


def test_promotes_a_clear_winner_after_the_minimums() -> None:
    c, t = arm(90000, 9000, 90000), arm(10000, 1300, 10000)
    d = decide(c, t, duration_s=WEEK)
    assert d.action == "promote", d.reasons
    lo, hi = d.evidence["primary"]["interval"]
    assert lo > 0.05
    # the same data, too early or too small: continue, saying why
    early = decide(c, t, duration_s=WEEK / 2)
    assert early.action == "continue" and "minimum duration" in early.reasons[0]
    small = decide(c, t, duration_s=WEEK, config=DecisionConfig(min_users_per_arm=20000))
    assert small.action == "continue" and "users" in small.reasons[0]


def test_rolls_back_a_clear_loser_even_early() -> None:
    d = decide(arm(9000, 900, 9000), arm(1000, 50, 1000), duration_s=3600)
    assert d.action == "rollback"
    assert d.evidence["primary"]["interval"][1] < -0.05


def test_continues_when_the_interval_straddles_the_threshold() -> None:
    d = decide(arm(9000, 900, 9000), arm(1000, 104, 1000), duration_s=WEEK)
    assert d.action == "continue"


def test_srm_halts_before_anything_else() -> None:
    # a 52/48 split on a 50/50 experiment, with a treatment that would otherwise promote
    c, t = arm(4800, 480, 4800), arm(5200, 700, 5200)
    d = decide(c, t, duration_s=WEEK, config=DecisionConfig(treatment_share=0.5))
    assert d.action == "halt"
    assert d.evidence["srm"]["p_value"] < 0.001


def test_guardrail_breach_rolls_back() -> None:
    slow = LatencyCounts(limit_ms=250.0, requests=20000, slower=600)  # 3% slower than the limit
    c = arm(9000, 900, 9000, errors=10, requests=90000)
    t = arm(1000, 120, 1000, errors=1, requests=10000, latency=slow)
    d = decide(c, t, duration_s=WEEK)
    assert d.action == "rollback" and "latency_p99" in d.reasons[0]
    # the same with a fast treatment: no breach
    fast = LatencyCounts(limit_ms=250.0, requests=20000, slower=100)
    ok = decide(c, arm(1000, 120, 1000, errors=1, requests=10000, latency=fast), duration_s=WEEK)
    assert ok.action != "rollback"


def test_error_rate_and_satisfaction_guardrails() -> None:
    rng = np.random.default_rng(0)
    low = MetricSummary.from_values(rng.normal(2.5, 1.0, 400))
    c = ArmData(users=9000, errors=50, requests=90000)
    t = ArmData(users=1000, errors=400, requests=10000, metrics={"user_satisfaction": low})
    res = {g.name: g for g in check_guardrails(c, t)}
    assert res["error_rate"].status == "breached"  # 4% vs 0.06%: far over the 0.5 pp margin
    assert res["satisfaction_floor"].status == "breached"  # mean 2.5 < floor 3.0
    assert res["latency_p99"].status == "missing"


def test_missing_data_is_never_a_breach() -> None:
    c, t = ArmData(users=9000), ArmData(users=1000)
    gr = check_guardrails(c, t)
    assert [g.status for g in gr] == ["missing"] * 3
    d = decide(c, t, duration_s=WEEK)
    assert d.action == "continue"
    off = GuardrailConfig(latency_p99_ms=None, error_rate_margin=None, satisfaction_floor=None)
    assert {g.status for g in check_guardrails(c, t, off)} == {"disabled"}


def test_holm_corrects_a_borderline_guardrail() -> None:
    """One guardrail with an always-valid p-value between alpha/3 and alpha: breached
    alone, not when it is one of three guardrails (Holm: the smallest p faces alpha/3)."""
    s = MetricSummary(n=400, total=400 * 2.89, total_sq=400 * (2.89**2) + 399 * 0.25)
    t = ArmData(users=1000, metrics={"user_satisfaction": s})
    only = GuardrailConfig(latency_p99_ms=None, error_rate_margin=None)
    (g,) = [
        x for x in check_guardrails(ArmData(users=9000), t, only) if x.name == "satisfaction_floor"
    ]
    assert g.p_value is not None and 0.05 / 3 < g.p_value <= 0.05
    assert g.status == "breached"
    three = {x.name: x for x in check_guardrails(ArmData(users=9000), t)}
    assert three["satisfaction_floor"].status == "ok"


def test_decision_is_json_for_the_audit_log() -> None:
    rng = np.random.default_rng(5)
    pre = rng.normal(0.1, 0.05, (2, 3000))
    y = (rng.uniform(size=(2, 3000)) < pre + 0.02).astype(float)
    c = ArmData(users=3000, metrics={CTR: MetricSummary.from_values(y[0], pre=pre[0])})
    t = ArmData(users=3000, metrics={CTR: MetricSummary.from_values(y[1], pre=pre[1])})
    d = decide(c, t, duration_s=WEEK, config=DecisionConfig(treatment_share=0.5))
    text = json.dumps(d.to_json(), allow_nan=False)
    back = json.loads(text)
    assert back["action"] == d.action
    assert back["evidence"]["primary"]["cuped"]["theta"] > 0
    assert back["evidence"]["config"]["lift_threshold"] == 0.05
    assert {g["name"] for g in back["evidence"]["guardrails"]} == {
        "latency_p99",
        "error_rate",
        "satisfaction_floor",
    }


def test_decide_validates_its_input() -> None:
    with pytest.raises(ValueError, match="duration_s"):
        decide(ArmData(users=1), ArmData(users=1), duration_s=-1)
    with pytest.raises(ValueError, match="treatment_share"):
        DecisionConfig(treatment_share=1.0)
    with pytest.raises(ValueError, match="users"):
        ArmData(users=-1)
    with pytest.raises(ValueError, match="errors"):
        ArmData(users=1, errors=5, requests=4)
    with pytest.raises(ValueError, match="ms"):
        slow = LatencyCounts(limit_ms=100.0, requests=10, slower=1)
        check_guardrails(ArmData(users=1), ArmData(users=1, latency=slow))


def test_moments_and_summary_give_the_same_interval() -> None:
    c, t = MetricSummary.from_counts(900, 9000), MetricSummary.from_counts(130, 1000)
    a = confidence_sequence(c, t)
    b = confidence_sequence(Moments(9000, c.mean, c.variance), Moments(1000, t.mean, t.variance))
    assert a == b
