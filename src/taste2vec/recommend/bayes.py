"""A per-user Bayesian linear taste model with a prior learnt from the crowd.

Each user's preference for coffee ``j`` is modelled as ``y = x_j . w_user + noise``, where
``x_j`` is the coffee's feature row (:mod:`.features`: flavour families, sensory metrics
and their squares, roast, process, origin, Taste2Vec components) and ``y`` the
feedback's preference (liked 1, disliked -1, rated ``(r - 3) / 2``, skipped -0.25).

**Prior from the crowd** (:func:`fit_crowd_prior`): ``w ~ N(mean, sigma^2 precision^-1)``,
fitted by empirical Bayes (EM for a Gaussian hierarchical linear model) on every user's
feedback: ``mean`` is the population's taste, and ``precision^-1`` the covariance of
tastes across people, so one reaction also moves correlated weights (people who like
fruity coffees tend to like bright ones). Without enough feedback from others the prior
is :func:`default_prior`: zero mean, except a small negative weight on the squared
metrics (in expectation over ideal points spread around the catalogue's centre, a coffee
far from the centre suits fewer people) and a small positive one on the cupping score
(better-scored coffees please more people), and isotropic precision. With the feature
matrix it also sets the cold ranking for when nobody has feedback yet (``CrowdPrior.cold``):
``z(x . mean) + centroid_weight * z(-||t2v||)``, where ``||t2v||`` is the coffee's distance
to the catalogue's centroid over the standardised Taste2Vec components (how unusual its
taste vector is for this catalogue) and ``z`` standardises over the catalogue. Weights
chosen on SIMULATED subscribers, seeds 99, 7 and 21, both catalogues, never seed 13
(``bench/cold_prior_grid.py``; figures in ``docs/model.md``).

**Posterior** (:func:`posterior_mean`): with the user's (decay-weighted) sums
``S = sum g x x^T`` and ``s = sum g y x``,
``w = (precision + S)^-1 (precision mean + s + onboarding)`` in closed form. The sums
change by one rank-one term per feedback, so an update is O(d^2) and a read O(d^3) for
d ~ 100: instant. An onboarding answer ("I like these flavour families") adds a
pseudo-observation ``w_family = strength`` with weight ``onboarding_weight`` per family.

**Item residual**: the crowd's residual per coffee (its preferences minus what each
user's posterior predicts), as the posterior mean of an item effect ``b ~ N(0, tau^2)``:
``sum r / (count + sigma^2 / tau^2)``, with ``tau^2`` estimated from the data by the method
of moments (``BayesConfig.residual_shrink`` fixes the shrinkage instead). It carries what
the features miss (the collaborative part); the engine adds it with a weight that fades as
the user gives feedback. On sparse crowds (Coffee Review: ~1.4 reactions per coffee)
``tau^2`` comes out near 0 and the residual vanishes; a fixed shrinkage of 2 hurt cold
users there (SIMULATED subscribers, seeds 7, 21 and 99).

**Cold ranking** (``CrowdPrior.cold``): for a user with no feedback and no onboarding
answer the posterior is the prior, and ``x . mean`` ranked below popularity on some
panels. The cold ranking is the crowd's Rocchio instead: ``x_j . mean_i(y_i x_i)`` over
every reaction ``i`` of everyone (the limit of a pooled ridge as its penalty grows; the
direction in feature space that the crowd's reactions point to). On SIMULATED subscribers
it came close to ranking by the population's true mean utility, well ahead of the EM mean,
of weaker pooled ridges and of adding the crowd's per-coffee reactions (seeds 99, 7, 21 and
1-5, never 13; numbers in ``docs/model.md``). From the first feedback on, the posterior
ranks.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "BayesConfig",
    "CrowdPrior",
    "crowd_hash",
    "default_prior",
    "fit_crowd_prior",
    "posterior_mean",
    "typical_cold_scores",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BayesConfig:
    """Hyper-parameters (chosen on SIMULATED subscribers, seed 99; never on seed 13)."""

    prior_precision: float = 10.0  # isotropic precision of the default prior (per sigma^2)
    typicality: float = 0.1  # default prior weight on each squared metric is -typicality
    quality: float = 0.3  # default prior weight on the cupping score (m:overall)
    #: Nobody has feedback yet: weight of the taste vector's typicality (minus its distance
    #: to the catalogue's centroid over the ``t2v:`` columns, standardised) next to the
    #: standardised ``x . mean`` in the cold ranking; 0 ranks by ``x . mean`` alone.
    centroid_weight: float = 1.0
    em_iterations: int = 8
    min_users: int = 10  # fewer users with feedback: use the default prior
    #: The EM sees at most this many users: the first ones by ``(crowd_hash(user), user)``
    #: (a deterministic sample; the store reads only theirs, ``Store.crowd_feedback``).
    max_users: int = 2000
    covariance_shrink: float = 0.3  # shrink the crowd covariance toward its diagonal
    covariance_floor: float = 1e-3
    onboarding_strength: float = 1.0  # pseudo-observed weight of a chosen family
    onboarding_weight: float = 2.0  # its precision (per sigma^2)
    #: Item residuals are shrunk by this many pseudo-reactions; None estimates it as
    #: sigma^2 / tau^2 (tau^2: the variance of item effects, by the method of moments).
    residual_shrink: float | None = None
    #: What an item's residual is measured against: "population" (each reaction minus the
    #: population's taste ``x . mean``: the item effect a new user, a random draw from the
    #: crowd, should expect) or "user" (minus the reacting user's own posterior, which is
    #: fitted on that very reaction, so its residuals shrink toward 0).
    residual_reference: str = "user"
    exclude_features: tuple[str, ...] = ()  # feature-name prefixes left out (ablations)
    #: Cold ranking (a user with no feedback and no onboarding answer): "rocchio" ranks by
    #: ``x . mean_i(y_i x_i)`` over every reaction of the crowd (see the module docstring),
    #: "prior" by ``x . mean`` (the posterior with no evidence).
    cold_start: str = "rocchio"
    #: Prior scale of each feature group (its columns are multiplied by it): a group that
    #: helps less gets a smaller prior variance, so it cannot add as much noise.
    group_scales: tuple[tuple[str, float], ...] = (
        ("roast:", 0.3),
        ("process:", 0.1),
        ("origin:", 0.1),
        ("t2v:", 0.1),
    )


@dataclass(frozen=True, eq=False)
class CrowdPrior:
    """``w ~ N(mean, sigma2 * inv(precision))`` and the per-item residual (n coffees)."""

    mean: FloatArray
    precision: FloatArray
    sigma2: float
    residual: FloatArray
    n_users: int = 0
    #: The cold ranking's scores (n coffees) when fitted on a crowd (see
    #: ``BayesConfig.cold_start``), None otherwise (cold users then rank by ``x . mean``).
    cold: FloatArray | None = None


def default_prior(
    names: Sequence[str], n_items: int, config: BayesConfig, x: FloatArray | None = None
) -> CrowdPrior:
    """The prior before anyone gave feedback (see the module docstring).

    ``x``: the (n_items, len(names)) feature matrix; with it the prior carries the cold
    ranking for when nobody has feedback (:func:`typical_cold_scores`), without it
    (or when the rule has nothing to rank by) ``cold`` is None and cold users rank by
    ``x . mean``.
    """
    d = len(names)
    mean = np.array(
        [
            -config.typicality
            if n.startswith("sq:")
            else (config.quality if n == "m:overall" else 0.0)
            for n in names
        ]
    )
    cold = None if x is None else typical_cold_scores(x, names, mean, config)
    return CrowdPrior(mean, config.prior_precision * np.eye(d), 1.0, np.zeros(n_items), 0, cold)


def _zscore(v: FloatArray) -> FloatArray | None:
    spread = float(v.std())
    if spread < 1e-12:
        return None
    out: FloatArray = (v - v.mean()) / spread
    return out


def typical_cold_scores(
    x: FloatArray, names: Sequence[str], mean: FloatArray, config: BayesConfig
) -> FloatArray | None:
    """The cold ranking when nobody has feedback yet (see the module docstring).

    ``z(x . mean) + centroid_weight * z(-||x_t2v||)``, rescaled to the spread and mean of
    ``x . mean`` (as :func:`_cold_scores`, so that a context term weighs the same). The
    ``t2v:`` columns are centred and standardised (``features.item_features``), so
    ``||x_t2v||`` is the distance to the catalogue's centroid in the taste components.
    None when neither part varies (or ``centroid_weight`` is 0, or no ``t2v:`` column):
    cold users then rank by ``x . mean``, the posterior with no evidence.
    """
    if config.centroid_weight < 0:
        raise ValueError(f"centroid_weight must be >= 0, got {config.centroid_weight}")
    if x.shape != (x.shape[0], len(names)):
        raise ValueError(f"x has {x.shape[1]} columns for {len(names)} feature names")
    cols = [i for i, n in enumerate(names) if n.startswith("t2v:")]
    if config.centroid_weight == 0 or not cols or x.shape[0] == 0:
        return None
    base = x @ mean
    typical = _zscore(-np.linalg.norm(x[:, cols], axis=1))
    if typical is None:
        return None
    z_base = _zscore(base)
    raw = _zscore(config.centroid_weight * typical + (0.0 if z_base is None else z_base))
    if raw is None:
        return None
    spread = float(base.std())
    out: FloatArray = raw * (spread if spread > 1e-12 else 1.0) + float(base.mean())
    return out


def _user_posteriors(
    x: FloatArray,
    rows: Sequence[tuple[npt.NDArray[np.int64], FloatArray]],
    mean: FloatArray,
    precision: FloatArray,
) -> Iterator[tuple[FloatArray, FloatArray]]:
    """Each user's posterior mean and ``(precision + X'X)^-1``, one user at a time (the
    EM folds each inverse into its sums, so it never holds one d x d matrix per user)."""
    pm = precision @ mean
    for items, y in rows:
        xu = x[items]
        a = precision + xu.T @ xu
        inv = np.asarray(np.linalg.inv(a), dtype=np.float64)
        yield inv @ (pm + xu.T @ y), inv


def crowd_hash(user: str) -> int:
    """``zlib.crc32`` of the user id's UTF-8: the crowd sample takes the first
    ``BayesConfig.max_users`` users by ``(crowd_hash(user), user)`` (the store keeps it in
    ``feedback.user_hash`` so that it can pick the sample in SQL)."""
    return zlib.crc32(user.encode())


def fit_crowd_prior(
    x: FloatArray,
    names: Sequence[str],
    prefs: Mapping[str, Mapping[int, float]],
    config: BayesConfig,
    n_users: int | None = None,
) -> CrowdPrior:
    """Empirical-Bayes prior from ``prefs`` (user -> {item row: preference}); see above.

    ``prefs`` may be everyone's or only a sample that holds the first ``max_users`` users
    by ``(crowd_hash(user), user)``; then ``n_users`` says how many users with feedback
    there are in all (the ``min_users`` test and ``CrowdPrior.n_users``; default: the
    users in ``prefs`` with at least one preference)."""
    n_items, d = x.shape
    base = default_prior(names, n_items, config, x)
    users = sorted((u for u, p in prefs.items() if p), key=lambda u: (crowd_hash(u), u))
    total = len(users) if n_users is None else n_users
    if total < config.min_users or not users:
        return base
    rows = [
        (
            np.fromiter(prefs[u].keys(), dtype=np.int64),
            np.fromiter(prefs[u].values(), dtype=np.float64),
        )
        for u in users[: config.max_users]
    ]
    mean, cov, sigma2 = base.mean.copy(), np.linalg.inv(base.precision), 1.0
    n_obs = sum(len(y) for _, y in rows)
    for _ in range(config.em_iterations):
        precision = sigma2 * np.linalg.inv(cov)
        # One pass: each user's inverse is added to ``inv_sum`` (in user order, as
        # ``np.mean(invs, axis=0)`` adds them) and to the residual, then dropped.
        means: list[FloatArray] = []
        inv_sum: FloatArray | None = None
        resid = 0.0
        for (items, y), (mu, inv) in zip(
            rows, _user_posteriors(x, rows, mean, precision), strict=True
        ):
            means.append(mu)
            if inv_sum is None:
                inv_sum = inv.copy()
            else:
                inv_sum += inv
            xu = x[items]
            r = y - xu @ mu
            resid += float(r @ r) + sigma2 * float(np.einsum("ij,jk,ik->", xu, inv, xu))
        assert inv_sum is not None  # noqa: S101 - rows is not empty
        m = np.stack(means)
        mean = m.mean(axis=0)
        dev = m - mean
        post = sigma2 * (inv_sum / len(rows))
        cov = dev.T @ dev / len(rows) + post
        diag = np.diag(np.diag(cov))
        cov = (1 - config.covariance_shrink) * cov + config.covariance_shrink * diag
        cov += config.covariance_floor * np.eye(d)
        sigma2 = float(np.clip(resid / n_obs, 0.05, 1.0))
    precision = sigma2 * np.linalg.inv(cov)
    means = [mu for mu, _ in _user_posteriors(x, rows, mean, precision)]
    residual = _item_residual(x, rows, means, mean, sigma2, n_items, config)
    cold = _cold_scores(x, rows, mean, config)
    return CrowdPrior(mean, precision, sigma2, residual, total, cold)


def _cold_scores(
    x: FloatArray,
    rows: Sequence[tuple[npt.NDArray[np.int64], FloatArray]],
    mean: FloatArray,
    config: BayesConfig,
) -> FloatArray | None:
    """What a user who told us nothing sees first (``BayesConfig.cold_start``).

    Rescaled to the spread of ``x . mean`` over the catalogue, so that terms added to a
    cold user's score (the context) weigh as much as for a user with feedback.
    """
    if config.cold_start not in ("rocchio", "prior"):
        raise ValueError(f"cold_start must be 'rocchio' or 'prior', got {config.cold_start!r}")
    if config.cold_start == "prior":
        return None
    items = np.concatenate([i for i, _ in rows])
    y = np.concatenate([v for _, v in rows])
    raw = x @ (x[items].T @ y / len(y))
    base = x @ mean
    spread = float(raw.std())
    if spread < 1e-12:
        return None
    out: FloatArray = (raw - raw.mean()) / spread * float(base.std()) + float(base.mean())
    return out


def _item_residual(
    x: FloatArray,
    rows: Sequence[tuple[npt.NDArray[np.int64], FloatArray]],
    user_means: Sequence[FloatArray],
    mean: FloatArray,
    sigma2: float,
    n_items: int,
    config: BayesConfig,
) -> FloatArray:
    """Posterior mean of each item's effect ``b ~ N(0, tau2)`` (see ``residual_reference``).

    Against the users' posteriors the within-item variance is ``sigma2``; against the
    population's taste it is the residuals' total variance minus ``tau2`` (taste
    differences are noise there). ``tau2`` comes from the method of moments on the item
    means unless ``residual_shrink`` fixes the shrinkage.
    """
    if config.residual_reference not in ("user", "population"):
        raise ValueError(
            f"residual_reference must be 'user' or 'population', got {config.residual_reference!r}"
        )
    sums, counts = np.zeros(n_items), np.zeros(n_items)
    squares = 0.0
    for (items, y), mu in zip(rows, user_means, strict=True):
        ref = mean if config.residual_reference == "population" else mu
        r = y - x[items] @ ref
        np.add.at(sums, items, r)
        np.add.at(counts, items, 1.0)
        squares += float(r @ r)
    shrink = config.residual_shrink
    seen = counts > 0
    if shrink is None and config.residual_reference == "user":
        # item effects ~ N(0, tau2): method of moments on the item means
        tau2 = float(np.mean((sums[seen] / counts[seen]) ** 2 - sigma2 / counts[seen]))
        shrink = sigma2 / max(tau2, 1e-4)
    elif shrink is None:
        # total variance v = tau2 + within, E[m_j^2] = tau2 + within / n_j, so
        # tau2 (1 - 1/n_j) = E[m_j^2] - v / n_j (items seen once tell nothing apart)
        total = squares / max(float(counts.sum()), 1.0)
        inv = 1.0 / counts[seen]
        tau2 = float(np.sum((sums[seen] * inv) ** 2 - total * inv) / max(np.sum(1.0 - inv), 1e-9))
        tau2 = min(max(tau2, 1e-4), total)
        shrink = (total - tau2) / tau2
    out: FloatArray = sums / (counts + shrink)
    return out


def posterior_mean(
    prior: CrowdPrior,
    gram: FloatArray,
    moment: FloatArray,
    pseudo: Mapping[int, tuple[float, float]] | None = None,
) -> FloatArray:
    """``(precision + gram + P)^-1 (precision mean + moment + P target)`` (P: pseudo-obs).

    ``pseudo``: column -> (target weight, precision) for onboarding answers.
    """
    a = prior.precision + gram
    b = prior.precision @ prior.mean + moment
    if pseudo:
        a = a.copy()
        for col, (target, weight) in pseudo.items():
            a[col, col] += weight
            b[col] += weight * target
    return np.asarray(np.linalg.solve(a, b), dtype=np.float64)
