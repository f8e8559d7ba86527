"""``taste2vec retrain``: retrain Taste2Vec on everything accumulated, register it only
when it beats the champion on the newest data (issue 13, item 2; docs/batch.md).

Stages, each recorded in the checkpoint directory so that a killed run continues from the
last completed one (and, inside training, from the last completed epoch):

1. ``data``: read a snapshot (``taste2vec snapshot``), check it (every file's SHA-256,
   every tasting payload against the schema), split the store's tastings by time: the
   newest ``holdout_fraction`` is the holdout, the rest joins the base training corpus
   (the bundled demo and CQI records, plus Coffee Review when a data directory is set).
   What is written: ``split.json`` (record ids, the holdout's definition, fingerprints).
2. ``train``: :func:`taste2vec.training.train.train` with an
   :class:`~taste2vec.training.train.EpochCheckpoint`; the encoder is saved as a model
   directory ``candidate/``.
3. ``preferences``: the encoder fine-tuned on every reaction the snapshot holds --
   feedback, box ratings, Lab sessions with a coffee -- with the online learner's
   preference objective (:mod:`taste2vec.batch.preferences`), a checkpoint after every
   epoch (``prefs.pt``); saved as ``tuned/``, the candidate from here on. Skipped (and
   recorded as such) when there is no usable reaction or ``preference.epochs`` is 0.
4. ``evaluate``: the candidate and the current champion, with the same code and the same
   metrics, on the holdout: the sensory head's mean absolute error from the notes alone
   (points on each record's own scale; the decision metric), its R² and the flavour
   families' micro-F1 against the lexicon's labels, and each holdout tasting's own MAE
   for the paired test. ``evaluation.json``.
5. ``register``: with no champion the candidate becomes the champion (the first model).
   Otherwise a paired test on the holdout (:func:`paired_gain`: per tasting, champion MAE
   minus candidate MAE; a seeded bootstrap of the mean, with a paired t-test beside it)
   decides: the candidate is registered as ``challenger`` only when the gain's lower
   confidence bound (one-sided, ``confidence``, default 95 %) is above ``min_improvement``
   (default 0); otherwise nothing is registered. Through
   :func:`taste2vec.registry.learner.register_candidate`, the path the online learner's
   candidates take, with both models' metrics, the test (interval, n), the data
   fingerprint and the holdout's definition as evidence in the audit log and in the
   version's metrics. ``result.json``.

What changes the model: tasting records (notes and metric intensities) train the encoder
like any other record; feedback, box ratings and Lab sessions fine-tune it in the
``preferences`` stage (they are preferences of a user, not descriptions of a coffee, so
they train the geometry users are ranked in, as the online learner does).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from taste2vec.batch.preferences import (
    PreferenceConfig,
    PreferenceError,
    Preferences,
    fine_tune,
    load_preferences,
)
from taste2vec.batch.snapshot import Snapshot, SnapshotError
from taste2vec.errors import ModelError
from taste2vec.evaluation.metrics import multilabel_f1, r2_per_target
from taste2vec.model.network import SENSORY_COLUMNS
from taste2vec.model.scaler import record_source
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.text import TextEncoder
from taste2vec.registry.core import CHALLENGER, CHAMPION, ModelRegistry
from taste2vec.registry.learner import register_candidate
from taste2vec.schema import TasteRecord
from taste2vec.training.corpus import Corpus, build_corpus
from taste2vec.training.train import EpochCheckpoint, TrainConfig, train

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "RETRAIN_ACTOR",
    "Accumulated",
    "RetrainConfig",
    "RetrainError",
    "RetrainResult",
    "holdout_metrics",
    "load_accumulated",
    "paired_gain",
    "retrain",
    "split_by_time",
]

log = logging.getLogger(__name__)

RETRAIN_ACTOR = "retrain"
#: The metric that decides (lower is better).
DECISION_METRIC = "sensory_mae"
STAGES = ("data", "train", "preferences", "evaluate", "register")


class RetrainError(SnapshotError):
    """Unusable input: an empty or corrupt snapshot, too few tastings, a bad checkpoint."""


@dataclass(frozen=True)
class RetrainConfig:
    epochs: int = 20
    seed: int = 13
    holdout_fraction: float = 0.2
    min_holdout: int = 5  # holdout tastings with notes and sensory metrics
    # the gate: the lower confidence bound of the mean per-tasting MAE gain must exceed this
    min_improvement: float = 0.0
    confidence: float = 0.95  # one-sided level of that bound
    bootstrap: int = 10_000  # bootstrap resamples of the paired differences
    include_cqi: bool = True
    bundled_limit: int | None = None  # keep only N bundled records (quick runs, tests)
    review_limit: int | None = None  # newest N Coffee Review records (with a data dir)
    refit: bool = True
    preference: PreferenceConfig = field(default_factory=PreferenceConfig)

    def __post_init__(self) -> None:
        if not 0.0 < self.holdout_fraction < 1.0:
            raise RetrainError("holdout_fraction must lie strictly between 0 and 1")
        if self.epochs < 1 or self.min_holdout < 1:
            raise RetrainError("epochs and min_holdout must be at least 1")
        if not (math.isfinite(self.min_improvement) and self.min_improvement >= 0):
            raise RetrainError("min_improvement must be a finite number >= 0")
        if not 0.5 <= self.confidence < 1.0:
            raise RetrainError("confidence must lie in [0.5, 1)")
        if self.bootstrap < 100:
            raise RetrainError("bootstrap must be at least 100 resamples")
        if self.bundled_limit is not None and self.bundled_limit < 10:
            raise RetrainError("bundled_limit must be at least 10")


@dataclass
class Accumulated:
    """What a snapshot holds for retraining, tastings ordered by (timestamp, id)."""

    records: list[TasteRecord]
    feedback: int = 0
    lab_sessions: int = 0
    box_ratings: int = 0
    fingerprint: str = ""
    preferences: Preferences | None = None

    def counts(self) -> dict[str, int]:
        return {
            "tastings": len(self.records),
            "feedback": self.feedback,
            "lab_sessions": self.lab_sessions,
            "box_ratings": self.box_ratings,
        }

    def used(self) -> dict[str, int]:
        """What trains: tastings, and per kind the reactions the preference stage uses."""
        p = self.preferences.counts if self.preferences else {}
        return {"tastings": len(self.records), **p}


@dataclass
class RetrainResult:
    decision: str  # "champion" (first model), "challenger", "not better", "dry run"
    message: str
    version: str | None = None
    candidate: dict[str, Any] = field(default_factory=dict)
    champion: dict[str, Any] | None = None
    champion_version: str | None = None
    holdout: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    resumed: dict[str, Any] = field(default_factory=dict)
    paired: dict[str, Any] | None = None  # the paired test (None without a champion)
    preferences: dict[str, Any] | None = None  # what the preference stage did

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------ data
def _invalid(what: str, exc: ValidationError | ValueError) -> RetrainError:
    first = str(exc).splitlines()[:3]
    return RetrainError(f"snapshot is corrupt: {what} is not a valid record ({' '.join(first)})")


def load_accumulated(snapshot_dir: Path | str) -> Accumulated:
    """Read and check a snapshot: every file's checksum and every tasting payload."""
    from pydantic import ValidationError

    snap = Snapshot.open(snapshot_dir)
    snap.verify()
    try:
        tastings = snap.read_table("tasting_records").to_pylist()
        feedback = snap.read_table("feedback").to_pylist()
        events = snap.read_table("events").select(["type", "error", "event_id"]).to_pylist()
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise RetrainError(f"snapshot {snapshot_dir} is unreadable: {exc}") from None
    if not tastings:
        raise RetrainError(
            f"snapshot {snapshot_dir} holds no tasting records: nothing to retrain on or "
            "to evaluate against (log tastings, then run taste2vec snapshot again)"
        )
    by_id: dict[str, TasteRecord] = {}
    h = hashlib.sha256()
    for row in sorted(tastings, key=lambda r: int(r["seq"])):
        try:
            rec = TasteRecord.model_validate_json(row["payload"])
        except (ValidationError, ValueError) as exc:
            raise _invalid(f"tasting record seq {row['seq']}", exc) from None
        if rec.id != row["id"]:
            raise RetrainError(
                f"snapshot is corrupt: tasting seq {row['seq']} is filed as {row['id']!r} "
                f"but its payload says {rec.id!r}"
            )
        if rec.id not in by_id:
            by_id[rec.id] = rec
            h.update(b"t" + str(row["payload"]).encode())
    for row in sorted(feedback, key=lambda r: int(r["seq"])):
        h.update(b"f" + str(row["id"]).encode())
    seen: set[str] = set()
    lab = box = 0
    for ev in events:
        if ev["error"] or ev["event_id"] in seen:
            continue
        seen.add(ev["event_id"])
        lab += ev["type"] == "lab_session"
        box += ev["type"] == "box_rated"
    h.update(f"lab={lab};box={box}".encode())
    try:
        prefs = load_preferences(snap)
    except PreferenceError as exc:
        raise RetrainError(str(exc)) from None
    h.update(f"prefs={prefs.fingerprint}".encode())
    records = sorted(by_id.values(), key=lambda r: (r.timestamp, r.id))
    return Accumulated(records, len(feedback), lab, box, h.hexdigest()[:16], prefs)


