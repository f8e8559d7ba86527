"""Edge bundles of a static-text-tower model (``T2V_TEXT_TOWER=static``, issue 10 item 4).

The tiny static model: a table distilled from the real MiniLM over the WordPieces of the
gate records and the lexicon's English phrases (16 dimensions, seconds to build), and a
network trained one epoch on bundled data with it. Its bundles must pass the unchanged
parity gate in every format, and the runtime's rows must be the cloud tower's rows.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from taste2vec.edge.export import build_bundle, build_graph, with_checksums
from taste2vec.edge.graph import StaticText
from taste2vec.edge.parity import (
    ParityReport,
    as_edge_record,
    bundled_gate_records,
    check_parity,
    edge_case_records,
)
from taste2vec.edge.registry import pack_bundle
from taste2vec.edge.runtime import BundleFiles, EdgeRuntime
from taste2vec.edge.spec import (
    CHECKSUM_FILE,
    FORMATS,
    METADATA_FILE,
    STATIC_BUCKETS,
    STATIC_ROWS_FILE,
    TOLERANCES,
)
from taste2vec.errors import ArtifactError, SchemaError
from taste2vec.lexicon import load_lexicon
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.text import HFSentenceEncoder
from taste2vec.model.text_static import StaticEncoder, distill, lexicon_phrases

from .conftest import GATE_RECORDS, require_converter, run_torch_free

pytestmark = [pytest.mark.xdist_group("edge"), pytest.mark.slow]

KOREAN = "자몽과 재스민, 꿀 같은 단맛. 산미가 밝다"
PHRASES = "Black-currant and brown sugar; blackcurrant, dark chocolate with a long finish."
UNKNOWN = "\u2603\u2603 qwxzv \u00a7\u00a7"
# Over-long: far more rows than MiniLM's 512 tokens, within the API's 5,000 characters.
LONG = ("Juicy blackcurrant, cocoa nib and jasmine; syrupy body, brown sugar finish. " * 64)[:4990]


def _records():  # type: ignore[no-untyped-def]
    return bundled_gate_records(GATE_RECORDS)


@pytest.fixture(scope="module")
def static_tower(minilm: HFSentenceEncoder) -> StaticEncoder:
    """A 16-d table over the WordPieces the tests read, and every lexicon phrase."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(minilm.path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    lex = load_lexicon()
    texts = [lex.render_english(r.notes) for r in _records()]
    texts += [lex.render_english(t) for t in (KOREAN, PHRASES, LONG)]
    pieces = {i for t in texts for i in tokenizer.encode(t, add_special_tokens=False).ids}
    # as distil's default: no row for [UNK] and the other specials
    ids = sorted(i for i in pieces if not tokenizer.id_to_token(i).startswith("["))
    surfaces = lex.english_surfaces()
    table = distill(
        minilm.model, tokenizer, lexicon_phrases(tokenizer, surfaces), dims=16, token_ids=ids
    )
    return StaticEncoder(
        path=minilm.path, surfaces=surfaces, lexicon_version=lex.version, table=table
    )


@pytest.fixture(scope="module")
def static_model_dir(static_tower: StaticEncoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from taste2vec.training.corpus import build_corpus
    from taste2vec.training.train import TrainConfig, train

    corpus = build_corpus(None)
    corpus.train, corpus.val = corpus.train[:300], corpus.val[:60]
    result = train(corpus, static_tower, TrainConfig(epochs=1, seed=1, refit=False), progress=False)
    out = tmp_path_factory.mktemp("static") / "model"
    result.model.save(out, corpus.info(), result.metrics())
    return out


@pytest.fixture(scope="module")
def static_model(static_model_dir: Path, static_tower: StaticEncoder) -> Taste2Vec:
    model = Taste2Vec.load(static_model_dir, text_encoder=static_tower)
    assert model.net.cfg.text_dim == 16
    return model


@pytest.fixture(scope="module")
def static_bundles(
    static_model: Taste2Vec, static_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, ParityReport]]:
    """The ONNX formats, exported and gated (TFLite has its own test: it needs .venv-edge)."""
    folder = tmp_path_factory.mktemp("static-bundles")
    out: dict[str, tuple[Path, ParityReport]] = {}
    for fmt in ("onnx", "onnx-int8"):
        members, report = build_bundle(static_model, static_model_dir, fmt, _records(), "bundled")
        path = folder / f"{fmt}.t2vb"
        path.write_bytes(pack_bundle(members))
        out[fmt] = (path, report)
    return out


