"""The Taste2Vec network: four towers, a fusion layer and two explanation heads.

Shapes follow the seed design (text 64 + sensory 64 + numeric 64 + context 32
= 224 → 128, L2-normalised), with these fixes:

- text: a frozen sentence encoder's mean-pooled vector, projected to 64;
- sensory: flavour-wheel nodes embedded hierarchically (a node's vector is the
  sum of its own, its tier-2 parent's and its tier-1 family's vectors), plus
  structure cues, plus a TF-IDF bag of the note's words (see ``vocab.py``), → 64;
- numeric: the seed's MLP, fed the 20 standardised values *and* their missing
  mask (so Linear(40, 64) instead of Linear(20, 64)), ending in BatchNorm;
- context: a 2-layer LSTM over the user's recent contexts, last valid step, 32;
- heads: sensory intensities (standardised) and flavour-family logits.

The 128-d vector has two blocks (format 2, issue 10):

- a *learned* block (``embed_dim - n_block`` dims): the fusion of the four
  towers, L2-normalised, scaled to norm ``sqrt(learned_share)``;
- a *descriptor* block (``descriptor_dim`` dims, models trained since the Korean
  parallel check): the lexicon's wheel nodes and structure cues through fixed
  hierarchical codes, a unit vector scaled to ``sqrt(descriptor_share)`` (zero when
  the notes name nothing), so what the lexicon reads, in either language, holds a
  fixed share of every cosine instead of being blurred by the fusion;
- a *decodable* block: the vocabulary's cross-fitted ridge readings of the 12
  sensory metrics (clipped to ±``reading_clip``), the lexicon's evidence for
  each of the 9 flavour families (1 when the notes name one of its nodes) and a
  notes-present bit (so "no family named" and "no notes" differ), times a fixed
  ``block_scale``, plus one slack coordinate that makes the whole vector
  exactly unit-norm.

Because the slack absorbs the remaining norm, the final vector is unit-length
without dividing the block by a per-record norm, so a fixed linear map
(:meth:`Taste2VecNet.decode`) reads the block back exactly. The heads start
from that block and learn a residual from the whole vector; they stay
functions of the 128-d vector alone.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from taste2vec.model.features import CONTEXT_DIM, FeatureBatch
from taste2vec.schema import METRIC_NAMES, N_METRICS, SENSORY_METRICS

EMBED_DIM = 128
# New models' descriptor block (issue 10): 24 dims holding half of every cosine.
DESCRIPTOR_DIM = 24
DESCRIPTOR_SHARE = 0.5
LEARNED_SHARE = 0.4
# New models' sensory tower has no word bag (issue 10): its Linear(n_words -> 64) over the
# notes' TF-IDF row made the learned block in-sample on the training notes (docs/model.md).
WORD_BAG = False
SENSORY_COLUMNS: tuple[int, ...] = tuple(METRIC_NAMES.index(m) for m in SENSORY_METRICS)


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture hyper-parameters; saved as JSON in the model artifact."""

    text_dim: int = 384
    n_nodes: int = 110
    n_attrs: int = 7
    n_families: int = 9
    n_words: int = 0
    text_out: int = 64
    sensory_out: int = 64
    numeric_out: int = 64
    context_hidden: int = 32
    embed_dim: int = EMBED_DIM
    dropout: float = 0.2
    n_readings: int = len(SENSORY_COLUMNS)
    reading_clip: float = 4.0
    learned_share: float = 0.9  # squared norm of the learned block
    head_hidden: int = 64  # the sensory head's residual MLP width; 0 = a linear residual
    # The descriptor block (issue 10, Korean <-> English): a fixed code of the lexicon's
    # descriptors. 0 here keeps format-2 models saved before it loadable; new models get
    # DESCRIPTOR_DIM / DESCRIPTOR_SHARE / LEARNED_SHARE (see Taste2Vec.create).
    descriptor_dim: int = 0
    descriptor_share: float = 0.0  # squared norm of the descriptor block when notes name any
    descriptor_seed: int = 10
    # The sensory tower's learned word bag, Linear(n_words -> sensory_out) over the TF-IDF
    # row. True here keeps models saved before the switch loadable; new models get
    # WORD_BAG (off). Without it the words still feed the readings (the vocabulary).
    word_bag: bool = True

    @property
    def n_block(self) -> int:
        """Width after the learned block: descriptors, readings, evidence, notes bit, slack."""
        return self.descriptor_dim + self.n_readings + self.n_families + 2

    @property
    def learned_dim(self) -> int:
        return self.embed_dim - self.n_block

    @property
    def block_scale(self) -> float:
        """Largest scale at which a maximal block still leaves the slack non-negative."""
        largest = self.n_readings * self.reading_clip**2 + self.n_families + 1
        rest = 1.0 - self.learned_share - self.descriptor_share
        return float((rest / largest) ** 0.5)

    def to_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


