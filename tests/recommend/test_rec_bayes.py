"""The per-user Bayesian linear taste model: closed form, instant, crowd prior, onboarding."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from taste2vec.data.demo import load_demo_catalogue
from taste2vec.recommend.bayes import BayesConfig, default_prior, fit_crowd_prior, posterior_mean
from taste2vec.recommend.engine import Recommendation, RecommendationEngine
from taste2vec.recommend.features import archetype_coffees
from taste2vec.recommend.protocol import check_recommendations
from taste2vec.recommend.user_state import UserVectorConfig
from taste2vec.schema import Coffee, Context, Feedback, FeedbackSignal
from taste2vec.sim.recommend.baselines import ContentRidgeRecommender

T0 = datetime(2026, 1, 1, tzinfo=UTC)
Make = Callable[..., RecommendationEngine]


def fb(coffee: str, signal: str = "liked", rating: int | None = None, days: float = 0,
       user: str = "u") -> Feedback:  # fmt: skip
    return Feedback(
        id=f"{user}-{coffee}-{signal}-{days}",
        user=user,
        coffee=coffee,
        signal=FeedbackSignal(signal),
        rating=rating,
        timestamp=T0 + timedelta(days=days),
    )


def _random_events(catalogue: list[Coffee], n: int, seed: int) -> list[Feedback]:
    rng = np.random.default_rng(seed)
    signals = ["liked", "disliked", "rated", "skipped"]
    out = []
    for i in range(n):
        signal = signals[int(rng.integers(4))]
        rating = int(rng.integers(1, 6)) if signal == "rated" else None
        coffee = catalogue[int(rng.integers(20))].id  # repeats: the latest one counts
        out.append(fb(coffee, signal, rating, days=float(rng.uniform(0, 900)) + i * 1e-6))
    return out


def test_closed_form_update_after_each_feedback_equals_the_batch_refit(
    make_engine: Make, catalogue: list[Coffee]
) -> None:
    engine = make_engine(config=UserVectorConfig(model_half_life_days=90.0))
    engine.set_crowd(_random_events(catalogue, 40, seed=1))  # a prior that is not the default
    events = _random_events(catalogue, 50, seed=2)
    state = engine.new_state()
    for i, event in enumerate(events):  # arrival order differs from timestamp order
        engine.update(state, event)
        batch = engine.state(events[: i + 1])
        np.testing.assert_allclose(engine.weights(state), engine.weights(batch), atol=1e-8)
    # explicit batch ridge: weights 2^-(t_newest - t)/h over the latest feedback per coffee
    snap = engine.snapshot
    latest: dict[str, Feedback] = {}
    for event in sorted(events, key=lambda e: e.timestamp):
        latest[event.coffee] = event
    newest = max(e.timestamp for e in latest.values())
    x = np.stack([snap.features.matrix[snap.pos[c]] for c in latest])
    y = np.array([e.preference for e in latest.values()])
    g = np.array(
        [2 ** (-(newest - e.timestamp).total_seconds() / 86400 / 90.0) for e in latest.values()]
    )
    expected = posterior_mean(snap.crowd, (x * g[:, None]).T @ x, x.T @ (g * y))
    np.testing.assert_allclose(engine.weights(state), expected, atol=1e-8)


def test_one_feedback_moves_the_next_recommendation(
    engine: RecommendationEngine, catalogue: list[Coffee]
) -> None:
    state = engine.new_state()
    before = [r.coffee_id for r in engine.recommend(None, 10, set(), state=state)]
    top = before[0]
    engine.update(state, fb(top, "disliked"))
    after = engine.recommend(state.vector(), 10, {top}, n_feedback=1, state=state)
    assert [r.coffee_id for r in after] != before[1:] + after[-1:]
    snap = engine.snapshot
    score = snap.features.matrix @ engine.weights(state)
    cold = snap.features.matrix @ engine.weights(engine.new_state())
    # the disliked coffee itself, and coffees like it, lose score
    assert score[snap.pos[top]] < cold[snap.pos[top]] - 1e-6
    engine.update(state, fb(top, "liked", days=1))  # a change of mind replaces it at once
    assert (snap.features.matrix @ engine.weights(state))[snap.pos[top]] > cold[snap.pos[top]]


def test_explanations_still_name_families_and_the_liked_coffee(
    engine: RecommendationEngine, catalogue: list[Coffee]
) -> None:
    liked = catalogue[0]
    state = engine.state([fb(liked.id, "rated", 5)])
    recs = engine.recommend(
        state.vector(), 5, {liked.id}, liked=[(liked.id, 5)], n_feedback=1, state=state
    )
    assert len(recs) == 5 and all(r.explanation and r.reasons["families"] for r in recs)
    assert all(r.coffee_id != liked.id for r in recs)
    named = [r for r in recs if "similar_to" in r.reasons]
    assert all(f"like the {liked.name} you rated 5" in r.explanation for r in named)


def test_crowd_prior_learns_the_populations_taste(
    make_engine: Make, catalogue: list[Coffee]
) -> None:
    engine = make_engine()
    snap = engine.snapshot
    fruity = snap.features.names.index("fam:Fruity")
    x = snap.features.matrix
    # 40 people who like the fruitiest coffees and dislike the least fruity ones
    order = np.argsort(-x[:, fruity], kind="stable")
    crowd = []
    for u in range(40):
        for j in order[u % 5 : u % 5 + 6]:
            crowd.append(fb(catalogue[int(j)].id, "liked", user=f"p{u}"))
        for j in order[::-1][u % 5 : u % 5 + 6]:
            crowd.append(fb(catalogue[int(j)].id, "disliked", user=f"p{u}"))
    engine.set_crowd(crowd)
    assert engine.snapshot.crowd.n_users == 40
    assert engine.snapshot.crowd.mean[fruity] > 0.1
    cold = engine.recommend(None, 10, set(), state=engine.new_state())
    share = np.mean([x[snap.pos[r.coffee_id], fruity] for r in cold])
    assert share > np.quantile(x[:, fruity], 0.6)
    # too few users: the default prior
    few = fit_crowd_prior(x, snap.features.names, {"a": {0: 1.0}}, BayesConfig())
    assert few.n_users == 0


def test_onboarding_families_pull_toward_that_family(
    engine: RecommendationEngine, catalogue: list[Coffee]
) -> None:
    snap = engine.snapshot
    col = snap.features.names.index("fam:Roasted")
    state = engine.onboard(engine.new_state(), ["Roasted", "NotAFamily"])
    assert state.families == {"Roasted"}
    picked = [r.coffee_id for r in engine.recommend(None, 10, set(), state=state)]
    plain = [r.coffee_id for r in engine.recommend(None, 10, set(), state=engine.new_state())]
    x = snap.features.matrix[:, col]
    assert np.mean([x[snap.pos[c]] for c in picked]) > np.mean([x[snap.pos[c]] for c in plain])


def test_rebuild_keeps_the_linear_models_feedback(
    engine: RecommendationEngine, catalogue: list[Coffee]
) -> None:
    events = _random_events(catalogue, 15, seed=3)
    state = engine.state(events)
    engine.rebuild(engine.snapshot.model, catalogue[:60])
    engine.update(state, fb(catalogue[1].id, days=2000))
    fresh = engine.state([*events, fb(catalogue[1].id, days=2000)])
    np.testing.assert_allclose(engine.weights(state), engine.weights(fresh), atol=1e-8)


def test_archetype_coffees_are_distinct_informative_and_deterministic() -> None:
    from taste2vec.lexicon import load_lexicon

    coffees = load_demo_catalogue()
    lex = load_lexicon()
    fams = np.stack([lex.family_distribution(c.roaster_notes) for c in coffees]).astype(float)
    picks = archetype_coffees(coffees, fams, 3)
    assert len(picks) == 3 == len(set(picks))
    assert picks == archetype_coffees(coffees, fams, 3)
    assert sorted(archetype_coffees(coffees[:2], fams[:2], 3)) == [c.id for c in coffees[:2]]


def test_content_ridge_baseline_follows_the_users_ratings() -> None:
    coffees = load_demo_catalogue()
    rec = ContentRidgeRecommender()
    liked = [c for c in coffees if "chocolate" in c.roaster_notes.lower()][:4]
    disliked = [c for c in coffees if "lemon" in c.roaster_notes.lower()][:4]
    events = [fb(c.id, "liked") for c in liked] + [fb(c.id, "disliked") for c in disliked]
    rec.fit(coffees, events)
    seen = {c.id for c in liked + disliked}
    got = rec.recommend("u", 10, seen)
    check_recommendations(rec.name, got, 10, seen, {c.id for c in coffees})
    scores = rec.scores("u")
    assert scores is not None
    by_id = dict(zip(sorted(c.id for c in coffees), scores, strict=True))
    choc = [by_id[c.id] for c in coffees if "chocolate" in c.roaster_notes.lower()][4:]
    lemon = [by_id[c.id] for c in coffees if "lemon" in c.roaster_notes.lower()][4:]
    assert choc and lemon and np.mean(choc) > np.mean(lemon)
    assert rec.recommend("someone-new", 5, set()) == rec._popularity.recommend("x", 5, set())


def _crowd_with_item_effects(
    seed: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, dict[int, float]]]:
    """300 coffees whose features miss a shared item effect; 60 users, 15 random reactions."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, 6))
    effect = rng.normal(0.0, 0.8, 300)
    prefs: dict[str, dict[int, float]] = {}
    for u in range(60):
        w = rng.normal(0.0, 0.5, 6)
        items = rng.choice(300, 15, replace=False)
        y = x[items] @ w + effect[items] + rng.normal(0.0, 0.5, 15)
        prefs[f"u{u}"] = {int(j): float(v) for j, v in zip(items, y, strict=True)}
    return x, effect, prefs