def _scorable(rec: TasteRecord) -> bool:
    """Notes to read and at least one sensory metric to check the reading against."""
    if not rec.notes.strip():
        return False
    values, mask = rec.metrics.to_arrays()
    return bool(mask[list(SENSORY_COLUMNS)].any())


def split_by_time(
    records: list[TasteRecord], fraction: float, min_holdout: int
) -> tuple[list[TasteRecord], list[TasteRecord], dict[str, Any]]:
    """The newest ``fraction`` of the scorable tastings (at least ``min_holdout``) is the
    holdout; everything older, and every tasting that cannot be scored, trains."""
    ordered = sorted(records, key=lambda r: (r.timestamp, r.id))
    scorable = [r for r in ordered if _scorable(r)]
    n = max(min_holdout, math.ceil(fraction * len(scorable)))
    if len(scorable) < n + 1:
        raise RetrainError(
            f"too few tastings with notes and sensory metrics for a time-based holdout: "
            f"{len(scorable)} (the holdout needs {n} and training at least one more)"
        )
    holdout = scorable[-n:]
    held = {r.id for r in holdout}
    train_recs = [r for r in ordered if r.id not in held]
    start = holdout[0].timestamp
    definition = {
        "kind": "time",
        "rule": f"the newest {fraction:.0%} of the store's tastings that have notes and "
        f"sensory metrics (at least {min_holdout}), by tasting timestamp",
        "fraction": fraction,
        "n": len(holdout),
        "from": start.isoformat(),
        "to": holdout[-1].timestamp.isoformat(),
        "train_tastings_until": max((r.timestamp for r in train_recs), default=start).isoformat(),
        "ids_sha256": hashlib.sha256("\n".join(r.id for r in holdout).encode()).hexdigest(),
    }
    return train_recs, holdout, definition


