"""Korean <-> English nearest translation on our hand-written parallel tasting notes.

    .venv/bin/python bench/korean_parallel.py [--model artifacts/model]

For each of the pairs in ``tests/data/ko_en_pairs.tsv`` (written for this
project), rank all notes of the other language by cosine similarity and report
how often the note's own translation comes first (accuracy) and its mean rank,
Korean → English and English → Korean, for the model's 128-d vector, the
lexicon-bag baseline (the lexicon's canonical descriptors, cosine) and the text
encoder alone. Issue 10's target: the vector's accuracy ≥ 0.95 in both
directions and never below the lexicon bag's. Writes the ``korean_parallel``
section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from taste2vec.config import Settings
from taste2vec.evaluation.parallel import evaluate_parallel, load_pairs, render_parallel_markdown
from taste2vec.evaluation.report import update_section
from taste2vec.model.taste2vec import Taste2Vec

PAIRS = Path(__file__).resolve().parents[1] / "tests" / "data" / "ko_en_pairs.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None, help="default: T2V_MODEL_DIR")
    parser.add_argument(
        "--before", type=Path, default=None, help="another model to show next to it"
    )
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    settings = Settings()
    model_dir = args.model or settings.model_dir
    model = Taste2Vec.load(model_dir, settings)
    pairs = load_pairs(args.pairs)
    scores = evaluate_parallel(model, pairs)
    command = f".venv/bin/python bench/korean_parallel.py --model {model_dir}"
    if args.before is not None:
        before = Taste2Vec.load(args.before, settings)
        row = evaluate_parallel(before, pairs, text_baseline=False)["Taste2Vec 128-d"]
        scores = {**scores, f"before: Taste2Vec 128-d of {args.before}": row}
        command += f" --before {args.before}"
    try:
        source = str(args.pairs.resolve().relative_to(Path.cwd()))
    except ValueError:
        source = str(args.pairs)
    text = render_parallel_markdown(scores, len(pairs), source, command)
    print(text)
    if args.results is not None:
        update_section(args.results, "korean_parallel", text)
        print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
