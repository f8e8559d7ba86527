"""A full Taste2Vec trained with each text tower, scored on Coffee Review validation.

For each tower (``minilm``: all-MiniLM-L6-v2, the default; ``static``: the table distilled
from it, ``T2V_TEXT_TOWER=static``) the same corpus, seed and ``TrainConfig(refit=False)``
train a model (the epoch count chosen on validation, no refit on train + validation),
saved to ``--out/<tower>``. Then, on the Coffee Review validation block (what may be
chosen on; the test block is not touched), mean R² of the five attribute scores from text:

- the sensory head on the text-only vector;
- the ridge probe on the 128-d vector (fit on the Coffee Review training rows with
  out-of-fold readings, per-target ``RidgeCV``, as ``taste2vec evaluate`` does);
- the readings block decoded (no fitting);
- TF-IDF + ridge (baseline, fit on the same training rows);

plus the Korean ↔ English nearest-translation accuracy of the 128-d vector on
``tests/data/ko_en_pairs.tsv`` (the weaker direction) and the training time.

    .venv/bin/python bench/text_tower_train.py [--out $TMPDIR/t2v-towers] [--towers minilm static]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch

from taste2vec.config import Settings
from taste2vec.evaluation.baselines import (
    EmbeddingRidge,
    TfidfRidge,
    retrieval_scores_via_regression,
)
from taste2vec.evaluation.metrics import (
    r2_per_target,
    recall_at_k,
    recall_at_k_from_scores,
    unique_candidates,
)
from taste2vec.evaluation.parallel import evaluate_parallel, load_pairs
from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.evaluation.run import _profiles
from taste2vec.model.scaler import record_source
from taste2vec.model.taste2vec import text_encoder_for
from taste2vec.schema import METRIC_BY_NAME, SENSORY_METRICS, TasteRecord
from taste2vec.training.corpus import build_corpus
from taste2vec.training.train import TrainConfig, train

TARGETS = ("aroma", "acidity", "body", "flavor", "aftertaste")
PAIRS = Path(__file__).resolve().parents[1] / "tests" / "data" / "ko_en_pairs.tsv"


def targets(records: list[TasteRecord]) -> np.ndarray:
    names = list(METRIC_BY_NAME)
    out = np.full((len(records), len(TARGETS)), np.nan)
    for i, rec in enumerate(records):
        values, mask = rec.metrics.to_arrays()
        for j, t in enumerate(TARGETS):
            k = names.index(t)
            if mask[k] > 0:
                out[i, j] = values[k]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "t2v-towers")
    parser.add_argument("--towers", nargs="+", default=["minilm", "static"])
    parser.add_argument(
        "--word-bag",
        choices=["on", "off", "default"],
        default="default",
        help="the sensory tower's word bag (TrainConfig.word_bag where the code has it)",
    )
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[13],
        help="training seeds; each tower trains once per seed (one row per tower and seed)",
    )
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    settings = Settings()
    if settings.data_dir is None:
        raise SystemExit("the Coffee Review data is needed (../shared/datasets)")
    corpus = build_corpus(settings.data_dir)
    cr_train = [r for r in corpus.train if record_source(r) == "coffeereview"]
    cr_val = [r for r in corpus.val if record_source(r) == "coffeereview"]
    y_train, y_val = targets(cr_train), targets(cr_val)
    cfg = TrainConfig(refit=False)
    has_flag = any(f.name == "word_bag" for f in fields(cfg))
    if has_flag and args.word_bag != "default":
        cfg = replace(cfg, word_bag=args.word_bag == "on")
    word_bag = getattr(cfg, "word_bag", True)
    pairs = load_pairs(PAIRS)

    def r2(pred: np.ndarray) -> float:
        return float(np.mean(r2_per_target(y_val, pred)))

    texts_train, texts_val = [r.notes for r in cr_train], [r.notes for r in cr_val]
    tfidf = r2(TfidfRidge().fit(texts_train, y_train).predict(texts_val))
    # (b) text -> numeric profile among the distinct validation profiles, as in evaluate
    p_train, p_val = _profiles(cr_train), _profiles(cr_val)
    keep, relevant = unique_candidates(p_val)
    scores = retrieval_scores_via_regression(
        TfidfRidge().fit(texts_train, p_train).predict(texts_val),
        p_val[keep],
        train_mean=np.nanmean(p_train, axis=0),
        train_std=np.nanstd(p_train, axis=0),
    )
    tfidf_recall = recall_at_k_from_scores(scores, 10, relevant)
    rows = [
        ["TF-IDF + ridge (baseline)", "–", "–", "–", f"{tfidf:.3f}", "–",
         f"{tfidf_recall:.3f}", "–", "–", "–", "–"]
    ]  # fmt: skip
    for tower, seed in ((t, s) for t in args.towers for s in args.seeds):
        encoder = text_encoder_for(settings, tower)
        t0 = time.perf_counter()
        result = train(corpus, encoder, replace(cfg, seed=seed), progress=False)
        seconds = time.perf_counter() - t0
        model = result.model
        model.save(args.out / f"{tower}-{seed}", corpus.info(), result.metrics())
        val_b = model.featurize(cr_val)
        z_val = model.embed_batch(val_b.text_view())
        oof = torch.from_numpy(model.cross_fitted_reading(cr_train))
        z_train = model.embed_batch(replace(model.featurize(cr_train), reading=oof).text_view())
        sens, _ = model.predict_heads(z_val, scale="coffeereview")
        cols = [SENSORY_METRICS.index(t) for t in TARGETS]
        head = r2(sens[:, cols])
        probe = r2(EmbeddingRidge().fit(z_train, y_train).predict(z_val))
        decoded = r2(model.decoded_readings(z_val, scale="coffeereview")[:, cols])
        z_num = model.embed_batch(val_b.numeric_view())
        recall = recall_at_k(z_val, z_num[keep], 10, relevant)
        korean = evaluate_parallel(model, pairs, text_baseline=False)["Taste2Vec 128-d"]
        rows.append(
            [f"Taste2Vec, {tower} text tower ({encoder.dim}-d, `{encoder.model_id}`)",
             f"{head:.3f}", f"{probe:.3f}", f"{decoded:.3f}", f"{tfidf:.3f}",
             f"{recall:.3f}", f"{tfidf_recall:.3f}", f"{korean.accuracy:.2f}", str(seed),
             str(result.best_epoch), f"{seconds:,.0f}"]
        )  # fmt: skip
        print(rows[-1], flush=True)  # noqa: T201
    table = markdown_table(
        ["model", "sensory head (text)", "ridge probe on the vector", "readings decoded",
         "TF-IDF + ridge", "text → numbers recall@10", "TF-IDF + ridge recall@10",
         "KO↔EN nearest translation (weaker direction)", "seed", "epochs chosen", "train s"],
        rows,
    )  # fmt: skip
    text = (
        "## Text tower in the trained model: Coffee Review validation\n\n"
        f"Command: `.venv/bin/python bench/text_tower_train.py --out {args.out} --towers "
        f"{' '.join(args.towers)} --word-bag {args.word_bag} --seeds "
        f"{' '.join(map(str, args.seeds))}`. Each tower trains a full Taste2Vec per seed with "
        f"`TrainConfig(refit=False)` (word bag {'on' if word_bag else 'off'}) on "
        f"{len(corpus.train)} records, the epoch chosen on "
        f"{len(corpus.val)} validation records; scored on the {len(cr_val)} Coffee Review "
        f"validation reviews (fit rows: the {len(cr_train)} Coffee Review training reviews), "
        f"mean R² of {', '.join(TARGETS)} from text alone; recall@10 of text → numeric profile "
        f"among the {len(keep)} distinct validation profiles (as `taste2vec evaluate` does on "
        f"the test block). Korean: `tests/data/ko_en_pairs.tsv`"
        f" ({len(pairs)} pairs), the 128-d vector. {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} cores shared with other jobs.\n\n{table}\n"
    )
    print(text)  # noqa: T201
    update_section(args.results, "text_tower_train", text)


if __name__ == "__main__":
    main()
