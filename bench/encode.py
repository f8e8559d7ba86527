"""Batch encode throughput: records/s through the whole Taste2Vec pipeline on this machine.

Baseline: the frozen MiniLM text encoder alone on the same texts in the same
run (the floor set by the transformer). Target: >= 500
records/s on 2 cores. Texts are made unique so no cache can help.

    .venv/bin/python bench/encode.py --model artifacts/model [--n 1000]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from taste2vec.data.demo import demo_records, demo_tastings
from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.model.text import HFSentenceEncoder

TARGET = 500.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    base = [*demo_records(), *demo_tastings()]
    records = [
        base[i % len(base)].model_copy(
            update={"id": f"bench-{i}", "notes": f"{base[i % len(base)].notes} (cup {i})"}
        )
        for i in range(args.n)
    ]
    texts = [r.notes for r in records]

    encoder = HFSentenceEncoder()  # no disk cache: every text is new
    model = Taste2Vec.load(args.model, text_encoder=encoder)
    model.embed(records[:32])  # warm up

    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(texts), encoder.batch_size):
            encoder.embed_tokens([model.lexicon.render_english(t) for t in texts[i : i + 32]])
    minilm_rate = len(texts) / (time.perf_counter() - t0)

    fresh = HFSentenceEncoder()
    model = Taste2Vec.load(args.model, text_encoder=fresh)
    t0 = time.perf_counter()
    model.embed(records)
    full_rate = len(records) / (time.perf_counter() - t0)

    cached_t0 = time.perf_counter()
    model.embed(records)
    cached_rate = len(records) / (time.perf_counter() - cached_t0)

    rows = [
        ["MiniLM alone (baseline)", f"{minilm_rate:,.0f}", "", ""],
        [
            "Taste2Vec embed, cold cache",
            f"{full_rate:,.0f}",
            f"{TARGET:,.0f}",
            f"{full_rate / TARGET:.2f}×",
        ],
        [
            "Taste2Vec embed, notes cached",
            f"{cached_rate:,.0f}",
            f"{TARGET:,.0f}",
            f"{cached_rate / TARGET:.2f}×",
        ],
    ]
    table = markdown_table(["pipeline", "records/s", "target", "vs target"], rows)
    verdict = "meets" if full_rate >= TARGET else "does NOT meet"
    text = (
        "## Batch encode throughput\n\n"
        f"Command: `.venv/bin/python bench/encode.py --n {args.n}`; {args.n} unique demo "
        f"notes, {torch.get_num_threads()} torch threads, {os.cpu_count()} cores.\n\n"
        f"{table}\n\nCold-cache throughput {verdict} the 500 records/s target.\n"
    )
    print(text)
    update_section(args.results, "encode", text)


if __name__ == "__main__":
    main()
