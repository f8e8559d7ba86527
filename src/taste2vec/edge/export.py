"""``taste2vec export``: build an edge bundle, gate it on parity, register it.

Steps for one format (``onnx``, ``onnx-int8``, ``tflite``, ``tflite-int8``):

1. build :class:`~taste2vec.edge.graph.EdgeEncoder` from the model directory;
2. export it: ONNX with ``torch.onnx`` (dynamo exporter, dynamic token axis), then
   for int8 onnxruntime's dynamic quantization; TFLite with ``litert-torch`` in
   the converter environment (:mod:`taste2vec.edge.tflite_convert`);
3. assemble the bundle's members (model file, tokenizer.json, lexicon data, word
   bag, scaler, metadata.json with the input/output spec);
4. run the bundle with the torch-free runtime against the cloud model on the gate
   records (:mod:`taste2vec.edge.parity`); a bundle that fails is NOT registered;
5. write metadata.json with the parity report, checksums.sha256 and the archive,
   and register it (``artifacts/edge/<model_version>/<format>.t2vb`` + aliases).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from taste2vec import __version__
from taste2vec.edge.graph import INPUT_NAMES, OUTPUT_NAMES, EdgeEncoder, MiniLM, StaticText
from taste2vec.edge.parity import ParityReport, check_parity
from taste2vec.edge.registry import EdgeRegistry, pack_bundle
from taste2vec.edge.runtime import BundleFiles, EdgeRuntime, render_checksums
from taste2vec.edge.spec import (
    BUNDLE_FORMAT,
    CHECKSUM_FILE,
    FORMATS,
    LEXICON_NOTICE_FILE,
    LEXICON_SYNONYMS_FILE,
    LEXICON_WHEEL_FILE,
    MAX_STATIC_ROWS,
    MAX_TOKENS,
    METADATA_FILE,
    SCALER_FILE,
    STATIC_BUNDLE_FORMAT,
    STATIC_ROWS_FILE,
    TOKENIZER_FILE,
    TOLERANCES,
    VOCAB_FILE,
    describe_inputs,
    describe_outputs,
    missing_values,
    preprocessing,
)
from taste2vec.errors import ModelError
from taste2vec.model.artifact import weights_version
from taste2vec.model.features import _CONTINUOUS, _LOCATION, _SOCIAL, CONTEXT_DIM, MAX_HISTORY
from taste2vec.model.static_rows import MAX_PHRASE_WORDS
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.text import HFSentenceEncoder
from taste2vec.model.text_static import StaticEncoder
from taste2vec.model.vocab import _TOKEN, STOPWORDS
from taste2vec.schema import METRICS, SENSORY_METRICS, TasteRecord
from taste2vec.schema.records import MAX_NOTES_CHARS, Context

CONVERTER_ENV = "T2V_EDGE_CONVERTER_PYTHON"


class ParityError(ModelError):
    """The exported bundle does not reproduce the cloud model within the tolerances."""

    def __init__(self, report: ParityReport) -> None:
        super().__init__(
            f"edge bundle {report.format} FAILED the parity gate, not registered: "
            + "; ".join(report.failures)
        )
        self.report = report


@dataclass(frozen=True)
class ExportResult:
    format: str
    model_version: str
    path: Path
    sha256: str
    size: int
    report: ParityReport


# ------------------------------------------------------------------------------- graph
def text_tower(model: Taste2Vec) -> str:
    """``"minilm"`` (a Hugging Face BERT) or ``"static"`` (the distilled table)."""
    encoder = model.text_encoder
    if isinstance(encoder, StaticEncoder):
        return "static"
    if isinstance(encoder, HFSentenceEncoder):
        return "minilm"
    raise ModelError(
        "edge export needs the text encoder the model was trained with: the Hugging Face "
        f"BERT (MiniLM) or the static table, not {type(encoder).__name__}"
    )


def build_graph(model: Taste2Vec, lookup: str = "index_select") -> EdgeEncoder:
    """The exportable graph for a loaded model (MiniLM or static text tower).

    ``lookup``: ``"index_select"`` for ONNX, ``"embedding"`` for TFLite (see :class:`MiniLM`).
    """
    encoder = model.text_encoder
    text: MiniLM | StaticText
    if text_tower(model) == "static":
        assert isinstance(encoder, StaticEncoder)  # noqa: S101 - text_tower checked it
        text = StaticText(torch.from_numpy(encoder.table.vectors), lookup)
    else:
        assert isinstance(encoder, HFSentenceEncoder)  # noqa: S101 - text_tower checked it
        text = MiniLM.from_hf(encoder.model, lookup)
    return EdgeEncoder(model.net, text, model.vocab, model.scaler, MAX_HISTORY).eval()


def sample_inputs(graph: EdgeEncoder, tokens: int) -> tuple[torch.Tensor, ...]:
    """Example inputs for tracing, ``tokens`` long (values do not matter, shapes do)."""
    net = graph.net
    width = max(net.cfg.n_words, 1)
    ids = torch.full((1, tokens), 1000, dtype=torch.int64)
    ids[0, 0], ids[0, -1] = 101, 102
    return (
        ids,
        torch.ones(1, tokens, dtype=torch.int64),
        torch.ones(1, 1),
        torch.zeros(1, net.cfg.n_nodes),
        torch.zeros(1, net.cfg.n_attrs),
        torch.zeros(1, width),
        torch.zeros(1, 20),
        torch.zeros(1, 20),
        torch.zeros(1, MAX_HISTORY, CONTEXT_DIM),
        torch.ones(1, dtype=torch.int64),
    )


# ------------------------------------------------------------------------------ formats
def export_onnx(graph: EdgeEncoder, out: Path, int8: bool) -> dict[str, Any]:
    """Write ``out`` (a single-file ONNX model); returns the graph's I/O names."""
    from torch.export import Dim

    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        from taste2vec.errors import MissingExtraError

        raise MissingExtraError("onnx, onnxscript and onnxruntime", "edge") from exc
    if isinstance(graph.text_model, StaticText):
        tokens = Dim("rows", min=1, max=MAX_STATIC_ROWS)
    else:
        tokens = Dim("tokens", min=2, max=MAX_TOKENS)
    dynamic: dict[str, Any] = {name: None for name in INPUT_NAMES}
    dynamic["input_ids"] = {1: tokens}
    dynamic["attention_mask"] = {1: tokens}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # The exporter warns (and logs) about torchvision ops and pytree internals; none apply.
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        fp32 = Path(tmp) / "model.onnx"
        program = torch.onnx.export(
            graph,
            sample_inputs(graph, 16),
            dynamo=True,
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            dynamic_shapes=dynamic,
            optimize=True,
            verbose=False,
        )
        if program is None:  # pragma: no cover - dynamo=True always returns a program
            raise ModelError("torch.onnx.export returned no program")
        program.save(str(fp32), external_data=False)
        if int8:
            logging.disable(logging.WARNING)  # "consider pre-processing": shapes are static
            try:
                quantize_dynamic(
                    str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=False
                )
            finally:
                logging.disable(logging.NOTSET)
        else:
            out.write_bytes(fp32.read_bytes())
    onnx.checker.check_model(str(out))
    return {
        "input_names": list(INPUT_NAMES),
        "output_names": list(OUTPUT_NAMES),
        "token_buckets": None,
        "opset": int(onnx.load(str(out)).opset_import[0].version),
    }


