"""ModelHolder: atomic swaps while many threads embed; versions; compare-and-swap."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from taste2vec.data.demo import demo_records
from taste2vec.learning.holder import ModelHolder, Versioned
from taste2vec.learning.learner import clone_model
from taste2vec.model.taste2vec import Taste2Vec


def _versions(model: Taste2Vec, n: int) -> list[Taste2Vec]:
    """``n`` models whose embeddings all differ (the fusion bias is shifted per version)."""
    out = []
    for k in range(n):
        m = clone_model(model)
        with torch.no_grad():
            m.net.fusion.bias.add_(0.05 * k)
        out.append(m)
    return out


def test_readers_never_fail_and_every_result_comes_from_one_version(
    tiny_model: Taste2Vec,
) -> None:
    records = demo_records()[:6]
    models = _versions(tiny_model, 12)
    expected = [m.embed(records) for m in models]
    for i in range(len(expected)):
        for j in range(i):
            assert not np.allclose(expected[i], expected[j], atol=1e-4)
    holder = ModelHolder(models[0])
    done = threading.Event()
    errors: list[BaseException] = []
    seen: list[int] = []

    def reader() -> None:
        try:
            while not done.is_set():
                snap = holder.snapshot()  # one read per request
                out = snap.model.embed(records)
                matches = [k for k, e in enumerate(expected) if np.allclose(out, e, atol=1e-5)]
                assert matches == [snap.version], (matches, snap.version)
                seen.append(snap.version)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for k in range(1, len(models)):
        time.sleep(0.02)
        assert holder.swap(models[k]) == k
    time.sleep(0.05)
    done.set()
    for t in threads:
        t.join(30)
    assert not errors, errors[0]
    assert holder.version == len(models) - 1 and holder.get() is models[-1]
    assert len(set(seen)) >= 3  # readers really ran across swaps
    assert seen  # and produced results


def test_compare_and_swap_and_listeners(tiny_model: Taste2Vec) -> None:
    a, b, c = _versions(tiny_model, 3)
    holder = ModelHolder(a)
    heard: list[Versioned] = []
    holder.subscribe(heard.append)
    holder.subscribe(lambda v: 1 / 0)  # a failing listener is logged, not raised
    assert holder.swap(b, expected_version=0) == 1
    assert holder.swap(c, expected_version=0) is None  # stale: someone swapped first
    assert holder.get() is b and holder.version == 1
    assert heard == [Versioned(1, b)]
    with pytest.raises(ValueError, match="new model"):
        holder.swap(b)
