"""Experiment statistics: fixed-horizon tests, always-valid confidence sequences, CUPED,
the sample-ratio-mismatch gate, guardrails and the promote / roll back decision.

Pure numpy + scipy: nothing here imports the service, the API or the store, so the
controller, the CLI, the tests and the benches all call the same functions.
``docs/experiments.md`` has the formulas, the parameters and the references.

Public API (kept small and stable; everything else is a helper)::

    # data, per arm
    MetricSummary(n, total, total_sq, pre_total=None, pre_total_sq=None, cross_total=None)
    MetricSummary.from_values(values, pre=None)     # per-user values (+ pre-period covariate)
    MetricSummary.from_counts(successes, n)         # a proportion: CTR, retention
    LatencyCounts(limit_ms, requests, slower)        # requests slower than the p99 limit
    ArmData(users, metrics={name: MetricSummary}, errors=None, requests=None, latency=None)

    # configuration
    GuardrailConfig(alpha=0.05, correction="holm", latency_p99_ms=250.0,
                    error_rate_margin=0.005, satisfaction_metric="user_satisfaction",
                    satisfaction_floor=3.0, tuning=5000.0)
    DecisionConfig(primary="recommendation_ctr", primary_kind="proportion",
                   lift_threshold=0.05, alpha=0.05, tuning=5000.0, treatment_share=0.10,
                   srm_p_threshold=0.001, min_users_per_arm=1000,
                   min_duration_s=7 * 86400, cuped=True)

    # the decision
    decide(control, treatment, *, duration_s, guardrails=GuardrailConfig(),
           config=DecisionConfig()) -> Decision
    Decision.action: "promote" | "rollback" | "continue" | "halt"
    Decision.reasons: tuple[str, ...];  Decision.evidence: dict (JSON-ready)
    Decision.to_json() -> dict                        # for the audit log

    # building blocks
    welch_t_test(control, treatment, alpha=0.05) -> FixedHorizonResult
    two_proportion_z_test(control, treatment, alpha=0.05) -> FixedHorizonResult
    confidence_sequence(control, treatment, *, alpha=0.05, tuning=5000.0) -> SequentialResult
    cuped(control, treatment) -> CupedResult       # adjusted Moments of both arms + theta
    srm_p_value(observed, expected_shares) -> float
    holm(p_values, alpha) -> list[bool]             # which hypotheses are rejected
    relative_lift, relative_lift_variance, mixing_rho, cs_halfwidth,
    always_valid_p_value                             # array-friendly formulas

Notation: arm C is control, T treatment; ``n`` observations, mean ``m``, sample variance
``v`` (ddof 1); the relative lift is ``m_T / m_C - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps  # type: ignore[import-untyped]

__all__ = [
    "ArmData",
    "CupedResult",
    "Decision",
    "DecisionConfig",
    "FixedHorizonResult",
    "GuardrailConfig",
    "GuardrailResult",
    "LatencyCounts",
    "MetricSummary",
    "Moments",
    "SequentialResult",
    "always_valid_p_value",
    "check_guardrails",
    "confidence_sequence",
    "cs_halfwidth",
    "cuped",
    "decide",
    "holm",
    "mixing_rho",
    "relative_lift",
    "relative_lift_variance",
    "srm_p_value",
    "two_proportion_z_test",
    "welch_t_test",
]

Action = Literal["promote", "rollback", "continue", "halt"]
#: A float or an array of floats (the formulas broadcast; the Monte Carlo uses arrays).
FloatArray = float | NDArray[np.float64]


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Moments:
    """Sample size, mean and (ddof 1) variance of one arm's per-observation values."""

    n: int
    mean: float
    variance: float