def _assert_passes(fmt: str, report: ParityReport) -> None:
    assert report.passed, report.summary()
    assert report.n_records == len(_records())
    assert report.min_cosine >= TOLERANCES[FORMATS[fmt].int8].min_cosine


def test_static_graph_is_the_static_tower(static_tower: StaticEncoder) -> None:
    notes = [PHRASES, load_lexicon().render_english(KOREAN), LONG, ""]
    expected = static_tower.encode(notes)
    table = torch.from_numpy(static_tower.table.vectors)
    for lookup in ("index_select", "embedding"):
        graph = StaticText(table, lookup)
        for i, text in enumerate(notes):
            rows, counts = np.unique(
                np.asarray(static_tower.rows(text), dtype=np.int64), return_counts=True
            )
            if not len(rows):
                rows, counts = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
            with torch.no_grad():
                got = graph(torch.from_numpy(rows[None]), torch.from_numpy(counts[None])).numpy()
            np.testing.assert_allclose(got[0], expected[i], atol=1e-6, err_msg=f"{lookup} {i}")
    assert not expected[3].any()  # an empty note: the zero vector, on both sides


def test_onnx_static_bundles_pass_the_gate(
    static_bundles: dict[str, tuple[Path, ParityReport]],
) -> None:
    for fmt, (_, report) in static_bundles.items():
        _assert_passes(fmt, report)
    assert static_bundles["onnx"][1].min_cosine > 0.9999  # the same sums, in another order


def test_tflite_static_bundles_pass_the_gate(
    static_model: Taste2Vec,
    static_model_dir: Path,
    static_bundles: dict[str, tuple[Path, ParityReport]],
) -> None:
    require_converter()
    for fmt in ("tflite", "tflite-int8"):
        members, report = build_bundle(static_model, static_model_dir, fmt, _records(), "bundled")
        _assert_passes(fmt, report)
        meta = json.loads(members[METADATA_FILE])
        assert meta["graph"]["token_buckets"] == list(STATIC_BUCKETS)
        runtime = EdgeRuntime(BundleFiles(members, fmt))
        onnx = EdgeRuntime.open(static_bundles["onnx"][0])
        # The long note's distinct rows fit the first bucket; the edge cases run the same.
        for record in edge_case_records():
            a = runtime.run(as_edge_record(record)).embedding
            b = onnx.run(as_edge_record(record)).embedding
            assert float(a @ b) > (0.97 if FORMATS[fmt].int8 else 0.999), (fmt, record.id)


@pytest.mark.parametrize(
    "notes",
    [PHRASES, KOREAN, "", "   ", UNKNOWN, LONG],
    ids=["phrases", "korean", "empty", "blank", "unknown", "long"],
)
def test_runtime_rows_are_the_cloud_rows(
    notes: str,
    static_bundles: dict[str, tuple[Path, ParityReport]],
    static_model: Taste2Vec,
    static_tower: StaticEncoder,
) -> None:
    runtime = EdgeRuntime.open(static_bundles["onnx"][0])
    assert runtime.static is not None
    stripped = notes.strip()
    rendered = static_model.lexicon.render_english(stripped)
    rows = runtime.static.rows(rendered)
    assert rows == static_tower.rows(rendered)
    feeds = runtime.features({"notes": notes})
    ids, counts = feeds["input_ids"][0], feeds["attention_mask"][0]
    if rows:
        want_ids, want_counts = np.unique(rows, return_counts=True)
        assert ids.tolist() == want_ids.tolist() and counts.tolist() == want_counts.tolist()
    else:
        assert ids.tolist() == [0] and counts.tolist() == [0]
    # The whole embedding matches the cloud model's for this note.
    cloud = static_model.embed([_record(notes)], [[]])[0]
    edge = runtime.run({"notes": notes}).embedding
    assert float(cloud @ edge) > 0.9999


def _record(notes: str):  # type: ignore[no-untyped-def]
    from taste2vec.schema import TasteRecord

    return TasteRecord(id="r", user="u", notes=notes)


