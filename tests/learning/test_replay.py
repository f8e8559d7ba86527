"""ReplayBuffer: capacity, representation, fairness, uniformity, persistence, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from taste2vec.errors import SchemaError
from taste2vec.learning.replay import ReplayBuffer
from tests.learning.conftest import fb


def _zipf_stream(n: int, n_users: int, seed: int) -> list:  # type: ignore[type-arg]
    """``n`` reactions from users drawn with Zipf-like weights (one very heavy user)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_users + 1) ** 1.2
    users = rng.choice(n_users, size=n, p=weights / weights.sum())
    return [fb(f"u{u}", f"c{i % 98}", step=i, fid=f"f{i}") for i, u in enumerate(users)]


def _check_invariants(buf: ReplayBuffer, dropped: set[str]) -> None:
    sizes = {u: len(buf.user_items(u)) for u in buf.users()}
    assert len(buf) == sum(sizes.values()) <= buf.capacity
    assert all(n >= 1 for n in sizes.values())
    largest = max(sizes.values())
    for user, n in sizes.items():
        if n < buf.offered(user):  # truncated: holds its fair share
            assert n >= largest - 1, (user, n, largest)
    assert not dropped & set(sizes)


@pytest.mark.parametrize("capacity", [1, 7, 50])
def test_never_over_capacity_and_everyone_represented(capacity: int) -> None:
    buf = ReplayBuffer(capacity, seed=3)
    stream = _zipf_stream(1500, n_users=min(capacity, 40), seed=capacity)
    offered: set[str] = set()
    for item in stream:
        assert buf.add(item)
        offered.add(item.user)
        _check_invariants(buf, set())
    assert set(buf.users()) == offered  # every user with an item is represented


def test_heavy_user_cannot_crowd_out_light_users() -> None:
    buf = ReplayBuffer(100, seed=0)
    buf.extend([fb("heavy", f"c{i % 98}", step=i, fid=f"h{i}") for i in range(10_000)])
    assert len(buf) == 100 and buf.users() == ["heavy"]
    light = [fb(f"light{u}", f"c{j}", step=j, fid=f"l{u}-{j}") for u in range(40) for j in range(2)]
    buf.extend(light)
    held = {x.id for x in buf.items()}
    assert {x.id for x in light} <= held  # every light reaction is kept
    assert len(buf.user_items("heavy")) == 100 - 80
    assert len(buf) == 100


def test_more_users_than_capacity_drops_the_least_recent_user() -> None:
    buf = ReplayBuffer(3, seed=0)
    for i, user in enumerate(["a", "b", "c", "a", "d"]):
        buf.add(fb(user, "c1", step=i, fid=f"f{i}"))
    assert len(buf) == 3
    assert set(buf.users()) == {"a", "c", "d"}  # b was the least recently active


def test_uniform_within_a_user_through_growth_shrink_and_replacement() -> None:
    """Each of A's 100 reactions is held with the same probability (chi-square, p > 0.001)."""
    runs, n_a = 2000, 100
    counts = np.zeros(n_a)
    held_sizes = set()
    for seed in range(runs):
        buf = ReplayBuffer(20, seed=seed)
        for i in range(60):  # A alone: grows to 20, then Algorithm R
            buf.add(fb("A", "c1", step=i, fid=f"a{i}"))
        for j in range(10):  # four newcomers: A's reservoir shrinks by random eviction
            for other in "BCDE":
                buf.add(fb(other, "c1", step=100 + j, fid=f"{other}{j}"))
        for i in range(60, n_a):  # A again, at its reduced size
            buf.add(fb("A", "c1", step=200 + i, fid=f"a{i}"))
        items = buf.user_items("A")
        held_sizes.add(len(items))
        for item in items:
            counts[int(item.id[1:])] += 1
    assert len(held_sizes) == 1
    expected = runs * held_sizes.pop() / n_a
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 148.2, chi2  # the 0.999 quantile of chi-square with 99 degrees of freedom


def test_duplicates_are_refused_and_forget_removes_a_user() -> None:
    buf = ReplayBuffer(10, seed=0)
    assert buf.add(fb("a", "c1", fid="x"))
    assert not buf.add(fb("a", "c1", fid="x"))
    assert "x" in buf and len(buf) == 1
    buf.add(fb("b", "c2", fid="y"))
    assert buf.forget("a") == 1
    assert buf.users() == ["b"] and "x" not in buf and len(buf) == 1
    assert buf.forget("nobody") == 0


def test_sample_is_distinct_bounded_and_seeded() -> None:
    buf = ReplayBuffer(50, seed=0)
    buf.extend(_zipf_stream(200, 10, seed=1))
    a = buf.sample(20, np.random.default_rng(5))
    b = buf.sample(20, np.random.default_rng(5))
    assert [x.id for x in a] == [x.id for x in b]
    assert len({x.id for x in a}) == 20
    assert len(buf.sample(500, np.random.default_rng(0))) == len(buf)
    assert buf.sample(0, np.random.default_rng(0)) == []


def test_deterministic_under_seed() -> None:
    stream = _zipf_stream(800, 15, seed=2)
    one, two, other = ReplayBuffer(40, seed=9), ReplayBuffer(40, seed=9), ReplayBuffer(40, seed=8)
    for buf in (one, two, other):
        buf.extend(stream)
    assert one.state_dict() == two.state_dict()
    assert [x.id for x in one.items()] != [x.id for x in other.items()]


def test_state_dict_round_trips_through_json_and_continues_identically() -> None:
    stream = _zipf_stream(1000, 12, seed=4)
    buf = ReplayBuffer(30, seed=1)
    buf.extend(stream[:600])
    restored = ReplayBuffer(5, seed=123)
    restored.load_state_dict(json.loads(json.dumps(buf.state_dict())))
    assert restored.capacity == 30
    assert [x.id for x in restored.items()] == [x.id for x in buf.items()]
    assert restored.items() == buf.items()
    for item in stream[600:]:  # the random generator's state travelled too
        buf.add(item)
        restored.add(item)
    assert restored.state_dict() == buf.state_dict()


def test_bad_state_and_capacity_are_refused() -> None:
    with pytest.raises(SchemaError):
        ReplayBuffer(0)
    buf = ReplayBuffer(5, seed=0)
    buf.extend(_zipf_stream(20, 3, seed=0))
    state = buf.state_dict()
    with pytest.raises(SchemaError):
        ReplayBuffer().load_state_dict({**state, "version": 99})
    with pytest.raises(SchemaError):
        ReplayBuffer().load_state_dict({**state, "capacity": 2})