@dataclass(frozen=True)
class MetricSummary:
    """Sufficient statistics of one metric in one arm.

    ``total = sum(y)``, ``total_sq = sum(y^2)``; with a pre-experiment covariate ``x``
    per user (CUPED) also ``pre_total = sum(x)``, ``pre_total_sq = sum(x^2)`` and
    ``cross_total = sum(x * y)``. Sums, not raw values, so a stream aggregate can carry
    them; a proportion has ``total_sq == total`` (``y`` is 0 or 1).
    """

    n: int
    total: float
    total_sq: float
    pre_total: float | None = None
    pre_total_sq: float | None = None
    cross_total: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int | np.integer) or self.n < 0:
            raise ValueError(f"n must be a non-negative integer, got {self.n!r}")
        sums = (self.total, self.total_sq)
        if not all(math.isfinite(float(s)) for s in sums):
            raise ValueError("total and total_sq must be finite")
        if self.total_sq < 0:
            raise ValueError(f"total_sq must be >= 0, got {self.total_sq}")
        pre = (self.pre_total, self.pre_total_sq, self.cross_total)
        if any(p is None for p in pre) and not all(p is None for p in pre):
            raise ValueError("pre_total, pre_total_sq and cross_total go together")
        if self.pre_total_sq is not None and self.pre_total_sq < 0:
            raise ValueError(f"pre_total_sq must be >= 0, got {self.pre_total_sq}")

    @classmethod
    def from_values(
        cls,
        values: Sequence[float] | NDArray[Any],
        pre: Sequence[float] | NDArray[Any] | None = None,
    ) -> MetricSummary:
        """Summarise per-user values ``y`` (and, for CUPED, each user's pre-period ``x``)."""
        y = np.asarray(values, dtype=np.float64)
        if y.ndim != 1:
            raise ValueError("values must be one-dimensional")
        if not np.all(np.isfinite(y)):
            raise ValueError("values must be finite")
        if pre is None:
            return cls(int(y.size), float(y.sum()), float(y @ y))
        x = np.asarray(pre, dtype=np.float64)
        if x.shape != y.shape:
            raise ValueError(f"pre has shape {x.shape}, values {y.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("pre must be finite (use 0 for users without history)")
        return cls(
            int(y.size), float(y.sum()), float(y @ y), float(x.sum()), float(x @ x), float(x @ y)
        )

    @classmethod
    def from_counts(cls, successes: int, n: int) -> MetricSummary:
        """A proportion: ``successes`` of ``n`` Bernoulli trials (clicks of shown)."""
        if n < 0 or successes < 0 or successes > n:
            raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
        return cls(int(n), float(successes), float(successes))

    @property
    def has_covariate(self) -> bool:
        return self.cross_total is not None

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """Sample variance ``(sum y^2 - n m^2) / (n - 1)``, clipped at 0."""
        if self.n < 2:
            return math.nan
        return max((self.total_sq - self.total * self.total / self.n) / (self.n - 1), 0.0)

    def moments(self) -> Moments:
        return Moments(self.n, self.mean, self.variance)

    def pre_moments(self) -> tuple[float, float, float]:
        """``(mean x, var x, cov(x, y))`` of the pre-period covariate, ddof 1."""
        if self.pre_total is None or self.pre_total_sq is None or self.cross_total is None:
            raise ValueError("this summary has no pre-period covariate")
        if self.n < 2:
            return math.nan, math.nan, math.nan
        n = self.n
        var_x = max((self.pre_total_sq - self.pre_total**2 / n) / (n - 1), 0.0)
        cov = (self.cross_total - self.pre_total * self.total / n) / (n - 1)
        return self.pre_total / n, var_x, cov


@dataclass(frozen=True)
class LatencyCounts:
    """Of ``requests`` served, ``slower`` took longer than ``limit_ms``.

    p99 <= limit exactly when at most 1% of requests are slower than the limit, so the
    p99 guardrail is a test on this proportion (a Prometheus histogram gives the count
    at a bucket boundary directly)."""

    limit_ms: float
    requests: int
    slower: int

    def __post_init__(self) -> None:
        if not self.limit_ms > 0:
            raise ValueError(f"limit_ms must be > 0, got {self.limit_ms}")
        if self.requests < 0 or self.slower < 0 or self.slower > self.requests:
            raise ValueError(f"need 0 <= slower <= requests, got {self.slower} of {self.requests}")


@dataclass(frozen=True)
class ArmData:
    """Everything the decision needs about one arm.

    ``users``: users assigned to the arm (the SRM gate counts these). ``metrics``: by
    name, e.g. ``recommendation_ctr``, ``user_satisfaction``, ``subscription_retention``.
    ``errors`` of ``requests``: failed requests (error-rate guardrail). ``latency``: the
    p99 guardrail's counts. Anything ``None`` or absent is missing, never a breach.
    """

    users: int
    metrics: Mapping[str, MetricSummary] = field(default_factory=dict)
    errors: int | None = None
    requests: int | None = None
    latency: LatencyCounts | None = None

    def __post_init__(self) -> None:
        if self.users < 0:
            raise ValueError(f"users must be >= 0, got {self.users}")
        if (self.errors is None) != (self.requests is None):
            raise ValueError("errors and requests go together")
        if self.errors is not None and self.requests is not None:
            if self.errors < 0 or self.errors > self.requests:
                raise ValueError(
                    f"need 0 <= errors <= requests, got {self.errors} of {self.requests}"
                )


# ------------------------------------------------------------- formulas (array-friendly)


def relative_lift(mean_c: FloatArray, mean_t: FloatArray) -> NDArray[np.float64]:
    """``m_T / m_C - 1``."""
    return np.asarray(np.asarray(mean_t) / mean_c - 1.0, dtype=np.float64)


def relative_lift_variance(
    mean_c: FloatArray,
    var_c: FloatArray,
    n_c: FloatArray,
    mean_t: FloatArray,
    var_t: FloatArray,
    n_t: FloatArray,
) -> NDArray[np.float64]:
    """Delta-method variance of ``m_T / m_C - 1`` (independent arms)::

    Var ~= v_T / (n_T m_C^2) + m_T^2 v_C / (n_C m_C^4)
    """
    mc, mt = np.asarray(mean_c, dtype=np.float64), np.asarray(mean_t, dtype=np.float64)
    return np.asarray(var_t / (n_t * mc**2) + mt**2 * var_c / (n_c * mc**4), dtype=np.float64)


def mixing_rho(alpha: float, tuning: float) -> float:
    """The normal-mixture parameter that makes the confidence sequence tightest at
    ``tuning`` total observations (Howard et al. 2021; Waudby-Smith et al. 2023)::

    rho = sqrt( (-2 ln alpha + ln(-2 ln alpha + 1)) / tuning )

    ``tuning`` is GrowthBook's "sequential tuning parameter" (default 5000): the total
    sample size at which the interval should be narrowest. Any value keeps the interval
    valid; a good guess only makes it narrower."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not tuning > 0:
        raise ValueError(f"tuning must be > 0, got {tuning}")
    la = -2.0 * math.log(alpha)
    return math.sqrt((la + math.log(la + 1.0)) / tuning)


def cs_halfwidth(
    se: FloatArray, n: FloatArray, alpha: float, tuning: float = 5000.0
) -> NDArray[np.float64]:
    """Half-width of the two-sided asymptotic confidence sequence for an estimator with
    standard error ``se`` after ``n`` total observations::

    a = n rho^2;   halfwidth = se * sqrt( 2 (a + 1) / a * ln( sqrt(a + 1) / alpha ) )

    (the per-observation form ``sigma sqrt(2(n rho^2+1)/(n^2 rho^2) ln(sqrt(n rho^2+1)/alpha))``
    with ``sigma^2 = n se^2``). Valid uniformly over time: the probability that the
    interval ever excludes the truth is <= alpha asymptotically."""
    a = np.asarray(n, dtype=np.float64) * mixing_rho(alpha, tuning) ** 2
    return np.asarray(
        se * np.sqrt(2.0 * (a + 1.0) / a * np.log(np.sqrt(a + 1.0) / alpha)), dtype=np.float64
    )


def always_valid_p_value(
    z: FloatArray, n: FloatArray, alpha: float = 0.05, tuning: float = 5000.0
) -> NDArray[np.float64]:
    """The normal-mixture (mSPRT) always-valid p-value of ``z = estimate / se`` after ``n``
    total observations, with ``a = n rho^2`` (``rho`` from :func:`mixing_rho`)::

    p = min(1, sqrt(1 + a) * exp(-z^2 a / (2 (1 + a))))

    ``p <= alpha`` exactly when :func:`cs_halfwidth` excludes 0, and
    ``P(exists n: p_n <= alpha') <= alpha'`` for every ``alpha'`` under the null."""
    a = np.asarray(n, dtype=np.float64) * mixing_rho(alpha, tuning) ** 2
    zz = np.asarray(z, dtype=np.float64)
    p = np.minimum(1.0, np.sqrt(1.0 + a) * np.exp(-(zz**2) * a / (2.0 * (1.0 + a))))
    return np.asarray(p, dtype=np.float64)


# --------------------------------------------------------------- fixed-horizon tests


@dataclass(frozen=True)
class FixedHorizonResult:
    """A fixed-horizon test: valid for ONE look at a pre-planned sample size."""

    test: str
    difference: float  # m_T - m_C
    difference_ci: tuple[float, float]
    relative_lift: float  # m_T / m_C - 1
    relative_ci: tuple[float, float]
    statistic: float
    p_value: float
    df: float  # inf for the z-test


def _as_moments(x: MetricSummary | Moments) -> Moments:
    return x.moments() if isinstance(x, MetricSummary) else x


def welch_t_test(
    control: MetricSummary | Moments, treatment: MetricSummary | Moments, alpha: float = 0.05
) -> FixedHorizonResult:
    """Welch's unequal-variance t-test of ``m_T - m_C``::

    se^2 = v_T/n_T + v_C/n_C;   t = (m_T - m_C) / se
    df = se^4 / ((v_T/n_T)^2/(n_T-1) + (v_C/n_C)^2/(n_C-1))   (Welch-Satterthwaite)
    p = 2 (1 - F_t(|t|; df));   CI = diff +- t_{1-alpha/2, df} se

    The relative-lift CI is ``lift +- t_{1-alpha/2, df} sqrt(Var)`` with the delta-method
    variance of :func:`relative_lift_variance`."""
    c, t = _as_moments(control), _as_moments(treatment)
    _check_alpha(alpha)
    if c.n < 2 or t.n < 2:
        raise ValueError(f"each arm needs >= 2 observations, got {c.n} and {t.n}")
    qc, qt = c.variance / c.n, t.variance / t.n
    se = math.sqrt(qc + qt)
    diff = t.mean - c.mean
    if se == 0:
        raise ValueError("both arms have zero variance")
    df = (qc + qt) ** 2 / (qt**2 / (t.n - 1) + qc**2 / (c.n - 1))
    stat = diff / se
    p = float(2.0 * sps.t.sf(abs(stat), df))
    q = float(sps.t.ppf(1.0 - alpha / 2.0, df))
    lift, lift_se = _lift_and_se(c, t)
    return FixedHorizonResult(
        "welch_t",
        diff,
        (diff - q * se, diff + q * se),
        lift,
        (lift - q * lift_se, lift + q * lift_se),
        stat,
        p,
        df,
    )


def two_proportion_z_test(
    control: MetricSummary, treatment: MetricSummary, alpha: float = 0.05
) -> FixedHorizonResult:
    """Two-proportion z-test (CTR, retention), pooled under the null::

    p = (s_T + s_C) / (n_T + n_C);   z = (p_T - p_C) / sqrt(p (1-p) (1/n_T + 1/n_C))
    p-value = 2 (1 - Phi(|z|))
    CI (Wald, unpooled) = diff +- z_{1-alpha/2} sqrt(p_T(1-p_T)/n_T + p_C(1-p_C)/n_C)

    The relative-lift CI uses the delta method with ``v = p (1 - p)`` per arm."""
    _check_alpha(alpha)
    for name, s in (("control", control), ("treatment", treatment)):
        if s.n < 1:
            raise ValueError(f"{name} has no observations")
        if abs(s.total_sq - s.total) > 1e-9 * max(1.0, s.total) or not 0 <= s.total <= s.n:
            raise ValueError(f"{name} is not a proportion (build it with from_counts)")
    pc, pt = control.mean, treatment.mean
    nc, nt = control.n, treatment.n
    pooled = (control.total + treatment.total) / (nc + nt)
    se0 = math.sqrt(pooled * (1.0 - pooled) * (1.0 / nc + 1.0 / nt))
    if se0 == 0:
        raise ValueError("no variation: every observation is 0 or every one is 1")
    diff = pt - pc
    stat = diff / se0
    p = float(2.0 * sps.norm.sf(abs(stat)))
    q = float(sps.norm.ppf(1.0 - alpha / 2.0))
    se1 = math.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc)
    c = Moments(nc, pc, pc * (1 - pc))
    t = Moments(nt, pt, pt * (1 - pt))
    lift, lift_se = _lift_and_se(c, t)
    return FixedHorizonResult(
        "two_proportion_z",
        diff,
        (diff - q * se1, diff + q * se1),
        lift,
        (lift - q * lift_se, lift + q * lift_se),
        stat,
        p,
        math.inf,
    )


def _lift_and_se(c: Moments, t: Moments) -> tuple[float, float]:
    if not c.mean > 0:
        raise ValueError(f"the relative lift needs a positive control mean, got {c.mean}")
    lift = relative_lift(c.mean, t.mean)
    var = relative_lift_variance(c.mean, c.variance, float(c.n), t.mean, t.variance, float(t.n))
    return float(lift), math.sqrt(var)


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


# ------------------------------------------------------------------------------ CUPED


@dataclass(frozen=True)
class CupedResult:
    """CUPED-adjusted moments of both arms, the pooled ``theta`` and the variance ratio
    (adjusted / unadjusted, pooled over arms; < 1 is a reduction)."""

    control: Moments
    treatment: Moments
    theta: float
    variance_ratio: float


def cuped(control: MetricSummary, treatment: MetricSummary) -> CupedResult:
    """CUPED (Deng et al. 2013) with each user's pre-experiment covariate ``x``::

    theta = sum_arms (n-1) cov(x, y) / sum_arms (n-1) var(x)      (pooled over arms)
    y' = y - theta (x - xbar)          xbar: the pooled pre-period mean of both arms
    m' = m_y - theta (m_x - xbar);     v' = v_y - 2 theta cov(x, y) + theta^2 v_x

    One theta for both arms keeps the difference unbiased (the assignment is independent
    of ``x``); subtracting the pooled ``xbar`` keeps each arm's mean on the metric's
    scale, so the relative lift stays interpretable. Without a usable covariate
    (``var(x) == 0``) theta is 0 and nothing changes."""
    for name, s in (("control", control), ("treatment", treatment)):
        if not s.has_covariate:
            raise ValueError(f"{name} has no pre-period covariate")
        if s.n < 2:
            raise ValueError(f"{name} needs >= 2 observations for CUPED, got {s.n}")
    mc_x, vc_x, cc = control.pre_moments()
    mt_x, vt_x, ct = treatment.pre_moments()
    sxx = (control.n - 1) * vc_x + (treatment.n - 1) * vt_x
    sxy = (control.n - 1) * cc + (treatment.n - 1) * ct
    theta = sxy / sxx if sxx > 0 else 0.0
    xbar = (mc_x * control.n + mt_x * treatment.n) / (control.n + treatment.n)

    def adjust(s: MetricSummary, mx: float, vx: float, cov: float) -> Moments:
        var = max(s.variance - 2.0 * theta * cov + theta**2 * vx, 0.0)
        return Moments(s.n, s.mean - theta * (mx - xbar), var)

    c, t = adjust(control, mc_x, vc_x, cc), adjust(treatment, mt_x, vt_x, ct)
    before = (control.n - 1) * control.variance + (treatment.n - 1) * treatment.variance
    after = (c.n - 1) * c.variance + (t.n - 1) * t.variance
    return CupedResult(c, t, theta, after / before if before > 0 else 1.0)


# ------------------------------------------------------------------------- sequential


@dataclass(frozen=True)
class SequentialResult:
    """The always-valid confidence sequence of the relative lift at the current look."""

    relative_lift: float
    interval: tuple[float, float]
    p_value: float  # always-valid (normal mixture)
    se: float  # delta-method standard error
    n: int  # total observations, both arms
    alpha: float
    tuning: float


def confidence_sequence(
    control: MetricSummary | Moments,
    treatment: MetricSummary | Moments,
    *,
    alpha: float = 0.05,
    tuning: float = 5000.0,
) -> SequentialResult:
    """Always-valid ``1 - alpha`` interval for ``m_T / m_C - 1``::

    lift +- cs_halfwidth(se, n_C + n_T, alpha, tuning)

    with the delta-method ``se`` (:func:`relative_lift_variance`); pass CUPED-adjusted
    :class:`Moments` to get the CUPED interval. This is the asymptotic confidence
    sequence GrowthBook uses for sequential testing; it may be checked after every batch
    without inflating the false-positive rate."""
    c, t = _as_moments(control), _as_moments(treatment)
    _check_alpha(alpha)
    if c.n < 2 or t.n < 2:
        raise ValueError(f"each arm needs >= 2 observations, got {c.n} and {t.n}")
    lift, se = _lift_and_se(c, t)
    n = c.n + t.n
    if se == 0:
        return SequentialResult(lift, (lift, lift), 0.0 if lift else 1.0, 0.0, n, alpha, tuning)
    hw = float(cs_halfwidth(se, float(n), alpha, tuning))
    p = float(always_valid_p_value(lift / se, float(n), alpha, tuning))
    return SequentialResult(lift, (lift - hw, lift + hw), p, se, n, alpha, tuning)


# -------------------------------------------------------------------------- SRM, Holm


def srm_p_value(observed: Sequence[int], expected_shares: Sequence[float]) -> float:
    """Pearson chi-square test of the assignment counts against the configured split::

    E_i = N w_i / sum(w);   X^2 = sum (O_i - E_i)^2 / E_i;   p = P(chi2_{k-1} >= X^2)

    1.0 when nobody is assigned yet."""
    obs = np.asarray(observed, dtype=np.float64)
    w = np.asarray(expected_shares, dtype=np.float64)
    if obs.shape != w.shape or obs.ndim != 1 or obs.size < 2:
        raise ValueError("observed and expected_shares need the same length, >= 2")
    if np.any(obs < 0) or np.any(w <= 0):
        raise ValueError("counts must be >= 0 and expected shares > 0")
    total = obs.sum()
    if total == 0:
        return 1.0
    expected = total * w / w.sum()
    x2 = float(((obs - expected) ** 2 / expected).sum())
    return float(sps.chi2.sf(x2, obs.size - 1))


def holm(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Holm's step-down procedure (controls the family-wise error rate at ``alpha``; never
    rejects less than Bonferroni): sort ``p_(1) <= ... <= p_(k)``; reject ``H_(j)`` while
    ``p_(j) <= alpha / (k - j + 1)``, stop at the first that is not."""
    _check_alpha(alpha)
    k = len(p_values)
    reject = [False] * k
    for rank, i in enumerate(sorted(range(k), key=lambda j: p_values[j])):
        if p_values[i] <= alpha / (k - rank):
            reject[i] = True
        else:
            break
    return reject


# ------------------------------------------------------------------------- decision


@dataclass(frozen=True)
class GuardrailConfig:
    """Guardrails, each an always-valid one-sided test; Holm across the enabled ones.

    - ``latency_p99_ms``: the treatment's p99 must not exceed it (tests the share of
      requests slower than the limit against 1%).
    - ``error_rate_margin``: the treatment's error rate must not exceed the control's by
      more than this (absolute, e.g. 0.005 = 0.5 percentage points).
    - ``satisfaction_floor``: the treatment's mean ``satisfaction_metric`` must not be
      below it (1-5 box ratings).

    ``None`` disables a guardrail. Missing data (no requests, no ratings) is never a breach.
    """

    alpha: float = 0.05
    correction: Literal["holm", "bonferroni"] = "holm"
    latency_p99_ms: float | None = 250.0
    error_rate_margin: float | None = 0.005
    satisfaction_metric: str = "user_satisfaction"
    satisfaction_floor: float | None = 3.0
    tuning: float = 5000.0

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        if self.correction not in ("holm", "bonferroni"):
            raise ValueError(f"correction must be holm or bonferroni, got {self.correction!r}")
        if self.latency_p99_ms is not None and not self.latency_p99_ms > 0:
            raise ValueError("latency_p99_ms must be > 0")
        if self.error_rate_margin is not None and not 0 <= self.error_rate_margin < 1:
            raise ValueError("error_rate_margin must be in [0, 1)")
        if not self.tuning > 0:
            raise ValueError("tuning must be > 0")


@dataclass(frozen=True)
class DecisionConfig:
    """The decision rule's parameters (see :func:`decide`).

    ``primary`` names the metric in :attr:`ArmData.metrics`; ``primary_kind`` says how to
    read it (``proportion``: CTR, retention; ``mean``: satisfaction). ``lift_threshold``:
    the interval must clear +-5%. ``tuning``: the confidence sequence's tuning parameter
    (total observations where it is tightest; GrowthBook's default 5000).
    ``treatment_share``: the configured split (SRM). No promotion before
    ``min_users_per_arm`` users in each arm and ``min_duration_s`` seconds (one week
    by default, a full weekly cycle)."""

    primary: str = "recommendation_ctr"
    primary_kind: Literal["proportion", "mean"] = "proportion"
    lift_threshold: float = 0.05
    alpha: float = 0.05
    tuning: float = 5000.0
    treatment_share: float = 0.10
    srm_p_threshold: float = 0.001
    min_users_per_arm: int = 1000
    min_duration_s: float = 7 * 86400.0
    cuped: bool = True

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        if self.primary_kind not in ("proportion", "mean"):
            raise ValueError(f"primary_kind must be proportion or mean, got {self.primary_kind!r}")
        if not self.lift_threshold >= 0:
            raise ValueError("lift_threshold must be >= 0")
        if not self.tuning > 0:
            raise ValueError("tuning must be > 0")
        if not 0 < self.treatment_share < 1:
            raise ValueError("treatment_share must be in (0, 1)")
        if not 0 < self.srm_p_threshold < 1:
            raise ValueError("srm_p_threshold must be in (0, 1)")
        if self.min_users_per_arm < 0 or self.min_duration_s < 0:
            raise ValueError("min_users_per_arm and min_duration_s must be >= 0")


@dataclass(frozen=True)
class GuardrailResult:
    """One guardrail at this look: ``status`` is ``ok``, ``breached``, ``missing`` or
    ``disabled``; ``p_value`` is always-valid and one-sided (``None`` when missing)."""

    name: str
    status: Literal["ok", "breached", "missing", "disabled"]
    estimate: float | None
    threshold: float | None
    p_value: float | None


@dataclass(frozen=True)
class Decision:
    """What to do, why, and the numbers behind it (``evidence``, JSON-ready)."""

    action: Action
    reasons: tuple[str, ...]
    evidence: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "reasons": list(self.reasons), "evidence": self.evidence}


def _one_sided_p(excess: float, se: float, n: float, alpha: float, tuning: float) -> float:
    """Always-valid p-value for H0: excess <= 0 (two-sided mixture p when the estimate
    is on the harmful side, else 1: valid, slightly conservative)."""
    if excess <= 0:
        return 1.0
    if se <= 0:
        return 0.0
    return float(always_valid_p_value(excess / se, n, alpha, tuning))


def check_guardrails(
    control: ArmData, treatment: ArmData, config: GuardrailConfig = GuardrailConfig()
) -> list[GuardrailResult]:
    """Evaluate every guardrail of ``config``; breaches are decided after Holm (or
    Bonferroni) over the enabled guardrails, at ``config.alpha``."""
    a, tun = config.alpha, config.tuning
    out: list[tuple[str, float | None, float | None, float | None, bool]] = []

    # p99 latency: share of treatment requests slower than the limit vs 1%
    if config.latency_p99_ms is None:
        out.append(("latency_p99", None, None, None, False))
    else:
        lat = treatment.latency
        if lat is None or lat.requests == 0:
            out.append(("latency_p99", None, config.latency_p99_ms, None, True))
        else:
            if lat.limit_ms != config.latency_p99_ms:
                raise ValueError(
                    f"latency counts are against {lat.limit_ms} ms, the guardrail is "
                    f"{config.latency_p99_ms} ms"
                )
            share = lat.slower / lat.requests
            se = math.sqrt(0.01 * 0.99 / lat.requests)
            p = _one_sided_p(share - 0.01, se, lat.requests, a, tun)
            out.append(("latency_p99", share, config.latency_p99_ms, p, True))

    # error rate: treatment - control vs the margin
    if config.error_rate_margin is None:
        out.append(("error_rate", None, None, None, False))
    else:
        m = config.error_rate_margin
        if (
            not treatment.requests
            or not control.requests
            or treatment.errors is None
            or control.errors is None
        ):
            out.append(("error_rate", None, m, None, True))
        else:
            et = treatment.errors / treatment.requests
            ec = control.errors / control.requests
            se = math.sqrt(et * (1 - et) / treatment.requests + ec * (1 - ec) / control.requests)
            n = treatment.requests + control.requests
            p = _one_sided_p(et - ec - m, se, n, a, tun)
            out.append(("error_rate", et - ec, m, p, True))

    # satisfaction floor: treatment mean vs the floor
    if config.satisfaction_floor is None:
        out.append(("satisfaction_floor", None, None, None, False))
    else:
        s = treatment.metrics.get(config.satisfaction_metric)
        floor = config.satisfaction_floor
        if s is None or s.n < 2:
            out.append(("satisfaction_floor", None, floor, None, True))
        else:
            se = math.sqrt(s.variance / s.n)
            p = _one_sided_p(floor - s.mean, se, s.n, a, tun)
            out.append(("satisfaction_floor", s.mean, floor, p, True))

    enabled = [i for i, r in enumerate(out) if r[4]]
    ps: list[float] = []
    for i in enabled:
        p_i = out[i][3]
        ps.append(1.0 if p_i is None else p_i)  # missing data: p = 1, never a breach
    if config.correction == "holm":
        rejected = holm(ps, a) if ps else []
    else:
        rejected = [p_i <= a / len(ps) for p_i in ps]
    breach = {i for i, r in zip(enabled, rejected, strict=True) if r}
    results = []
    for i, (name, est, thr, pv, on) in enumerate(out):
        status: Literal["ok", "breached", "missing", "disabled"]
        if not on:
            status = "disabled"
        elif pv is None:
            status = "missing"
        else:
            status = "breached" if i in breach else "ok"
        results.append(GuardrailResult(name, status, est, thr, pv))
    return results


def decide(
    control: ArmData,
    treatment: ArmData,
    *,
    duration_s: float,
    guardrails: GuardrailConfig = GuardrailConfig(),
    config: DecisionConfig = DecisionConfig(),
) -> Decision:
    """The decision rule, in order:

    1. **halt** when the SRM chi-square p-value of the assigned users against
       ``treatment_share`` is below ``srm_p_threshold`` (0.001): the data are untrustworthy.
    2. **rollback** when any guardrail is breached (after Holm), or when the always-valid
       interval of the primary metric's relative lift lies entirely below
       ``-lift_threshold``.
    3. **promote** when that interval lies entirely above ``+lift_threshold``, and both
       arms have ``min_users_per_arm`` users, and ``duration_s >= min_duration_s``.
    4. otherwise **continue**.

    The primary metric is CUPED-adjusted when ``config.cuped`` and both arms carry a
    pre-period covariate. Missing primary data means continue."""
    if not math.isfinite(duration_s) or duration_s < 0:
        raise ValueError(f"duration_s must be finite and >= 0, got {duration_s}")
    ev: dict[str, Any] = {
        "config": asdict(config),
        "guardrail_config": asdict(guardrails),
        "duration_s": float(duration_s),
        "users": {"control": control.users, "treatment": treatment.users},
    }
    reasons: list[str] = []

    srm_p = srm_p_value(
        [control.users, treatment.users], [1 - config.treatment_share, config.treatment_share]
    )
    ev["srm"] = {"p_value": srm_p, "threshold": config.srm_p_threshold}
    if srm_p < config.srm_p_threshold:
        reasons.append(
            f"sample ratio mismatch: {control.users}/{treatment.users} users against a "
            f"{1 - config.treatment_share:.2f}/{config.treatment_share:.2f} split, "
            f"p = {srm_p:.2e} < {config.srm_p_threshold}"
        )
        return Decision("halt", tuple(reasons), _jsonable(ev))

    gr = check_guardrails(control, treatment, guardrails)
    ev["guardrails"] = [asdict(g) for g in gr]
    breached = [g.name for g in gr if g.status == "breached"]

    primary = _primary(control, treatment, config)
    ev["primary"] = primary
    interval = primary.get("interval")

    if breached:
        reasons.append("guardrail breached: " + ", ".join(breached))
    if interval is not None and interval[1] < -config.lift_threshold:
        reasons.append(
            f"{config.primary}: the always-valid interval of the relative lift "
            f"[{interval[0]:+.4f}, {interval[1]:+.4f}] lies below -{config.lift_threshold}"
        )
    if reasons:
        return Decision("rollback", tuple(reasons), _jsonable(ev))

    if interval is None:
        reasons.append(f"{config.primary}: {primary['missing']}")
        return Decision("continue", tuple(reasons), _jsonable(ev))
    if interval[0] > config.lift_threshold:
        waiting = []
        low = min(control.users, treatment.users)
        if low < config.min_users_per_arm:
            waiting.append(f"{low} users in the smaller arm < {config.min_users_per_arm}")
        if duration_s < config.min_duration_s:
            waiting.append(f"{duration_s:.0f} s < minimum duration {config.min_duration_s:.0f} s")
        if not waiting:
            reasons.append(
                f"{config.primary}: the always-valid interval of the relative lift "
                f"[{interval[0]:+.4f}, {interval[1]:+.4f}] lies above +{config.lift_threshold}"
            )
            return Decision("promote", tuple(reasons), _jsonable(ev))
        reasons.append("better, but promotion waits: " + "; ".join(waiting))
        return Decision("continue", tuple(reasons), _jsonable(ev))
    reasons.append(
        f"{config.primary}: the interval [{interval[0]:+.4f}, {interval[1]:+.4f}] does not "
        f"clear +-{config.lift_threshold}"
    )
    return Decision("continue", tuple(reasons), _jsonable(ev))


def _primary(control: ArmData, treatment: ArmData, config: DecisionConfig) -> dict[str, Any]:
    c, t = control.metrics.get(config.primary), treatment.metrics.get(config.primary)
    if c is None or t is None:
        return {"metric": config.primary, "interval": None, "missing": "no data in an arm"}
    if c.n < 2 or t.n < 2:
        return {"metric": config.primary, "interval": None, "missing": "fewer than 2 observations"}
    out: dict[str, Any] = {"metric": config.primary, "kind": config.primary_kind}
    out["control"] = asdict(c.moments())
    out["treatment"] = asdict(t.moments())
    mc: Moments | MetricSummary = c
    mt: Moments | MetricSummary = t
    if config.cuped and c.has_covariate and t.has_covariate:
        cu = cuped(c, t)
        mc, mt = cu.control, cu.treatment
        out["cuped"] = {"theta": cu.theta, "variance_ratio": cu.variance_ratio}
    else:
        out["cuped"] = None
    if not _as_moments(mc).mean > 0:
        return {**out, "interval": None, "missing": "control mean is not positive"}
    try:
        fixed = (
            two_proportion_z_test(c, t, config.alpha)
            if config.primary_kind == "proportion" and out["cuped"] is None
            else welch_t_test(mc, mt, config.alpha)
        )
        out["fixed_horizon"] = asdict(fixed)  # for the record only: never used to decide
    except ValueError as exc:
        out["fixed_horizon"] = {"error": str(exc)}
    seq = confidence_sequence(mc, mt, alpha=config.alpha, tuning=config.tuning)
    out["sequential"] = asdict(seq)
    out["interval"] = seq.interval
    out["relative_lift"] = seq.relative_lift
    return out


def _jsonable(x: Any) -> Any:
    """Plain JSON types: tuples to lists, numpy scalars to floats, nan/inf to None."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, bool | str) or x is None:
        return x
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        f = float(x)
        return f if math.isfinite(f) else None
    return str(x)
