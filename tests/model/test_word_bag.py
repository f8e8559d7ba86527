"""Issue 10: new models have no learned word bag; saved models with one load unchanged."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from taste2vec.model.network import WORD_BAG
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.vocab import SensoryVocabulary
from taste2vec.training.train import TrainConfig
from tests.model.test_model import _records, _scaler


def _vocab() -> SensoryVocabulary:
    vocab = SensoryVocabulary.fit([r.notes for r in _records()] * 3, min_df=2)
    rng = np.random.default_rng(0)
    return vocab.with_reading(rng.normal(size=(vocab.size, 12)), np.zeros(12))


def _model(word_bag: bool | None = None) -> Taste2Vec:
    from tests.conftest import HashingEncoder

    torch.manual_seed(0)
    if word_bag is None:
        return Taste2Vec.create(_scaler(), HashingEncoder(), vocab=_vocab())
    return Taste2Vec.create(_scaler(), HashingEncoder(), vocab=_vocab(), word_bag=word_bag)


def _shifted_words(m: Taste2Vec) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of the same records with the word bag input changed, readings fixed."""
    batch = m.featurize(_records())
    assert batch.words.shape[1] == m.vocab.size > 0
    other = dataclasses.replace(batch, words=torch.rand(batch.words.shape))
    return m.embed_batch(batch), m.embed_batch(other)


def test_new_models_have_no_word_bag() -> None:
    assert WORD_BAG is False and TrainConfig().word_bag is False
    m = _model()
    assert m.net.cfg.word_bag is False and m.net.sensory.words is None
    assert not [k for k in m.net.state_dict() if k.startswith("sensory.words")]
    # the words reach the vector only through the readings: with the readings held
    # fixed, a different word bag row leaves the vector unchanged
    before, after = _shifted_words(m)
    np.testing.assert_array_equal(before, after)
    # ... and the readings still come from the vocabulary
    assert float(m.featurize(_records()).reading.abs().sum()) > 0


def test_word_bag_off_round_trips(tmp_path: Path) -> None:
    m = _model()
    m.save(tmp_path / "m", {}, {})
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["network"]["word_bag"] is False
    loaded = Taste2Vec.load(tmp_path / "m", text_encoder=m.text_encoder)
    assert loaded.net.cfg.word_bag is False
    np.testing.assert_array_equal(m.embed(_records()), loaded.embed(_records()))


def test_a_saved_model_with_a_word_bag_still_loads_and_runs_unchanged(tmp_path: Path) -> None:
    """Models saved before the switch have no ``word_bag`` key and a word bag in the weights."""
    m = _model(word_bag=True)
    assert m.net.sensory.words is not None
    m.save(tmp_path / "m", {}, {})
    path = tmp_path / "m" / "config.json"
    config = json.loads(path.read_text())
    del config["network"]["word_bag"]  # the old format
    path.write_text(json.dumps(config))
    loaded = Taste2Vec.load(tmp_path / "m", text_encoder=m.text_encoder)
    assert loaded.net.cfg.word_bag is True
    assert any(k.startswith("sensory.words") for k in loaded.net.state_dict())
    np.testing.assert_array_equal(m.embed(_records()), loaded.embed(_records()))
    before, after = _shifted_words(loaded)  # the word bag is used
    assert np.abs(before - after).max() > 1e-4
