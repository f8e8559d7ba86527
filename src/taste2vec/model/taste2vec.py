"""The public model object: featurise, embed, explain, save and load.

>>> model = Taste2Vec.load("artifacts/model")  # doctest: +SKIP
>>> vectors, why = model.encode([record])  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from taste2vec.config import Settings
from taste2vec.errors import ArtifactError
from taste2vec.lexicon import Lexicon, load_lexicon
from taste2vec.model.artifact import load_network, read_config, read_json, save_artifact
from taste2vec.model.features import FeatureBatch, Featurizer, word_texts
from taste2vec.model.network import (
    DESCRIPTOR_DIM,
    DESCRIPTOR_SHARE,
    LEARNED_SHARE,
    SENSORY_COLUMNS,
    WORD_BAG,
    NetworkConfig,
    Taste2VecNet,
)
from taste2vec.model.scaler import APP_SCALE, MetricScaler, record_source
from taste2vec.model.text import MEMORY_CACHE_SIZE, HFSentenceEncoder, TextEncoder
from taste2vec.model.vocab import SensoryVocabulary, cross_fitted_reading
from taste2vec.schema import METRIC_BY_NAME, SENSORY_METRICS, Context, TasteRecord


def ancestry_matrix(lexicon: Lexicon) -> torch.Tensor:
    """``A[i, j] = 1`` when wheel node ``j`` is node ``i`` or one of its ancestors."""
    index = {n.path: n.index for n in lexicon.nodes}
    a = torch.zeros(len(lexicon.nodes), len(lexicon.nodes))
    for node in lexicon.nodes:
        a[node.index, node.index] = 1.0
        parent = node.parent
        while parent:
            a[node.index, index[parent]] = 1.0
            parent = lexicon.node(parent).parent
    return a


def node_family_matrix(lexicon: Lexicon) -> torch.Tensor:
    """``M[i, f] = 1`` when wheel node ``i`` belongs to tier-1 family ``f``."""
    m = torch.zeros(len(lexicon.nodes), len(lexicon.families))
    for node in lexicon.nodes:
        m[node.index, lexicon.families.index(node.family)] = 1.0
    return m


def sensory_targets(
    records: Sequence[TasteRecord], scaler: MetricScaler
) -> tuple[np.ndarray, np.ndarray]:
    """The 12 sensory metrics, standardised on each record's own source scale, and their mask."""
    values = np.zeros((len(records), len(METRIC_BY_NAME)), dtype=np.float32)
    mask = np.zeros_like(values)
    for i, rec in enumerate(records):
        values[i], mask[i] = rec.metrics.to_arrays()
    z = scaler.transform(values, mask, [record_source(r) for r in records])
    cols = list(SENSORY_COLUMNS)
    return z[:, cols], mask[:, cols]


@functools.cache
def _shared_encoder(
    path: Path | None,
    cache_path: Path | None,
    backend: str = "torch",
    memory_size: int = MEMORY_CACHE_SIZE,
) -> HFSentenceEncoder:
    return HFSentenceEncoder(
        path=path, cache_path=cache_path, backend=backend, memory_size=memory_size
    )


@functools.cache
def _shared_static(path: Path | None, cache_dir: Path | None) -> TextEncoder:
    from taste2vec.model.text_static import StaticEncoder

    return StaticEncoder(path=path, cache_dir=cache_dir)


def text_encoder_for(settings: Settings, tower: str | None = None) -> TextEncoder:
    """The process-wide text encoder for these settings (loaded once, cached).

    ``tower`` ("minilm" or "static") overrides ``settings.text_tower`` (``T2V_TEXT_TOWER``).
    """
    if (tower or settings.text_tower) == "static":
        return _shared_static(settings.text_model_path, settings.cache_dir)
    cache = settings.cache_dir / "text-embeddings.sqlite" if settings.cache_dir else None
    return _shared_encoder(
        settings.text_model_path, cache, settings.text_backend, settings.text_cache_size
    )


@dataclass(frozen=True)
class Explanation:
    """Why an embedding looks the way it does, in words a person can read."""

    sensory: dict[str, float]  # predicted intensity per sensory metric, 0-10
    families: dict[str, float]  # flavour family -> probability, most likely first

    def to_dict(self) -> dict[str, Any]:
        return {"sensory": self.sensory, "families": self.families}


