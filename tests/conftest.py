"""Shared fixtures. Expensive objects (the MiniLM encoder) are loaded once per session."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


class HashingEncoder:
    """A tiny deterministic stand-in for the text tower: hashed bag of words, L2-normalised."""

    model_id = "hashing-test-encoder"

    def __init__(self, dim: int = 32) -> None:
        self.dim = dim
        self.calls = 0

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int(hashlib.md5(word.encode(), usedforsecurity=False).hexdigest()[:8], 16)
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            if norm > 0:
                out[i] /= norm
        return out


@pytest.fixture
def hashing_encoder() -> HashingEncoder:
    return HashingEncoder()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "coffeereview").is_dir():
        pytest.skip(f"research data not found at {SHARED_DATA} (set up ../shared/datasets)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def minilm(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The real all-MiniLM-L6-v2 text encoder, loaded offline once per session."""
    from taste2vec.model.text import HFSentenceEncoder

    cache = Path(".cache/taste2vec-tests/text-embeddings.sqlite")
    return HFSentenceEncoder(cache_path=cache)


@pytest.fixture(scope="session")
def tiny_model_dir(minilm, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """A small model trained for two epochs on bundled data with the real text tower."""
    from taste2vec.training.corpus import build_corpus
    from taste2vec.training.train import TrainConfig, train

    corpus = build_corpus(None)
    corpus.train, corpus.val = corpus.train[:400], corpus.val[:80]
    result = train(corpus, minilm, TrainConfig(epochs=2, seed=1), progress=False)
    out = tmp_path_factory.mktemp("tiny") / "model"
    result.model.save(out, corpus.info(), result.metrics())
    return out
