"""The validation set and its ranking metric."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

from taste2vec.errors import SchemaError
from taste2vec.learning.validation import (
    MAX_VALIDATION_USERS,
    ValidationSet,
    pairwise_auc,
    sample_key,
)
from taste2vec.schema import Feedback
from tests.learning.conftest import fb

ROW = {f"c{i}": i for i in range(6)}


def test_pairwise_auc() -> None:
    assert pairwise_auc([2.0, 3.0], [1.0]) == 1.0
    assert pairwise_auc([1.0], [1.0, 2.0]) == 0.25
    assert math.isnan(pairwise_auc([], [1.0]))


def test_from_feedback_holds_out_each_users_latest_reactions() -> None:
    items = [fb("a", f"c{i}", step=i) for i in range(8)] + [fb("b", "c0"), fb("b", "c1", step=1)]
    val = ValidationSet.from_feedback(items, holdout_share=0.25, min_feedback=4)
    assert list(val.held_out) == ["a"]  # b has too few reactions
    assert [x.coffee for x in val.held_out["a"]] == ["c6", "c7"]
    assert [x.coffee for x in val.context["a"]] == [f"c{i}" for i in range(6)]
    assert val.held_out_ids == {"a-c6-6", "a-c7-7"}
    with pytest.raises(TypeError):
        val.held_out["x"] = ()  # type: ignore[index]
    with pytest.raises(SchemaError):
        ValidationSet.from_feedback(items, holdout_share=1.0)


def _set() -> ValidationSet:
    context = {"u": [fb("u", "c0", "liked"), fb("u", "c3", "disliked")]}
    held = {"u": [fb("u", "c1", "liked"), fb("u", "c2", "disliked")]}
    return ValidationSet(context, held)


def test_score_rewards_embeddings_that_put_liked_coffees_near_the_user() -> None:
    compiled = _set().compile(ROW)
    assert len(compiled) == 1
    x, y = np.eye(4)[0], np.eye(4)[1]
    good = np.stack([x, x, -x, -x, y, y])  # c1 like c0; c2 like the disliked c3
    score = compiled.score(good)
    assert score.auc_disliked == 1.0 and score.users == 1
    assert score.auc_unseen == 1.0  # c4, c5 are orthogonal: below c1
    bad = np.stack([x, -x, x, -x, y, y])  # c1 like the disliked c3, c2 like the liked c0
    assert compiled.score(bad).auc_disliked == 0.0 and compiled.score(bad).auc == 0.0
    assert math.isnan(compiled.score(np.full((6, 4), np.nan)).auc)


def test_users_without_a_usable_context_or_positive_are_skipped() -> None:
    val = ValidationSet(
        {"u": [fb("u", "c0", "rated", rating=3)], "v": [fb("v", "c0")]},
        {"u": [fb("u", "c1")], "v": [fb("v", "c1", "disliked")]},
    )
    assert len(val.compile(ROW)) == 0


def _many_users(n_users: int) -> list[Feedback]:
    """Users u0.. with 3 to 6 reactions each (some too few for a validation set)."""
    out = []
    for u in range(n_users):
        for step in range(3 + u % 4):
            out.append(fb(f"u{u}", f"c{(u + step) % 6}", step=step))
    return out


def test_max_users_at_or_above_the_eligible_users_changes_nothing() -> None:
    items = _many_users(12)
    full = ValidationSet.from_feedback(items)
    eligible = len(full.held_out)
    assert eligible == 9  # u0, u4, u8 have 3 reactions
    for cap in (eligible, eligible + 1, MAX_VALIDATION_USERS):
        capped = ValidationSet.from_feedback(items, max_users=cap)
        assert capped == full
        assert list(capped.held_out) == list(full.held_out)


def test_max_users_keeps_the_first_eligible_users_by_crc32_then_user() -> None:
    items = _many_users(40)
    full = ValidationSet.from_feedback(items)
    capped = ValidationSet.from_feedback(items, max_users=5)
    expected = sorted(full.held_out, key=lambda u: (zlib.crc32(u.encode()), u))[:5]
    assert sorted(capped.held_out) == sorted(expected)
    assert list(capped.held_out) == sorted(expected)  # user order, as without a cap
    for user in expected:
        assert capped.held_out[user] == full.held_out[user]
        assert capped.context[user] == full.context[user]
    assert set(capped.context) == set(expected)
    assert sample_key("u1") == (zlib.crc32(b"u1"), "u1")
    # Arrival order does not move the sample.
    assert ValidationSet.from_feedback(items[::-1], max_users=5) == capped


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "5"])
def test_max_users_is_validated(bad: object) -> None:
    with pytest.raises(SchemaError, match="max_users"):
        ValidationSet.from_feedback([], max_users=bad)  # type: ignore[arg-type]