def test_population_residual_carries_the_crowds_item_effect_for_cold_users() -> None:
    """Issue 10 cold start: reactions minus the population's taste estimate the item effect
    a new user should expect; minus each reacting user's own (in-sample) posterior, the
    residual is shrunk toward 0."""
    x, effect, prefs = _crowd_with_item_effects(seed=3)
    names = [f"f{i}" for i in range(6)]
    pop = fit_crowd_prior(x, names, prefs, BayesConfig(residual_reference="population"))
    user = fit_crowd_prior(x, names, prefs, BayesConfig())
    seen = np.zeros(300, dtype=bool)
    for items in prefs.values():
        seen[list(items)] = True
    corr = np.corrcoef(pop.residual[seen], effect[seen])[0, 1]
    assert corr > 0.5
    assert np.all(pop.residual[~seen] == 0.0)  # never seen: no evidence, no effect
    # the population residual is larger in scale: the user one is shrunk by in-sample fits
    assert np.abs(pop.residual[seen]).mean() > np.abs(user.residual[seen]).mean()


def test_residual_reference_is_validated() -> None:
    x, _, prefs = _crowd_with_item_effects(seed=4)
    with pytest.raises(ValueError, match="residual_reference"):
        fit_crowd_prior(x, [f"f{i}" for i in range(6)], prefs, BayesConfig(residual_reference="x"))


