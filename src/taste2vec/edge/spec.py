"""What an edge bundle is: formats, file names, tolerances and the input/output spec.

Torch-free: the reference runtime, the registry and the API import this module.
``docs/edge.md`` explains every field for a mobile developer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

BUNDLE_FORMAT = 1  # bump when the archive layout or the metadata schema changes
# Bundles of a static text tower: format 1 plus static_rows.json and ``text_tower``. A
# format-1 runtime refuses them (it would feed WordPiece ids to a table of rows).
STATIC_BUNDLE_FORMAT = 2
READABLE_FORMATS: tuple[int, ...] = (BUNDLE_FORMAT, STATIC_BUNDLE_FORMAT)
SUFFIX = ".t2vb"  # a zip archive; the name says what it is for

METADATA_FILE = "metadata.json"
CHECKSUM_FILE = "checksums.sha256"
TOKENIZER_FILE = "tokenizer.json"
VOCAB_FILE = "vocab.json"
SCALER_FILE = "scaler.json"
LEXICON_WHEEL_FILE = "lexicon/wheel_nodes.csv"
LEXICON_SYNONYMS_FILE = "lexicon/synonyms.json"
LEXICON_NOTICE_FILE = "lexicon/NOTICE.md"
STATIC_ROWS_FILE = "static_rows.json"  # static bundles only: what maps words to table rows

# The graph's inputs and outputs, in order (``describe_inputs`` gives shapes and meaning).
INPUT_NAMES: tuple[str, ...] = (
    "input_ids",
    "attention_mask",
    "text_present",
    "lex_nodes",
    "lex_attrs",
    "words",
    "numeric",
    "numeric_mask",
    "context",
    "context_len",
)
OUTPUT_NAMES: tuple[str, ...] = ("embedding", "sensory", "families")

MAX_TOKENS = 512  # MiniLM's position table; longer notes are truncated (as in the cloud)
# Fixed sequence lengths of the TFLite signatures: a note runs in the smallest that fits.
TFLITE_BUCKETS: tuple[int, ...] = (32, 64, 128, 256, 512)
# Static text tower: the graph reads a note's DISTINCT table rows with their counts, so a
# 5,000-character note needs at most a few thousand; more is an error, as in the cloud API.
MAX_STATIC_ROWS = 8192
STATIC_BUCKETS: tuple[int, ...] = (32, 128, 512, 2048, MAX_STATIC_ROWS)


@dataclass(frozen=True)
class FormatInfo:
    name: str
    runtime: str  # "onnxruntime" or "litert"
    model_file: str
    int8: bool


FORMATS: dict[str, FormatInfo] = {
    "onnx": FormatInfo("onnx", "onnxruntime", "model.onnx", False),
    "onnx-int8": FormatInfo("onnx-int8", "onnxruntime", "model.onnx", True),
    "tflite": FormatInfo("tflite", "litert", "model.tflite", False),
    "tflite-int8": FormatInfo("tflite-int8", "litert", "model.tflite", True),
}


def format_name(base: str, int8: bool) -> str:
    """``("onnx", True)`` → ``"onnx-int8"``."""
    name = f"{base}-int8" if int8 else base
    if name not in FORMATS:
        raise ValueError(f"unknown edge format {name!r}; choose from {sorted(FORMATS)}")
    return name


@dataclass(frozen=True)
class Tolerance:
    """The parity gate for one precision: every figure must hold on every gate run."""

    min_cosine: float  # smallest cosine(edge, cloud) over the records
    mean_cosine: float  # mean cosine over the records
    min_top10_overlap: float  # mean share of the cloud's top 10 the edge query also ranks top 10
    sensory_mae: float  # mean absolute error of the sensory head, 0-10 points
    sensory_max: float  # largest absolute error of the sensory head, 0-10 points
    family_max: float  # largest absolute error of a family probability

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


# The gate (cosine >= 0.99 fp32, >= 0.97 int8, top-10 overlap >= 0.9) applied to
# the WORST record, plus the sensory and family tolerances we state for the heads.
TOLERANCES: dict[bool, Tolerance] = {
    False: Tolerance(0.99, 0.999, 0.9, 0.02, 0.1, 0.01),
    True: Tolerance(0.97, 0.99, 0.9, 0.15, 0.6, 0.1),
}


def describe_inputs(
    n_nodes: int,
    n_attrs: int,
    n_words: int,
    context_steps: int,
    width: int,
    text_tower: str = "minilm",
) -> list[dict[str, Any]]:
    """The graph's inputs, in order, with shapes (``T`` = tokens or rows) and meaning."""
    if text_tower == "static":
        text = [
            _io(
                "input_ids",
                "int64",
                [1, "T"],
                "the DISTINCT static-table rows of the rendered notes, ascending "
                "(WordPiece ids, or phrase rows >= static_rows.json n_tokens); "
                "[0] when there are none",
            ),
            _io(
                "attention_mask",
                "int64",
                [1, "T"],
                "how many times the note reads each row; 0 for padding",
            ),
        ]
    else:
        text = [
            _io("input_ids", "int64", [1, "T"], "MiniLM token ids of the rendered notes"),
            _io("attention_mask", "int64", [1, "T"], "1 for real tokens, 0 for padding"),
        ]
    return [
        *text,
        _io("text_present", "float32", [1, 1], "1 when the notes are not blank, else 0"),
        _io("lex_nodes", "float32", [1, n_nodes], "summed weight of each wheel node found"),
        _io("lex_attrs", "float32", [1, n_attrs], "structure cues in [-1, 1], 0 if absent"),
        _io("words", "float32", [1, n_words], "L2-normalised sublinear TF-IDF of the words"),
        _io("numeric", "float32", [1, 20], "standardised metrics, exactly 0 where missing"),
        _io("numeric_mask", "float32", [1, 20], "1 where the metric was given, else 0"),
        _io(
            "context",
            "float32",
            [1, context_steps, width],
            "encoded contexts, oldest first, zero rows after the last one",
        ),
        _io("context_len", "int64", [1], "number of real context steps, at least 1"),
    ]


