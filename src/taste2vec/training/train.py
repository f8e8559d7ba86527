"""``taste2vec train``: fit the Taste2Vec network on a corpus of records.

Supervision (issue 10): every metric is standardised on its own source's scale
(``scaler.py``); CQI records train the numbers only (their "notes" are a
metadata sentence, see ``corpus.py``). The vocabulary's sensory reading is a
per-target ``RidgeCV`` on the training notes; training rows see its
out-of-fold readings, inference the full fit. Those readings and the lexicon's
family evidence form the decodable block of the vector (``network.py``).

The objective has three parts:

1. cross-modal agreement: InfoNCE between the learned blocks of the notes view
   (text + lexicon, numeric masked) and the numbers view of the same record;
2. sensory regression: the sensory head predicts every observed sensory metric
   from the full, the notes-only and the numbers-only embedding;
3. flavour families: the family head predicts which wheel families the notes
   mention, from the full and the notes-only embedding.

Inputs are randomly dropped (each metric with p=0.3, the notes with p=0.15) in
the full view, so the model learns to cope with partial records. Training is
deterministic under ``seed``. The epoch count is chosen on validation: the
notes-only sensory MSE plus family BCE on the Coffee Review validation rows
(all validation rows when there are none). Then, with ``refit`` (the default),
the scaler, vocabulary, reading and network are fitted again from scratch on
train + validation for exactly that many epochs.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from taste2vec.errors import ModelError
from taste2vec.lexicon import Lexicon, load_lexicon
from taste2vec.model.features import FeatureBatch, word_texts
from taste2vec.model.network import SENSORY_COLUMNS
from taste2vec.model.scaler import MetricScaler, record_source
from taste2vec.model.taste2vec import Taste2Vec, node_family_matrix, sensory_targets
from taste2vec.model.text import TextEncoder
from taste2vec.model.vocab import (
    SensoryVocabulary,
    choose_alphas,
    cross_fitted_reading,
    fit_reading,
)
from taste2vec.schema import TasteRecord
from taste2vec.training.corpus import Corpus
from taste2vec.training.losses import info_nce, masked_bce, masked_mse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 60
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 6
    temperature: float = 0.1
    metric_dropout: float = 0.3
    text_dropout: float = 0.15
    sensory_weight: float = 1.0
    contrastive_weight: float = 1.0
    family_weight: float = 0.5
    seed: int = 13
    refit: bool = True  # after choosing the epoch count, refit on train + validation
    select_source: str = "coffeereview"  # validation rows that choose the epoch
    # the word bag also reads the lexicon's canonical rendering (features.word_texts)
    descriptor_terms: bool = True
    # the sensory tower's learned word bag (issue 10: off; it made the learned block
    # in-sample on the training notes). The words still feed the readings.
    word_bag: bool = False


@dataclass
class TrainResult:
    model: Taste2Vec
    history: list[dict[str, float]]
    best_epoch: int
    seconds: float
    refit: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        best = self.history[self.best_epoch - 1] if self.history else {}
        out = {
            "best_epoch": self.best_epoch,
            "best": best,
            "seconds": round(self.seconds, 1),
            "history": self.history,
        }
        if self.refit:
            out["refit"] = self.refit
        return out


class EpochCheckpoint:
    """The training loop's state after every epoch, in ``directory/train-<phase>.pt``.

    ``_fit`` saves the network, optimiser, both random generators, the history and the
    early-stopping state after each epoch (temporary file, ``os.replace``: a kill leaves
    the previous epoch's file) and, when it finds one for its phase (``select``, then
    ``refit``), continues after that epoch. The inputs are rebuilt deterministically
    (scaler, vocabulary, readings) from the same records and seed, so a resumed run ends
    with the same weights as one that was never stopped. The caller must give a fresh
    directory when the records or the configuration change (``batch.retrain`` keys its
    checkpoint directory on both).
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.resumed: dict[str, int] = {}  # phase -> the epoch it resumed after

    def path(self, phase: str) -> Path:
        return self.directory / f"train-{phase}.pt"

    def load(self, phase: str) -> dict[str, Any] | None:
        path = self.path(phase)
        if not path.is_file():
            return None
        try:
            state: dict[str, Any] = torch.load(path, weights_only=False)
        except Exception as exc:  # a truncated or foreign file
            raise ModelError(
                f"training checkpoint {path} is unreadable ({exc}); delete it to start over"
            ) from None
        if not isinstance(state, dict) or "epoch" not in state:
            raise ModelError(f"training checkpoint {path} is not a checkpoint; delete it")
        self.resumed[phase] = int(state["epoch"])
        return state

    def save(self, phase: str, state: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        save_atomically(self.path(phase), state)


def save_atomically(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file, fsync, then rename over ``path``: a crash
    leaves the previous checkpoint or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def family_targets(batch: FeatureBatch, node_family: torch.Tensor) -> torch.Tensor:
    """1 for each flavour family whose nodes the notes mention."""
    return ((batch.lex_nodes @ node_family) > 0).float()


def _dropout_view(batch: FeatureBatch, cfg: TrainConfig, gen: torch.Generator) -> FeatureBatch:
    keep = (torch.rand(batch.numeric_mask.shape, generator=gen) > cfg.metric_dropout).float()
    mask = batch.numeric_mask * keep
    text_keep = (torch.rand(batch.text_present.shape, generator=gen) > cfg.text_dropout).float()
    return replace(
        batch,
        numeric=batch.numeric * mask,
        numeric_mask=mask,
        text_emb=batch.text_emb * text_keep,
        text_present=batch.text_present * text_keep,
        lex_nodes=batch.lex_nodes * text_keep,
        lex_attrs=batch.lex_attrs * text_keep,
        words=batch.words * text_keep,
        reading=batch.reading * text_keep,
    )


def compute_loss(
    model: Taste2Vec,
    batch: FeatureBatch,
    node_family: torch.Tensor,
    cfg: TrainConfig,
    gen: torch.Generator | None,
) -> dict[str, torch.Tensor]:
    """All loss terms for one batch; ``gen`` None means no input dropout (validation)."""
    net = model.net
    full = _dropout_view(batch, cfg, gen) if gen is not None else batch
    z_full, z_text, z_num = net(full), net(batch.text_view()), net(batch.numeric_view())
    cols = list(SENSORY_COLUMNS)
    target, smask = batch.numeric[:, cols], batch.numeric_mask[:, cols]
    fam = family_targets(batch, node_family)
    has_text = batch.text_present
    both = (has_text.view(-1) > 0) & (batch.numeric_mask.sum(dim=1) >= 3)
    terms = {
        # InfoNCE on the learned block: the decodable block is fixed by the inputs.
        "contrastive": info_nce(
            net.learned(z_text[both]), net.learned(z_num[both]), cfg.temperature
        ),
        "sensory_text": masked_mse(net.heads(z_text)[0], target, smask * has_text),
        "sensory_full": masked_mse(net.heads(z_full)[0], target, smask),
        "sensory_num": masked_mse(net.heads(z_num)[0], target, smask),
        "family_text": masked_bce(net.heads(z_text)[1], fam, has_text),
        "family_full": masked_bce(net.heads(z_full)[1], fam, full.text_present),
    }
    sw = cfg.sensory_weight
    weights = {
        "contrastive": cfg.contrastive_weight,
        "sensory_text": sw,
        "sensory_full": 0.5 * sw,
        "sensory_num": 0.5 * sw,
        "family_text": cfg.family_weight,
        "family_full": cfg.family_weight,
    }
    terms["total"] = sum((weights.get(k, 1.0) * v for k, v in terms.items()), torch.zeros(()))
    return terms


def train(
    corpus: Corpus,
    text_encoder: TextEncoder,
    cfg: TrainConfig | None = None,
    lexicon: Lexicon | None = None,
    progress: bool = True,
    checkpoint: EpochCheckpoint | None = None,
) -> TrainResult:
    """Choose the epoch count on ``corpus.val``, then (``cfg.refit``) refit on train + val.

    With ``checkpoint`` every epoch is saved and a run continues where a killed one
    stopped (:class:`EpochCheckpoint`)."""
    cfg = cfg or TrainConfig()
    if len(corpus.train) < 8:
        raise ModelError(f"need at least 8 training records, got {len(corpus.train)}")
    started = time.perf_counter()
    lex = lexicon or load_lexicon()
    model, history, best_epoch = _fit(
        corpus.train, corpus.val, cfg, text_encoder, lex, progress, checkpoint, "select"
    )
    refit: dict[str, Any] = {}
    if cfg.refit and corpus.val and best_epoch > 0:
        records = [*corpus.train, *corpus.val]
        model, refit_history, _ = _fit(
            records,
            [],
            replace(cfg, epochs=best_epoch),
            text_encoder,
            lex,
            progress,
            checkpoint,
            "refit",
        )
        refit = {
            "records": len(records),
            "epochs": best_epoch,
            "final": refit_history[-1] if refit_history else {},
        }
    model.info["train"] = asdict(cfg)
    return TrainResult(model, history, best_epoch, time.perf_counter() - started, refit)


def _fit(
    train_recs: list[TasteRecord],
    val_recs: list[TasteRecord],
    cfg: TrainConfig,
    text_encoder: TextEncoder,
    lex: Lexicon,
    progress: bool,
    checkpoint: EpochCheckpoint | None = None,
    phase: str = "select",
) -> tuple[Taste2Vec, list[dict[str, float]], int]:
    """One training run from scratch; early-stopped on ``val_recs`` unless it is empty."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)  # noqa: NPY002 - legacy global seed, for any library using it
    scaler = _fit_scaler(train_recs)
    noted = [r.notes for r in train_recs if r.notes]
    vocab = SensoryVocabulary.fit(
        word_texts(lex, noted, cfg.descriptor_terms), descriptor_terms=cfg.descriptor_terms
    )
    oof_reading, vocab = _with_reading(train_recs, scaler, vocab, lex, cfg.seed)
    model = Taste2Vec.create(scaler, text_encoder, lex, vocab, word_bag=cfg.word_bag)
    # Training rows see out-of-fold readings, never the in-sample ridge fit.
    train_b = replace(model.featurize(train_recs, progress=progress), reading=oof_reading)
    val_b = model.featurize(val_recs, progress=progress) if val_recs else None
    if val_b is not None:
        chosen = [i for i, r in enumerate(val_recs) if record_source(r) == cfg.select_source]
        select_b = val_b.index(torch.tensor(chosen)) if chosen else val_b
    node_family = node_family_matrix(model.lexicon)
    opt = torch.optim.AdamW(model.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    history: list[dict[str, float]] = []
    best, best_epoch, best_state, stale = float("inf"), 0, None, 0
    first, finished = 1, False
    saved = checkpoint.load(phase) if checkpoint is not None else None
    if saved is not None:
        model.net.load_state_dict(saved["net"])
        opt.load_state_dict(saved["opt"])
        gen.set_state(saved["gen"])
        torch.set_rng_state(saved["torch_rng"])
        history = list(saved["history"])
        best, best_epoch, best_state = saved["best"], saved["best_epoch"], saved["best_state"]
        stale, finished = saved["stale"], saved["finished"]
        first = int(saved["epoch"]) + 1
        log.info("training (%s) resumes after epoch %d", phase, first - 1)

    def save(epoch: int, done: bool) -> None:
        if checkpoint is not None:
            checkpoint.save(
                phase,
                {
                    "epoch": epoch,
                    "net": model.net.state_dict(),
                    "opt": opt.state_dict(),
                    "gen": gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "history": history,
                    "best": best,
                    "best_epoch": best_epoch,
                    "best_state": best_state,
                    "stale": stale,
                    "finished": done,
                },
            )

    epochs = range(first, cfg.epochs + 1) if not finished else range(0)
    bar = tqdm(
        epochs,
        desc=f"training ({phase})",
        unit="epoch",
        disable=not progress,
        initial=first - 1,
        total=cfg.epochs,
    )
    for epoch in bar:
        model.net.train()
        order = torch.randperm(len(train_b), generator=gen)
        totals: dict[str, float] = {}
        n_batches = 0
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            if len(idx) < 2:
                continue
            terms = compute_loss(model, train_b.index(idx), node_family, cfg, gen)
            opt.zero_grad()
            terms["total"].backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.net.parameters(), 5.0)
            opt.step()
            for k, v in terms.items():
                totals[k] = totals.get(k, 0.0) + float(v.detach())
            n_batches += 1
        row = {f"train_{k}": v / max(n_batches, 1) for k, v in totals.items()}
        row["epoch"] = epoch
        if val_b is None:
            history.append(row)
            best_epoch = epoch
            save(epoch, epoch == cfg.epochs)
            continue
        vterms = evaluate_loss(model, val_b, node_family, cfg)
        row.update({f"val_{k}": v for k, v in vterms.items()})
        sterms = evaluate_loss(model, select_b, node_family, cfg)
        # The selection criterion: what the text view gets right on the chosen source.
        val_loss = sterms["sensory_text"] + sterms["family_text"]
        row["select_sensory_text"] = sterms["sensory_text"]
        row["select_family_text"] = sterms["family_text"]
        row["select"] = val_loss
        history.append(row)
        bar.set_postfix(train=f"{row['train_total']:.3f}", select=f"{val_loss:.3f}")
        if val_loss < best - 1e-4:
            best, best_epoch, stale = val_loss, epoch, 0
            best_state = copy.deepcopy(model.net.state_dict())
        else:
            stale += 1
        stop = stale >= cfg.patience
        save(epoch, stop or epoch == cfg.epochs)
        if stop:
            break
    bar.close()
    if best_state is not None:
        model.net.load_state_dict(best_state)
    model.net.eval()
    return model, history, best_epoch


@torch.no_grad()
def evaluate_loss(
    model: Taste2Vec, batch: FeatureBatch, node_family: torch.Tensor, cfg: TrainConfig
) -> dict[str, float]:
    """Validation loss terms (eval mode, no input dropout), averaged over chunks."""
    model.net.eval()
    sums: dict[str, float] = {}
    n = 0
    for start in range(0, len(batch), 512):
        part = batch.index(slice(start, start + 512))
        for k, v in compute_loss(model, part, node_family, cfg, None).items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(part)
        n += len(part)
    return {k: v / max(n, 1) for k, v in sums.items()}


def _with_reading(
    records: list[TasteRecord],
    scaler: MetricScaler,
    vocab: SensoryVocabulary,
    lexicon: Lexicon,
    seed: int,
) -> tuple[torch.Tensor, SensoryVocabulary]:
    """Fit the vocabulary's sensory reading (per-target RidgeCV alphas) on ``records``.

    Returns the out-of-fold readings of ``records`` (same alphas) and the
    vocabulary with the full fit. Targets are on each record's own source scale.
    """
    tfidf = vocab.encode(word_texts(lexicon, [r.notes for r in records], vocab.descriptor_terms))
    targets, tmask = sensory_targets(records, scaler)
    alphas = choose_alphas(tfidf, targets, tmask)
    weights, bias = fit_reading(tfidf, targets, tmask, alphas)
    oof = cross_fitted_reading(tfidf, targets, tmask, seed=seed, alpha=alphas)
    return torch.from_numpy(oof), vocab.with_reading(weights, bias, alphas)


def _fit_scaler(records: list[TasteRecord]) -> MetricScaler:
    values = np.zeros((len(records), 20), dtype=np.float32)
    mask = np.zeros_like(values)
    for i, rec in enumerate(records):
        values[i], mask[i] = rec.metrics.to_arrays()
    return MetricScaler.fit_by_source(values, mask, [record_source(r) for r in records])
