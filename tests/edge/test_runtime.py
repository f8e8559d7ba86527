"""The torch-free reference runtime: same inputs as the cloud featurizer, stands alone."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from taste2vec.edge.graph import MiniLM, UnrolledLSTM
from taste2vec.edge.parity import ParityReport, as_edge_record, bundled_gate_records
from taste2vec.edge.runtime import BundleFiles, EdgeRuntime
from taste2vec.edge.spec import CHECKSUM_FILE, METADATA_FILE, TFLITE_BUCKETS
from taste2vec.errors import ArtifactError, SchemaError
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.text import HFSentenceEncoder

from .conftest import run_torch_free

pytestmark = [pytest.mark.xdist_group("edge")]

Bundles = dict[str, tuple[Path, ParityReport]]


@pytest.fixture(scope="module")
def onnx_runtime(edge_bundles: Bundles) -> EdgeRuntime:
    return EdgeRuntime.open(edge_bundles["onnx"][0])


def test_runtime_inputs_equal_the_cloud_featurizer(
    onnx_runtime: EdgeRuntime, edge_model: Taste2Vec, minilm: HFSentenceEncoder
) -> None:
    records = bundled_gate_records(40)
    for rec in records:
        feeds = onnx_runtime.features(as_edge_record(rec))
        batch = edge_model.featurize([rec], [[rec.context] if rec.context else []])
        for name in ("lex_nodes", "lex_attrs", "words", "numeric", "numeric_mask", "text_present"):
            np.testing.assert_allclose(
                feeds[name], getattr(batch, name).numpy(), atol=1e-6, err_msg=f"{rec.id} {name}"
            )
        steps = int(batch.context_len[0])
        assert int(feeds["context_len"][0]) == steps
        np.testing.assert_allclose(feeds["context"][0, :steps], batch.context[0, :steps].numpy())
        assert not feeds["context"][0, steps:].any()
        rendered = edge_model.lexicon.render_english(rec.notes)
        assert feeds["input_ids"][0].tolist() == minilm.tokenizer.encode(rendered).ids


def test_graph_pieces_match_the_torch_modules(
    edge_model: Taste2Vec, minilm: HFSentenceEncoder
) -> None:
    texts = ["bright lemon and black tea", "syrupy body, dark chocolate, long finish " * 4]
    expected = minilm.embed_tokens(texts)
    for lookup in ("index_select", "embedding"):
        ours = MiniLM.from_hf(minilm.model, lookup)
        for i, text in enumerate(texts):
            ids = torch.tensor([minilm.tokenizer.encode(text).ids])
            with torch.no_grad():
                got = ours(ids, torch.ones_like(ids)).numpy()[0]
            assert float(got @ expected[i]) > 0.99999
    tower = edge_model.net.context
    unrolled = UnrolledLSTM(tower.lstm, 8)
    seq = torch.rand(5, 8, tower.lstm.input_size)
    lengths = torch.tensor([1, 3, 8, 5, 2])
    seq[torch.arange(8).view(1, -1).expand(5, -1) >= lengths.view(-1, 1)] = 0.0
    with torch.no_grad():
        np.testing.assert_allclose(unrolled(seq, lengths), tower(seq, lengths), atol=1e-5)


def test_runtime_stands_alone_without_torch(edge_bundles: Bundles, tmp_path: Path) -> None:
    """Import and run the runtime with torch, transformers and pydantic made unimportable."""
    body = """
        from taste2vec.edge.runtime import EdgeRuntime
        out = {}
        for fmt, path in json.loads(sys.argv[1]).items():
            rt = EdgeRuntime.open(path)
            res = rt.run({"notes": "자몽과 재스민, 꿀 같은 단맛", "metrics": {"acidity": 7},
                          "context": {"hour": 8, "location_type": "home"}})
            out[fmt] = res.to_dict()["embedding"]
        result = {"out": out}
        """
    paths = {fmt: str(path) for fmt, (path, _) in edge_bundles.items()}
    result = run_torch_free(body, json.dumps(paths))  # fails if it imports torch & co.
    vectors = {fmt: np.asarray(v) for fmt, v in result["out"].items()}
    assert set(vectors) == set(paths)
    for vec in vectors.values():
        assert vec.shape == (128,) and abs(np.linalg.norm(vec) - 1.0) < 1e-3
        assert float(vec @ vectors["onnx"]) > 0.97


def test_tflite_buckets_cover_a_512_token_note(edge_bundles: Bundles) -> None:
    rt = EdgeRuntime.open(edge_bundles["tflite"][0])
    onnx = EdgeRuntime.open(edge_bundles["onnx"][0])
    long_note = {"notes": "juicy blackcurrant, cocoa nib and jasmine; syrupy. " * 80}
    feeds = rt.features(long_note)
    assert feeds["input_ids"].shape == (1, 512)  # truncated like the cloud encoder
    short = rt.features({"notes": "lemon"})
    assert short["input_ids"].shape[1] <= TFLITE_BUCKETS[0]
    for record in (long_note, {"notes": "lemon"}, {"notes": ""}):
        a, b = rt.run(record).embedding, onnx.run(record).embedding
        assert float(a @ b) > 0.999


def test_bundle_holds_what_the_app_needs(edge_bundles: Bundles) -> None:
    path, report = edge_bundles["onnx-int8"]
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        meta = json.loads(archive.read(METADATA_FILE))
    assert {
        "model.onnx",
        "tokenizer.json",
        "vocab.json",
        "scaler.json",
        "lexicon/wheel_nodes.csv",
        "lexicon/synonyms.json",
        "lexicon/NOTICE.md",
        METADATA_FILE,
        CHECKSUM_FILE,
    } == names
    assert meta["format"] == "onnx-int8" and meta["int8"] is True
    assert [i["name"] for i in meta["inputs"]][:2] == ["input_ids", "attention_mask"]
    assert [m["name"] for m in meta["metrics"]][:2] == ["water_temp_c", "grind_size_um"]
    assert meta["metrics"][0]["unit"] == "°C"
    assert {"notes", "metrics", "context"} <= set(meta["missing_values"])
    assert meta["parity"]["passed"] is True and meta["parity"] == report.to_dict()
    assert len(meta["sensory_metrics"]) == 12 and len(meta["families"]) == 9


def test_tampered_bundle_is_refused(edge_bundles: Bundles, tmp_path: Path) -> None:
    path = edge_bundles["onnx-int8"][0]
    members = BundleFiles.open(path)
    tampered = tmp_path / "tampered.t2vb"
    with zipfile.ZipFile(tampered, "w") as archive:
        for name in members.names():
            data = members.read(name)
            archive.writestr(name, data + b" " if name == "scaler.json" else data)
    with pytest.raises(ArtifactError, match="checksum mismatch for scaler.json"):
        EdgeRuntime.open(tampered)
    with pytest.raises(ArtifactError, match="cannot read edge bundle"):
        EdgeRuntime.open(tmp_path / "missing.t2vb")


def test_runtime_validates_records_like_the_api(onnx_runtime: EdgeRuntime) -> None:
    with pytest.raises(SchemaError, match="unknown metric"):
        onnx_runtime.features({"notes": "x", "metrics": {"acidty": 5}})
    with pytest.raises(SchemaError, match="acidity = 11 is outside 0 to 10"):
        onnx_runtime.features({"metrics": {"acidity": 11}})
    with pytest.raises(SchemaError, match="location_type"):
        onnx_runtime.features({"context": {"location_type": "moon"}})
    with pytest.raises(SchemaError, match="hour"):
        onnx_runtime.features({"context": {"hour": 24}})
    feeds = onnx_runtime.features({"notes": "  ", "metrics": {"acidity": None, "body": 4}})
    assert feeds["text_present"][0, 0] == 0.0
    assert feeds["numeric_mask"][0].sum() == 1.0
    assert int(feeds["context_len"][0]) == 1 and not feeds["context"].any()
