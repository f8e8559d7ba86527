"""Taste profiles (optimistic concurrency) and coffee embeddings (round trip)."""

from __future__ import annotations

import numpy as np
import pytest

from taste2vec.errors import ConflictError, NotFoundError, SchemaError
from taste2vec.store import PROFILE_DIM, Profile, Store
from tests.store.helpers import make_coffee


def _vector(seed: int, dim: int = PROFILE_DIM) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def test_profile_create_read_update(store: Store) -> None:
    assert store.get_profile("ana") is None
    saved = store.save_profile(Profile("ana", _vector(1), n_feedback=1), expected_version=0)
    assert saved.version == 1 and saved.updated_at is not None
    read = store.get_profile("ana")
    assert read is not None and read.version == 1 and read.n_feedback == 1
    np.testing.assert_array_equal(read.vector, _vector(1))
    assert read.vector.dtype == np.float32 and read.vector.shape == (PROFILE_DIM,)
    again = store.save_profile(Profile("ana", _vector(2), n_feedback=2), read.version)
    assert again.version == 2
    latest = store.get_profile("ana")
    assert latest is not None and latest.n_feedback == 2
    np.testing.assert_array_equal(latest.vector, _vector(2))
    assert store.get_user("ana") is not None


def test_stale_versions_conflict(store: Store) -> None:
    store.save_profile(Profile("ana", _vector(1)), expected_version=0)
    with pytest.raises(ConflictError, match="expected version 0, found version 1"):
        store.save_profile(Profile("ana", _vector(2)), expected_version=0)
    store.save_profile(Profile("ana", _vector(3)), expected_version=1)
    with pytest.raises(ConflictError, match="expected version 1, found version 2"):
        store.save_profile(Profile("ana", _vector(4)), expected_version=1)
    with pytest.raises(ConflictError, match="found no profile"):
        store.save_profile(Profile("bob", _vector(5)), expected_version=3)
    latest = store.get_profile("ana")
    assert latest is not None and latest.version == 2
    np.testing.assert_array_equal(latest.vector, _vector(3))


def test_profile_vectors_are_validated_and_read_only() -> None:
    with pytest.raises(SchemaError, match="128 values"):
        Profile("ana", np.zeros(64))
    with pytest.raises(SchemaError, match="NaN"):
        Profile("ana", np.full(PROFILE_DIM, np.nan))
    source = np.ones(PROFILE_DIM)
    profile = Profile("ana", source)
    source[0] = 5.0
    assert profile.vector[0] == 1.0 and not profile.vector.flags.writeable


def test_embeddings_round_trip_per_model_version(store: Store) -> None:
    store.upsert_coffees([make_coffee(c) for c in ("b", "a", "c")])
    vectors = {"b": _vector(2, 16), "a": _vector(1, 16), "c": _vector(3, 16)}
    assert store.put_coffee_embeddings("m1", vectors) == 3
    store.put_coffee_embeddings("m2", {"a": _vector(9, 8)})
    ids, matrix = store.get_coffee_embeddings("m1")
    assert ids == ["a", "b", "c"]
    assert matrix.dtype == np.float32 and matrix.shape == (3, 16)
    np.testing.assert_array_equal(matrix, np.stack([vectors[i] for i in ids]))
    store.put_coffee_embeddings("m1", {"b": _vector(7, 16)})  # replace one
    np.testing.assert_array_equal(store.get_coffee_embeddings("m1")[1][1], _vector(7, 16))
    assert store.get_coffee_embeddings("m2")[1].shape == (1, 8)
    empty_ids, empty = store.get_coffee_embeddings("none")
    assert empty_ids == [] and empty.shape == (0, 0)


def test_embeddings_need_known_coffees_and_one_length(store: Store) -> None:
    store.upsert_coffees([make_coffee("a"), make_coffee("b")])
    with pytest.raises(NotFoundError, match="'ghost'"):
        store.put_coffee_embeddings("m1", {"a": _vector(1, 4), "ghost": _vector(2, 4)})
    with pytest.raises(SchemaError, match="same length"):
        store.put_coffee_embeddings("m1", {"a": _vector(1, 4), "b": _vector(2, 5)})
    assert store.get_coffee_embeddings("m1")[0] == []
    assert store.put_coffee_embeddings("m1", {}) == 0


def test_deleting_a_coffee_drops_its_embeddings(store: Store) -> None:
    store.upsert_coffees([make_coffee("a"), make_coffee("b")])
    store.put_coffee_embeddings("m1", {"a": _vector(1, 4), "b": _vector(2, 4)})
    store.delete_coffee("a")
    assert store.get_coffee_embeddings("m1")[0] == ["b"]
