"""Lexicon quality: precision/recall on our hand-labelled sentences, coverage on real reviews.

    .venv/bin/python bench/lexicon_quality.py [--data-dir ../shared/datasets]

Precision/recall is micro-averaged over (sentence, wheel node) pairs of
``tests/lexicon/labelled_sentences.jsonl`` (written and labelled by us, English
and Korean). Coverage reads the Coffee Review blind assessments from the data
directory (never bundled): the share of reviews where at least one descriptor
is found, and the most frequent words the lexicon does not recognise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from taste2vec.config import Settings
from taste2vec.data.coffeereview import load_reviews
from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.lexicon import load_lexicon
from taste2vec.sim.lexicon import coverage, load_labelled, precision_recall

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "lexicon" / "labelled_sentences.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    lex = load_lexicon()
    labelled = load_labelled(LABELLED)
    pr = precision_recall(lex, labelled)
    rows = [["all", str(pr.n_sentences), f"{pr.precision:.3f}", f"{pr.recall:.3f}", f"{pr.f1:.3f}"]]
    for lang, (p, r, f1) in sorted(pr.by_language.items()):
        n = sum(1 for s in labelled if s.lang == lang)
        rows.append([lang, str(n), f"{p:.3f}", f"{r:.3f}", f"{f1:.3f}"])
    text = (
        "## Flavour lexicon\n\n"
        "Command: `.venv/bin/python bench/lexicon_quality.py`. "
        f"Lexicon version {lex.version}.\n\n"
        "Extraction against our hand-labelled sentences (micro-averaged over wheel nodes). "
        "Read these as optimistic: the same team wrote the synonym lists and the labelled "
        "sentences (labels were fixed before the first measurement and not tuned after), "
        "so mapping conventions agree by construction.\n\n"
        + markdown_table(["language", "sentences", "precision", "recall", "F1"], rows)
    )
    data_dir = args.data_dir or Settings().data_dir
    if data_dir is not None:
        reviews = load_reviews(data_dir)
        cov = coverage(lex, reviews["blind_assessment"].fillna("").tolist(), top=20)
        words = ", ".join(f"{w} ({n})" for w, n in cov.top_unrecognised)
        text += (
            f"\n\nCoverage on {cov.n_texts} Coffee Review blind assessments: "
            f"**{cov.share_with_descriptor:.1%}** have at least one descriptor.\n\n"
            f"Most frequent unrecognised words: {words}.\n"
        )
    else:
        text += "\n\n(Coverage on Coffee Review skipped: no data directory configured.)\n"
    print(text)
    update_section(args.results, "lexicon", text)


if __name__ == "__main__":
    main()