def test_cold_ranking_is_the_crowds_rocchio() -> None:
    """Issue 10 cold start: ``x_j . mean_i(y_i x_i)`` over everyone's reactions, rescaled
    to the prior mean's spread (an affine map: the same order)."""
    x, _, prefs = _crowd_with_item_effects(seed=3)
    names = [f"f{i}" for i in range(6)]
    prior = fit_crowd_prior(x, names, prefs, BayesConfig())
    assert prior.cold is not None
    moment = sum(x[list(p)].T @ np.array(list(p.values())) for p in prefs.values())
    expected = x @ moment
    assert np.corrcoef(prior.cold, expected)[0, 1] == pytest.approx(1.0, abs=1e-9)
    assert prior.cold.std() == pytest.approx((x @ prior.mean).std())
    assert fit_crowd_prior(x, names, prefs, BayesConfig(cold_start="prior")).cold is None
    with pytest.raises(ValueError, match="cold_start"):
        fit_crowd_prior(x, names, prefs, BayesConfig(cold_start="x"))


def test_cold_users_get_the_crowds_cold_ranking_until_their_first_feedback(
    make_engine: Make, catalogue: list[Coffee]
) -> None:
    """With no feedback and no onboarding answer the ranking is the crowd's cold ranking;
    from the first feedback (or an onboarding answer) on, the user's posterior as before."""
    engine = make_engine()
    rng = np.random.default_rng(5)
    crowd = []
    for u in range(30):
        for j in rng.choice(len(catalogue), 10, replace=False):
            signal = ("liked", "disliked", "skipped")[int(rng.integers(3))]
            crowd.append(fb(catalogue[int(j)].id, signal, user=f"p{u}"))
    engine.set_crowd(crowd)
    snap = engine.snapshot
    assert snap.crowd.cold is not None and snap.crowd.cold.shape == (len(catalogue),)
    cold = engine.recommend(None, len(catalogue), set(), state=engine.new_state())
    for r in cold:  # in-stock coffees first, each by its cold score
        assert r.score == pytest.approx(snap.crowd.cold[snap.pos[r.coffee_id]], abs=1e-5)
    in_stock = [r.score for r in cold if snap.in_stock[snap.pos[r.coffee_id]]]
    assert in_stock == sorted(in_stock, reverse=True)
    gamma = engine.residual_weight * engine.prior_half / (engine.prior_half + 1)
    state = engine.update(engine.new_state(), fb(cold[0].coffee_id, "liked", days=2))
    recs = engine.recommend(state.vector(), 20, set(), n_feedback=1, state=state)
    expected = snap.features.matrix @ engine.weights(state) + gamma * snap.crowd.residual
    for r in recs:
        assert r.score == pytest.approx(expected[snap.pos[r.coffee_id]], abs=1e-5)
    onboarded = engine.onboard(engine.new_state(), ["Roasted"])
    first = engine.recommend(None, 20, set(), state=onboarded)
    expected = snap.features.matrix @ engine.weights(onboarded) + engine.residual_weight * (
        snap.crowd.residual
    )
    for r in first:
        assert r.score == pytest.approx(expected[snap.pos[r.coffee_id]], abs=1e-5)