def descriptor_codes(ancestry: torch.Tensor, n_attrs: int, dim: int, seed: int) -> torch.Tensor:
    """A fixed code per wheel node and structure cue, ``(n_nodes + n_attrs, dim)``.

    Each node, tier-2 group and family gets a seeded random unit vector; a node's
    code is its own vector plus 0.7 × its parent's plus 0.5 × its family's (via
    ``ancestry``; deeper ancestors weigh less), normalised, so lemon is nearer lime
    than cocoa. Each cue (acidity, body, ...) gets its own unit vector, signed by
    the cue's direction when used. Stored in the model's weights, never trained.
    """
    gen = torch.Generator().manual_seed(seed)
    n_nodes = ancestry.shape[0]
    base = torch.randn(n_nodes + n_attrs, dim, generator=gen, dtype=torch.float64)
    base = base / base.norm(dim=1, keepdim=True)
    depth = ancestry.sum(dim=1).to(torch.float64)  # 1 for a family, 2 for tier 2, 3 for a leaf
    # weight of ancestor j in node i's code: 1 for itself, 0.7 one level up, 0.5 two up
    gap = depth[:, None] - depth[None, :]
    weight = ancestry.to(torch.float64) * torch.where(
        gap == 0, 1.0, torch.where(gap == 1, 0.7, 0.5)
    )
    nodes = weight @ base[:n_nodes]
    nodes = nodes / nodes.norm(dim=1, keepdim=True)
    return torch.cat([nodes, base[n_nodes:]]).to(torch.float32)


