"""The static text tower: distillation is deterministic, encoding is a unit mean, config picks it.

Distillation runs the real MiniLM, but on a tiny vocabulary (a few dozen WordPieces and
two lexicon phrases), so the test takes seconds; the full table is built by the benches.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from taste2vec.config import Settings
from taste2vec.errors import ModelError
from taste2vec.model import taste2vec as t2v_module
from taste2vec.model import text_static
from taste2vec.model.text import HFSentenceEncoder
from taste2vec.model.text_static import StaticEncoder, StaticTable, distill, lexicon_phrases

pytestmark = pytest.mark.slow

WORDS = (
    "bright lemon acidity juicy plum cocoa dark chocolate walnut honey jasmine sweet "
    "body syrupy smoky finish and with a the black currant brown sugar orange zest"
).split()
SURFACES = ("black currant", "brown sugar", "blackcurrant", "lemon")


def _tiny_table(minilm: HFSentenceEncoder, dims: int = 8) -> StaticTable:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(minilm.path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    ids = sorted({i for w in WORDS for i in tokenizer.encode(w, add_special_tokens=False).ids})
    phrases = lexicon_phrases(tokenizer, SURFACES)
    return distill(minilm.model, tokenizer, phrases, dims=dims, token_ids=ids)


@pytest.fixture(scope="module")
def tiny_table(minilm: HFSentenceEncoder) -> StaticTable:
    return _tiny_table(minilm)


@pytest.fixture(scope="module")
def static(minilm: HFSentenceEncoder, tiny_table: StaticTable) -> StaticEncoder:
    return StaticEncoder(path=minilm.path, surfaces=SURFACES, table=tiny_table)


def test_distillation_is_deterministic(minilm: HFSentenceEncoder, tiny_table: StaticTable) -> None:
    again = _tiny_table(minilm)
    np.testing.assert_array_equal(again.vectors, tiny_table.vectors)
    np.testing.assert_array_equal(again.keep, tiny_table.keep)
    assert again.phrases == tiny_table.phrases


def test_table_layout(tiny_table: StaticTable) -> None:
    # "lemon" is one WordPiece (no phrase row); "blackcurrant" splits, so it gets one.
    assert tiny_table.phrases == ("black currant", "blackcurrant", "brown sugar")
    assert tiny_table.vectors.shape == (tiny_table.n_tokens + 3, 8)
    assert tiny_table.vectors.dtype == np.float32
    # Tokens outside the vocabulary given have no row; every kept row and phrase has one.
    assert not tiny_table.vectors[~np.r_[tiny_table.keep, [True] * 3]].any()
    assert (np.abs(tiny_table.vectors[np.r_[tiny_table.keep, [True] * 3]]).sum(axis=1) > 0).all()


def test_encode_is_a_unit_vector_per_note(static: StaticEncoder) -> None:
    emb = static.encode(["bright lemon acidity", "", "dark chocolate, walnut", "\u2603\u2603"])
    assert emb.shape == (4, 8)
    assert emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb[[0, 2]], axis=1), 1.0, atol=1e-5)
    assert not emb[1].any()  # empty note: zeros, flagged as missing by the features
    assert not emb[3].any()  # nothing the table knows: zeros, not NaN
    # Order and batching do not matter: each note is its own mean.
    np.testing.assert_allclose(static.encode(["dark chocolate, walnut"])[0], emb[2], atol=1e-6)


def test_lexicon_phrases_are_matched_before_wordpieces(
    static: StaticEncoder, tiny_table: StaticTable
) -> None:
    n = tiny_table.n_tokens
    rows = static.rows("Black-currant and brown sugar; blackcurrant.")
    phrase_rows = [r - n for r in rows if r >= n]
    assert [tiny_table.phrases[r] for r in phrase_rows] == [
        "black currant",
        "brown sugar",
        "blackcurrant",
    ]
    # The mean of a phrase's own row, not of its words' rows.
    one = static.encode(["brown sugar"])[0]
    row = tiny_table.vectors[n + tiny_table.phrases.index("brown sugar")]
    np.testing.assert_allclose(one, row / np.linalg.norm(row), atol=1e-6)


def test_table_is_cached_and_reloaded(
    minilm: HFSentenceEncoder,
    tiny_table: StaticTable,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[int] = []

    def fake_distill(*args: Any, **kwargs: Any) -> StaticTable:
        built.append(1)
        return tiny_table

    monkeypatch.setattr(text_static, "distill", fake_distill)
    first = StaticEncoder(path=minilm.path, cache_dir=tmp_path, surfaces=SURFACES, progress=False)
    assert built == [1] and first.cache_file is not None and first.cache_file.is_file()
    second = StaticEncoder(path=minilm.path, cache_dir=tmp_path, surfaces=SURFACES)
    assert built == [1]  # loaded, not distilled again
    np.testing.assert_array_equal(second.table.vectors, tiny_table.vectors)
    assert second.model_id == first.model_id
    # Another recipe parameter is another key (and another file).
    other = StaticEncoder(path=minilm.path, cache_dir=tmp_path, dims=16, surfaces=SURFACES)
    assert other.key != first.key and built == [1, 1]


def test_bad_settings_are_clear_errors(minilm: HFSentenceEncoder, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="dims"):
        StaticEncoder(path=minilm.path, dims=4, surfaces=SURFACES)
    with pytest.raises(ModelError, match="tokenizer.json"):
        StaticEncoder(path=tmp_path, surfaces=SURFACES)


def test_config_switch_picks_the_tower(
    monkeypatch: pytest.MonkeyPatch, static: StaticEncoder
) -> None:
    monkeypatch.setenv("T2V_TEXT_TOWER", "static")
    settings = Settings()
    assert settings.text_tower == "static"
    assert Settings(text_tower="minilm").text_tower == "minilm"
    with pytest.raises(ValueError, match="text_tower"):
        Settings(text_tower="bert")  # type: ignore[arg-type]

    made: list[Sequence[Any]] = []

    def fake_static(path: Path | None, cache_dir: Path | None) -> StaticEncoder:
        made.append((path, cache_dir))
        return static

    monkeypatch.setattr(t2v_module, "_shared_static", fake_static)
    assert t2v_module.text_encoder_for(settings) is static
    assert made == [(None, settings.cache_dir)]
    minilm_enc = t2v_module.text_encoder_for(settings, "minilm")
    assert isinstance(minilm_enc, HFSentenceEncoder)


def test_static_model_trains_saves_and_loads_with_its_tower(
    static: StaticEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taste2vec.model.taste2vec import Taste2Vec
    from taste2vec.training.corpus import build_corpus
    from taste2vec.training.train import TrainConfig, train

    corpus = build_corpus(None)
    corpus.train, corpus.val = corpus.train[:200], corpus.val[:40]
    result = train(corpus, static, TrainConfig(epochs=1, seed=1, refit=False), progress=False)
    out = tmp_path / "model"
    result.model.save(out, corpus.info(), result.metrics())
    monkeypatch.setattr(t2v_module, "_shared_static", lambda path, cache_dir: static)
    # The default configuration names MiniLM; the artifact's own tower wins.
    loaded = Taste2Vec.load(out, Settings(text_tower="minilm"))
    assert loaded.text_encoder is static
    recs = corpus.val[:5]
    np.testing.assert_allclose(loaded.embed(recs), result.model.embed(recs), atol=1e-6)