def describe_outputs(embed_dim: int, n_sensory: int, n_families: int) -> list[dict[str, Any]]:
    return [
        _io("embedding", "float32", [1, embed_dim], "the taste vector, unit length"),
        _io("sensory", "float32", [1, n_sensory], "predicted intensities, points 0-10"),
        _io("families", "float32", [1, n_families], "probability of each flavour family"),
    ]


def _io(name: str, dtype: str, shape: list[Any], meaning: str) -> dict[str, Any]:
    return {"name": name, "dtype": dtype, "shape": shape, "meaning": meaning}


MISSING_VALUES = {
    "notes": "blank or absent notes: text_present = 0 (the graph uses a learned 'no notes' "
    "vector); the token ids are then [CLS] [SEP] and lex_nodes, lex_attrs, words are zeros",
    "metrics": "a metric that is absent or null: numeric = 0 and numeric_mask = 0 (never a "
    "silent 0 value); a metric outside its range is an error, as in the cloud API",
    "context": "no context at all: one all-zero step and context_len = 1; a context field "
    "that is absent or null: its value and presence bit are 0",
}

PREPROCESSING = [
    "1. notes: strip leading/trailing whitespace; Unicode NFC-normalise (the lexicon does).",
    "2. render: replace every Korean descriptor or cue the lexicon finds by its English "
    "name (lexicon render_english); English text comes back unchanged.",
    "3. tokens: tokenizer.json (BERT WordPiece, lower-case) on the rendered text, "
    "truncated to 512 tokens, no padding; TFLite pads to its smallest bucket with id 0, mask 0.",
    "4. lexicon on the ORIGINAL notes: lex_nodes[node] += weight for each descriptor; "
    "lex_attrs[cue] = value for each structure cue.",
    "5. words on the RENDERED text: tokenise with vocab.json's pattern (lower-case, "
    "stopwords and 1-letter words dropped, plus adjacent pairs), weight (1 + ln count) * idf, "
    "L2-normalise the row.",
    "6. metrics: (value - mean) / std from scaler.json where given, 0 elsewhere; mask 1/0.",
    "7. context: the user's last <= 8 contexts, oldest first (the current tasting's own "
    "context last); each step is 8 scaled values, 8 presence bits, one-hot social setting, "
    "one-hot location; right-pad with zero rows to 8.",
]

# Step 3 for a static text tower (``text_tower`` "static", bundle format 2).
STATIC_TOKENS_STEP = (
    "3. rows (static text tower): static_rows.json and tokenizer.json on the rendered text: "
    "replace '-' by ' ', run the tokenizer's normalizer and pre_tokenizer to get words; left "
    "to right, where one of static_rows.json's phrases (up to max_phrase_words words) starts, "
    "take the LONGEST match and emit row n_tokens + its index, skipping its words; else emit "
    "the word's WordPiece ids (the tokenizer's model alone, no [CLS]/[SEP]) except those "
    "listed in skip_ids. Then count each distinct row: input_ids = the distinct rows "
    "ascending, attention_mask = their counts ([0] and [0] when none); TFLite pads to its "
    "smallest bucket with id 0, count 0. More distinct rows than max_rows is an error."
)


def preprocessing(text_tower: str) -> list[str]:
    """The pre-processing steps, in words, for a bundle of this text tower."""
    if text_tower != "static":
        return list(PREPROCESSING)
    return [STATIC_TOKENS_STEP if step.startswith("3.") else step for step in PREPROCESSING]


def missing_values(text_tower: str) -> dict[str, str]:
    """How absent notes, metrics and context reach the graph, for this text tower."""
    if text_tower != "static":
        return dict(MISSING_VALUES)
    notes = MISSING_VALUES["notes"].replace(
        "the token ids are then [CLS] [SEP]", "the rows are then [0] with count [0]"
    )
    return {**MISSING_VALUES, "notes": notes}
