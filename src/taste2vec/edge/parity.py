"""The parity gate: does a bundle, run by the torch-free runtime, reproduce the cloud model?

For each gate record the runtime's outputs are compared with the cloud model's
(:class:`~taste2vec.model.taste2vec.Taste2Vec`, torch) on the same record and the
same context history (the record's own context):

- cosine(edge embedding, cloud embedding): worst record and mean;
- top-10 overlap: rank a catalogue (the cloud vectors of the gate records, the
  query itself left out, unless one is given) by each query's edge vector and by
  its cloud vector; the share of the cloud's top 10 the edge also ranks top 10,
  averaged over queries;
- sensory head: mean and largest absolute error in 0-10 points;
- family head: largest absolute error of a probability.

Each figure must meet :data:`taste2vec.edge.spec.TOLERANCES` for the bundle's
precision (fp32 or int8); ``taste2vec export`` registers only bundles that pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from taste2vec.edge.runtime import EdgeRuntime
from taste2vec.edge.spec import TOLERANCES
from taste2vec.model.scaler import APP_SCALE
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import TasteRecord

TOP_K = 10


@dataclass
class ParityReport:
    format: str
    source: str
    n_records: int
    min_cosine: float
    mean_cosine: float
    top10_overlap: float
    sensory_mae: float
    sensory_max: float
    family_max: float
    tolerance: dict[str, float]
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"{self.format}: {verdict} on {self.n_records} records ({self.source}): cosine "
            f"min {self.min_cosine:.4f} mean {self.mean_cosine:.4f}, top-10 overlap "
            f"{self.top10_overlap:.3f}, sensory MAE {self.sensory_mae:.3f} max "
            f"{self.sensory_max:.3f} points, family max {self.family_max:.4f}"
        )


def as_edge_record(record: TasteRecord) -> dict[str, Any]:
    """A validated record as the plain dict an app would hand the runtime."""
    out: dict[str, Any] = {"notes": record.notes, "metrics": record.metrics.observed()}
    if record.context is not None:
        out["context"] = record.context.model_dump(mode="json", exclude_none=True)
    return out


def cloud_outputs(
    model: Taste2Vec, records: Sequence[TasteRecord]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cloud model's embedding, sensory (0-10) and family outputs, own context only.

    The edge runtime is the app: it reads metrics on the app scale (``scaler.json``),
    so the cloud side does too, whichever data source a gate record came from.
    """
    histories = [[r.context] if r.context is not None else [] for r in records]
    emb = model.embed(records, histories, scale=APP_SCALE)
    sensory, families = model.predict_heads(emb)
    return emb, sensory, families


