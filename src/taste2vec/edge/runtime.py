"""The reference edge runtime: run a Taste2Vec edge bundle without torch.

This module is the executable spec a mobile developer ports. It needs numpy,
``tokenizers`` and one of ``onnxruntime`` (ONNX bundles) or ``ai-edge-litert``
(TFLite bundles), plus the pure-Python flavour lexicon of this package (whose
data ships inside the bundle) and, for a static text tower's bundles (format 2), the
row matching of :mod:`taste2vec.model.static_rows` (the cloud tower's own code). It
never imports torch, transformers or pydantic.

>>> rt = EdgeRuntime.open("onnx-int8.t2vb")  # doctest: +SKIP
>>> out = rt.run({"notes": "자몽과 재스민", "metrics": {"acidity": 7}})  # doctest: +SKIP
>>> out.embedding.shape, out.sensory["acidity"], out.families["Fruity"]  # doctest: +SKIP

Records are plain dicts, as the app holds them: ``notes`` (str), ``metrics``
(metric name → number or null) and ``context`` (field → value or null). The
pre-processing steps are listed in the bundle's ``metadata.json``
(``preprocessing``) and in ``docs/edge.md``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from taste2vec.edge.spec import (
    CHECKSUM_FILE,
    FORMATS,
    INPUT_NAMES,
    LEXICON_SYNONYMS_FILE,
    LEXICON_WHEEL_FILE,
    METADATA_FILE,
    READABLE_FORMATS,
    SCALER_FILE,
    STATIC_BUNDLE_FORMAT,
    STATIC_ROWS_FILE,
    TOKENIZER_FILE,
    VOCAB_FILE,
)
from taste2vec.errors import ArtifactError, MissingExtraError, SchemaError
from taste2vec.lexicon.extractor import Lexicon, build_lexicon
from taste2vec.model.static_rows import MAX_PHRASE_WORDS, RowMatcher

Record = Mapping[str, Any]
Feeds = dict[str, np.ndarray]


# ----------------------------------------------------------------------------- the files
class BundleFiles:
    """The members of a bundle, from its zip archive or an unpacked directory.

    With ``verify`` (the default) every member listed in ``checksums.sha256`` must
    be present with that SHA-256, and nothing else may be in the bundle.
    """

    def __init__(self, members: dict[str, bytes], source: str, verify: bool = True) -> None:
        self._members = members
        self.source = source
        if verify:
            self._verify()

    @classmethod
    def open(cls, path: Path | str, verify: bool = True) -> BundleFiles:
        path = Path(path)
        try:
            if path.is_dir():
                members = {
                    p.relative_to(path).as_posix(): p.read_bytes()
                    for p in sorted(path.rglob("*"))
                    if p.is_file()
                }
            else:
                with zipfile.ZipFile(path) as archive:
                    members = {
                        n: archive.read(n) for n in archive.namelist() if not n.endswith("/")
                    }
        except (OSError, zipfile.BadZipFile) as exc:
            raise ArtifactError(f"cannot read edge bundle {path}: {exc}") from exc
        return cls(members, str(path), verify)

    @classmethod
    def from_bytes(cls, data: bytes, verify: bool = True) -> BundleFiles:
        try:
            members = _unzip(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise ArtifactError(f"not an edge bundle (zip): {exc}") from exc
        return cls(members, "<bytes>", verify)

    def read(self, name: str) -> bytes:
        try:
            return self._members[name]
        except KeyError:
            raise ArtifactError(f"edge bundle {self.source} has no {name}") from None

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"{name} in {self.source} is not valid JSON: {exc}") from exc

    def names(self) -> list[str]:
        return sorted(self._members)

    def _verify(self) -> None:
        listed = parse_checksums(self.read(CHECKSUM_FILE).decode("utf-8"))
        extra = set(self._members) - set(listed) - {CHECKSUM_FILE}
        if extra:
            raise ArtifactError(f"edge bundle {self.source} holds unlisted files {sorted(extra)}")
        for name, digest in listed.items():
            if hashlib.sha256(self.read(name)).hexdigest() != digest:
                raise ArtifactError(f"edge bundle {self.source}: checksum mismatch for {name}")


def _unzip(source: Path | io.BytesIO) -> dict[str, bytes]:
    with zipfile.ZipFile(source) as archive:
        return {n: archive.read(n) for n in archive.namelist() if not n.endswith("/")}


def parse_checksums(text: str) -> dict[str, str]:
    """``sha256sum`` format: ``<64 hex>  <name>`` per line."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip():
            digest, _, name = line.partition("  ")
            if len(digest) != 64 or not name:
                raise ArtifactError(f"malformed checksum line {line!r}")
            out[name] = digest
    return out


