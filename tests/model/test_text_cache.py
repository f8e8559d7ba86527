"""The text tower's in-memory cache is bounded: a server embeds every new note it is sent."""

from __future__ import annotations

import numpy as np
import pytest

from taste2vec.config import Settings
from taste2vec.errors import ModelError
from taste2vec.model.text import HFSentenceEncoder, _MemoryCache


def _vec(i: int) -> np.ndarray:
    return np.full(4, i, dtype=np.float32)


def test_memory_cache_keeps_the_most_recently_used_up_to_its_size() -> None:
    cache = _MemoryCache(3)
    cache.put_many({f"k{i}": _vec(i) for i in range(3)})
    cache.get_many(["k0"])  # k0 is now the most recently used; k1 the least
    cache.put_many({"k3": _vec(3), "k4": _vec(4)})
    assert len(cache) == 3
    assert set(cache.get_many([f"k{i}" for i in range(5)])) == {"k0", "k3", "k4"}
    for i in range(100):  # many more distinct keys than the size: the count stays put
        cache.put_many({f"n{i}": _vec(i)})
        assert len(cache) == 3


def test_memory_cache_of_size_zero_keeps_nothing_and_negative_is_refused() -> None:
    cache = _MemoryCache(0)
    cache.put_many({"k": _vec(1)})
    assert len(cache) == 0
    with pytest.raises(ModelError, match=">= 0"):
        _MemoryCache(-1)


def test_text_cache_size_setting_is_validated() -> None:
    assert Settings().text_cache_size == 20_000
    assert Settings(text_cache_size=0).text_cache_size == 0
    with pytest.raises(ValueError, match="text_cache_size"):
        Settings(text_cache_size=-1)


@pytest.mark.slow
def test_encoder_cache_stays_at_its_size_and_answers_as_an_unbounded_one(
    minilm: HFSentenceEncoder,
) -> None:
    notes = [f"plum and cocoa, note {i}" for i in range(12)]
    small = HFSentenceEncoder(path=minilm.path, memory_size=4)
    for note in notes:  # one at a time, as requests come
        small.encode([note])
        assert len(small._memory) <= 4
    assert len(small._memory) == 4
    # A batch larger than the cache still gets every vector, equal to the reference's.
    both = small.encode([*notes, "", notes[0]])
    assert len(small._memory) == 4
    reference = minilm.embed_tokens(notes)
    np.testing.assert_allclose(both[:12], reference, atol=1e-5)
    np.testing.assert_allclose(both[13], reference[0], atol=1e-5)
    assert np.allclose(both[12], 0.0)
