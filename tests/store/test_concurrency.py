"""One store shared by many threads: nothing lost, races resolved by the database."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from taste2vec.errors import ConflictError
from taste2vec.store import PROFILE_DIM, AddResult, Profile, Store
from tests.store.helpers import make_coffee, make_feedback, make_record

T = TypeVar("T")
THREADS = 8


def _together(fn: Callable[[int], T]) -> list[T | Exception]:
    """Run ``fn(i)`` on THREADS threads released at the same moment."""
    barrier = threading.Barrier(THREADS)

    def run(i: int) -> T | Exception:
        barrier.wait()
        try:
            return fn(i)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            return exc

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(run, range(THREADS)))


def test_eight_threads_adding_records_lose_nothing(store: Store) -> None:
    per_thread = 40

    def add_many(t: int) -> int:
        for i in range(per_thread):
            user = f"user-{i % 5}"  # shared users: implicit creation races too
            assert store.add_record(make_record(f"t{t}-r{i}", user=user, minutes=-i)).created
        return per_thread

    results = _together(add_many)
    assert results == [per_thread] * THREADS
    stored = {r.id for r in store.all_records()}
    assert stored == {f"t{t}-r{i}" for t in range(THREADS) for i in range(per_thread)}
    assert len(store.list_users()) == 5


def test_same_record_from_eight_threads_is_created_once(store: Store) -> None:
    record = make_record("dup", notes="retry storm")
    results = _together(lambda _: store.add_record(record))
    assert all(isinstance(r, AddResult) and r.record == record for r in results)
    assert sum(r.created for r in results if isinstance(r, AddResult)) == 1


def test_conflicting_writers_one_wins_the_rest_conflict(store: Store) -> None:
    store.upsert_coffees([make_coffee("c1")])
    results = _together(lambda i: store.add_feedback(make_feedback("f", "c1", minutes=i)))
    wins = [r for r in results if isinstance(r, AddResult)]
    assert len(wins) == 1 and wins[0].created
    assert all(isinstance(r, ConflictError) for r in results if r not in wins)
    assert store.feedback_for_user("ana") == [wins[0].record]


def test_profile_updates_race_exactly_one_wins(store: Store) -> None:
    store.save_profile(Profile("ana", np.zeros(PROFILE_DIM)), expected_version=0)
    for round_ in range(3):
        current = store.get_profile("ana")
        assert current is not None and current.version == round_ + 1

        def save(i: int, version: int = current.version) -> Profile:
            vector = np.full(PROFILE_DIM, float(i))
            return store.save_profile(Profile("ana", vector, n_feedback=i), version)

        results = _together(save)
        wins = [r for r in results if isinstance(r, Profile)]
        assert len(wins) == 1
        assert sum(isinstance(r, ConflictError) for r in results) == THREADS - 1
        latest = store.get_profile("ana")
        assert latest is not None and latest.n_feedback == wins[0].n_feedback
