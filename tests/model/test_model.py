"""The Taste2Vec network and model object: shapes, norms, determinism, round trip."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch

from taste2vec.errors import ArtifactError
from taste2vec.model.features import CONTEXT_DIM, context_histories, encode_context
from taste2vec.model.scaler import MetricScaler
from taste2vec.model.taste2vec import Taste2Vec, ancestry_matrix
from taste2vec.model.vocab import SensoryVocabulary
from taste2vec.schema import Context, Metrics, TasteRecord
from tests.conftest import HashingEncoder


def _records() -> list[TasteRecord]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        TasteRecord(
            id="a",
            user="u1",
            timestamp=t0,
            notes="Bright lemon and jasmine, tea-like body",
            metrics=Metrics(acidity=8, body=3, water_temp_c=94),
            context=Context(hour=8, mood=7, location_type="home"),  # type: ignore[arg-type]
        ),
        TasteRecord(
            id="b",
            user="u1",
            timestamp=t0 + timedelta(days=1),
            notes="다크 초콜릿과 견과류, 묵직한 바디",
            metrics=Metrics(bitterness=6, body=8),
            context=Context(hour=15, social_setting="friends"),  # type: ignore[arg-type]
        ),
        TasteRecord(id="c", user="u2", notes="", metrics=Metrics(acidity=5)),
        TasteRecord(id="d", user="u3", notes="jammy blueberry, cocoa nib"),
    ]


def _scaler() -> MetricScaler:
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 10, size=(50, 20)).astype(np.float32)
    return MetricScaler.fit(values, np.ones_like(values))


def _sensory_cols() -> list[int]:
    from taste2vec.model.network import SENSORY_COLUMNS

    return list(SENSORY_COLUMNS)


def _model(seed: int = 0) -> Taste2Vec:
    torch.manual_seed(seed)
    notes = [r.notes for r in _records()] * 3
    vocab = SensoryVocabulary.fit(notes, min_df=2)
    rng = np.random.default_rng(seed)
    vocab = vocab.with_reading(rng.normal(size=(vocab.size, 12)), np.zeros(12))
    return Taste2Vec.create(_scaler(), HashingEncoder(), vocab=vocab)


def test_embedding_shape_and_unit_norm() -> None:
    emb = _model().embed(_records())
    assert emb.shape == (4, 128) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_same_seed_same_model_and_repeatable_embeddings() -> None:
    a, b = _model(3), _model(3)
    recs = _records()
    np.testing.assert_array_equal(a.embed(recs), b.embed(recs))
    np.testing.assert_array_equal(a.embed(recs), a.embed(recs))
    assert not np.allclose(a.embed(recs), _model(4).embed(recs))


def test_batch_composition_does_not_change_a_row() -> None:
    m = _model()
    recs = _records()
    histories = context_histories(recs)
    full = m.embed(recs, histories)
    alone = m.embed(recs[3:], histories[3:])
    np.testing.assert_allclose(full[3], alone[0], atol=1e-5)


def test_inputs_are_not_mutated() -> None:
    m = _model()
    recs = _records()
    before = copy.deepcopy([r.model_dump() for r in recs])
    batch = m.featurize(recs)
    saved = {k: v.clone() for k, v in vars(batch).items()}
    m.embed_batch(batch)
    m.embed_batch(batch.text_view())
    assert [r.model_dump() for r in recs] == before
    for k, v in vars(batch).items():
        assert torch.equal(v, saved[k]), k


def test_missing_metrics_differ_from_zero_metrics() -> None:
    m = _model()
    missing = TasteRecord(id="x", user="u", notes="citrus")
    zero = TasteRecord(id="x", user="u", notes="citrus", metrics=Metrics(acidity=0))
    assert not np.allclose(m.embed([missing]), m.embed([zero]))


def test_views_mask_the_right_inputs() -> None:
    batch = _model().featurize(_records())
    tv, nv = batch.text_view(), batch.numeric_view()
    assert float(tv.numeric_mask.sum()) == 0 and float(tv.lex_nodes.sum()) > 0
    assert float(tv.words.sum()) > 0 and float(tv.reading.abs().sum()) > 0
    assert float(nv.text_present.sum()) == 0 and float(nv.lex_nodes.sum()) == 0
    assert float(nv.words.sum()) == 0 and float(nv.reading.abs().sum()) == 0
    assert float(nv.numeric_mask.sum()) == float(batch.numeric_mask.sum())


def test_korean_and_english_notes_find_lexicon_nodes() -> None:
    batch = _model().featurize(_records())
    assert float(batch.lex_nodes[0].sum()) > 0  # lemon, jasmine
    assert float(batch.lex_nodes[1].sum()) > 0  # 다크 초콜릿, 견과류
    assert float(batch.text_present[2]) == 0


def test_context_history_is_the_users_recent_contexts() -> None:
    recs = _records()
    hist = context_histories(recs)
    assert [len(h) for h in hist] == [1, 2, 0, 0]
    batch = _model().featurize(recs)
    assert batch.context.shape[2] == CONTEXT_DIM
    assert batch.context_len.tolist() == [1, 2, 1, 1]
    assert float(batch.context[2].abs().sum()) == 0  # no context: one all-missing step
    vec = encode_context(Context(hour=12))
    assert vec[0] == pytest.approx(0.5) and vec[8] == 1.0 and vec[9:16].sum() == 0


def test_context_changes_the_embedding() -> None:
    m = _model()
    rec = _records()[0]
    with_ctx = m.embed([rec])
    without = m.embed([rec.model_copy(update={"context": None})])
    assert not np.allclose(with_ctx, without)


def test_ancestry_matrix_is_hierarchical() -> None:
    m = _model()
    a = ancestry_matrix(m.lexicon)
    levels = torch.tensor([n.level for n in m.lexicon.nodes], dtype=torch.float32)
    assert torch.equal(a.sum(dim=1), levels)  # a tier-3 node has itself + 2 ancestors


def test_explanations_name_every_sensory_metric_and_family() -> None:
    m = _model()
    emb, why = m.encode(_records())
    assert len(why) == 4
    assert set(why[0].sensory) >= {"acidity", "sweetness", "bitterness", "body", "aftertaste"}
    assert all(0 <= v <= 10 for v in why[0].sensory.values())
    assert list(why[0].families) and set(why[0].families) == set(m.lexicon.families)
    probs = list(why[0].families.values())
    assert probs == sorted(probs, reverse=True)


def test_save_load_round_trip(tmp_path: Path) -> None:
    m = _model()
    enc = m.text_encoder
    m.save(tmp_path / "m", {"fingerprint": "x"}, {"best_epoch": 1})
    loaded = Taste2Vec.load(tmp_path / "m", text_encoder=enc)
    recs = _records()
    np.testing.assert_array_equal(m.embed(recs), loaded.embed(recs))
    files = {p.name for p in (tmp_path / "m").iterdir()}
    assert {"config.json", "model.safetensors", "scaler.json", "lexicon.json"} <= files
    assert {"data.json", "metrics.json"} <= files
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["text_model_id"] == enc.model_id and len(config["metric_names"]) == 20


def test_save_replaces_atomically_and_load_rejects_broken_dirs(tmp_path: Path) -> None:
    m = _model()
    enc = m.text_encoder
    target = tmp_path / "m"
    m.save(target, {}, {})
    m.save(target, {}, {})  # overwrite
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    with pytest.raises(ArtifactError, match="no model"):
        Taste2Vec.load(tmp_path / "nope", text_encoder=enc)
    (target / "lexicon.json").write_text(json.dumps({"version": "other"}))
    with pytest.raises(ArtifactError, match="lexicon"):
        Taste2Vec.load(target, text_encoder=enc)
    (target / "scaler.json").unlink()
    with pytest.raises(ArtifactError, match="incomplete"):
        Taste2Vec.load(target, text_encoder=enc)


def test_load_rejects_a_different_text_model(tmp_path: Path) -> None:
    m = _model()
    m.save(tmp_path / "m", {}, {})
    other = HashingEncoder()
    other.model_id = "something-else"  # type: ignore[misc]
    with pytest.raises(ArtifactError, match="text model"):
        Taste2Vec.load(tmp_path / "m", text_encoder=other)


def test_the_decodable_block_is_read_back_exactly_by_a_linear_map() -> None:
    """Issue 10: the readings and family evidence survive the unit normalisation."""
    m = _model()
    batch = m.featurize(_records() * 4)
    batch = dataclasses.replace(batch, reading=torch.randn(batch.reading.shape) * 2)
    emb = m.embed_batch(batch)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    cfg = m.net.cfg
    readings = batch.reading.clamp(-cfg.reading_clip, cfg.reading_clip).numpy()
    evidence = m.net.family_evidence(batch.lex_nodes).numpy()
    decoded_r, decoded_f, notes = m.net.decode(torch.from_numpy(emb))
    np.testing.assert_allclose(decoded_r.numpy(), readings, atol=1e-4)
    np.testing.assert_allclose(decoded_f.numpy(), evidence, atol=1e-4)
    np.testing.assert_allclose(notes.numpy(), batch.text_present.numpy(), atol=1e-4)
    assert evidence[0].sum() > 0 and evidence[2].sum() == 0  # notes vs no notes
    # decoded_readings: the same block on a metric scale, no head involved
    points = m.decoded_readings(emb, scale="app")
    np.testing.assert_allclose(points, m.scaler.inverse(readings, _sensory_cols()), atol=1e-3)
    # Any linear read-out of the vector (least squares, no knowledge of the layout) too.
    x = np.hstack([emb, np.ones((len(emb), 1), dtype=np.float32)]).astype(np.float64)
    coef, *_ = np.linalg.lstsq(x, readings.astype(np.float64), rcond=None)
    np.testing.assert_allclose(x @ coef, readings, atol=1e-3)


def test_heads_start_from_the_block_and_are_functions_of_the_vector() -> None:
    m = _model()
    batch = m.featurize(_records())
    emb = torch.from_numpy(m.embed_batch(batch))
    z, logits = m.net.heads(emb)
    readings, evidence, notes = m.net.decode(emb)
    # untrained: residuals are zero, so the heads equal the decoded block
    torch.testing.assert_close(z, readings, atol=1e-4, rtol=0)
    torch.testing.assert_close(logits, evidence * 8 - notes * 4, atol=1e-3, rtol=0)
    assert float(logits[2].detach().abs().max()) < 1e-3  # no notes: unknown, not absent
    # predictions on the requested scale
    cr, _ = m.predict_heads(emb.numpy(), scale="coffeereview")
    app, _ = m.predict_heads(emb.numpy())
    assert cr.shape == app.shape == (4, 12)


def test_load_refuses_a_format_1_model_with_a_retrain_hint(tmp_path: Path) -> None:
    m = _model()
    m.save(tmp_path / "m", {}, {})
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["format_version"] = 1
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="format 1.*retrain with: taste2vec train"):
        Taste2Vec.load(tmp_path / "m", text_encoder=m.text_encoder)