def edge_outputs(
    runtime: EdgeRuntime, records: Sequence[TasteRecord]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = [runtime.run_features(runtime.features(as_edge_record(r))) for r in records]
    return tuple(np.concatenate([row[i] for row in rows]) for i in range(3))  # type: ignore[return-value]


def top_k_overlap(
    edge: np.ndarray, cloud: np.ndarray, catalogue: np.ndarray | None = None, k: int = TOP_K
) -> float:
    """Mean |top-k(edge·C) ∩ top-k(cloud·C)| / k; C = ``cloud`` (self excluded) by default."""
    exclude_self = catalogue is None
    items = cloud if catalogue is None else catalogue
    k = min(k, len(items) - (1 if exclude_self else 0))
    if k <= 0:
        return 1.0
    shares = []
    for i in range(len(edge)):
        s_edge, s_cloud = items @ edge[i], items @ cloud[i]
        if exclude_self:
            s_edge[i] = s_cloud[i] = -np.inf
        a = set(np.argsort(-s_edge, kind="stable")[:k].tolist())
        b = set(np.argsort(-s_cloud, kind="stable")[:k].tolist())
        shares.append(len(a & b) / k)
    return float(np.mean(shares))


def check_parity(
    runtime: EdgeRuntime,
    model: Taste2Vec,
    records: Sequence[TasteRecord],
    source: str,
    catalogue: np.ndarray | None = None,
) -> ParityReport:
    """Compare the runtime with the cloud model on ``records``; see the module docstring."""
    if not records:
        raise ValueError("the parity gate needs at least one record")
    fmt = str(runtime.metadata["format"])
    tol = TOLERANCES[bool(runtime.metadata["int8"])]
    c_emb, c_sens, c_fam = cloud_outputs(model, records)
    e_emb, e_sens, e_fam = edge_outputs(runtime, records)
    cos = np.sum(c_emb * e_emb, axis=1) / (
        np.linalg.norm(c_emb, axis=1) * np.linalg.norm(e_emb, axis=1)
    )
    sens_err = np.abs(c_sens - e_sens)
    report = ParityReport(
        format=fmt,
        source=source,
        n_records=len(records),
        min_cosine=float(cos.min()),
        mean_cosine=float(cos.mean()),
        top10_overlap=top_k_overlap(e_emb, c_emb, catalogue),
        sensory_mae=float(sens_err.mean()),
        sensory_max=float(sens_err.max()),
        family_max=float(np.abs(c_fam - e_fam).max()),
        tolerance=tol.to_dict(),
    )
    checks = (
        ("min cosine", report.min_cosine, tol.min_cosine, True),
        ("mean cosine", report.mean_cosine, tol.mean_cosine, True),
        ("top-10 overlap", report.top10_overlap, tol.min_top10_overlap, True),
        ("sensory MAE", report.sensory_mae, tol.sensory_mae, False),
        ("sensory max error", report.sensory_max, tol.sensory_max, False),
        ("family max error", report.family_max, tol.family_max, False),
    )
    for name, value, bound, at_least in checks:
        ok = value >= bound if at_least else value <= bound
        if not ok:
            sign = ">=" if at_least else "<="
            report.failures.append(f"{name} {value:.4f} (needs {sign} {bound})")
    return report


# ----------------------------------------------------------------------------- gate records
def held_out_records(data_dir: Any, n: int = 200) -> list[TasteRecord]:
    """``n`` evenly spaced reviews from Coffee Review's held-out newest 20 % (never trained on)."""
    from taste2vec.data.coffeereview import load_reviews, review_to_record
    from taste2vec.data.split import split_reviews

    reviews = load_reviews(data_dir)
    test = split_reviews(reviews).test
    picks = np.unique(np.linspace(0, len(test) - 1, num=min(n, len(test))).round().astype(int))
    return [review_to_record(reviews.iloc[int(test[i])]) for i in picks]


def edge_case_records() -> list[TasteRecord]:
    """Inputs the gate always covers: Korean, blank notes, numbers only, a 512-token note."""
    from taste2vec.schema import Context, LocationType, Metrics, SocialSetting

    long_note = " ".join(
        ["Juicy blackcurrant and cocoa nib, a hint of jasmine, syrupy body, long finish."] * 60
    )
    ctx = Context(
        hour=8,
        weekday=2,
        mood=7,
        location_type=LocationType.HOME,
        social_setting=SocialSetting.ALONE,
    )
    return [
        TasteRecord(id="edge-ko", user="e", notes="자몽과 재스민, 꿀 같은 단맛. 산미가 밝다"),
        TasteRecord(id="edge-blank", user="e", notes="", metrics=Metrics(acidity=7, body=4)),
        TasteRecord(id="edge-nothing", user="e"),
        TasteRecord(
            id="edge-ctx",
            user="e",
            notes="dark chocolate, walnut, low acidity",
            metrics=Metrics(water_temp_c=93, brew_ratio=16, bitterness=6),
            context=ctx,
        ),
        TasteRecord(id="edge-long", user="e", notes=long_note, metrics=Metrics(overall=8.5)),
    ]


def bundled_gate_records(n: int = 120) -> list[TasteRecord]:
    """Without research data: the bundled demo tastings and catalogue, plus the edge cases."""
    from taste2vec.data.demo import demo_records, demo_tastings

    pool = [*demo_tastings(), *demo_records()]
    picks = np.unique(np.linspace(0, len(pool) - 1, num=min(n, len(pool))).round().astype(int))
    return [pool[int(i)] for i in picks] + edge_case_records()