class Taste2Vec:
    """A trained Taste2Vec model with everything needed to use it."""

    def __init__(
        self,
        net: Taste2VecNet,
        scaler: MetricScaler,
        lexicon: Lexicon,
        text_encoder: TextEncoder,
        vocab: SensoryVocabulary,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.net = net
        self.scaler = scaler
        self.lexicon = lexicon
        self.text_encoder = text_encoder
        self.vocab = vocab
        self.featurizer = Featurizer(lexicon, text_encoder, scaler, vocab)
        self.info: dict[str, Any] = dict(info or {})

    @classmethod
    def create(
        cls,
        scaler: MetricScaler,
        text_encoder: TextEncoder,
        lexicon: Lexicon | None = None,
        vocab: SensoryVocabulary | None = None,
        word_bag: bool = WORD_BAG,
    ) -> Taste2Vec:
        """A fresh, untrained model sized for ``text_encoder``, the lexicon and vocabulary.

        ``word_bag``: give the sensory tower its learned word bag (off for new models).
        """
        lex = lexicon or load_lexicon()
        vocab = vocab or SensoryVocabulary.empty()
        cfg = NetworkConfig(
            text_dim=text_encoder.dim,
            n_nodes=len(lex.nodes),
            n_attrs=len(lex.attribute_names),
            n_families=len(lex.families),
            n_words=vocab.size,
            learned_share=LEARNED_SHARE,
            descriptor_dim=DESCRIPTOR_DIM,
            descriptor_share=DESCRIPTOR_SHARE,
            word_bag=word_bag,
        )
        net = Taste2VecNet(cfg, ancestry_matrix(lex), node_family_matrix(lex))
        return cls(net, scaler, lex, text_encoder, vocab)

    @classmethod
    def load(
        cls,
        path: Path | str,
        settings: Settings | None = None,
        text_encoder: TextEncoder | None = None,
    ) -> Taste2Vec:
        """Load a model directory written by :meth:`save`."""
        path = Path(path)
        config = read_config(path)
        lex = load_lexicon()
        trained_with = read_json(path / "lexicon.json").get("version")
        if trained_with != lex.version:
            raise ArtifactError(
                f"model {path} was trained with lexicon {trained_with}, this package has "
                f"{lex.version}; retrain with: taste2vec train --out {path}"
            )
        # The artifact names its text tower: a static-tower model loads the static tower.
        tower = "static" if str(config.get("text_model_id", "")).startswith("static-") else "minilm"
        encoder = text_encoder or text_encoder_for(settings or Settings(), tower)
        if config.get("text_model_id") != encoder.model_id:
            raise ArtifactError(
                f"model {path} expects text model {config.get('text_model_id')}, but "
                f"{encoder.model_id} is configured; set T2V_TEXT_MODEL_PATH (and "
                "T2V_TEXT_TOWER) or retrain"
            )
        net, scaler, vocab = load_network(path, ancestry_matrix(lex), node_family_matrix(lex))
        return cls(net, scaler, lex, encoder, vocab, info=config)

    def save(self, path: Path | str, data_info: dict[str, Any], metrics: dict[str, Any]) -> None:
        config = {
            "text_model_id": self.text_encoder.model_id,
            "metric_names": list(METRIC_BY_NAME),
            "sensory_metrics": list(SENSORY_METRICS),
            "families": list(self.lexicon.families),
            **{k: v for k, v in self.info.items() if k == "train"},
        }
        save_artifact(
            Path(path),
            self.net,
            self.scaler,
            self.vocab,
            config,
            self.lexicon.version,
            data_info,
            metrics,
        )

    def featurize(
        self,
        records: Sequence[TasteRecord],
        histories: Sequence[Sequence[Context]] | None = None,
        progress: bool = False,
        scale: str | None = None,
    ) -> FeatureBatch:
        """Model inputs; metrics on each record's source scale (see ``scaler.py``) or ``scale``."""
        return self.featurizer(records, histories, progress=progress, scale=scale)

    def cross_fitted_reading(
        self, records: Sequence[TasteRecord], folds: int = 5, seed: int = 0
    ) -> np.ndarray:
        """Out-of-fold vocabulary readings of ``records`` (n, 12), with the model's alphas.

        For rows the reading may have been fitted on (training rows, or rows a
        probe is fitted on), so that they look like the readings of unseen notes.
        A target a row does not observe never used that row, so there it keeps
        the model's own reading (refitting it on ``records`` alone could not
        reproduce a target they lack).
        """
        notes = [r.notes for r in records]
        tfidf = self.vocab.encode(word_texts(self.lexicon, notes, self.vocab.descriptor_terms))
        full = self.vocab.read(tfidf, len(SENSORY_COLUMNS))
        targets, mask = sensory_targets(records, self.scaler)
        alpha = self.vocab.reading_alpha
        if alpha.shape != (len(SENSORY_COLUMNS),):
            return full
        oof = cross_fitted_reading(tfidf, targets, mask, folds=folds, seed=seed, alpha=alpha)
        return np.where(mask > 0, oof, full).astype(np.float32)

    @torch.inference_mode()
    def embed_batch(self, batch: FeatureBatch, chunk: int = 512) -> np.ndarray:
        # eval() walks every module through torch's __setattr__ (about 0.3 ms, a sixth of
        # embedding one tasting): only when some module is in training mode.
        if any(m.training for m in self.net.modules()):
            self.net.eval()
        n = len(batch)
        if n == 0:
            return np.zeros((0, self.net.cfg.embed_dim), dtype=np.float32)
        if n <= chunk:
            out: np.ndarray = self.net(batch).numpy()
            return out
        parts = [self.net(batch.index(slice(i, i + chunk))) for i in range(0, n, chunk)]
        return torch.cat(parts).numpy()

    def embed(
        self,
        records: Sequence[TasteRecord],
        histories: Sequence[Sequence[Context]] | None = None,
        scale: str | None = None,
    ) -> np.ndarray:
        """128-d unit vectors, one row per record. Inputs are never modified.

        Metrics are read on each record's source scale, or on ``scale`` when given.
        """
        return self.embed_batch(self.featurize(records, histories, scale=scale))

    @torch.inference_mode()
    def predict_heads(
        self, embeddings: np.ndarray, scale: str = APP_SCALE
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sensory metrics in points on ``scale`` (n, 12) and family probabilities (n, 9).

        ``scale`` is a source in :data:`~taste2vec.model.scaler.SOURCE_SCALES`: the
        app's 0-10 intensities by default, ``"coffeereview"`` for Coffee Review scores.
        """
        self.net.eval()
        z, logits = self.net.heads(torch.from_numpy(np.asarray(embeddings, dtype=np.float32)))
        sensory = self.scaler.inverse(z.numpy(), list(SENSORY_COLUMNS), source=scale)
        return np.clip(sensory, 0.0, 10.0), torch.sigmoid(logits).numpy()

    @torch.inference_mode()
    def decoded_readings(self, embeddings: np.ndarray, scale: str = APP_SCALE) -> np.ndarray:
        """The readings block of ``embeddings`` (a fixed linear map), in points on ``scale``.

        No head, no fitting: what the vector itself says about the 12 sensory metrics.
        """
        readings, _, _ = self.net.decode(torch.from_numpy(np.asarray(embeddings, np.float32)))
        out: np.ndarray = self.scaler.inverse(readings.numpy(), list(SENSORY_COLUMNS), source=scale)
        return out

    def explain(self, embeddings: np.ndarray) -> list[Explanation]:
        sensory, probs = self.predict_heads(embeddings)
        out = []
        for s_row, p_row in zip(sensory, probs, strict=True):
            fams = sorted(
                zip(self.lexicon.families, p_row.tolist(), strict=True), key=lambda x: -x[1]
            )
            out.append(
                Explanation(
                    sensory={
                        m: round(float(v), 2) for m, v in zip(SENSORY_METRICS, s_row, strict=True)
                    },
                    families={f: round(p, 3) for f, p in fams},
                )
            )
        return out

    def encode(
        self,
        records: Sequence[TasteRecord],
        histories: Sequence[Sequence[Context]] | None = None,
    ) -> tuple[np.ndarray, list[Explanation]]:
        """Embeddings and their explanations."""
        emb = self.embed(records, histories)
        return emb, self.explain(emb)
