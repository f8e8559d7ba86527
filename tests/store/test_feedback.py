"""Feedback: the same idempotency rules as records, ordering, and the full iterator."""

from __future__ import annotations

import pytest

from taste2vec.errors import ConflictError, NotFoundError
from taste2vec.store import Store
from tests.store.helpers import make_coffee, make_feedback


@pytest.fixture
def stocked(store: Store) -> Store:
    store.upsert_coffees([make_coffee("c1"), make_coffee("c2")])
    return store


def test_duplicate_feedback_is_not_created_twice(stocked: Store) -> None:
    fb = make_feedback("f1", "c1", signal="rated", rating=4)
    assert stocked.add_feedback(fb).created is True
    again = stocked.add_feedback(make_feedback("f1", "c1", signal="rated", rating=4))
    assert again.created is False and again.record == fb
    assert stocked.feedback_for_user("ana") == [fb]
    assert stocked.get_feedback("f1") == fb


def test_conflicting_feedback_is_rejected(stocked: Store) -> None:
    stocked.add_feedback(make_feedback("f1", "c1"))
    with pytest.raises(ConflictError, match="feedback 'f1'"):
        stocked.add_feedback(make_feedback("f1", "c1", signal="disliked"))
    with pytest.raises(ConflictError):
        stocked.add_feedback(make_feedback("f1", "c2"))
    assert stocked.get_feedback("f1") == make_feedback("f1", "c1")


def test_feedback_for_unknown_coffee_names_it(stocked: Store) -> None:
    with pytest.raises(NotFoundError, match="'ghost'"):
        stocked.add_feedback(make_feedback("f1", "ghost"))
    assert stocked.feedback_for_user("ana") == []


def test_feedback_ordered_by_event_time_per_user(stocked: Store) -> None:
    stocked.add_feedback(make_feedback("late", "c1", minutes=20))
    stocked.add_feedback(make_feedback("early", "c2", minutes=-5, signal="skipped"))
    stocked.add_feedback(make_feedback("bob", "c1", user="bob"))
    assert [f.id for f in stocked.feedback_for_user("ana")] == ["early", "late"]
    assert [f.id for f in stocked.feedback_for_user("bob")] == ["bob"]
    assert stocked.get_user("bob") is not None


def test_all_feedback_streams_every_item_across_batches(
    stocked: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("taste2vec.store._events._BATCH", 3)
    ids = [f"f{i}" for i in range(10)]
    for i, fid in enumerate(ids):
        stocked.add_feedback(make_feedback(fid, "c1", user=f"u{i % 3}", minutes=-i))
    assert [f.id for f in stocked.all_feedback()] == ids
    assert list(stocked.all_feedback())[4].preference == 1.0