def _is_val(record_id: str) -> bool:
    return int(hashlib.sha256(record_id.encode()).hexdigest()[:8], 16) % 10 == 0


def _content(rec: TasteRecord) -> str:
    return hashlib.sha256(
        f"{rec.notes.strip().lower()}\n{rec.metrics.model_dump_json()}".encode()
    ).hexdigest()


def build_training_corpus(
    cfg: RetrainConfig,
    data_dir: Path | None,
    store_train: list[TasteRecord],
    holdout: Sequence[TasteRecord] = (),
) -> Corpus:
    """The base corpus (as ``taste2vec train`` builds it) plus the store's older tastings,
    split 90/10 train/validation by a hash of their id like the bundled records.

    No holdout tasting trains: base records with a holdout tasting's id or content (notes
    and metrics; the demo store is seeded with the bundled demo tastings) are left out,
    and a store tasting already in the base corpus (same id) is not added twice."""
    corpus = build_corpus(data_dir, include_cqi=cfg.include_cqi, review_limit=cfg.review_limit)
    if cfg.bundled_limit is not None:
        corpus.train = corpus.train[: cfg.bundled_limit]
        corpus.val = corpus.val[: max(2, cfg.bundled_limit // 9)]
    corpus.test = []  # Coffee Review's own test block is never trained on here either
    held_ids = {r.id for r in holdout}
    held_content = {_content(r) for r in holdout}

    def keep(rec: TasteRecord) -> bool:
        return rec.id not in held_ids and _content(rec) not in held_content

    before = len(corpus.train) + len(corpus.val)
    corpus.train = [r for r in corpus.train if keep(r)]
    corpus.val = [r for r in corpus.val if keep(r)]
    left_out = before - (len(corpus.train) + len(corpus.val))
    base_ids = {r.id for r in [*corpus.train, *corpus.val]}
    added = [r for r in store_train if r.id not in base_ids]
    for rec in added:
        (corpus.val if _is_val(rec.id) else corpus.train).append(rec)
    corpus.sources["store"] = len(added)
    corpus.sources["base_left_out_as_holdout"] = left_out
    return corpus


# ------------------------------------------------------------------------ evaluation
def holdout_metrics(model: Taste2Vec, holdout: list[TasteRecord]) -> dict[str, float]:
    """The same figures for any model: from the notes alone (numbers masked), the sensory
    head's MAE and mean R² on each record's own scale, and family micro-F1 against the
    lexicon's labels of the notes."""
    return _holdout(model, holdout)[0]


def holdout_row_errors(model: Taste2Vec, holdout: list[TasteRecord]) -> list[float]:
    """Each holdout tasting's own sensory MAE (over its observed metrics), in order: the
    rows of the paired test."""
    return _holdout(model, holdout)[1]


def _load_champion(path: Path, text_encoder: TextEncoder) -> Taste2Vec:
    """The champion with the candidate's text encoder when it was trained with it, else
    with the tower its artifact names (a champion from before a change of the default
    text tower, e.g. MiniLM while new models train with the static tower)."""
    try:
        trained_with = json.loads((path / "config.json").read_text()).get("text_model_id")
    except (OSError, ValueError, AttributeError):
        trained_with = None  # Taste2Vec.load says what is wrong with the directory
    if trained_with in (None, text_encoder.model_id):
        return Taste2Vec.load(path, text_encoder=text_encoder)
    return Taste2Vec.load(path)


def _holdout(model: Taste2Vec, holdout: list[TasteRecord]) -> tuple[dict[str, float], list[float]]:
    if not holdout:
        raise RetrainError("the holdout is empty")
    z = model.embed_batch(model.featurize(holdout).text_view())
    cols = list(SENSORY_COLUMNS)
    y = np.zeros((len(holdout), len(cols)))
    m = np.zeros_like(y)
    pred = np.zeros_like(y)
    fam = np.zeros((len(holdout), len(model.lexicon.families)))
    sources = [record_source(r) for r in holdout]
    for src in sorted(set(sources)):
        idx = [i for i, s in enumerate(sources) if s == src]
        sens, probs = model.predict_heads(z[idx], scale=src)
        pred[idx], fam[idx] = sens, probs
    for i, rec in enumerate(holdout):
        values, mask = rec.metrics.to_arrays()
        y[i], m[i] = values[cols], mask[cols]
    observed = m > 0
    err = np.abs(pred - y)
    mae = float(err[observed].mean())
    rows = [round(float(err[i][observed[i]].mean()), 6) for i in range(len(holdout))]
    r2 = r2_per_target(y, pred, observed)
    r2_finite = r2[np.isfinite(r2)]
    labels = np.stack([model.lexicon.family_distribution(r.notes) > 0 for r in holdout])
    return {
        "sensory_mae": round(mae, 6),
        "sensory_r2": round(float(r2_finite.mean()), 6) if r2_finite.size else float("nan"),
        "family_f1": round(float(multilabel_f1(labels, fam >= 0.5)["micro"]), 6),
        "n": float(len(holdout)),
        "n_values": float(observed.sum()),
    }, rows


def paired_gain(
    champion_rows: Sequence[float] | np.ndarray[Any, Any],
    candidate_rows: Sequence[float] | np.ndarray[Any, Any],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """The candidate's gain over the champion on the same holdout rows: per row, the
    champion's loss minus the candidate's (positive: the candidate is better).

    The mean gain with a seeded percentile bootstrap of it (``resamples`` resamples of
    the rows with replacement): ``lower`` is the one-sided ``confidence`` lower bound
    (the ``1 - confidence`` quantile), ``upper`` the matching upper one. A paired t-test
    is reported beside it (``t``, one-sided ``p`` for "the candidate is better").
    """
    from scipy import stats  # type: ignore[import-untyped]

    champ = np.asarray(champion_rows, dtype=np.float64)
    cand = np.asarray(candidate_rows, dtype=np.float64)
    if champ.shape != cand.shape or champ.ndim != 1:
        raise RetrainError(
            f"paired test: champion and candidate have {champ.shape} and {cand.shape} rows"
        )
    if champ.size < 2:
        raise RetrainError("paired test: the holdout needs at least 2 rows")
    if not (np.isfinite(champ).all() and np.isfinite(cand).all()):
        raise RetrainError("paired test: a holdout loss is not finite")
    d = champ - cand
    n = int(d.size)
    rng = np.random.default_rng([seed, n, 0x9A1])
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // n)
    for lo in range(0, resamples, chunk):
        k = min(chunk, resamples - lo)
        means[lo : lo + k] = d[rng.integers(0, n, size=(k, n))].mean(axis=1)
    lower = float(np.quantile(means, 1.0 - confidence))
    upper = float(np.quantile(means, confidence))
    sd = float(d.std(ddof=1))
    if sd > 0:
        t = float(d.mean()) / (sd / math.sqrt(n))
        p = float(stats.t.sf(t, df=n - 1))
    else:  # every row gains exactly the same
        mean = float(d.mean())
        t = math.inf if mean > 0 else (-math.inf if mean < 0 else 0.0)
        p = 0.0 if mean > 0 else (1.0 if mean < 0 else 0.5)
    return {
        "test": "paired bootstrap of the mean per-tasting sensory MAE gain",
        "n": n,
        "mean_gain": round(float(d.mean()), 6),
        "lower": round(lower, 6),
        "upper": round(upper, 6),
        "confidence": confidence,
        "sided": "one-sided bounds",
        "resamples": resamples,
        "rows_better": int((d > 0).sum()),
        "rows_worse": int((d < 0).sum()),
        "t": None if not math.isfinite(t) else round(t, 4),
        "p_one_sided": round(p, 6),
    }


# ----------------------------------------------------------------------- checkpoints
def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        fh.write(json.dumps(value, indent=1, sort_keys=True, allow_nan=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RetrainError(
            f"checkpoint file {path} is corrupt ({exc}); delete the checkpoint directory "
            "or run with --fresh"
        ) from None


def _finite(metrics: dict[str, float]) -> dict[str, float | None]:
    return {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}


class _Checkpoints:
    """``DIR/state.json`` names the run (its key) and its completed stages."""

    def __init__(self, root: Path, key: str, fresh: bool) -> None:
        self.root = root
        self.state_path = root / "state.json"
        if fresh and root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        state = _read_json(self.state_path) if self.state_path.is_file() else None
        if state is not None and (not isinstance(state, dict) or "key" not in state):
            raise RetrainError(f"{self.state_path} is not a retrain checkpoint; use --fresh")
        if state is not None and state["key"] != key:
            log.info("checkpoint %s belongs to other inputs; starting over", root)
            shutil.rmtree(root)
            root.mkdir(parents=True)
            state = None
        self.state: dict[str, Any] = state or {"key": key, "done": []}
        self.resumed_from = list(self.state["done"])
        _write_json(self.state_path, self.state)

    def done(self, stage: str) -> bool:
        return stage in self.state["done"]

    def complete(self, stage: str) -> None:
        self.state["done"].append(stage)
        _write_json(self.state_path, self.state)


# ----------------------------------------------------------------------------- the job
def retrain(
    snapshot_dir: Path | str,
    registry: ModelRegistry,
    text_encoder: TextEncoder,
    checkpoint_dir: Path | str,
    cfg: RetrainConfig | None = None,
    *,
    data_dir: Path | None = None,
    dry_run: bool = False,
    fresh: bool = False,
    progress: bool = True,
    actor: str = RETRAIN_ACTOR,
    on_stage: Callable[[str], None] | None = None,
) -> RetrainResult:
    """Run (or resume) the job; see the module docstring. Raises :class:`RetrainError`
    for unusable input (the CLI's exit 2)."""
    cfg = cfg or RetrainConfig()
    acc = load_accumulated(snapshot_dir)
    key_src = json.dumps(
        {
            "snapshot": acc.fingerprint,
            "cfg": asdict(cfg),
            "data_dir": str(data_dir) if data_dir else None,
            "encoder": text_encoder.model_id,
        },
        sort_keys=True,
    )
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    ck = _Checkpoints(Path(checkpoint_dir), key, fresh)
    stage = on_stage or (lambda _s: None)
    train_recs, holdout, definition = split_by_time(
        acc.records, cfg.holdout_fraction, cfg.min_holdout
    )
    corpus = build_training_corpus(cfg, data_dir, train_recs, holdout)
    if len(corpus.train) < 8:
        raise RetrainError(f"need at least 8 training records, got {len(corpus.train)}")
    data = {
        "fingerprint": hashlib.sha256(
            f"{corpus.fingerprint()}\n{definition['ids_sha256']}".encode()
        ).hexdigest()[:16],
        "source": "retrain",
        "snapshot": str(Path(snapshot_dir).resolve()),
        "snapshot_fingerprint": acc.fingerprint,
        "accumulated": acc.counts(),
        "used": acc.used(),
        "train_records": len(corpus.train),
        "val_records": len(corpus.val),
        "sources": corpus.sources,
        "used_for_training": [
            "tasting records (notes, metric intensities): the encoder",
            "feedback, box ratings, Lab sessions with a coffee: the preference stage",
        ],
        "holdout": definition,
    }
    if not ck.done("data"):
        stage("data")
        _write_json(ck.root / "split.json", data)
        ck.complete("data")
    resumed: dict[str, Any] = {"stages": ck.resumed_from}
    if dry_run:
        return RetrainResult(
            "dry run",
            f"dry run: would train on {len(corpus.train)} records (+{len(corpus.val)} "
            f"validation) and evaluate on {len(holdout)} holdout tastings; nothing trained "
            "or registered",
            holdout=definition,
            data=data,
            resumed=resumed,
        )

    cand_dir = ck.root / "candidate"
    if not ck.done("train"):
        stage("train")
        epochs = EpochCheckpoint(ck.root)
        tcfg = replace(TrainConfig(), epochs=cfg.epochs, seed=cfg.seed, refit=cfg.refit)
        try:
            result = train(corpus, text_encoder, tcfg, progress=progress, checkpoint=epochs)
        except ModelError as exc:
            raise RetrainError(str(exc)) from None
        resumed["epochs"] = epochs.resumed
        if cand_dir.exists():
            shutil.rmtree(cand_dir)
        result.model.save(cand_dir, data, {"training": result.metrics()})
        ck.complete("train")
    cand_dir = _preference_stage(ck, cand_dir, acc, cfg, text_encoder, progress, stage, resumed)
    candidate = Taste2Vec.load(cand_dir, text_encoder=text_encoder)

    eval_path = ck.root / "evaluation.json"
    if not ck.done("evaluate"):
        stage("evaluate")
        champ_ref = registry.resolve(CHAMPION)
        champ_metrics = champ_rows = None
        if champ_ref is not None:
            champ_path = registry.download(champ_ref.version) / "model"
            champion = _load_champion(champ_path, text_encoder)
            champ_raw, champ_rows = _holdout(champion, holdout)
            champ_metrics = _finite(champ_raw)
        cand_raw, cand_rows = _holdout(candidate, holdout)
        evaluation = {
            "candidate": _finite(cand_raw),
            "champion": champ_metrics,
            "champion_version": None if champ_ref is None else champ_ref.version,
            "decision_metric": DECISION_METRIC,
            "min_improvement": cfg.min_improvement,
            "preferences": _read_json(ck.root / "preferences.json"),
            "paired": None
            if champ_rows is None
            else paired_gain(
                champ_rows,
                cand_rows,
                confidence=cfg.confidence,
                resamples=cfg.bootstrap,
                seed=cfg.seed,
            ),
        }
        _write_json(eval_path, evaluation)
        ck.complete("evaluate")
    evaluation = _read_json(eval_path)

    result_path = ck.root / "result.json"
    if ck.done("register"):
        out = RetrainResult(**_read_json(result_path))
        out.resumed = resumed
        return out
    stage("register")
    out = _decide_and_register(registry, cand_dir, evaluation, data, definition, actor)
    out.resumed = resumed
    _write_json(result_path, {k: v for k, v in out.to_dict().items() if k != "resumed"})
    ck.complete("register")
    return out


def _decide_and_register(
    registry: ModelRegistry,
    cand_dir: Path,
    evaluation: dict[str, Any],
    data: dict[str, Any],
    definition: dict[str, Any],
    actor: str,
) -> RetrainResult:
    cand, champ = evaluation["candidate"], evaluation["champion"]
    champ_version = evaluation["champion_version"]
    paired = evaluation.get("paired")
    evidence = {
        "candidate_holdout": cand,
        "champion_holdout": champ,
        "champion_version": champ_version,
        "decision_metric": DECISION_METRIC,
        "min_improvement": evaluation["min_improvement"],
        "paired_test": paired,
        "preferences": evaluation.get("preferences"),
        "data_fingerprint": data["fingerprint"],
        "snapshot_fingerprint": data["snapshot_fingerprint"],
        "accumulated": data["accumulated"],
        "holdout": definition,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    c_mae = cand[DECISION_METRIC]
    common = {
        "candidate": cand,
        "champion": champ,
        "champion_version": champ_version,
        "holdout": definition,
        "data": data,
        "paired": paired,
        "preferences": evaluation.get("preferences"),
    }
    # the evidence travels with the version too: its metrics.json (the run's metrics)
    metrics_path = cand_dir / "metrics.json"
    metrics = _read_json(metrics_path) if metrics_path.is_file() else {}
    gate = {"candidate_holdout": cand, "champion_holdout": champ}
    if paired is not None:
        gate["paired_test"] = {k: v for k, v in paired.items() if k != "test"}
    _write_json(metrics_path, {**metrics, "retrain_gate": gate})
    if champ is None:
        info, _ = register_candidate(
            registry,
            cand_dir,
            alias=CHAMPION,
            actor=actor,
            description=f"retrain: first model, holdout sensory MAE {c_mae:.4f}",
            reason="retrain: no champion yet, the first model becomes the champion",
            evidence=evidence,
        )
        return RetrainResult(
            "champion",
            f"no champion yet: registered version {info.version} and made it the champion "
            f"(holdout sensory MAE {c_mae:.4f})",
            version=info.version,
            **common,
        )
    ch_mae = champ[DECISION_METRIC]
    margin = float(evaluation["min_improvement"])
    if paired is None:
        raise RetrainError("the evaluation has no paired test; run with --fresh")
    interval = (
        f"mean gain {paired['mean_gain']:+.4f} MAE points per tasting, one-sided "
        f"{paired['confidence']:.0%} bounds [{paired['lower']:+.4f}, {paired['upper']:+.4f}], "
        f"n={paired['n']}"
    )
    if paired["lower"] > margin:
        info, _ = register_candidate(
            registry,
            cand_dir,
            alias=CHALLENGER,
            actor=actor,
            description=(
                f"retrain: holdout sensory MAE {c_mae:.4f} vs champion "
                f"v{champ_version} {ch_mae:.4f}"
            ),
            reason=f"retrain: better than champion version {champ_version} on the holdout "
            f"({interval}; lower bound > {margin:g})",
            evidence=evidence,
        )
        return RetrainResult(
            "challenger",
            f"better than champion version {champ_version} (holdout sensory MAE "
            f"{c_mae:.4f} vs {ch_mae:.4f}; {interval}): registered version {info.version} "
            "as challenger",
            version=info.version,
            **common,
        )
    return RetrainResult(
        "not better",
        f"not better: holdout sensory MAE {c_mae:.4f} vs champion version {champ_version} "
        f"{ch_mae:.4f}; {interval}: the lower bound is not above {margin:g}; "
        "nothing registered",
        **common,
    )


def _preference_stage(
    ck: _Checkpoints,
    cand_dir: Path,
    acc: Accumulated,
    cfg: RetrainConfig,
    text_encoder: TextEncoder,
    progress: bool,
    stage: Callable[[str], None],
    resumed: dict[str, Any],
) -> Path:
    """Fine-tune the trained encoder on the reactions (``tuned/``); the candidate's
    directory afterwards. Skipped when there is nothing to learn from."""
    tuned = ck.root / "tuned"
    summary_path = ck.root / "preferences.json"
    if ck.done("preferences"):
        return tuned if _read_json(summary_path).get("ran") else cand_dir
    stage("preferences")
    prefs = acc.preferences
    why = None
    if cfg.preference.epochs == 0:
        why = "preference.epochs is 0"
    elif prefs is None or not prefs.reactions:
        why = "no usable reaction"
    elif not prefs.has_pairs():
        why = "the reactions give no preference pair to learn from"
    if why is not None or prefs is None:
        summary: dict[str, Any] = {"ran": False, "why": why}
    else:
        model = Taste2Vec.load(cand_dir, text_encoder=text_encoder)
        ckpt = ck.root / "prefs.pt"
        try:
            ran = fine_tune(model, prefs, cfg.preference, ckpt, seed=cfg.seed, progress=progress)
        except PreferenceError as exc:
            raise RetrainError(str(exc)) from None
        resumed["preference_epochs"] = ran["resumed_after_epoch"]
        summary = {"ran": True, **ran, "counts": prefs.counts}
        if tuned.exists():
            shutil.rmtree(tuned)
        data = {**_read_json(cand_dir / "data.json"), "preferences": summary}
        metrics = {**_read_json(cand_dir / "metrics.json"), "preferences": summary}
        model.save(tuned, data, metrics)
    _write_json(summary_path, summary)
    ck.complete("preferences")
    return tuned if summary["ran"] else cand_dir
