"""Turn validated records into the tensors the Taste2Vec towers read.

Everything that is not a neural network lives here, as plain code: the lexicon
match, the Korean-to-English rendering for the text tower, the metric scaler
and the context encoding. The edge bundle reimplements exactly these steps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from taste2vec.lexicon import Lexicon
from taste2vec.model.scaler import MetricScaler, record_source
from taste2vec.model.text import TextEncoder
from taste2vec.model.vocab import SensoryVocabulary
from taste2vec.schema import SENSORY_METRICS, Context, LocationType, SocialSetting, TasteRecord

MAX_HISTORY = 8
_CONTINUOUS: tuple[tuple[str, float], ...] = (
    ("hour", 24.0),
    ("weekday", 7.0),
    ("weather_temp_c", 40.0),
    ("humidity_pct", 100.0),
    ("mood", 10.0),
    ("stress", 10.0),
    ("energy", 10.0),
    ("hunger", 10.0),
)
_SOCIAL = tuple(SocialSetting)
_LOCATION = tuple(LocationType)
CONTEXT_DIM = 2 * len(_CONTINUOUS) + len(_SOCIAL) + len(_LOCATION)


def encode_context(ctx: Context) -> np.ndarray:
    """One context step: 8 scaled values, their 8 presence bits, then two one-hots."""
    vec = np.zeros(CONTEXT_DIM, dtype=np.float32)
    n = len(_CONTINUOUS)
    for i, (name, scale) in enumerate(_CONTINUOUS):
        value = getattr(ctx, name)
        if value is not None:
            vec[i] = float(value) / scale
            vec[n + i] = 1.0
    if ctx.social_setting is not None:
        vec[2 * n + _SOCIAL.index(ctx.social_setting)] = 1.0
    if ctx.location_type is not None:
        vec[2 * n + len(_SOCIAL) + _LOCATION.index(ctx.location_type)] = 1.0
    return vec


@dataclass(frozen=True)
class FeatureBatch:
    """Model inputs for a batch of records (all float32 except ``context_len``)."""

    text_emb: torch.Tensor  # (B, text_dim) sentence embedding of the rendered notes
    text_present: torch.Tensor  # (B, 1) 1 when the record has notes
    lex_nodes: torch.Tensor  # (B, n_nodes) weight of each flavour-wheel node found
    lex_attrs: torch.Tensor  # (B, n_attrs) structure cues (acidity+, body-, ...)
    words: torch.Tensor  # (B, vocab) TF-IDF of the note's words and word pairs
    reading: torch.Tensor  # (B, 12) the vocabulary's ridge reading of the sensory metrics
    numeric: torch.Tensor  # (B, 20) metrics standardised on their source's scale, 0 where missing
    numeric_mask: torch.Tensor  # (B, 20) 1 where observed
    context: torch.Tensor  # (B, L, CONTEXT_DIM) recent contexts, oldest first, right-padded
    context_len: torch.Tensor  # (B,) int64, >= 1

    def __len__(self) -> int:
        return int(self.text_emb.shape[0])

    def index(self, idx: torch.Tensor | slice) -> FeatureBatch:
        """Rows ``idx`` of every tensor."""
        return FeatureBatch(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def text_view(self) -> FeatureBatch:
        """The same records with every numeric input masked as missing."""
        return replace(
            self,
            numeric=torch.zeros_like(self.numeric),
            numeric_mask=torch.zeros_like(self.numeric_mask),
        )

    def numeric_view(self) -> FeatureBatch:
        """The same records with the notes (text and lexicon) removed."""
        return replace(
            self,
            text_emb=torch.zeros_like(self.text_emb),
            text_present=torch.zeros_like(self.text_present),
            lex_nodes=torch.zeros_like(self.lex_nodes),
            lex_attrs=torch.zeros_like(self.lex_attrs),
            words=torch.zeros_like(self.words),
            reading=torch.zeros_like(self.reading),
        )


def context_histories(records: Sequence[TasteRecord]) -> list[list[Context]]:
    """For each record, the contexts of the same user's records up to it (oldest first).

    Only records in ``records`` are used; the service passes explicit histories instead.
    """
    by_user: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        by_user[rec.user].append(i)
    out: list[list[Context]] = [[] for _ in records]
    for idxs in by_user.values():
        ordered = sorted(idxs, key=lambda i: (records[i].timestamp, i))
        seen: list[Context] = []
        for i in ordered:
            ctx = records[i].context
            if ctx is not None:
                seen.append(ctx)
            out[i] = seen[-MAX_HISTORY:]
    return out


def word_texts(
    lexicon: Lexicon,
    notes: Sequence[str],
    descriptor_terms: bool,
    rendered: Sequence[str] | None = None,
) -> list[str]:
    """The texts the word bag and its reading tokenise, one per note.

    The note with its Korean descriptors rendered in English; with
    ``descriptor_terms`` (the vocabulary's flag), followed by the lexicon's canonical
    English rendering of what it read (``Lexicon.render_canonical``). The free
    words of a Korean note and of its English translation differ; the canonical
    terms are the same, so the sensory reading of the two agrees far more.
    """
    base = list(rendered) if rendered is not None else [lexicon.render_english(t) for t in notes]
    if not descriptor_terms:
        return base
    out = []
    for text, shown in zip(notes, base, strict=True):
        canonical = lexicon.render_canonical(text)
        out.append(f"{shown} | {canonical}" if canonical else shown)
    return out


class Featurizer:
    """Records → :class:`FeatureBatch`, given a lexicon, a text encoder and a scaler."""

    def __init__(
        self,
        lexicon: Lexicon,
        text_encoder: TextEncoder,
        scaler: MetricScaler,
        vocab: SensoryVocabulary,
    ) -> None:
        self.lexicon = lexicon
        self.text_encoder = text_encoder
        self.scaler = scaler
        self.vocab = vocab

    def lexicon_arrays(self, notes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        nodes = np.zeros((len(notes), len(self.lexicon.nodes)), dtype=np.float32)
        attrs = np.zeros((len(notes), len(self.lexicon.attribute_names)), dtype=np.float32)
        attr_index = {a: j for j, a in enumerate(self.lexicon.attribute_names)}
        for i, text in enumerate(notes):
            for d in self.lexicon.extract(text):
                nodes[i, d.node.index] += d.weight
            for name, value in self.lexicon.attributes(text).items():
                attrs[i, attr_index[name]] = value
        return nodes, attrs

    def __call__(
        self,
        records: Sequence[TasteRecord],
        histories: Sequence[Sequence[Context]] | None = None,
        progress: bool = False,
        scale: str | None = None,
    ) -> FeatureBatch:
        """Features of ``records``; metrics on each record's source scale, or on ``scale``."""
        if histories is not None and len(histories) != len(records):
            raise ValueError("histories must have one entry per record")
        notes = [r.notes for r in records]
        rendered = [self.lexicon.render_english(t) for t in notes]
        text_emb = self.text_encoder.encode(rendered, progress=progress)
        present = np.array([[1.0 if t.strip() else 0.0] for t in notes], dtype=np.float32)
        nodes, attrs = self.lexicon_arrays(notes)
        tfidf = self.vocab.encode(
            word_texts(self.lexicon, notes, self.vocab.descriptor_terms, rendered)
        )
        values = np.zeros((len(records), 20), dtype=np.float32)
        mask = np.zeros_like(values)
        for i, rec in enumerate(records):
            values[i], mask[i] = rec.metrics.to_arrays()
        sources = [scale or record_source(r) for r in records]
        hist = list(histories) if histories is not None else context_histories(records)
        width = max([1, *(len(h[-MAX_HISTORY:]) for h in hist)])
        ctx = np.zeros((len(records), width, CONTEXT_DIM), dtype=np.float32)
        lengths = np.ones(len(records), dtype=np.int64)
        for i, steps in enumerate(hist):
            steps = list(steps)[-MAX_HISTORY:]
            for t, step in enumerate(steps):
                ctx[i, t] = encode_context(step)
            lengths[i] = max(1, len(steps))
        return FeatureBatch(
            text_emb=torch.from_numpy(text_emb),
            text_present=torch.from_numpy(present),
            lex_nodes=torch.from_numpy(nodes),
            lex_attrs=torch.from_numpy(attrs),
            words=torch.from_numpy(tfidf),
            reading=torch.from_numpy(self.vocab.read(tfidf, len(SENSORY_METRICS))),
            numeric=torch.from_numpy(self.scaler.transform(values, mask, sources)),
            numeric_mask=torch.from_numpy(mask),
            context=torch.from_numpy(ctx),
            context_len=torch.from_numpy(lengths),
        )
