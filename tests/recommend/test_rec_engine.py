"""The recommendation engine: real behaviour of the closed-form user vector and ranking."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from taste2vec.recommend.engine import RecommendationEngine, feedback_stats
from taste2vec.recommend.explain import FAMILY_WORDS
from taste2vec.recommend.user_state import UserVectorConfig
from taste2vec.schema import (
    SENSORY_METRICS,
    Coffee,
    Context,
    Feedback,
    FeedbackSignal,
    LocationType,
    SocialSetting,
    TasteRecord,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
Make = Callable[..., RecommendationEngine]


def fb(
    coffee: str, signal: str = "liked", rating: int | None = None, days: float = 0, user: str = "u"
) -> Feedback:
    return Feedback(
        id=f"{user}-{coffee}-{signal}-{days}",
        user=user,
        coffee=coffee,
        signal=FeedbackSignal(signal),
        rating=rating,
        timestamp=T0 + timedelta(days=days),
    )


def _neighbours(engine: RecommendationEngine, coffee: str, n: int) -> list[str]:
    snap = engine.snapshot
    sims = snap.taste @ snap.taste[snap.pos[coffee]]
    order = np.argsort(-sims, kind="stable")
    return [snap.coffees[i].id for i in order if snap.coffees[i].id != coffee][:n]


def _mean_sim(engine: RecommendationEngine, ids: list[str], coffee: str) -> float:
    snap = engine.snapshot
    target = snap.taste[snap.pos[coffee]]
    return float(np.mean([snap.taste[snap.pos[c]] @ target for c in ids]))


def test_liked_pulls_toward_similar_coffees_and_disliked_pushes_away(
    engine: RecommendationEngine, catalogue: list[Coffee]
) -> None:
    anchor = catalogue[0].id
    cold = [r.coffee_id for r in engine.recommend(None, 10, {anchor})]
    liked_vec = engine.user_vector([fb(anchor, "liked")])
    liked = [r.coffee_id for r in engine.recommend(liked_vec, 10, {anchor})]
    disliked_vec = engine.user_vector([fb(anchor, "disliked")])
    disliked = [r.coffee_id for r in engine.recommend(disliked_vec, 10, {anchor})]
    assert _neighbours(engine, anchor, 1)[0] in liked[:3]
    assert _mean_sim(engine, liked, anchor) > _mean_sim(engine, cold, anchor)
    assert _mean_sim(engine, disliked, anchor) < _mean_sim(engine, cold, anchor)
    assert not set(_neighbours(engine, anchor, 5)) & set(disliked)


def test_ratings_weigh_like_preferences(
    engine: RecommendationEngine, catalogue: list[Coffee]
) -> None:
    a = catalogue[0].id
    five = engine.user_vector([fb(a, "rated", 5)])
    liked = engine.user_vector([fb(a, "liked")])
    assert five is not None and liked is not None
    np.testing.assert_allclose(five, liked)
    assert engine.user_vector([fb(a, "rated", 3)]) is None  # neutral: nothing known


def test_recency_decay_favours_recent_feedback(make_engine: Make, catalogue: list[Coffee]) -> None:
    engine = make_engine()
    snap = engine.snapshot
    a, b = catalogue[0].id, catalogue[60].id
    events = [fb(a, days=0), fb(b, days=180)]
    vec = engine.user_vector(events, now=T0 + timedelta(days=180))
    assert vec is not None
    xa, xb = snap.taste[snap.pos[a]], snap.taste[snap.pos[b]]
    assert vec @ xb > vec @ xa + 0.2
    flat = make_engine(config=UserVectorConfig(half_life_days=1e9))
    even = flat.user_vector(events)
    assert even is not None
    assert abs(float(even @ xb - even @ xa)) < 1e-3
    # feedback after `now` is not used
    early = engine.user_vector(events, now=T0 + timedelta(days=1))
    assert early is not None and early @ xa > 0.99


def test_incremental_update_equals_batch_closed_form(
    engine: RecommendationEngine, catalogue: list[Coffee]
) -> None:
    rng = np.random.default_rng(0)
    signals = ["liked", "disliked", "rated", "skipped"]
    events = []
    for i in range(60):
        signal = signals[int(rng.integers(4))]
        rating = int(rng.integers(1, 6)) if signal == "rated" else None
        coffee = catalogue[int(rng.integers(15))].id  # repeats: the latest one counts
        events.append(fb(coffee, signal, rating, days=float(rng.uniform(0, 400)) + i * 1e-6))
    state = engine.new_state()
    for event in events:  # arrival order differs from timestamp order
        engine.update(state, event)
    batch = engine.user_vector(events)
    assert batch is not None
    np.testing.assert_allclose(state.vector(), batch, atol=1e-9)  # type: ignore[arg-type]
    # the latest feedback per coffee wins, whatever the arrival order
    late = fb(catalogue[0].id, "disliked", days=1000)
    engine.update(state, late)
    engine.update(state, fb(catalogue[0].id, "liked", days=999))
    np.testing.assert_allclose(state.vector(), engine.user_vector([*events, late]), atol=1e-9)  # type: ignore[arg-type]


def test_state_survives_long_gaps_and_rebuilds(
    engine: RecommendationEngine, catalogue: list[Coffee]
) -> None:
    events = [fb(catalogue[0].id, days=0), fb(catalogue[1].id, days=365 * 30)]
    state = engine.state(events)
    vec = state.vector()
    assert vec is not None and np.all(np.isfinite(vec))
    np.testing.assert_allclose(vec, engine.user_vector(events), atol=1e-9)  # type: ignore[arg-type]
    assert state.evidence(T0 + timedelta(days=365 * 30)) > 0.99
    engine.rebuild(engine.snapshot.model, catalogue[:50])
    engine.update(state, fb(catalogue[2].id, days=365 * 30 + 1))
    assert state.version == engine.snapshot.version
    np.testing.assert_allclose(
        state.vector(),  # type: ignore[arg-type]
        engine.user_vector([*events, fb(catalogue[2].id, days=365 * 30 + 1)]),  # type: ignore[arg-type]
        atol=1e-9,
    )


def test_tastings_pull_toward_what_the_user_drank(
    engine: RecommendationEngine, catalogue: list[Coffee]
) -> None:
    target = catalogue[5]
    tasting = TasteRecord(
        id="t1",
        user="u",
        coffee=target.id,
        timestamp=T0,
        notes=target.roaster_notes,
        metrics=target.metrics,
    )
    vec = engine.user_vector([], [tasting])
    assert vec is not None
    snap = engine.snapshot
    sims = snap.taste @ vec
    assert sims[snap.pos[target.id]] > np.quantile(sims, 0.9)
    assert engine.user_vector([]) is None


def test_stock_filter_and_fallback_when_none_left(
    make_engine: Make, catalogue: list[Coffee]
) -> None:
    coffees = [
        c.model_copy(update={"stock": 0 if i % 2 else 10}) for i, c in enumerate(catalogue[:20])
    ]
    engine = make_engine(coffees)
    out_of_stock = {c.id for c in coffees if c.stock == 0}
    vec = engine.user_vector([fb(coffees[1].id)])  # liked an out-of-stock coffee
    recs = engine.recommend(vec, 5, set())
    assert len(recs) == 5 and not out_of_stock & {r.coffee_id for r in recs}
    in_stock = {c.id for c in coffees} - out_of_stock
    filled = engine.recommend(vec, 5, in_stock)  # nothing in stock left: fall back
    assert len(filled) == 5 and {r.coffee_id for r in filled} <= out_of_stock


def test_context_changes_the_ranking(engine: RecommendationEngine, catalogue: list[Coffee]) -> None:
    vec = engine.user_vector([fb(catalogue[0].id), fb(catalogue[40].id)])
    morning = Context(
        hour=7,
        weekday=1,
        location_type=LocationType.HOME,
        social_setting=SocialSetting.ALONE,
        energy=2,
    )
    evening = Context(
        hour=21,
        weekday=5,
        location_type=LocationType.CAFE,
        social_setting=SocialSetting.FRIENDS,
        energy=9,
    )
    n = len(catalogue)

    def ranking(ctx: Context | None) -> list[tuple[str, float]]:
        return [(r.coffee_id, r.score) for r in engine.recommend(vec, n, set(), context=ctx)]

    plain, am, pm = ranking(None), ranking(morning), ranking(evening)
    assert am != pm and am != plain
    history = [TasteRecord(id="h", user="u", timestamp=T0, context=evening)]
    with_history = engine.recommend(vec, n, set(), context=morning, history=history)
    assert [(r.coffee_id, r.score) for r in with_history] != am


def test_explanations_name_a_family_and_the_liked_coffee(
    engine: RecommendationEngine, catalogue: list[Coffee]
) -> None:
    liked = catalogue[0]
    vec = engine.user_vector([fb(liked.id, "rated", 5)])
    recs = engine.recommend(vec, 3, {liked.id}, liked=[(liked.id, 5)])
    words = [w for phrase in FAMILY_WORDS.values() for w in phrase.split(", ")]
    for rec in recs:
        assert any(w in rec.explanation for w in words)
        assert rec.reasons["families"]
    top = recs[0]
    assert f"like the {liked.name} you rated 5" in top.explanation
    assert top.reasons["similar_to"]["coffee_id"] == liked.id
    liked_pref = engine.recommend(vec, 1, {liked.id}, liked=[(liked.id, 1.0)])[0]
    assert f"like the {liked.name} you liked" in liked_pref.explanation
    disliked = engine.recommend(vec, 1, {liked.id}, liked=[(liked.id, -1.0)])[0]
    assert "like the" not in disliked.explanation


def test_cold_start_fallback(make_engine: Make, catalogue: list[Coffee]) -> None:
    engine = make_engine()
    cold = engine.recommend(None, 10, set())
    assert len(cold) == 10 and len({r.coffee_id for r in cold}) == 10
    # the crowd's taste takes over once there is feedback from others
    crowd = [fb(c.id, user=f"p{i}") for i, c in enumerate(catalogue[:5] * 3)]
    engine.set_feedback_stats(feedback_stats(crowd))
    assert engine.snapshot.population is not None
    with_crowd = [r.coffee_id for r in engine.recommend(None, 10, set())]
    assert with_crowd != [r.coffee_id for r in cold]
    # the crowd liked the first five: they lead a newcomer's list (the crowd's Rocchio)
    liked = {c.id for c in catalogue[:5]}
    assert len(liked & set(with_crowd[:5])) > len(liked & {r.coffee_id for r in cold[:5]})


def test_determinism(make_engine: Make, catalogue: list[Coffee]) -> None:
    events = [fb(catalogue[3].id), fb(catalogue[9].id, "disliked", days=2)]
    ctx = Context(hour=9, location_type=LocationType.OFFICE)
    runs = []
    for _ in range(2):
        engine = make_engine()
        vec = engine.user_vector(events)
        runs.append(
            [
                (r.coffee_id, r.score, r.explanation)
                for r in engine.recommend(vec, 10, set(), context=ctx)
            ]
        )
    assert runs[0] == runs[1]


def test_profile_radar_families_and_map(
    engine: RecommendationEngine, catalogue: list[Coffee]
) -> None:
    vec = engine.user_vector([fb(catalogue[0].id)])
    profile = engine.profile(vec)
    assert list(profile.radar) == list(SENSORY_METRICS)
    assert all(0.0 <= v <= 10.0 for v in profile.radar.values())
    probs = [p for _, p in profile.top_families]
    assert len(probs) == 9 and probs == sorted(probs, reverse=True)
    snap = engine.snapshot
    j = snap.pos[catalogue[0].id]
    np.testing.assert_allclose(engine.project(snap.taste[j]), snap.map_xy[j], atol=1e-5)
    assert np.all(np.isfinite(engine.profile(None).map_xy))


def test_atomic_rebuild_under_concurrent_reads(make_engine: Make, catalogue: list[Coffee]) -> None:
    first, second = catalogue[:40], catalogue[40:80]
    engine = make_engine(first)
    model = engine.snapshot.model
    ids_first, ids_second = {c.id for c in first}, {c.id for c in second}
    errors: list[BaseException] = []
    mixed: list[set[str]] = []
    seen: set[str] = set()
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                got = {r.coffee_id for r in engine.recommend(None, 30, set())}
                if not (got <= ids_first or got <= ids_second) or len(got) != 30:
                    mixed.append(got)
                seen.update(got)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for coffees in (second, first, second):
            engine.rebuild(model, coffees)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors and not mixed
    assert seen & ids_first and seen & ids_second
