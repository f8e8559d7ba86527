"""Fixtures for the engine tests: one model per session, one engine per test."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from taste2vec.data.demo import load_demo_catalogue
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.recommend.engine import RecommendationEngine
from taste2vec.schema import Coffee

TRAINED = Path(__file__).resolve().parents[2] / "artifacts" / "model"


@pytest.fixture(scope="session")
def rec_model(request: pytest.FixtureRequest) -> Taste2Vec:
    """The trained model in artifacts/model when present, else the session's tiny model.

    Set ``T2V_TESTS_TINY_MODEL=1`` to use the tiny model anyway (what a fresh clone gets).
    """
    minilm = request.getfixturevalue("minilm")
    config = TRAINED / "config.json"
    if config.exists() and not os.environ.get("T2V_TESTS_TINY_MODEL"):
        # The artifact names its text tower; the shared MiniLM encoder only fits a MiniLM one
        # (the default tower is static: Taste2Vec.load then builds it from the artifact).
        static = str(json.loads(config.read_text()).get("text_model_id", "")).startswith("static-")
        return Taste2Vec.load(TRAINED, text_encoder=None if static else minilm)
    return Taste2Vec.load(request.getfixturevalue("tiny_model_dir"), text_encoder=minilm)


@pytest.fixture(scope="session")
def catalogue() -> list[Coffee]:
    return load_demo_catalogue()


@pytest.fixture
def make_engine(
    rec_model: Taste2Vec, catalogue: list[Coffee]
) -> Callable[..., RecommendationEngine]:
    def make(coffees: list[Coffee] | None = None, **kwargs: object) -> RecommendationEngine:
        return RecommendationEngine(rec_model, coffees or catalogue, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def engine(make_engine: Callable[..., RecommendationEngine]) -> RecommendationEngine:
    return make_engine()