def _typical_catalogue() -> tuple[np.ndarray, list[str]]:
    """Six coffees: bias, one metric (m:overall) and its square, two taste components.

    Coffee 0 sits at the catalogue's centroid on the taste components; coffee 5 is the
    farthest from it. The cupping score rises with the index."""
    t2v = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, -1.0], [1.0, 1.0], [-1.5, 1.0], [0.0, -3.0]])
    t2v -= t2v.mean(axis=0)
    overall = np.linspace(-1.0, 1.0, 6)
    x = np.column_stack([np.ones(6), overall, overall**2 - np.mean(overall**2), t2v])
    return x, ["bias", "m:overall", "sq:overall", "t2v:0", "t2v:1"]


def test_with_no_feedback_anywhere_the_cold_ranking_is_the_default_priors_rule() -> None:
    """Issue 10 cold start, nobody has feedback: ``z(x . mean) + centroid_weight *
    z(-distance to the centroid over the t2v: columns)``, rescaled to the spread of
    ``x . mean``; weight 0 (or no t2v: column) leaves ``x . mean`` (cold is None)."""
    x, names = _typical_catalogue()
    config = BayesConfig()
    prior = default_prior(names, 6, config, x)
    assert prior.cold is not None
    np.testing.assert_allclose(prior.mean, [0.0, config.quality, -config.typicality, 0.0, 0.0])

    def z(v: np.ndarray) -> np.ndarray:
        return (v - v.mean()) / v.std()

    base = x @ prior.mean
    rule = z(base) + config.centroid_weight * z(-np.linalg.norm(x[:, 3:], axis=1))
    np.testing.assert_allclose(prior.cold, z(rule) * base.std() + base.mean(), atol=1e-12)
    # the centroid term dominates at a large weight: the most typical coffee leads
    far = default_prior(names, 6, BayesConfig(centroid_weight=1e6), x)
    assert far.cold is not None and list(np.argsort(-far.cold)[:1]) == [0]
    assert int(np.argmin(far.cold)) == 5
    # weight 0, no t2v: column, or no feature matrix: no cold ranking, x . mean ranks
    assert default_prior(names, 6, BayesConfig(centroid_weight=0.0), x).cold is None
    assert default_prior(names[:3], 6, config, x[:, :3]).cold is None
    assert default_prior(names, 6, config).cold is None
    with pytest.raises(ValueError, match="centroid_weight"):
        default_prior(names, 6, BayesConfig(centroid_weight=-1.0), x)
    # too few users with feedback: the default prior, with its cold ranking
    few = fit_crowd_prior(x, names, {"a": {0: 1.0}}, config)
    assert few.n_users == 0 and few.cold is not None
    np.testing.assert_allclose(few.cold, prior.cold)


