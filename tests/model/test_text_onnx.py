"""The fast text backend (``onnx-int8``): same weights, vectors within the int8 parity gate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taste2vec.edge.export import reference_model
from taste2vec.edge.parity import bundled_gate_records, cloud_outputs, top_k_overlap
from taste2vec.edge.spec import TOLERANCES
from taste2vec.errors import ModelError
from taste2vec.lexicon import load_lexicon
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.text import HFSentenceEncoder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def int8(minilm: HFSentenceEncoder, tmp_path_factory: pytest.TempPathFactory) -> HFSentenceEncoder:
    cache = tmp_path_factory.mktemp("onnx-text") / "text-embeddings.sqlite"
    return HFSentenceEncoder(path=minilm.path, cache_path=cache, backend="onnx-int8")


def _gate_notes() -> list[str]:
    lex = load_lexicon()
    return [lex.render_english(r.notes) for r in bundled_gate_records(60) if r.notes.strip()]


def test_int8_text_vectors_stay_close_to_fp32(
    minilm: HFSentenceEncoder, int8: HFSentenceEncoder
) -> None:
    notes = _gate_notes()
    ref, fast = minilm.embed_tokens(notes), int8.encode(notes)
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-4)
    cos = np.sum(ref * fast, axis=1)
    assert cos.min() >= 0.95, cos.min()
    assert cos.mean() >= 0.99, cos.mean()
    # The graph file is kept beside the embedding cache for the next process.
    assert int8._onnx.path.parent.name.startswith("onnx-text")
    assert int8._onnx.path.is_file()


def test_int8_batches_sorted_by_length_give_the_same_vectors(int8: HFSentenceEncoder) -> None:
    texts = ["plum", "a much longer note about plum, cocoa, cedar and a syrupy body"]
    together = int8.embed_tokens(texts)
    alone = int8.embed_tokens(texts[:1])
    # Dynamic int8 quantisation scales activations per batch: close, not bit-equal.
    assert float(together[0] @ alone[0]) >= 0.99


def test_backends_never_share_cache_rows(tmp_path: Path, minilm: HFSentenceEncoder) -> None:
    cache = tmp_path / "text-embeddings.sqlite"
    fp32 = HFSentenceEncoder(path=minilm.path, cache_path=cache)
    fp32_vec = fp32.encode(["jammy blackberry"])
    fast = HFSentenceEncoder(path=minilm.path, cache_path=cache, backend="onnx-int8")
    assert fast.model_id == fp32.model_id  # a model trained with torch loads with either
    assert fast._key("jammy blackberry") != fp32._key("jammy blackberry")
    fast_vec = fast.encode(["jammy blackberry"])
    assert not np.array_equal(fast_vec, fp32_vec)  # computed, not read from fp32's row
    assert float(fast_vec[0] @ fp32_vec[0]) >= 0.95


def test_cloud_with_int8_text_passes_the_int8_parity_gate(
    tiny_model_dir: Path, minilm: HFSentenceEncoder, int8: HFSentenceEncoder
) -> None:
    """The whole record path (embedding and both heads), fp32 text vs int8 text."""
    ref = Taste2Vec.load(tiny_model_dir, text_encoder=minilm)
    fast = Taste2Vec.load(tiny_model_dir, text_encoder=int8)
    records = bundled_gate_records(60)
    e_ref, s_ref, f_ref = cloud_outputs(ref, records)
    e_fast, s_fast, f_fast = cloud_outputs(fast, records)
    tol = TOLERANCES[True]
    cos = np.sum(e_ref * e_fast, axis=1)
    assert cos.min() >= tol.min_cosine, cos.min()
    assert cos.mean() >= tol.mean_cosine, cos.mean()
    assert top_k_overlap(e_fast, e_ref) >= tol.min_top10_overlap
    assert np.abs(s_ref - s_fast).mean() <= tol.sensory_mae
    assert np.abs(s_ref - s_fast).max() <= tol.sensory_max
    assert np.abs(f_ref - f_fast).max() <= tol.family_max
    # Edge bundles are gated against the fp32 reference, whatever the cloud runs.
    gate = reference_model(fast).text_encoder
    assert isinstance(gate, HFSentenceEncoder) and gate.backend == "torch"
    assert reference_model(ref) is ref


def test_unknown_backend_is_a_clear_error(minilm: HFSentenceEncoder) -> None:
    with pytest.raises(ModelError, match="unknown text backend 'gpu'"):
        HFSentenceEncoder(path=minilm.path, backend="gpu")