def test_rows_cover_the_cases_they_claim(static_tower: StaticEncoder) -> None:
    """The cases above are not vacuous: phrases hit phrase rows, Korean renders to rows."""
    n = static_tower.matcher.n_tokens
    lex = load_lexicon()
    phrase_rows = [r for r in static_tower.rows(PHRASES) if r >= n]
    assert [static_tower.matcher.phrases[r - n] for r in phrase_rows][:3] == [
        "black currant",
        "brown sugar",
        "blackcurrant",
    ]
    assert len(static_tower.rows(lex.render_english(KOREAN))) >= 4
    assert tokenizer_ids(static_tower, "\u2603\u2603") == [100]  # one word: [UNK]
    assert static_tower.rows("\u2603\u2603") == []  # [UNK] has no row
    assert all(static_tower.table.keep[r] for r in static_tower.rows(UNKNOWN))
    long_rows = static_tower.rows(LONG)
    assert len(long_rows) > 512 and len(set(long_rows)) < STATIC_BUCKETS[0]


def tokenizer_ids(static_tower: StaticEncoder, text: str) -> list[int]:
    return list(static_tower.tokenizer.encode(text, add_special_tokens=False).ids)


def test_too_many_distinct_rows_is_a_clear_error(
    static_bundles: dict[str, tuple[Path, ParityReport]],
) -> None:
    runtime = EdgeRuntime.open(static_bundles["onnx"][0])
    assert runtime.static is not None
    runtime.static.max_rows = 3
    with pytest.raises(SchemaError, match="distinct table rows, more than the bundle's 3"):
        runtime.features({"notes": "bright lemon acidity, juicy plum"})


def test_static_bundle_says_what_it_is(
    static_bundles: dict[str, tuple[Path, ParityReport]], static_tower: StaticEncoder
) -> None:
    path, report = static_bundles["onnx-int8"]
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        meta = json.loads(archive.read(METADATA_FILE))
        rows = json.loads(archive.read(STATIC_ROWS_FILE))
    assert STATIC_ROWS_FILE in names and "model.onnx" in names
    assert meta["bundle_format"] == 2 and meta["text_tower"] == "static"
    assert meta["files"]["static_rows"] == STATIC_ROWS_FILE
    assert meta["text_model_id"] == static_tower.model_id
    assert meta["parity"] == report.to_dict()
    assert "distinct" in meta["inputs"][0]["meaning"].lower()
    assert any(step.startswith("3. rows (static text tower)") for step in meta["preprocessing"])
    assert "[0] with count [0]" in meta["missing_values"]["notes"]
    assert rows["phrases"] == list(static_tower.table.phrases)
    assert rows["n_tokens"] == static_tower.table.n_tokens
    assert set(rows["skip_ids"]) == set(np.flatnonzero(~static_tower.table.keep).tolist())
    assert rows["n_rows"] == static_tower.table.vectors.shape[0]


def test_mislabelled_bundles_are_refused(
    static_bundles: dict[str, tuple[Path, ParityReport]],
) -> None:
    """A static bundle claiming format 1 (which a format-1 runtime would misread) is refused."""
    files = BundleFiles.open(static_bundles["onnx"][0])
    members = {n: files.read(n) for n in files.names() if n != CHECKSUM_FILE}
    meta = json.loads(members[METADATA_FILE])
    for change in ({"bundle_format": 1}, {"bundle_format": 3}):
        bad = with_checksums({**members, METADATA_FILE: json.dumps({**meta, **change}).encode()})
        with pytest.raises(ArtifactError, match="format"):
            EdgeRuntime(BundleFiles(bad, "mislabelled"))
    no_rows = {n: v for n, v in members.items() if n != STATIC_ROWS_FILE}
    with pytest.raises(ArtifactError, match=STATIC_ROWS_FILE):
        EdgeRuntime(BundleFiles(with_checksums(no_rows), "no rows"))


def test_static_gate_on_the_edge_cases_and_graph_shape(
    static_model: Taste2Vec, static_bundles: dict[str, tuple[Path, ParityReport]]
) -> None:
    graph = build_graph(static_model)
    assert isinstance(graph.text_model, StaticText)
    assert graph.text_model.table.weight.shape[1] == 16
    report = check_parity(
        EdgeRuntime.open(static_bundles["onnx-int8"][0]),
        static_model,
        edge_case_records(),
        "edge cases",
    )
    assert report.passed, report.summary()


def test_static_runtime_stands_alone_without_torch(
    static_bundles: dict[str, tuple[Path, ParityReport]],
) -> None:
    body = """
        from taste2vec.edge.runtime import EdgeRuntime
        rt = EdgeRuntime.open(sys.argv[1])
        res = rt.run({"notes": "자몽과 재스민, black currant", "metrics": {"acidity": 7}})
        result = {"norm": float((res.embedding ** 2).sum() ** 0.5)}
        """
    result = run_torch_free(body, str(static_bundles["onnx"][0]))
    assert abs(result["norm"] - 1.0) < 1e-3
