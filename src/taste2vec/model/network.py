"""The Taste2Vec network: four towers, a fusion layer and two explanation heads.

Shapes follow the seed design (text 64 + sensory 64 + numeric 64 + context 32
= 224 → 128, L2-normalised), with the fixes in ARCHITECTURE.md:

- text: a frozen sentence encoder's mean-pooled vector, projected to 64;
- sensory: flavour-wheel nodes embedded hierarchically (a node's vector is the
  sum of its own, its tier-2 parent's and its tier-1 family's vectors), plus
  structure cues, plus a TF-IDF bag of the note's words (see ``vocab.py``), → 64;
- numeric: the seed's MLP, fed the 20 standardised values *and* their missing
  mask (so Linear(40, 64) instead of Linear(20, 64)), ending in BatchNorm;
- context: a 2-layer LSTM over the user's recent contexts, last valid step, 32;
- heads: sensory intensities (standardised) and flavour-family logits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from taste2vec.model.features import CONTEXT_DIM, FeatureBatch
from taste2vec.schema import METRIC_NAMES, N_METRICS, SENSORY_METRICS

EMBED_DIM = 128
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

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


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
        self.words = nn.Sequential(
            nn.Dropout(0.1), nn.Linear(max(cfg.n_words, 1), cfg.sensory_out, bias=False)
        )
        self.out = nn.Sequential(nn.GELU(), nn.Linear(cfg.sensory_out, cfg.sensory_out))

    def forward(
        self, nodes: torch.Tensor, attrs: torch.Tensor, words: torch.Tensor, reading: torch.Tensor
    ) -> torch.Tensor:
        total = nodes.sum(dim=1, keepdim=True)
        weights = nodes / total.clamp(min=1.0)
        ancestry = self.get_buffer("ancestry")
        bag = weights @ ancestry @ self.node_vectors
        if words.shape[1] == 0:  # a model without a fitted vocabulary
            words = words.new_zeros(words.shape[0], 1)
        out: torch.Tensor = self.out(
            bag + self.attrs(attrs) + self.words(words) + self.reading(reading)
        )
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


class Taste2VecNet(nn.Module):
    """Towers → fusion → 128-d unit vector, plus explanation heads."""

    def __init__(self, cfg: NetworkConfig, ancestry: torch.Tensor) -> None:
        super().__init__()
        self.cfg = cfg
        self.text = TextTower(cfg)
        self.sensory = SensoryTower(cfg, ancestry)
        self.numeric = NumericTower(cfg)
        self.context = ContextTower(cfg)
        fused = cfg.text_out + cfg.sensory_out + cfg.numeric_out + cfg.context_hidden
        self.fusion = nn.Linear(fused, cfg.embed_dim)
        self.sensory_head = nn.Sequential(
            nn.Linear(cfg.embed_dim, 64), nn.GELU(), nn.Linear(64, len(SENSORY_COLUMNS))
        )
        self.family_head = nn.Linear(cfg.embed_dim, cfg.n_families)

    def forward(self, batch: FeatureBatch) -> torch.Tensor:
        """The L2-normalised 128-d embedding, shape ``(B, embed_dim)``."""
        parts = [
            self.text(batch.text_emb, batch.text_present),
            self.sensory(batch.lex_nodes, batch.lex_attrs, batch.words, batch.reading),
            self.numeric(batch.numeric, batch.numeric_mask),
            self.context(batch.context, batch.context_len),
        ]
        return nn.functional.normalize(self.fusion(torch.cat(parts, dim=1)), dim=-1)

    def heads(self, embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised sensory predictions and flavour-family logits."""
        return self.sensory_head(embedding), self.family_head(embedding)
