"""Issue 10: a model saved with a word bag (before it was switched off) still exports and
passes the parity gate; new models (the tiny model) have none and are gated in test_parity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taste2vec.edge.export import build_bundle
from taste2vec.edge.parity import bundled_gate_records
from taste2vec.edge.spec import FORMATS, TOLERANCES
from taste2vec.model.taste2vec import Taste2Vec

pytestmark = [pytest.mark.xdist_group("edge")]


@pytest.fixture(scope="module")
def word_bag_model_dir(minilm, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """A small model trained with the word bag, saved in the format from before the switch."""
    from taste2vec.training.corpus import build_corpus
    from taste2vec.training.train import TrainConfig, train

    corpus = build_corpus(None)
    corpus.train, corpus.val = corpus.train[:200], corpus.val[:40]
    cfg = TrainConfig(epochs=1, seed=1, word_bag=True, refit=False)
    result = train(corpus, minilm, cfg, progress=False)
    out = tmp_path_factory.mktemp("word-bag") / "model"
    result.model.save(out, corpus.info(), result.metrics())
    config = json.loads((out / "config.json").read_text())
    del config["network"]["word_bag"]  # models saved before the switch have no such key
    (out / "config.json").write_text(json.dumps(config))
    return out


def test_a_word_bag_model_exports_and_passes_the_gate(word_bag_model_dir: Path, minilm) -> None:  # type: ignore[no-untyped-def]
    model = Taste2Vec.load(word_bag_model_dir, text_encoder=minilm)
    assert model.net.cfg.word_bag and model.net.sensory.words is not None
    members, report = build_bundle(
        model, word_bag_model_dir, "onnx", bundled_gate_records(60), "bundled"
    )
    assert report.passed, report.summary()
    assert report.min_cosine >= TOLERANCES[FORMATS["onnx"].int8].min_cosine
    assert members
