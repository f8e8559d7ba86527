"""Hand-labelled flavour families: a label set no model can copy from its own input.

The family labels ``taste2vec evaluate`` trains and scores against come from the
lexicon, and the model's vector carries the lexicon's family evidence, so agreeing
with them is partly agreeing with itself. A gold file holds families assigned by
reading each note (not by any predictor), stored as Coffee Review ids plus labels
only (never the review text, which belongs to Coffee Review)::

    # comment lines (the labelling guidelines) start with '#'
    review_id,families
    cr:some-review-slug,Fruity;Nutty/Cocoa;Sweet

``families`` lists wheel family names separated by ``;`` (empty for none). The
repository's set is ``tests/data/family_gold.csv``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from taste2vec.errors import DataError, SchemaError
from taste2vec.evaluation.metrics import multilabel_f1

__all__ = ["FamilyGold", "gold_f1", "load_family_gold"]

BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


@dataclass(frozen=True)
class FamilyGold:
    """Gold family labels: ``labels[i, j]`` is True when ``ids[i]`` expresses ``families[j]``."""

    ids: tuple[str, ...]
    families: tuple[str, ...]
    labels: BoolArray

    def rows_for(self, ids: Sequence[str]) -> BoolArray:
        """The label rows of ``ids``, in that order; a :class:`DataError` for an unknown id."""
        where = {rid: i for i, rid in enumerate(self.ids)}
        missing = [rid for rid in ids if rid not in where]
        if missing:
            raise DataError(f"{len(missing)} id(s) have no gold labels, first {missing[0]!r}.")
        return self.labels[[where[rid] for rid in ids]]


def load_family_gold(path: Path | str, families: Sequence[str]) -> FamilyGold:
    """Read and validate a gold file (format in the module docstring).

    ``families`` is the model's family order (``Lexicon.families``). Raises
    :class:`~taste2vec.errors.DataError` when the file cannot be read and
    :class:`~taste2vec.errors.SchemaError` for a bad header, an empty id, a
    repeated id, an unknown or repeated family name, or no rows.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"Cannot read family gold file {path}: {exc}") from exc
    lines = [
        (n, line) for n, line in enumerate(text.splitlines(), start=1) if not line.startswith("#")
    ]
    lines = [(n, line) for n, line in lines if line.strip()]
    if not lines:
        raise SchemaError(f"{path}: no header and no rows.")
    header_no, header = lines[0]
    if [c.strip() for c in header.split(",")] != ["review_id", "families"]:
        raise SchemaError(
            f"{path}:{header_no}: header must be 'review_id,families', got {header!r}.",
            [("header", "expected review_id,families")],
        )
    index = {name: j for j, name in enumerate(families)}
    ids: list[str] = []
    seen: set[str] = set()
    rows: list[list[bool]] = []
    for n, line in lines[1:]:
        cells = next(csv.reader(io.StringIO(line)))
        if len(cells) != 2:
            raise SchemaError(f"{path}:{n}: expected 2 fields (review_id, families), got {cells}.")
        rid, names = cells[0].strip(), cells[1].strip()
        if not rid:
            raise SchemaError(f"{path}:{n}: empty review_id.")
        if rid in seen:
            raise SchemaError(f"{path}:{n}: review_id {rid!r} appears twice.")
        row = [False] * len(families)
        for name in filter(None, (s.strip() for s in names.split(";"))):
            if name not in index:
                raise SchemaError(
                    f"{path}:{n}: unknown family {name!r}; expected one of {list(families)}."
                )
            if row[index[name]]:
                raise SchemaError(f"{path}:{n}: family {name!r} listed twice.")
            row[index[name]] = True
        seen.add(rid)
        ids.append(rid)
        rows.append(row)
    if not ids:
        raise SchemaError(f"{path}: a header but no labelled rows.")
    return FamilyGold(tuple(ids), tuple(families), np.array(rows, dtype=bool))


def gold_f1(
    gold: FamilyGold, ids: Sequence[str], predictions: Mapping[str, Any]
) -> tuple[int, dict[str, dict[str, float]]]:
    """Micro- and macro-F1 of each prediction against the gold labels.

    ``predictions`` maps a name to a boolean (len(ids), n_families) matrix whose
    rows follow ``ids`` (columns in ``gold.families`` order). Only the rows whose id
    has gold labels are scored; returns their count and ``{name: {"micro", "macro"}}``
    (empty when no id has gold labels). Macro averages over all families, a family
    with no gold and no predicted positive scoring 0 (as :func:`multilabel_f1`).
    """
    listed = set(gold.ids)
    pos = [i for i, rid in enumerate(ids) if rid in listed]
    if not pos:
        return 0, {}
    y_gold = gold.rows_for([ids[i] for i in pos])
    scores: dict[str, dict[str, float]] = {}
    for name, pred in predictions.items():
        p = np.asarray(pred)
        if p.shape != (len(ids), len(gold.families)):
            raise SchemaError(
                f"predictions {name!r} have shape {p.shape}, "
                f"expected {(len(ids), len(gold.families))}."
            )
        f1 = multilabel_f1(y_gold, p[pos])
        scores[name] = {"micro": f1["micro"], "macro": f1["macro"]}
    return len(pos), scores
