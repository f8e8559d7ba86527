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
   :class:`~taste2vec.training.train.EpochCheckpoint`; the candidate is saved as a model
   directory ``candidate/``.
3. ``evaluate``: the candidate and the current champion, with the same code and the same
   metrics, on the holdout: the sensory head's mean absolute error from the notes alone
   (points on each record's own scale; the decision metric), its R² and the flavour
   families' micro-F1 against the lexicon's labels. ``evaluation.json``.
4. ``register``: with no champion the candidate becomes the champion (the first model);
   if it beats the champion's holdout MAE by more than ``min_improvement`` it is registered
   and becomes the ``challenger`` (an experiment picks it up); otherwise nothing is
   registered. Through :func:`taste2vec.registry.learner.register_candidate`, the path the
   online learner's candidates take, with both models' metrics, the data fingerprint and
   the holdout's definition as evidence in the audit log. ``result.json``.

What changes the model: tasting records (notes and metric intensities) train the encoder
like any other record. Feedback, Lab sessions and box ratings are read, counted and part
of the data fingerprint, but the encoder's objective has no term for them (they are
preferences of a user, not descriptions of a coffee); they shape recommendations through
the user state and the online learner, not through this job.
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
    "retrain",
    "split_by_time",
]

log = logging.getLogger(__name__)

RETRAIN_ACTOR = "retrain"
#: The metric that decides (lower is better).
DECISION_METRIC = "sensory_mae"
STAGES = ("data", "train", "evaluate", "register")


class RetrainError(SnapshotError):
    """Unusable input: an empty or corrupt snapshot, too few tastings, a bad checkpoint."""


@dataclass(frozen=True)
class RetrainConfig:
    epochs: int = 20
    seed: int = 13
    holdout_fraction: float = 0.2
    min_holdout: int = 5  # holdout tastings with notes and sensory metrics
    min_improvement: float = 0.0  # MAE points the candidate must gain over the champion
    include_cqi: bool = True
    bundled_limit: int | None = None  # keep only N bundled records (quick runs, tests)
    review_limit: int | None = None  # newest N Coffee Review records (with a data dir)
    refit: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.holdout_fraction < 1.0:
            raise RetrainError("holdout_fraction must lie strictly between 0 and 1")
        if self.epochs < 1 or self.min_holdout < 1:
            raise RetrainError("epochs and min_holdout must be at least 1")
        if not (math.isfinite(self.min_improvement) and self.min_improvement >= 0):
            raise RetrainError("min_improvement must be a finite number >= 0")
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

    def counts(self) -> dict[str, int]:
        return {
            "tastings": len(self.records),
            "feedback": self.feedback,
            "lab_sessions": self.lab_sessions,
            "box_ratings": self.box_ratings,
        }


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
    records = sorted(by_id.values(), key=lambda r: (r.timestamp, r.id))
    return Accumulated(records, len(feedback), lab, box, h.hexdigest()[:16])


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
    mae = float(np.abs(pred - y)[observed].mean())
    r2 = r2_per_target(y, pred, observed)
    r2_finite = r2[np.isfinite(r2)]
    labels = np.stack([model.lexicon.family_distribution(r.notes) > 0 for r in holdout])
    return {
        "sensory_mae": round(mae, 6),
        "sensory_r2": round(float(r2_finite.mean()), 6) if r2_finite.size else float("nan"),
        "family_f1": round(float(multilabel_f1(labels, fam >= 0.5)["micro"]), 6),
        "n": float(len(holdout)),
        "n_values": float(observed.sum()),
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
        "train_records": len(corpus.train),
        "val_records": len(corpus.val),
        "sources": corpus.sources,
        "used_for_training": ["tasting records (notes, metric intensities)"],
        "read_not_trained_on": ["feedback", "lab sessions", "box ratings"],
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
    candidate = Taste2Vec.load(cand_dir, text_encoder=text_encoder)

    eval_path = ck.root / "evaluation.json"
    if not ck.done("evaluate"):
        stage("evaluate")
        champ_ref = registry.resolve(CHAMPION)
        champ_metrics = None
        if champ_ref is not None:
            champ_path = registry.download(champ_ref.version) / "model"
            champion = Taste2Vec.load(champ_path, text_encoder=text_encoder)
            champ_metrics = _finite(holdout_metrics(champion, holdout))
        evaluation = {
            "candidate": _finite(holdout_metrics(candidate, holdout)),
            "champion": champ_metrics,
            "champion_version": None if champ_ref is None else champ_ref.version,
            "decision_metric": DECISION_METRIC,
            "min_improvement": cfg.min_improvement,
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
    evidence = {
        "candidate_holdout": cand,
        "champion_holdout": champ,
        "champion_version": champ_version,
        "decision_metric": DECISION_METRIC,
        "min_improvement": evaluation["min_improvement"],
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
    }
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
    if c_mae < ch_mae - float(evaluation["min_improvement"]):
        info, _ = register_candidate(
            registry,
            cand_dir,
            alias=CHALLENGER,
            actor=actor,
            description=(
                f"retrain: holdout sensory MAE {c_mae:.4f} vs champion "
                f"v{champ_version} {ch_mae:.4f}"
            ),
            reason=f"retrain: better than champion version {champ_version} on the holdout",
            evidence=evidence,
        )
        return RetrainResult(
            "challenger",
            f"better than champion version {champ_version} (holdout sensory MAE "
            f"{c_mae:.4f} < {ch_mae:.4f}): registered version {info.version} as challenger",
            version=info.version,
            **common,
        )
    return RetrainResult(
        "not better",
        f"not better: holdout sensory MAE {c_mae:.4f} vs champion version {champ_version} "
        f"{ch_mae:.4f} (needs to be lower by more than {evaluation['min_improvement']}); "
        "nothing registered",
        **common,
    )