def converter_python() -> Path:
    """The converter environment's python: ``$T2V_EDGE_CONVERTER_PYTHON`` or ``.venv-edge``."""
    configured = os.environ.get(CONVERTER_ENV)
    candidates = [Path(configured)] if configured else []
    candidates += [
        Path.cwd() / ".venv-edge" / "bin" / "python",
        Path(__file__).resolve().parents[3] / ".venv-edge" / "bin" / "python",
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise ModelError(
        "TFLite export needs the litert-torch converter environment, which was not found "
        f"(looked at {', '.join(str(c) for c in candidates)}). Create it with: make edge-venv "
        f"(or point {CONVERTER_ENV} at its python)"
    )


# One conversion gives both TFLite models; the second is kept for the next call.
_TFLITE_CACHE: dict[tuple[str, str], tuple[bytes, dict[str, Any]]] = {}


def export_tflite(
    model_dir: Path, out: Path, int8: bool, static_table: np.ndarray | None = None
) -> dict[str, Any]:
    """Run :mod:`taste2vec.edge.tflite_convert` in the converter environment.

    Both precisions come from one conversion: the one not asked for is cached in
    memory (by model version), so exporting ``tflite`` then ``tflite-int8`` converts once.
    ``static_table``: the static text tower's table (the converter builds the graph from
    it and the model directory's network, with no text encoder of its own).
    """
    version = weights_version(model_dir)
    name = "tflite-int8" if int8 else "tflite"
    cached = _TFLITE_CACHE.pop((version, name), None)
    if cached is None:
        python = converter_python()
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [
                str(python),
                "-m",
                "taste2vec.edge.tflite_convert",
                str(model_dir),
                tmp,
                "--int8",
            ]
            if static_table is not None:
                table_file = Path(tmp) / "static_table.npy"
                np.save(table_file, np.asarray(static_table, dtype=np.float32))
                cmd += ["--static-table", str(table_file)]
            # The converter imports this very source tree, whatever its venv was installed from.
            src = str(Path(__file__).resolve().parents[2])
            path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
            env = {**os.environ, "PYTHONPATH": path, "PYTHONWARNINGS": "ignore"}
            env["TF_CPP_MIN_LOG_LEVEL"] = "2"
            proc = subprocess.run(  # noqa: S603 - our own module, in our own environment
                cmd, capture_output=True, text=True, env=env, check=False
            )
            folder = Path(tmp)
            if proc.returncode != 0 or not (folder / f"{name}.tflite").is_file():
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
                raise ModelError(
                    f"litert-torch conversion failed (exit {proc.returncode}):\n{tail}"
                )
            info: dict[str, Any] = json.loads((folder / "signature.json").read_text())
            graph_info = {
                "input_names": info["input_names"],
                "output_names": info["output_names"],
                "token_buckets": info["buckets"],
                "converter": "litert-torch",
            }
            for variant in ("tflite", "tflite-int8"):
                _TFLITE_CACHE[(version, variant)] = (
                    (folder / f"{variant}.tflite").read_bytes(),
                    graph_info,
                )
        cached = _TFLITE_CACHE.pop((version, name))
    data, graph_info = cached
    out.write_bytes(data)
    return dict(graph_info)


# ------------------------------------------------------------------------------- bundle
def _tokenizer_json(model: Taste2Vec) -> bytes:
    """The text model's tokenizer.json as the cloud uses it: no padding, truncate at 512.

    A static tower reads every word of a note (no truncation; its rows are counted).
    """
    encoder = model.text_encoder
    assert isinstance(encoder, HFSentenceEncoder | StaticEncoder)  # noqa: S101 - build_graph
    data = json.loads((encoder.path / "tokenizer.json").read_text(encoding="utf-8"))
    data["padding"] = None
    data["truncation"] = {
        "direction": "Right",
        "max_length": MAX_TOKENS,
        "strategy": "LongestFirst",
        "stride": 0,
    }
    if isinstance(encoder, StaticEncoder):
        data["truncation"] = None
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def static_rows_json(encoder: StaticEncoder) -> bytes:
    """``static_rows.json``: what the runtime needs to turn words into table rows."""
    matcher = encoder.matcher
    payload = {
        "n_tokens": matcher.n_tokens,
        "n_rows": matcher.n_rows,
        "dim": encoder.dim,
        # WordPiece ids with no row (padding, [UNK] and other specials, [unused*]): skipped
        "skip_ids": np.flatnonzero(~matcher.keep).tolist(),
        # lexicon phrases, space-joined normalised words; phrase j is row n_tokens + j
        "phrases": list(matcher.phrases),
        "max_phrase_words": MAX_PHRASE_WORDS,
        "max_rows": MAX_STATIC_ROWS,
    }
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def metadata(
    model: Taste2Vec, fmt: str, model_version: str, graph_info: dict[str, Any]
) -> dict[str, Any]:
    """``metadata.json`` without the parity report: everything a runtime needs to know."""
    cfg = model.net.cfg
    width = max(cfg.n_words, 1)
    tower = text_tower(model)
    files: dict[str, Any] = {
        "model": FORMATS[fmt].model_file,
        "tokenizer": TOKENIZER_FILE,
        "vocab": VOCAB_FILE,
        "scaler": SCALER_FILE,
        "lexicon": [LEXICON_WHEEL_FILE, LEXICON_SYNONYMS_FILE, LEXICON_NOTICE_FILE],
        "checksums": CHECKSUM_FILE,
    }
    if tower == "static":
        files["static_rows"] = STATIC_ROWS_FILE
    return {
        "bundle_format": STATIC_BUNDLE_FORMAT if tower == "static" else BUNDLE_FORMAT,
        "format": fmt,
        "runtime": FORMATS[fmt].runtime,
        "model_file": FORMATS[fmt].model_file,
        "int8": FORMATS[fmt].int8,
        "model_version": model_version,
        "taste2vec_version": __version__,
        "text_model_id": model.text_encoder.model_id,
        "text_tower": tower,
        "lexicon_version": model.lexicon.version,
        "max_tokens": MAX_TOKENS,
        "max_notes_chars": MAX_NOTES_CHARS,
        "graph": graph_info,
        "inputs": describe_inputs(cfg.n_nodes, cfg.n_attrs, width, MAX_HISTORY, CONTEXT_DIM, tower),
        "outputs": describe_outputs(cfg.embed_dim, len(SENSORY_METRICS), cfg.n_families),
        "metrics": [
            {"name": m.name, "unit": m.unit, "low": m.low, "high": m.high, "group": m.group}
            for m in METRICS
        ],
        "sensory_metrics": list(SENSORY_METRICS),
        "families": list(model.lexicon.families),
        "attributes": list(model.lexicon.attribute_names),
        "context": {
            "steps": MAX_HISTORY,
            "width": CONTEXT_DIM,
            "continuous": [
                {
                    "name": name,
                    "scale": scale,
                    "low": _bound(name, "ge"),
                    "high": _bound(name, "le"),
                }
                for name, scale in _CONTINUOUS
            ],
            "social_setting": [s.value for s in _SOCIAL],
            "location_type": [loc.value for loc in _LOCATION],
        },
        "missing_values": missing_values(tower),
        "preprocessing": preprocessing(tower),
        "files": files,
        "tolerance": TOLERANCES[FORMATS[fmt].int8].to_dict(),
    }


def _bound(field: str, kind: str) -> float:
    """A context field's lower (``ge``) or upper (``le``) bound from the schema."""
    for item in Context.model_fields[field].metadata:
        value = getattr(item, kind, None)
        if value is not None:
            return float(value)
    raise ModelError(f"context field {field} has no {kind} bound")


def bundle_members(
    model: Taste2Vec, model_dir: Path, meta: dict[str, Any], model_bytes: bytes
) -> dict[str, bytes]:
    """Every member except ``checksums.sha256``."""
    lexicon_data = resources.files("taste2vec.lexicon").joinpath("data")
    vocab = {
        "terms": list(model.vocab.terms),
        "idf": [float(x) for x in model.vocab.idf],
        "token_pattern": _TOKEN.pattern,
        "stopwords": sorted(STOPWORDS),
        "min_chars": 2,
        "width": max(model.vocab.size, 1),
        # append the lexicon's canonical rendering before tokenising (features.word_texts)
        "descriptor_terms": model.vocab.descriptor_terms,
    }
    members = {
        meta["model_file"]: model_bytes,
        TOKENIZER_FILE: _tokenizer_json(model),
        VOCAB_FILE: json.dumps(vocab, ensure_ascii=False).encode("utf-8"),
        SCALER_FILE: (model_dir / "scaler.json").read_bytes(),
        LEXICON_WHEEL_FILE: lexicon_data.joinpath("wheel_nodes.csv").read_bytes(),
        LEXICON_SYNONYMS_FILE: lexicon_data.joinpath("synonyms.json").read_bytes(),
        LEXICON_NOTICE_FILE: lexicon_data.joinpath("NOTICE.md").read_bytes(),
        METADATA_FILE: json.dumps(meta, indent=2, ensure_ascii=False).encode("utf-8"),
    }
    if isinstance(model.text_encoder, StaticEncoder):
        members[STATIC_ROWS_FILE] = static_rows_json(model.text_encoder)
    return members


def with_checksums(members: dict[str, bytes]) -> dict[str, bytes]:
    body = {k: v for k, v in members.items() if k != CHECKSUM_FILE}
    return {**body, CHECKSUM_FILE: render_checksums(body).encode("ascii")}


def build_bundle(
    model: Taste2Vec,
    model_dir: Path,
    fmt: str,
    gate_records: Sequence[TasteRecord],
    gate_source: str,
    catalogue: np.ndarray | None = None,
) -> tuple[dict[str, bytes], ParityReport]:
    """Export, assemble and gate one format; returns the final members and the report.

    Raises :class:`ParityError` when the bundle fails the gate.
    """
    if fmt not in FORMATS:
        raise ModelError(f"unknown edge format {fmt!r}; choose from {sorted(FORMATS)}")
    info = FORMATS[fmt]
    model_version = weights_version(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / info.model_file
        if info.runtime == "onnxruntime":
            graph_info = export_onnx(build_graph(model), out, info.int8)
        else:
            encoder = model.text_encoder
            table = encoder.table.vectors if isinstance(encoder, StaticEncoder) else None
            graph_info = export_tflite(model_dir, out, info.int8, table)
        model_bytes = out.read_bytes()
    meta = metadata(model, fmt, model_version, graph_info)
    members = with_checksums(bundle_members(model, model_dir, meta, model_bytes))
    runtime = EdgeRuntime(BundleFiles(members, f"<{fmt} staging>"))
    report = check_parity(runtime, reference_model(model), gate_records, gate_source, catalogue)
    meta["parity"] = report.to_dict()
    members = with_checksums({**members, METADATA_FILE: _json(meta)})
    if not report.passed:
        raise ParityError(report)
    return members, report


def reference_model(model: Taste2Vec) -> Taste2Vec:
    """``model`` with the fp32 torch text encoder: bundles are gated against the reference.

    With ``T2V_TEXT_BACKEND=onnx-int8`` the cloud's own text vectors are int8; gating an
    fp32 bundle against them would hold it to the int8 path's error instead of its own.
    """
    encoder = model.text_encoder
    if not isinstance(encoder, HFSentenceEncoder) or encoder.backend == "torch":
        return model
    fp32 = HFSentenceEncoder(path=encoder.path, max_tokens=MAX_TOKENS)
    return Taste2Vec(model.net, model.scaler, model.lexicon, fp32, model.vocab, model.info)


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")


def export_bundle(
    model: Taste2Vec,
    model_dir: Path,
    fmt: str,
    registry: EdgeRegistry,
    gate_records: Sequence[TasteRecord],
    gate_source: str,
    aliases: Sequence[str] = ("latest",),
) -> ExportResult:
    """Build, gate and register one bundle (nothing is registered when the gate fails)."""
    members, report = build_bundle(model, model_dir, fmt, gate_records, gate_source)
    archive = pack_bundle(members)
    entry = registry.register(weights_version(model_dir), fmt, archive, report.to_dict(), aliases)
    return ExportResult(fmt, entry.model_version, entry.path, entry.sha256, entry.size, report)