def render_checksums(members: Mapping[str, bytes]) -> str:
    return "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(members.items())
    )


# ------------------------------------------------------------------- pre-processing steps
class WordBag:
    """The sensory tower's TF-IDF word bag (port of ``taste2vec.model.vocab``)."""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.terms: tuple[str, ...] = tuple(payload["terms"])
        self.idf = np.asarray(payload["idf"], dtype=np.float32)
        self.pattern = re.compile(payload["token_pattern"])
        self.stopwords = frozenset(payload["stopwords"])
        self.min_chars = int(payload["min_chars"])
        self.width = int(payload["width"])  # max(terms, 1): the graph's input width
        self.descriptor_terms = bool(payload.get("descriptor_terms", False))
        self._index = {t: i for i, t in enumerate(self.terms)}

    def tokenize(self, text: str) -> list[str]:
        words = [
            w
            for w in self.pattern.findall(text.lower())
            if w not in self.stopwords and len(w) >= self.min_chars
        ]
        return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]

    def encode(self, text: str) -> np.ndarray:
        out = np.zeros((1, self.width), dtype=np.float32)
        for term, count in Counter(self.tokenize(text)).items():
            j = self._index.get(term)
            if j is not None:
                out[0, j] = (1.0 + math.log(count)) * self.idf[j]
        norm = float(np.linalg.norm(out[0]))
        if norm > 0:
            out[0] /= norm
        return out


