"""The crowd refit's reads in SQL (``Store.crowd_feedback``): equal to the computation over
every stored feedback in Python that the engine did before (issue 11), on both backends."""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence

import pytest
from alembic import command
from sqlalchemy import text

from taste2vec.errors import SchemaError
from taste2vec.recommend.engine import feedback_stats
from taste2vec.recommend.snapshot import CrowdFeedback
from taste2vec.schema import Feedback
from taste2vec.store import Store, alembic_config, create_store
from taste2vec.store._crowd import preference
from taste2vec.store._engine import make_engine
from tests.store.helpers import make_coffee, make_feedback

# Pairs of ids with the same crc32 whose order differs between code points (Python's
# string order) and a case-insensitive collation such as en_US.
TIES = [("R51OSWGU", "lgJhI7JC"), ("M93WWjqU", "iz3FUAMb")]
COFFEES = [f"c{i}" for i in range(8)]


def _old_prefs(feedback: Sequence[Feedback]) -> dict[str, dict[str, float]]:
    """A copy of what ``RecommendationEngine.set_crowd`` kept before issue 11."""
    crowd: dict[str, dict[str, float]] = {}
    for fb in sorted(feedback, key=lambda f: f.timestamp):
        crowd.setdefault(fb.user, {})[fb.coffee] = fb.preference
    return crowd


def _old_sample(
    crowd: dict[str, dict[str, float]], catalogue: set[str], max_users: int
) -> tuple[list[str], int]:
    """The users ``fit_crowd_prior`` used before issue 11, and how many it counted."""
    users = sorted(
        (u for u, p in crowd.items() if any(c in catalogue for c in p)),
        key=lambda u: (zlib.crc32(u.encode()), u),
    )
    return users[:max_users], len(users)


def _random_feedback(seed: int, n: int) -> list[Feedback]:
    rng = random.Random(seed)  # noqa: S311 - test data
    users = [f"u{i}" for i in range(20)] + [u for pair in TIES for u in pair] + ["gone-only"]
    out = []
    for i in range(n):
        user = rng.choice(users[:-1])
        coffee = rng.choice(COFFEES[:5])  # few coffees: many re-rated pairs
        signal = rng.choice(["liked", "disliked", "skipped", "rated"])
        extra = {"rating": rng.randint(1, 5)} if signal == "rated" else {}
        minutes = rng.randint(0, 12)  # few distinct times: many ties
        out.append(
            make_feedback(f"f{i}", coffee, user=user, minutes=minutes, signal=signal, **extra)
        )
    # Users whose only feedback is on a coffee that leaves the catalogue: not sampled.
    out.append(make_feedback("g1", "c7", user="gone-only", minutes=3))
    out.append(make_feedback("g2", "c7", user="u3", minutes=3, signal="disliked"))
    return out


@pytest.fixture
def crowd_store(store: Store) -> tuple[Store, list[Feedback]]:
    store.upsert_coffees([make_coffee(c) for c in COFFEES])
    feedback = _random_feedback(5, 240)
    for fb in feedback:
        store.add_feedback(fb)
    assert store.delete_coffee("c7")
    return store, feedback


def test_preference_from_the_columns_is_the_feedbacks() -> None:
    for signal in ("liked", "disliked", "skipped"):
        assert preference(signal, None) == make_feedback("x", "c", signal=signal).preference
    for r in range(1, 6):
        fb = make_feedback("x", "c", signal="rated", rating=r)
        assert preference("rated", r) == fb.preference
    with pytest.raises(SchemaError, match="'bogus'"):
        preference("bogus", None)


def test_crowd_stats_equal_the_python_aggregate(crowd_store: tuple[Store, list[Feedback]]) -> None:
    store, feedback = crowd_store
    expected = feedback_stats(feedback)
    got = store.crowd_stats()
    assert got is not None
    assert dict(got.pref_sum) == dict(expected.pref_sum)  # exactly: multiples of 1/4
    assert dict(got.count) == dict(expected.count)
    assert "c7" in got.count  # everyone's, whatever the catalogue holds now
    assert any(v != int(v) for v in got.pref_sum.values())  # quarters and halves seen


@pytest.mark.parametrize("max_users", [1, 4, 21, 23, 500])
def test_crowd_sample_is_the_old_sample(
    crowd_store: tuple[Store, list[Feedback]], max_users: int
) -> None:
    store, feedback = crowd_store
    old = _old_prefs(feedback)
    users, n_users = _old_sample(old, set(COFFEES[:7]), max_users)
    got = store.crowd_feedback(max_users)
    assert sorted(got.prefs) == sorted(users)
    assert got.n_users == n_users == 24  # 20 + 4 tied ids; not "gone-only"
    for u in users:  # values and the order of each user's coffees (first reaction first)
        assert list(got.prefs[u].items()) == list(old[u].items())
    assert got.stats == CrowdFeedback.from_feedback(feedback, max_users).stats
    memory = CrowdFeedback.from_feedback(feedback, max_users, set(COFFEES[:7]))
    assert {u: list(p.items()) for u, p in memory.prefs.items()} == {
        u: list(p.items()) for u, p in got.prefs.items()
    }
    assert memory.n_users == got.n_users


def test_the_sample_breaks_hash_ties_by_code_point(store: Store) -> None:
    store.upsert_coffees([make_coffee("c0")])
    for i, (a, b) in enumerate(TIES):
        store.add_feedback(make_feedback(f"b{i}", "c0", user=b))
        store.add_feedback(make_feedback(f"a{i}", "c0", user=a))
    for a, b in TIES:
        assert zlib.crc32(a.encode()) == zlib.crc32(b.encode()) and a < b
    pairs = sorted(TIES, key=lambda p: zlib.crc32(p[0].encode()))
    assert set(store.crowd_feedback(1).prefs) == {pairs[0][0]}
    assert set(store.crowd_feedback(3).prefs) == {*pairs[0], pairs[1][0]}
    assert store.crowd_feedback(3).n_users == 4


def test_an_empty_store_has_no_crowd(store: Store) -> None:
    got = store.crowd_feedback(10)
    assert got == CrowdFeedback(None, {}, 0)
    assert store.crowd_stats() is None


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, 10**7])
def test_max_users_is_validated(store: Store, bad: object) -> None:
    with pytest.raises(SchemaError, match="max_users"):
        store.crowd_feedback(bad)  # type: ignore[arg-type]


def test_migration_0009_backfills_user_hash(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0008")
            conn.execute(
                text("INSERT INTO users (id, created_at) VALUES ('ana', :t), ('Bob', :t)"),
                {"t": "2026-01-01 00:00:00"},
            )
            for i, user in enumerate(["ana", "Bob", "ana"]):
                conn.execute(
                    text(
                        "INSERT INTO feedback (id, user_id, coffee_id, signal, rating, "
                        "timestamp, payload, payload_hash, received_at) VALUES "
                        "(:id, :u, 'c1', 'liked', NULL, :t, '{}', 'h', :t)"
                    ),
                    {"id": f"f{i}", "u": user, "t": "2026-01-01 00:00:00"},
                )
    finally:
        engine.dispose()
    create_store(store_url).close()  # migrates to head
    engine = make_engine(store_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT user_id, user_hash FROM feedback ORDER BY seq"))
            assert [(u, h) for u, h in rows] == [
                (u, zlib.crc32(u.encode())) for u in ["ana", "Bob", "ana"]
            ]
            if engine.dialect.name == "sqlite":  # the table rebuild kept AUTOINCREMENT
                sql = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = 'feedback'")
                ).scalar()
                assert "AUTOINCREMENT" in str(sql)
    finally:
        engine.dispose()
