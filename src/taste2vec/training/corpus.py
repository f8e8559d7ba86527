"""The training corpus: which records train, validate and test the model.

Sources, in order:

- the bundled demo catalogue and demo tastings (always; written by us, MIT);
- the bundled CQI cupping records (MIT), as numbers-only records: their "notes"
  are a metadata sentence ("Washed Bourbon from Huila, Colombia.", built by
  ``cqi.describe``), not tasting text, so they must not train the text view,
  the family labels ("Bourbon" → whiskey) or the word vocabulary;
- Coffee Review, when a data directory is configured (read from ``../shared``,
  never bundled), split by time: the oldest 70 % train, the next 10 % validate,
  the newest 20 % are held out for ``taste2vec evaluate`` and never trained on.

Bundled records are split 90/10 train/validation by a hash of their id, so the
split is stable when records are added.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taste2vec.data.coffeereview import load_reviews, review_to_record
from taste2vec.data.cqi import cqi_to_record, load_cqi
from taste2vec.data.demo import demo_records, demo_tastings
from taste2vec.data.split import split_reviews
from taste2vec.schema import TasteRecord

log = logging.getLogger(__name__)


@dataclass
class Corpus:
    train: list[TasteRecord]
    val: list[TasteRecord]
    test: list[TasteRecord] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """A hash of every training and validation record, to tie a model to its data."""
        h = hashlib.sha256()
        for rec in [*self.train, *self.val]:
            h.update(rec.model_dump_json().encode())
        return h.hexdigest()[:16]

    def info(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint(),
            "n_train": len(self.train),
            "n_val": len(self.val),
            "n_test_held_out": len(self.test),
            "sources": self.sources,
            "split": self.split,
        }


def _is_val(record_id: str) -> bool:
    return int(hashlib.sha256(record_id.encode()).hexdigest()[:8], 16) % 10 == 0


def build_corpus(
    data_dir: Path | None,
    include_cqi: bool = True,
    include_demo: bool = True,
    review_limit: int | None = None,
) -> Corpus:
    """Collect records from every available source (see the module docstring)."""
    corpus = Corpus(train=[], val=[])
    bundled: list[TasteRecord] = []
    if include_demo:
        demo = [*demo_records(), *demo_tastings()]
        bundled += demo
        corpus.sources["demo"] = len(demo)
    if include_cqi:
        # The metadata sentence is not tasting text: CQI trains the numbers only.
        cqi = [
            cqi_to_record(row).model_copy(update={"notes": ""}) for _, row in load_cqi().iterrows()
        ]
        bundled += cqi
        corpus.sources["cqi"] = len(cqi)
    for rec in bundled:
        (corpus.val if _is_val(rec.id) else corpus.train).append(rec)
    if data_dir is not None:
        reviews = load_reviews(data_dir)
        if review_limit is not None:
            reviews = (
                reviews.sort_values("review_date", kind="stable")
                .tail(review_limit)
                .reset_index(drop=True)
            )
        records = [review_to_record(row) for _, row in reviews.iterrows()]
        idx = split_reviews(reviews)
        corpus.train += [records[i] for i in idx.train]
        corpus.val += [records[i] for i in idx.val]
        corpus.test = [records[i] for i in idx.test]
        corpus.sources["coffeereview"] = len(records)
        corpus.split = {"train_end": str(idx.train_end), "test_start": str(idx.test_start)}
    log.info("corpus: %s", corpus.sources)
    return corpus