class StaticRows:
    """The static text tower's step 3: rendered notes → distinct table rows and counts.

    The rows come from :class:`~taste2vec.model.static_rows.RowMatcher`, the cloud
    tower's own code, set up from ``static_rows.json`` and ``tokenizer.json``.
    """

    def __init__(self, payload: Mapping[str, Any], tokenizer: Any, source: str) -> None:
        try:
            n_tokens = int(payload["n_tokens"])
            skip = np.asarray(payload["skip_ids"], dtype=np.int64)
            phrases = [str(p) for p in payload["phrases"]]
            self.max_rows = int(payload["max_rows"])
            max_words = int(payload["max_phrase_words"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{STATIC_ROWS_FILE} in {source} is not readable: {exc}") from exc
        if max_words != MAX_PHRASE_WORDS:
            raise ArtifactError(
                f"{STATIC_ROWS_FILE} in {source} matches phrases of up to {max_words} words, "
                f"this runtime {MAX_PHRASE_WORDS}"
            )
        if n_tokens != int(tokenizer.get_vocab_size()):
            raise ArtifactError(
                f"{STATIC_ROWS_FILE} in {source} has {n_tokens} token rows, the tokenizer "
                f"{tokenizer.get_vocab_size()} ids"
            )
        keep = np.ones(n_tokens, dtype=bool)
        keep[skip] = False
        self.matcher = RowMatcher(tokenizer, keep, phrases)

    def rows(self, rendered: str) -> list[int]:
        """The note's table rows in reading order, as the cloud's ``StaticEncoder.rows``."""
        return self.matcher.rows(rendered)

    def encode(self, rendered: str) -> tuple[np.ndarray, np.ndarray]:
        """``input_ids`` (distinct rows, ascending) and ``attention_mask`` (their counts)."""
        ids, counts = np.unique(np.asarray(self.rows(rendered), dtype=np.int64), return_counts=True)
        if len(ids) > self.max_rows:
            raise SchemaError(
                f"the notes read {len(ids)} distinct table rows, more than the bundle's "
                f"{self.max_rows}"
            )
        if not len(ids):
            ids, counts = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
        return ids[None, :].astype(np.int64), counts[None, :].astype(np.int64)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str
    low: float
    high: float
    mean: float
    std: float


@dataclass(frozen=True)
class EdgeResult:
    """One record's output: the taste vector and its explanation."""

    embedding: np.ndarray  # (embed_dim,) float32, unit length
    sensory: dict[str, float]  # predicted intensity per sensory metric, 0-10
    families: dict[str, float]  # flavour family -> probability, most likely first

    def to_dict(self) -> dict[str, Any]:
        return {
            "embedding": [round(float(v), 6) for v in self.embedding],
            "explanation": {
                "sensory": {k: round(v, 2) for k, v in self.sensory.items()},
                "families": {k: round(v, 3) for k, v in self.families.items()},
            },
        }


# ------------------------------------------------------------------------------ backends
class Backend(Protocol):
    def run(self, feeds: Feeds) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


class OnnxBackend:
    """onnxruntime on the CPU, ``threads`` intra-op threads (1: one record, one core)."""

    def __init__(self, model: bytes, threads: int, outputs: Sequence[str]) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise MissingExtraError("onnxruntime", "edge") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.outputs = list(outputs)

    def run(self, feeds: Feeds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        emb, sensory, families = self.session.run(self.outputs, feeds)
        return np.asarray(emb), np.asarray(sensory), np.asarray(families)


class LiteRTBackend:
    """The LiteRT (TFLite) interpreter: one signature per token bucket, fixed shapes."""

    def __init__(
        self,
        model: bytes,
        threads: int,
        buckets: Sequence[int],
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise MissingExtraError("ai-edge-litert", "edge") from exc
        self.interpreter = Interpreter(model_content=model, num_threads=threads)
        self.buckets = sorted(buckets)
        self.runners = {t: self.interpreter.get_signature_runner(f"t{t}") for t in self.buckets}
        self.inputs = dict(zip(INPUT_NAMES, inputs, strict=True))
        self.outputs = list(outputs)
        self._int_types = {
            t: {
                name: np.dtype(detail["dtype"])
                for name, detail in self.runners[t].get_input_details().items()
            }
            for t in self.buckets
        }

    def run(self, feeds: Feeds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = feeds["input_ids"].shape[1]
        bucket = next((t for t in self.buckets if t >= n), None)
        if bucket is None:
            raise SchemaError(f"{n} tokens exceed the largest bucket {self.buckets[-1]}")
        padded = dict(feeds)
        for name in ("input_ids", "attention_mask"):
            row = np.zeros((1, bucket), dtype=feeds[name].dtype)
            row[0, :n] = feeds[name][0]
            padded[name] = row
        types = self._int_types[bucket]
        cast = {
            self.inputs[k]: v.astype(types[self.inputs[k]], copy=False) for k, v in padded.items()
        }
        result = self.runners[bucket](**cast)
        emb, sensory, families = (np.asarray(result[name]) for name in self.outputs)
        return emb, sensory, families


# ------------------------------------------------------------------------------- runtime
class EdgeRuntime:
    """A loaded bundle: pre-processing in plain code, the graph in onnxruntime or LiteRT."""

    def __init__(self, files: BundleFiles, threads: int = 1) -> None:
        meta = files.json(METADATA_FILE)
        if meta.get("bundle_format") not in READABLE_FORMATS:
            raise ArtifactError(
                f"edge bundle {files.source} has format {meta.get('bundle_format')}, this "
                f"runtime reads formats {', '.join(map(str, READABLE_FORMATS))}"
            )
        self.text_tower = str(meta.get("text_tower", "minilm"))
        if (self.text_tower == "static") != (meta["bundle_format"] == STATIC_BUNDLE_FORMAT):
            raise ArtifactError(
                f"edge bundle {files.source}: text tower {self.text_tower!r} in bundle format "
                f"{meta['bundle_format']}"
            )
        self.metadata: dict[str, Any] = meta
        self.format = FORMATS[meta["format"]]
        self.lexicon: Lexicon = build_lexicon(
            files.read(LEXICON_WHEEL_FILE).decode("utf-8"),
            files.read(LEXICON_SYNONYMS_FILE).decode("utf-8"),
        )
        if self.lexicon.version != meta["lexicon_version"]:
            raise ArtifactError(
                f"edge bundle {files.source}: lexicon data is version {self.lexicon.version}, "
                f"the model was trained with {meta['lexicon_version']}"
            )
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise MissingExtraError("tokenizers", "edge") from exc
        self.tokenizer: Any = Tokenizer.from_str(files.read(TOKENIZER_FILE).decode("utf-8"))
        self.static: StaticRows | None = None
        if self.text_tower == "static":
            self.static = StaticRows(files.json(STATIC_ROWS_FILE), self.tokenizer, files.source)
        self.max_tokens = int(meta["max_tokens"])
        self.words = WordBag(files.json(VOCAB_FILE))
        scaler = files.json(SCALER_FILE)
        if scaler["metrics"] != [m["name"] for m in meta["metrics"]]:
            raise ArtifactError(f"edge bundle {files.source}: scaler and metric list differ")
        self.metrics = [
            MetricSpec(m["name"], m["unit"], m["low"], m["high"], mean, std)
            for m, mean, std in zip(meta["metrics"], scaler["mean"], scaler["std"], strict=True)
        ]
        self._mean = np.asarray(scaler["mean"], dtype=np.float32)
        self._std = np.asarray(scaler["std"], dtype=np.float32)
        self._metric_index = {m.name: i for i, m in enumerate(self.metrics)}
        ctx = meta["context"]
        self.context_steps = int(ctx["steps"])
        self.context_width = int(ctx["width"])
        self._continuous: list[tuple[str, float, float, float]] = [
            (c["name"], float(c["scale"]), float(c["low"]), float(c["high"]))
            for c in ctx["continuous"]
        ]
        self._social: list[str] = list(ctx["social_setting"])
        self._location: list[str] = list(ctx["location_type"])
        self.sensory_names: list[str] = list(meta["sensory_metrics"])
        self.family_names: list[str] = list(meta["families"])
        self.max_notes_chars = int(meta["max_notes_chars"])
        model = files.read(self.format.model_file)
        outputs = meta["graph"]["output_names"]
        self.backend: Backend
        if self.format.runtime == "onnxruntime":
            self.backend = OnnxBackend(model, threads, outputs)
        else:
            graph = meta["graph"]
            self.backend = LiteRTBackend(
                model, threads, graph["token_buckets"], graph["input_names"], outputs
            )

    @classmethod
    def open(cls, path: Path | str, threads: int = 1, verify: bool = True) -> EdgeRuntime:
        """Load a bundle archive (or an unpacked bundle directory)."""
        return cls(BundleFiles.open(path, verify), threads)

    # ------------------------------------------------------------------ pre-processing
    def features(self, record: Record, history: Sequence[Mapping[str, Any]] | None = None) -> Feeds:
        """The graph's inputs for one record (see ``metadata.json`` ``inputs``).

        ``history``: the contexts to encode, oldest first, as the cloud model's
        ``histories`` argument; by default the record's own context (if any).
        """
        notes = record.get("notes") or ""
        if not isinstance(notes, str):
            raise SchemaError("notes must be a string")
        notes = notes.strip()
        if len(notes) > self.max_notes_chars:
            raise SchemaError(f"notes are longer than {self.max_notes_chars} characters")
        rendered = self.lexicon.render_english(notes)
        if self.static is not None:
            ids, mask = self.static.encode(rendered)
        else:
            encoding = self.tokenizer.encode(rendered)
            ids = np.asarray([encoding.ids], dtype=np.int64)
            mask = np.asarray([encoding.attention_mask], dtype=np.int64)
        nodes = np.zeros((1, len(self.lexicon.nodes)), dtype=np.float32)
        for d in self.lexicon.extract(notes):
            nodes[0, d.node.index] += d.weight
        attrs = np.zeros((1, len(self.lexicon.attribute_names)), dtype=np.float32)
        cues = self.lexicon.attributes(notes)
        for j, name in enumerate(self.lexicon.attribute_names):
            attrs[0, j] = cues.get(name, 0.0)
        values, observed = self._metrics(record.get("metrics") or {})
        numeric = np.where(observed > 0, (values - self._mean) / self._std, 0.0).astype(np.float32)
        if history is None:
            own = record.get("context")
            history = [own] if own else []
        steps = list(history)[-self.context_steps :]
        context = np.zeros((1, self.context_steps, self.context_width), dtype=np.float32)
        for t, step in enumerate(steps):
            context[0, t] = self.encode_context(step)
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "text_present": np.asarray([[1.0 if notes else 0.0]], dtype=np.float32),
            "lex_nodes": nodes,
            "lex_attrs": attrs,
            "words": self.words.encode(self._word_text(notes, rendered)),
            "numeric": numeric[None, :],
            "numeric_mask": observed[None, :],
            "context": context,
            "context_len": np.asarray([max(1, len(steps))], dtype=np.int64),
        }

    def _word_text(self, notes: str, rendered: str) -> str:
        """What the word bag reads (port of ``taste2vec.model.features.word_texts``)."""
        if not self.words.descriptor_terms:
            return rendered
        canonical = self.lexicon.render_canonical(notes)
        return f"{rendered} | {canonical}" if canonical else rendered

    def _metrics(self, metrics: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        values = np.zeros(len(self.metrics), dtype=np.float32)
        observed = np.zeros(len(self.metrics), dtype=np.float32)
        for name, value in metrics.items():
            i = self._metric_index.get(name)
            if i is None:
                raise SchemaError(f"unknown metric {name!r}")
            if value is None:
                continue
            spec = self.metrics[i]
            number = float(value)
            if not math.isfinite(number) or not spec.low <= number <= spec.high:
                raise SchemaError(
                    f"{name} = {value} is outside {spec.low:g} to {spec.high:g} {spec.unit}"
                )
            values[i], observed[i] = number, 1.0
        return values, observed

    def encode_context(self, ctx: Mapping[str, Any]) -> np.ndarray:
        """One step: scaled values, presence bits, one-hot social setting, one-hot location."""
        vec = np.zeros(self.context_width, dtype=np.float32)
        n = len(self._continuous)
        for i, (name, scale, low, high) in enumerate(self._continuous):
            value = ctx.get(name)
            if value is not None:
                number = float(value)
                if not math.isfinite(number) or not low <= number <= high:
                    raise SchemaError(f"context {name} = {value} is outside {low:g} to {high:g}")
                vec[i] = number / scale
                vec[n + i] = 1.0
        for offset, options, field in (
            (2 * n, self._social, "social_setting"),
            (2 * n + len(self._social), self._location, "location_type"),
        ):
            value = ctx.get(field)
            if value is not None:
                if value not in options:
                    raise SchemaError(f"context {field} {value!r} is not one of {options}")
                vec[offset + options.index(value)] = 1.0
        return vec

    # ------------------------------------------------------------------------ inference
    def run_features(self, feeds: Feeds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw graph outputs: embedding (1, d), sensory (1, 12), families (1, 9)."""
        return self.backend.run(feeds)

    def run(self, record: Record, history: Sequence[Mapping[str, Any]] | None = None) -> EdgeResult:
        emb, sensory, families = self.run_features(self.features(record, history))
        fams = sorted(
            zip(self.family_names, families[0].tolist(), strict=True), key=lambda x: -x[1]
        )
        return EdgeResult(
            embedding=emb[0].astype(np.float32),
            sensory={n: float(v) for n, v in zip(self.sensory_names, sensory[0], strict=True)},
            families=dict(fams),
        )
