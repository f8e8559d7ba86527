"""The real text tower: MiniLM loads offline, caches, and Korean notes reach it in English."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taste2vec.errors import ModelError
from taste2vec.lexicon import load_lexicon
from taste2vec.model.text import HFSentenceEncoder

pytestmark = pytest.mark.slow


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_minilm_loads_offline_and_embeds(minilm: HFSentenceEncoder) -> None:
    emb = minilm.encode(["bright lemon acidity", "", "dark chocolate and walnut"])
    assert emb.shape == (3, 384)
    assert np.allclose(emb[1], 0.0)  # empty notes: zero vector, flagged as missing by features
    np.testing.assert_allclose(np.linalg.norm(emb[[0, 2]], axis=1), 1.0, atol=1e-5)


def test_cache_serves_repeats_and_persists(tmp_path: Path, minilm: HFSentenceEncoder) -> None:
    enc = HFSentenceEncoder(path=minilm.path, cache_path=tmp_path / "c.sqlite")
    first = enc.encode(["jammy blackberry"])
    again = HFSentenceEncoder(path=minilm.path, cache_path=tmp_path / "c.sqlite")
    again.model = None  # a cache hit must not touch the transformer
    np.testing.assert_array_equal(again.encode(["jammy blackberry"]), first)


def test_batching_does_not_change_results(minilm: HFSentenceEncoder) -> None:
    texts = ["plum", "a much longer note about plum, cocoa, cedar and a syrupy body"]
    together = minilm.embed_tokens(texts)
    alone = minilm.embed_tokens(texts[:1])
    np.testing.assert_allclose(together[0], alone[0], atol=1e-5)


def test_korean_note_lands_near_its_english_equivalent(minilm: HFSentenceEncoder) -> None:
    lex = load_lexicon()
    ko = lex.render_english("자몽과 재스민 향, 꿀 같은 단맛")
    en = "grapefruit and jasmine, honey sweetness"
    other = "smoky dark roast with burnt, ashy bitterness"
    raw_ko = "자몽과 재스민 향, 꿀 같은 단맛"
    e_ko, e_en, e_other, e_raw = minilm.encode([ko, en, other, raw_ko])
    assert _cos(e_ko, e_en) > 0.6
    assert _cos(e_ko, e_en) > _cos(e_ko, e_other) + 0.2
    # Without the lexicon, MiniLM sees unknown tokens and cannot tell.
    assert _cos(e_ko, e_en) > _cos(e_raw, e_en) + 0.2


def test_bad_model_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="nothing is downloaded"):
        HFSentenceEncoder(path=tmp_path)
