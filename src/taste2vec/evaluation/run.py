"""``taste2vec evaluate``: the model against baselines on a time split of Coffee Review.

Three tasks, all on the newest 20 % of reviews (never trained on):

(a) predict the five attribute scores (aroma, acidity, body, flavor,
    aftertaste) from the tasting text alone, numeric inputs masked as missing:
    R² and MAE against a mean predictor, TF-IDF + ridge, and ridge on the model's
    frozen text tower ("MiniLM + ridge", or "static text tower + ridge"). Two
    Taste2Vec rows: the model's own sensory head (on the Coffee Review scale),
    the vector's decodable block read back with no fitting (the readings,
    ``Taste2Vec.decoded_readings``), and a ridge probe fitted on its 128-d
    text-only embedding (the same protocol as the MiniLM baseline: per-target
    alpha by leave-one-out CV on the probe's training rows). The probe's training rows get
    out-of-fold vocabulary readings, as its test rows (unseen notes) do: with
    in-sample readings the probe would learn to trust an overfitted input;
(b) cross-modal retrieval: from a review's text, find its numeric profile
    (the five scores, overall rating and Agtron) among the distinct profiles
    of the test reviews: recall@10. Many reviews share an identical profile,
    so candidates are deduplicated first (otherwise copies of one profile fill
    the top 10 and a good scorer can rank below random); ties are scored in
    expectation over random orders;
(c) flavour families: which of the 9 wheel families the note mentions, as
    labelled by the lexicon; micro-F1. The model predicts them from its 128-d
    embedding of the note; this measures what survives the bottleneck, and the
    numbers-only row shows what the embedding infers across modalities.
    Those labels are the lexicon's, which the vector also carries, so (c) is
    also scored against hand labels that no model made (``family_gold``, by
    default ``tests/data/family_gold.csv``, see :mod:`.gold`): micro- and
    macro-F1 of the model, the lexicon alone and the baselines trained on the
    lexicon's labels, on the gold notes of the test block.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from taste2vec.data.coffeereview import load_reviews, review_to_record
from taste2vec.data.split import split_reviews
from taste2vec.evaluation.baselines import (
    EmbeddingLogistic,
    EmbeddingRidge,
    MeanBaseline,
    TfidfLogistic,
    TfidfRidge,
    retrieval_scores_via_regression,
)
from taste2vec.evaluation.gold import gold_f1, load_family_gold
from taste2vec.evaluation.metrics import (
    mae_per_target,
    multilabel_f1,
    r2_per_target,
    recall_at_k,
    recall_at_k_from_scores,
    unique_candidates,
)
from taste2vec.evaluation.report import markdown_table
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import METRIC_NAMES, SENSORY_METRICS

HEAD_R2_TARGET = 0.45  # issue 10: the sensory head's mean R² from text alone
TARGETS = ("aroma", "acidity", "body", "flavor", "aftertaste")
#: The repository's hand-labelled family set, relative to the repository root.
DEFAULT_FAMILY_GOLD = Path("tests/data/family_gold.csv")
PROFILE = ("aroma", "acidity", "body", "flavor", "aftertaste", "overall", "roast_agtron")


@dataclass
class EvaluationResult:
    split: str
    n_train: int
    n_test: int
    regression: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    retrieval: dict[str, float] = field(default_factory=dict)
    families: dict[str, float] = field(default_factory=dict)
    n_profiles: int = 0
    family_gold: dict[str, dict[str, float]] = field(default_factory=dict)
    gold_source: str = ""
    n_gold: int = 0
    n_gold_listed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "regression": self.regression,
            "retrieval_recall_at_10": self.retrieval,
            "family_micro_f1": self.families,
            "family_gold_f1": self.family_gold,
            "n_gold": self.n_gold,
        }


def _profiles(records: list[Any]) -> np.ndarray:
    cols = [METRIC_NAMES.index(m) for m in PROFILE]
    out = np.full((len(records), len(cols)), np.nan)
    for i, rec in enumerate(records):
        values, mask = rec.metrics.to_arrays()
        out[i] = np.where(mask[cols] > 0, values[cols], np.nan)
    return out


def fit_probe(embeddings: np.ndarray, targets: np.ndarray) -> EmbeddingRidge:
    """The ridge probe on the 128-d vector: standardised dimensions, per-target ``RidgeCV``.

    Each target's penalty is chosen by efficient leave-one-out CV on the probe's own
    training rows (``baselines.RIDGE_ALPHAS``), as for the MiniLM + ridge baseline.
    """
    return EmbeddingRidge().fit(embeddings, targets)


def evaluate(
    model: Taste2Vec,
    data_dir: Path,
    progress: bool = True,
    review_limit: int | None = None,
    family_gold: Path | None = None,
) -> EvaluationResult:
    """Run all three tasks and return the figures (see the module docstring).

    ``review_limit`` keeps only the newest N reviews (the same cut as ``build_corpus``).
    ``family_gold`` is a hand-labelled family file (:mod:`.gold`); its ids found in
    the test block are scored, ``n_gold`` of its ``n_gold_listed``.
    """
    reviews = load_reviews(data_dir)
    if review_limit is not None:
        reviews = (
            reviews.sort_values("review_date", kind="stable")
            .tail(review_limit)
            .reset_index(drop=True)
        )
    idx = split_reviews(reviews)
    fit_idx = np.concatenate([idx.train, idx.val])
    records = [review_to_record(row) for _, row in reviews.iterrows()]
    fit_recs = [records[i] for i in fit_idx]
    test_recs = [records[i] for i in idx.test]
    texts_fit = [r.notes for r in fit_recs]
    texts_test = [r.notes for r in test_recs]
    y_fit = reviews.iloc[fit_idx][list(TARGETS)].to_numpy(dtype=float)
    y_test = reviews.iloc[idx.test][list(TARGETS)].to_numpy(dtype=float)
    result = EvaluationResult(idx.describe(), len(fit_idx), len(idx.test))

    enc = model.text_encoder
    # The frozen-text baselines use the model's own text tower: name it as it is.
    frozen = "static text tower" if enc.model_id.startswith("static-") else "MiniLM"
    e_fit, e_test = (
        enc.encode(texts_fit, progress=progress),
        enc.encode(texts_test, progress=progress),
    )
    test_batch = model.featurize(test_recs)
    z_text = model.embed_batch(test_batch.text_view())
    # The model's reading was fitted on (some of) these rows: give them out-of-fold readings.
    fit_oof = torch.from_numpy(model.cross_fitted_reading(fit_recs))
    z_fit = model.embed_batch(replace(model.featurize(fit_recs), reading=fit_oof).text_view())
    z_num = model.embed_batch(test_batch.numeric_view())

    # (a) attribute scores from text alone
    sens, fam_text = model.predict_heads(z_text, scale="coffeereview")
    cols = [SENSORY_METRICS.index(t) for t in TARGETS]
    ours = sens[:, cols]
    decoded = model.decoded_readings(z_text, scale="coffeereview")[:, cols]
    preds = {
        "mean predictor": MeanBaseline().fit(texts_fit, y_fit).predict(texts_test),
        "TF-IDF + ridge": TfidfRidge().fit(texts_fit, y_fit).predict(texts_test),
        f"{frozen} + ridge": EmbeddingRidge().fit(e_fit, y_fit).predict(e_test),
        "Taste2Vec (text only)": ours,
        "Taste2Vec readings (decoded)": decoded,
        "Taste2Vec embedding + ridge": fit_probe(z_fit, y_fit).predict(z_text),
    }
    for name, pred in preds.items():
        r2 = r2_per_target(y_test, pred)
        mae = mae_per_target(y_test, pred)
        result.regression[name] = {"r2": r2.tolist(), "mae": mae.tolist()}

    # (b) cross-modal retrieval: text -> numeric profile, among the distinct test profiles
    p_fit, p_test = _profiles(fit_recs), _profiles(test_recs)
    keep, relevant = unique_candidates(p_test)
    mean, std = np.nanmean(p_fit, axis=0), np.nanstd(p_fit, axis=0)
    for name, fitted, x_test in (
        ("TF-IDF + ridge", TfidfRidge().fit(texts_fit, p_fit), texts_test),
        (f"{frozen} + ridge", EmbeddingRidge().fit(e_fit, p_fit), e_test),
    ):
        scores = retrieval_scores_via_regression(
            fitted.predict(x_test), p_test[keep], train_mean=mean, train_std=std
        )
        result.retrieval[name] = recall_at_k_from_scores(scores, 10, relevant)
    result.retrieval["random (expected)"] = recall_at_k_from_scores(
        np.zeros(relevant.shape), 10, relevant
    )
    result.retrieval["Taste2Vec (text → numbers)"] = recall_at_k(z_text, z_num[keep], 10, relevant)
    result.n_profiles = len(keep)

    # (c) flavour families as labelled by the lexicon
    lex = model.lexicon
    fam_fit = np.stack([lex.family_distribution(t) > 0 for t in texts_fit])
    fam_test = np.stack([lex.family_distribution(t) > 0 for t in texts_test])
    _, fam_num = model.predict_heads(z_num)
    fam_preds = {
        "TF-IDF + logistic": TfidfLogistic().fit(texts_fit, fam_fit).predict(texts_test),
        f"{frozen} + logistic": EmbeddingLogistic().fit(e_fit, fam_fit).predict(e_test),
        "Taste2Vec (text)": fam_text >= 0.5,
        "Taste2Vec (numbers only)": fam_num >= 0.5,
    }
    for name, pred in fam_preds.items():
        result.families[name] = multilabel_f1(fam_test, pred)["micro"]

    # (c) again, against hand labels that none of the predictors made
    if family_gold is not None:
        gold = load_family_gold(family_gold, lex.families)
        result.gold_source, result.n_gold_listed = str(family_gold), len(gold.ids)
        result.n_gold, result.family_gold = gold_f1(
            gold, [r.id for r in test_recs], {"lexicon alone": fam_test, **fam_preds}
        )
    return result


def render_markdown(result: EvaluationResult, command: str) -> str:
    """The evaluation as markdown tables, for ``bench/RESULTS.md`` and the terminal."""
    rows = []
    for name, vals in result.regression.items():
        r2, mae = vals["r2"], vals["mae"]
        rows.append(
            [name, *(f"{v:.3f}" for v in r2), f"**{np.mean(r2):.3f}**", f"{np.mean(mae):.3f}"]
        )
    reg = markdown_table(["model", *(f"R² {t}" for t in TARGETS), "mean R²", "mean MAE"], rows)
    ret = markdown_table(
        ["model", "recall@10"], [[k, f"{v:.3f}"] for k, v in result.retrieval.items()]
    )
    fam = markdown_table(
        ["model", "micro-F1"], [[k, f"{v:.3f}"] for k, v in result.families.items()]
    )
    best_base_r2 = max(
        np.mean(v["r2"]) for k, v in result.regression.items() if not k.startswith("Taste2Vec")
    )
    tfidf_r2 = float(np.mean(result.regression["TF-IDF + ridge"]["r2"]))
    ours_r2 = float(np.mean(result.regression["Taste2Vec (text only)"]["r2"]))
    probe_r2 = float(np.mean(result.regression["Taste2Vec embedding + ridge"]["r2"]))
    best_base_ret = max(
        v for k, v in result.retrieval.items() if not k.startswith(("Taste2Vec", "random"))
    )
    ours_ret = result.retrieval["Taste2Vec (text → numbers)"]
    tfidf_f1 = result.families["TF-IDF + logistic"]
    ours_f1 = result.families["Taste2Vec (text)"]
    gold_section, gold_verdict = _gold_markdown(result)

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    verdict = (
        f"- (a) sensory head mean R² {ours_r2:.3f} (target ≥ {HEAD_R2_TARGET}: "
        f"{met(ours_r2 >= HEAD_R2_TARGET)}; best baseline {best_base_r2:.3f}). Ridge probe on "
        f"the 128-d embedding {probe_r2:.3f} vs TF-IDF + ridge {tfidf_r2:.3f} "
        f"(target ≥: {met(probe_r2 >= tfidf_r2)}).\n"
        f"- (b) recall@10 {ours_ret:.3f} vs best baseline {best_base_ret:.3f} "
        f"(target: ahead of every baseline: {met(ours_ret > best_base_ret)}).\n"
        f"- (c) family micro-F1 {ours_f1:.3f} vs TF-IDF + logistic {tfidf_f1:.3f} "
        f"(target ≥: {met(ours_f1 >= tfidf_f1)}).{gold_verdict}"
    )
    return (
        f"## Quality on the Coffee Review time split\n\n"
        f"Command: `{command}`. Split: {result.split}; baselines and model were fit on "
        f"the {result.n_train} older reviews, scored on the {result.n_test} newest.\n\n"
        f"### (a) Attribute scores from the tasting text alone (higher R² is better)\n\n"
        f"{reg}\n\n### (b) Cross-modal retrieval: text → numeric profile "
        f"({result.n_profiles} distinct profiles)\n\n{ret}\n\n"
        f"### (c) Flavour families (labels from the lexicon)\n\n{fam}\n\n"
        f"{gold_section}"
        f"### Verdict\n\n{verdict}\n"
    )


def _gold_markdown(result: EvaluationResult) -> tuple[str, str]:
    """The hand-label table and its verdict line; empty strings when there is none."""
    if not result.family_gold:
        if not result.gold_source:
            return "", ""
        note = (
            f"None of the {result.n_gold_listed} notes of `{result.gold_source}` is in this "
            "test block, so the hand-label check was skipped.\n\n"
        )
        return note, ""
    table = markdown_table(
        ["model", "micro-F1", "macro-F1"],
        [[k, f"{v['micro']:.3f}", f"{v['macro']:.3f}"] for k, v in result.family_gold.items()],
    )
    ours = result.family_gold["Taste2Vec (text)"]
    best_name, best = max(
        ((k, v) for k, v in result.family_gold.items() if not k.startswith("Taste2Vec")),
        key=lambda kv: kv[1]["micro"],
    )
    section = (
        f"### (c) Flavour families against hand labels ({result.n_gold} of the "
        f"{result.n_gold_listed} notes of `{result.gold_source}`)\n\n"
        "Families labelled by reading each note (guidelines in the file), not by any of "
        "the predictors, so none can copy them from its input. The baselines are trained on the "
        f"lexicon's labels of the fit rows, as above.\n\n{table}\n\n"
    )
    verdict = (
        f"\n- (c) against hand labels: Taste2Vec micro-F1 {ours['micro']:.3f} "
        f"(macro {ours['macro']:.3f}) vs best other {best_name} {best['micro']:.3f} "
        f"(macro {best['macro']:.3f})."
    )
    return section, verdict