def test_nobody_has_feedback_the_engine_ranks_by_the_default_priors_rule(
    make_engine: Make, catalogue: list[Coffee]
) -> None:
    """A new engine (no crowd): a user with nothing ranks by the default prior's cold
    ranking, which follows the stated rule on the engine's own features."""
    engine = make_engine()
    snap = engine.snapshot
    x, names = snap.features.matrix, snap.features.names
    cols = [i for i, n in enumerate(names) if n.startswith("t2v:")]
    assert cols and snap.crowd.n_users == 0 and snap.crowd.cold is not None

    def z(v: np.ndarray) -> np.ndarray:
        return (v - v.mean()) / v.std()

    base = x @ snap.crowd.mean
    rule = z(base) + engine.bayes.centroid_weight * z(-np.linalg.norm(x[:, cols], axis=1))
    assert np.corrcoef(snap.crowd.cold, rule)[0, 1] == pytest.approx(1.0, abs=1e-9)
    recs = engine.recommend(None, len(catalogue), set(), state=engine.new_state())
    for r in recs:
        assert r.score == pytest.approx(snap.crowd.cold[snap.pos[r.coffee_id]], abs=1e-5)
    in_stock = [snap.pos[r.coffee_id] for r in recs if snap.in_stock[snap.pos[r.coffee_id]]]
    assert len(in_stock) == int(snap.in_stock.sum())  # in-stock coffees first, by the rule
    assert np.all(np.diff(rule[in_stock]) <= 1e-9)
    # the first feedback: the posterior ranks (the closed-form model), not the cold rule
    state = engine.update(engine.new_state(), fb(recs[0].coffee_id, "disliked"))
    after = engine.recommend(None, 5, set(), n_feedback=1, state=state)
    gamma = engine.residual_weight * engine.prior_half / (engine.prior_half + 1)
    expected = x @ engine.weights(state) + gamma * snap.crowd.residual
    for r in after:
        assert r.score == pytest.approx(expected[snap.pos[r.coffee_id]], abs=1e-5)


def test_the_answer_without_context_is_reused_until_the_state_or_snapshot_changes(
    make_engine: Make, catalogue: list[Coffee]
) -> None:
    engine = make_engine()
    state = engine.new_state()
    for event in _random_events(catalogue, 12, seed=5):
        engine.update(state, event)

    def answer(context: Context | None = None) -> list[Recommendation]:
        liked = [(c, w) for c, (w, _) in state.items.items() if w > 0]
        return engine.recommend(
            state.vector(), 10, set(state.items), context, liked=liked,
            n_feedback=len(state.items), state=state,
        )  # fmt: skip

    def fresh() -> list[Recommendation]:
        state.memo = None  # computed again, from the state as it is
        return answer()

    first = answer()
    again = answer()
    assert again == first and again[0] is first[0]  # reused, not recomputed
    assert fresh() == first

    engine.update(state, fb(first[0].coffee_id, "disliked", days=1000))  # the state changes
    after_feedback = answer()
    assert after_feedback != first and after_feedback == fresh()
    assert first[0].coffee_id not in [r.coffee_id for r in after_feedback]

    engine.onboard(state, ["floral"])
    assert answer() == fresh()

    engine.set_crowd(_random_events(catalogue, 40, seed=6))  # a new snapshot
    memo_before = state.memo
    after_crowd = answer()
    assert state.memo is not memo_before and state.memo[0] is engine.snapshot  # type: ignore[index]
    assert after_crowd == fresh()

    memo_before = state.memo
    with_context = answer(Context(hour=8, mood=7))
    assert state.memo is memo_before  # an answer with context is not kept
    assert with_context != after_crowd