class TextTower(nn.Module):
    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(cfg.text_dim, cfg.text_out), nn.GELU())
        self.missing = nn.Parameter(torch.zeros(cfg.text_out))

    def forward(self, emb: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = present * self.proj(emb) + (1 - present) * self.missing
        return out


class SensoryTower(nn.Module):
    """Weighted bag of flavour-wheel nodes with hierarchical embeddings, plus cues."""

    def __init__(self, cfg: NetworkConfig, ancestry: torch.Tensor) -> None:
        super().__init__()
        # ancestry[i, j] = 1 when node j is node i or one of its ancestors.
        self.register_buffer("ancestry", ancestry.float())
        self.node_vectors = nn.Parameter(torch.randn(cfg.n_nodes, cfg.sensory_out) * 0.1)
        self.attrs = nn.Linear(cfg.n_attrs, cfg.sensory_out)
        self.reading = nn.Linear(len(SENSORY_COLUMNS), cfg.sensory_out)
        # None without a word bag: the words then reach the vector only through the readings.
        self.words: nn.Module | None = (
            nn.Sequential(
                nn.Dropout(0.1), nn.Linear(max(cfg.n_words, 1), cfg.sensory_out, bias=False)
            )
            if cfg.word_bag
            else None
        )
        self.out = nn.Sequential(nn.GELU(), nn.Linear(cfg.sensory_out, cfg.sensory_out))

    def forward(
        self, nodes: torch.Tensor, attrs: torch.Tensor, words: torch.Tensor, reading: torch.Tensor
    ) -> torch.Tensor:
        total = nodes.sum(dim=1, keepdim=True)
        weights = nodes / total.clamp(min=1.0)
        ancestry = self.get_buffer("ancestry")
        bag = weights @ ancestry @ self.node_vectors
        hidden = bag + self.attrs(attrs) + self.reading(reading)
        if self.words is not None:
            if words.shape[1] == 0:  # a model without a fitted vocabulary
                words = words.new_zeros(words.shape[0], 1)
            hidden = hidden + self.words(words)
        out: torch.Tensor = self.out(hidden)
        return out


class NumericTower(nn.Module):
    """The seed's MLP ending in BatchNorm, plus a learned vector for "no numbers at all".

    Rows without a single observed metric never reach the BatchNorm: a batch of
    identical all-missing rows would otherwise train it on zero variance and
    shift its running statistics away from real inputs.
    """

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2 * N_METRICS, cfg.numeric_out),
            nn.ReLU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.numeric_out, cfg.numeric_out),
        )
        self.norm = nn.BatchNorm1d(cfg.numeric_out)
        self.missing = nn.Parameter(torch.zeros(cfg.numeric_out))

    def forward(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        present = mask.sum(dim=1, keepdim=True) > 0
        hidden = self.net(torch.cat([values, mask], dim=1))
        if self.training:
            rows = present.view(-1)
            normed = torch.zeros_like(hidden)
            if int(rows.sum()) >= 2:
                normed[rows] = self.norm(hidden[rows])
            elif int(rows.sum()) == 1:  # too few rows for batch statistics
                normed[rows] = nn.functional.batch_norm(
                    hidden[rows],
                    self.norm.running_mean,
                    self.norm.running_var,
                    self.norm.weight,
                    self.norm.bias,
                    training=False,
                    eps=self.norm.eps,
                )
        else:
            normed = self.norm(hidden)
        return torch.where(present, normed, self.missing.expand_as(normed))


class ContextTower(nn.Module):
    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.lstm = nn.LSTM(CONTEXT_DIM, cfg.context_hidden, num_layers=2, batch_first=True)

    def forward(self, seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(seq)
        # Right-padded and unidirectional: the state at the last valid step ignores padding.
        last = (lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, out.shape[-1])
        result: torch.Tensor = out.gather(1, last).squeeze(1)
        return result


class SensoryHead(nn.Module):
    """The decoded readings (per-target gain and bias) plus a residual, zero at start.

    The residual is an MLP (``head_hidden`` wide) or, with ``head_hidden=0``, linear,
    which makes the whole head a linear function of the vector.
    """

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(cfg.n_readings))
        self.bias = nn.Parameter(torch.zeros(cfg.n_readings))
        last = nn.Linear(cfg.head_hidden or cfg.embed_dim, cfg.n_readings)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.residual: nn.Module = (
            nn.Sequential(nn.Linear(cfg.embed_dim, cfg.head_hidden), nn.GELU(), last)
            if cfg.head_hidden
            else last
        )

    def forward(self, decoded: torch.Tensor, readings: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = readings * self.gain + self.bias + self.residual(decoded)
        return out


class FamilyHead(nn.Module):
    """Logits from the lexicon's family evidence plus a linear residual.

    At start ``8 * evidence - 4 * notes``: with notes, a named family is likely and an
    unnamed one unlikely; without notes (evidence unknown, not absent) the logit is
    left to the bias and residual, which learn what the numbers imply.
    """

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.full((cfg.n_families,), 8.0))
        self.notes = nn.Parameter(torch.full((cfg.n_families,), -4.0))
        self.bias = nn.Parameter(torch.zeros(cfg.n_families))
        self.residual = nn.Linear(cfg.embed_dim, cfg.n_families)
        nn.init.zeros_(self.residual.weight)
        nn.init.zeros_(self.residual.bias)

    def forward(
        self, decoded: torch.Tensor, evidence: torch.Tensor, notes: torch.Tensor
    ) -> torch.Tensor:
        out: torch.Tensor = (
            evidence * self.gain + notes * self.notes + self.bias + self.residual(decoded)
        )
        return out


class Taste2VecNet(nn.Module):
    """Towers → fusion → learned block, next to the decodable block; 128-d unit vector."""

    def __init__(
        self, cfg: NetworkConfig, ancestry: torch.Tensor, node_family: torch.Tensor
    ) -> None:
        super().__init__()
        if cfg.learned_dim < 8 or not 0.0 < cfg.learned_share < 1.0:
            raise ValueError(f"embed_dim {cfg.embed_dim} too small for the decodable block")
        if cfg.descriptor_share < 0 or cfg.learned_share + cfg.descriptor_share >= 1.0:
            raise ValueError("learned_share + descriptor_share must stay below 1 (slack)")
        if (cfg.descriptor_dim > 0) != (cfg.descriptor_share > 0):
            raise ValueError("descriptor_dim and descriptor_share must both be 0 or both > 0")
        self.cfg = cfg
        if cfg.descriptor_dim:
            codes = descriptor_codes(ancestry, cfg.n_attrs, cfg.descriptor_dim, cfg.descriptor_seed)
            self.register_buffer("descriptor_codes", codes)
        # node_family[i, f] = 1 when wheel node i belongs to tier-1 family f.
        self.register_buffer("node_family", node_family.float())
        self.text = TextTower(cfg)
        self.sensory = SensoryTower(cfg, ancestry)
        self.numeric = NumericTower(cfg)
        self.context = ContextTower(cfg)
        fused = cfg.text_out + cfg.sensory_out + cfg.numeric_out + cfg.context_hidden
        self.fusion = nn.Linear(fused, cfg.learned_dim)
        self.sensory_head = SensoryHead(cfg)
        self.family_head = FamilyHead(cfg)

    def forward(self, batch: FeatureBatch) -> torch.Tensor:
        """The unit-norm 128-d embedding, shape ``(B, embed_dim)``."""
        parts = [
            self.text(batch.text_emb, batch.text_present),
            self.sensory(batch.lex_nodes, batch.lex_attrs, batch.words, batch.reading),
            self.numeric(batch.numeric, batch.numeric_mask),
            self.context(batch.context, batch.context_len),
        ]
        return self.fuse(parts, batch.reading, batch.lex_nodes, batch.text_present, batch.lex_attrs)

    def family_evidence(self, lex_nodes: torch.Tensor) -> torch.Tensor:
        """1 for each tier-1 family one of whose wheel nodes the notes name."""
        return ((lex_nodes @ self.get_buffer("node_family")) > 0).to(lex_nodes.dtype)

    def descriptors(self, lex_nodes: torch.Tensor, lex_attrs: torch.Tensor) -> torch.Tensor:
        """The descriptor block: the notes' wheel nodes and cues through the fixed codes.

        A unit vector times ``sqrt(descriptor_share)``; all zero when the notes name
        nothing the lexicon knows. The same for a Korean note and its translation
        whenever the lexicon reads both alike.
        """
        cfg = self.cfg
        codes = self.get_buffer("descriptor_codes")
        raw = lex_nodes @ codes[: cfg.n_nodes] + lex_attrs @ codes[cfg.n_nodes :]
        norm = raw.norm(dim=1, keepdim=True)
        unit = raw / norm.clamp(min=1e-6) * (norm > 1e-6).to(raw.dtype)
        out: torch.Tensor = unit * cfg.descriptor_share**0.5
        return out

    def fuse(
        self,
        parts: list[torch.Tensor],
        reading: torch.Tensor,
        lex_nodes: torch.Tensor,
        text_present: torch.Tensor,
        lex_attrs: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Tower outputs → ``[learned, descriptors, decodable block, slack]``, unit-norm.

        ``lex_attrs`` is needed when the model has a descriptor block.
        """
        cfg = self.cfg
        learned = nn.functional.normalize(self.fusion(torch.cat(parts, dim=1)), dim=-1)
        clip = cfg.reading_clip
        block = torch.cat(
            [reading.clamp(-clip, clip), self.family_evidence(lex_nodes), text_present], dim=1
        )
        block = block * cfg.block_scale
        if cfg.descriptor_dim:
            if lex_attrs is None:
                raise ValueError("this model's descriptor block needs lex_attrs")
            desc = self.descriptors(lex_nodes, lex_attrs)
            block = torch.cat([desc, block], dim=1)
        rest = 1.0 - cfg.learned_share - (block * block).sum(dim=1, keepdim=True)
        slack = rest.clamp(min=0.0).sqrt()
        return torch.cat([learned * cfg.learned_share**0.5, block, slack], dim=1)

    def learned(self, embedding: torch.Tensor) -> torch.Tensor:
        """The learned block of ``embedding``, as a unit vector."""
        out: torch.Tensor = embedding[:, : self.cfg.learned_dim] / math.sqrt(self.cfg.learned_share)
        return out

    def decode(self, embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The readings (standardised units), family evidence and notes bit in ``embedding``.

        A fixed linear map of the vector: exact for every vector :meth:`forward` makes.
        """
        cfg = self.cfg
        start = cfg.learned_dim + cfg.descriptor_dim
        block = embedding[:, start : start + cfg.n_block - cfg.descriptor_dim - 1]
        block = block / cfg.block_scale
        fam_end = cfg.n_readings + cfg.n_families
        return block[:, : cfg.n_readings], block[:, cfg.n_readings : fam_end], block[:, fam_end:]

    def heads(self, embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised sensory predictions and flavour-family logits, from the vector alone."""
        readings, evidence, notes = self.decode(embedding)
        cfg = self.cfg
        # The heads' residuals see every block at unit scale (a fixed rescaling of the vector).
        start = cfg.learned_dim
        desc = (
            embedding[:, start : start + cfg.descriptor_dim]
            / max(cfg.descriptor_share, 1e-12) ** 0.5
        )
        decoded = torch.cat(
            [
                self.learned(embedding),
                desc,
                readings,
                evidence,
                notes,
                embedding[:, -1:] / (1.0 - cfg.learned_share) ** 0.5,
            ],
            dim=1,
        )
        return self.sensory_head(decoded, readings), self.family_head(decoded, evidence, notes)
