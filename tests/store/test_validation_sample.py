"""``Store.sampled_feedback``: the online learner's validation set read in SQL (issue 11),
equal to the in-memory computation over every stored reaction, on both backends."""

from __future__ import annotations

import random
import zlib

import pytest

from taste2vec.errors import SchemaError
from taste2vec.learning.validation import ValidationSet
from taste2vec.schema import Feedback
from taste2vec.store import Store
from tests.store.helpers import make_coffee, make_feedback

# Pairs of ids with the same crc32 whose order differs between code points (Python's
# string order) and a case-insensitive collation such as en_US.
TIES = [("R51OSWGU", "lgJhI7JC"), ("M93WWjqU", "iz3FUAMb")]
COFFEES = [f"c{i}" for i in range(6)]


def _random_feedback(seed: int, n: int) -> list[Feedback]:
    rng = random.Random(seed)  # noqa: S311 - test data
    users = [f"u{i}" for i in range(30)] + [u for pair in TIES for u in pair]
    out = []
    for i in range(n):
        user = rng.choice(users)
        signal = rng.choice(["liked", "disliked", "skipped", "rated"])
        extra = {"rating": rng.randint(1, 5)} if signal == "rated" else {}
        minutes = rng.randint(0, 12)  # few distinct times: many ties
        coffee = rng.choice(COFFEES)
        out.append(
            make_feedback(f"f{i}", coffee, user=user, minutes=minutes, signal=signal, **extra)
        )
    # Reactions to coffees outside the catalogue count towards a user's reactions too.
    out += [make_feedback(f"x{i}", "gone", user="only-gone", minutes=i) for i in range(4)]
    return out


@pytest.fixture
def stocked(store: Store) -> tuple[Store, list[Feedback]]:
    store.upsert_coffees([make_coffee(c) for c in [*COFFEES, "gone"]])
    feedback = _random_feedback(11, 150)
    for fb in feedback:
        store.add_feedback(fb)
    assert store.delete_coffee("gone")
    return store, feedback


def _first_users(feedback: list[Feedback], min_feedback: int, max_users: int) -> list[str]:
    counts: dict[str, int] = {}
    for fb in feedback:
        counts[fb.user] = counts.get(fb.user, 0) + 1
    eligible = [u for u, n in counts.items() if n >= min_feedback]
    return sorted(eligible, key=lambda u: (zlib.crc32(u.encode()), u))[:max_users]


# With min_feedback 4, cuts at 12 and 19 fall between the two users of a crc32 tie.
@pytest.mark.parametrize(
    ("min_feedback", "max_users"), [(1, 1), (4, 5), (4, 12), (4, 19), (6, 3), (4, 1000)]
)
def test_sampled_feedback_is_the_first_users_reactions_in_arrival_order(
    stocked: tuple[Store, list[Feedback]], min_feedback: int, max_users: int
) -> None:
    store, feedback = stocked
    users = set(_first_users(feedback, min_feedback, max_users))
    assert len(users) == min(max_users, len(_first_users(feedback, min_feedback, 1000)))
    got = store.sampled_feedback(max_users, min_feedback)
    assert got == [fb for fb in store.all_feedback() if fb.user in users]
    assert {fb.user for fb in got} == users


def test_the_validation_set_from_the_sample_equals_the_one_from_every_reaction(
    stocked: tuple[Store, list[Feedback]],
) -> None:
    store, _ = stocked
    every = list(store.all_feedback())
    old = ValidationSet.from_feedback(every)  # what the service built before issue 11
    assert len(old.held_out) > 5
    big = ValidationSet.from_feedback(store.sampled_feedback(1000, 4), max_users=1000)
    assert big == old
    assert list(big.held_out) == list(old.held_out)
    small = ValidationSet.from_feedback(store.sampled_feedback(5, 4), max_users=5)
    assert small == ValidationSet.from_feedback(every, max_users=5)
    assert sorted(small.held_out) == sorted(_first_users(every, 4, 5))


def test_sampled_feedback_of_an_empty_store(store: Store) -> None:
    assert store.sampled_feedback(10, 4) == []


@pytest.mark.parametrize(("max_users", "min_feedback"), [(0, 1), (5, 0), (True, 1), (5, 1.5)])
def test_sampled_feedback_validates_its_arguments(
    store: Store, max_users: object, min_feedback: object
) -> None:
    with pytest.raises(SchemaError):
        store.sampled_feedback(max_users, min_feedback)  # type: ignore[arg-type]
