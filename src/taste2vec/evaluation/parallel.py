"""Korean <-> English nearest-translation retrieval on parallel tasting notes (issue 10).

Each pair is a Korean note and its English translation. For every Korean note we
rank all English notes by cosine similarity and ask where its own translation
lands (and the other way round). Two figures per direction:

- **accuracy**: the share of notes whose translation is the nearest neighbour;
- **mean rank**: the average position of the translation (1 is best).

Ties in similarity are broken at random *in expectation* (a translation tied with
``t`` other notes counts ``1 / (t + 1)`` towards accuracy and sits ``t / 2``
places lower on average), so a scorer that cannot tell notes apart gets chance
level, never credit for index order.

The reference is the **lexicon bag**: the canonical descriptors the lexicon finds
in each note (wheel-node weights and structure cues, see :func:`lexicon_bag`),
compared by cosine. It is language-blind by construction, so it is what the
128-d vector must not fall below.

>>> import numpy as np
>>> r = translation_retrieval(np.eye(3), np.eye(3))
>>> (r.accuracy, r.mean_rank)
(1.0, 1.0)
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from taste2vec.errors import SchemaError
from taste2vec.lexicon import Lexicon
from taste2vec.schema import TasteRecord

#: Issue 10's bar for the vector's nearest-translation accuracy (both directions).
ACCURACY_TARGET = 0.95
_COLUMNS = ("id", "ko", "en")


@dataclass(frozen=True)
class ParallelPair:
    """One Korean tasting note and its English translation."""

    id: str
    ko: str
    en: str


@dataclass(frozen=True)
class Retrieval:
    """Nearest-translation figures for one direction (queries → candidates)."""

    accuracy: float
    mean_rank: float
    n: int


@dataclass(frozen=True)
class ParallelScores:
    """Both directions for one representation."""

    ko_to_en: Retrieval
    en_to_ko: Retrieval

    @property
    def accuracy(self) -> float:
        """The weaker direction's accuracy: what a target must hold for."""
        return min(self.ko_to_en.accuracy, self.en_to_ko.accuracy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ko_to_en": {"accuracy": self.ko_to_en.accuracy, "mean_rank": self.ko_to_en.mean_rank},
            "en_to_ko": {"accuracy": self.en_to_ko.accuracy, "mean_rank": self.en_to_ko.mean_rank},
        }


def load_pairs(path: Path | str) -> list[ParallelPair]:
    """Read a tab-separated ``id, ko, en`` file; lines starting with ``#`` are comments.

    Raises :class:`SchemaError` naming the line for a wrong header, a row without
    exactly three fields, an empty note or a repeated id.
    """
    path = Path(path)
    lines = [
        (n, line)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if line.strip() and not line.startswith("#")
    ]
    if not lines:
        raise SchemaError(f"{path}: no header and no pairs")
    rows = list(csv.reader([line for _, line in lines], delimiter="\t", quoting=csv.QUOTE_NONE))
    if tuple(rows[0]) != _COLUMNS:
        raise SchemaError(
            f"{path}:{lines[0][0]}: header must be {'<TAB>'.join(_COLUMNS)}, got {rows[0]}"
        )
    pairs: list[ParallelPair] = []
    seen: set[str] = set()
    for (lineno, _), row in zip(lines[1:], rows[1:], strict=True):
        if len(row) != len(_COLUMNS):
            raise SchemaError(f"{path}:{lineno}: expected 3 tab-separated fields, got {len(row)}")
        pid, ko, en = (field.strip() for field in row)
        if not pid or not ko or not en:
            raise SchemaError(f"{path}:{lineno}: id, ko and en must all be non-empty")
        if pid in seen:
            raise SchemaError(f"{path}:{lineno}: id {pid!r} appears twice")
        seen.add(pid)
        pairs.append(ParallelPair(pid, ko, en))
    return pairs


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity matrix; a zero row is similar to nothing (0 everywhere)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    a = np.divide(a, na, out=np.zeros_like(a), where=na > 0)
    b = np.divide(b, nb, out=np.zeros_like(b), where=nb > 0)
    sims: np.ndarray = a @ b.T
    return sims


def translation_retrieval(queries: Any, candidates: Any, decimals: int = 9) -> Retrieval:
    """Query ``i``'s translation is candidate ``i``; cosine ranking, ties in expectation.

    Similarities are rounded to ``decimals`` places first, so float noise between
    two identical vectors still counts as a tie.
    """
    q = np.asarray(queries)
    c = np.asarray(candidates)
    if q.ndim != 2 or c.ndim != 2 or q.shape[0] != c.shape[0] or q.shape[1] != c.shape[1]:
        raise SchemaError(
            f"queries and candidates must be (n, d) arrays of one shape, got {q.shape}, {c.shape}"
        )
    if q.shape[0] == 0:
        raise SchemaError("no pairs to score")
    sims = np.round(_cosine(q, c), decimals)
    own = np.diag(sims)[:, None]
    above = (sims > own).sum(axis=1)
    tied = (sims == own).sum(axis=1) - 1  # other candidates with the same similarity
    hit = np.where(above == 0, 1.0 / (tied + 1), 0.0)
    rank = 1.0 + above + tied / 2.0
    return Retrieval(float(hit.mean()), float(rank.mean()), int(q.shape[0]))


def both_directions(ko: Any, en: Any) -> ParallelScores:
    return ParallelScores(translation_retrieval(ko, en), translation_retrieval(en, ko))


def lexicon_bag(lexicon: Lexicon, texts: Sequence[str]) -> np.ndarray:
    """Bag of the lexicon's canonical descriptors: wheel-node weights then structure cues.

    ``(n, n_nodes + n_attributes)``: each non-negated descriptor adds its weight
    (0.5 for "a hint of", 1.5 for "intense") to its wheel node; each structure cue
    (acidity, body, ...) its signed strength in [-1, 1]. The same for either language.
    """
    n_nodes = len(lexicon.nodes)
    out = np.zeros((len(texts), n_nodes + len(lexicon.attribute_names)), dtype=np.float64)
    for i, text in enumerate(texts):
        for d in lexicon.extract(text):
            out[i, d.node.index] += d.weight
        for j, name in enumerate(lexicon.attribute_names):
            out[i, n_nodes + j] = lexicon.attributes(text).get(name, 0.0)
    return out


def told_apart(ko_bag: np.ndarray, en_bag: np.ndarray, decimals: int = 6) -> np.ndarray:
    """Pairs whose lexicon bag is unique among the notes of each language, as a bool mask.

    On the others the lexicon reads two or more notes identically, so only what it
    does not know (the free words) can pick the translation.
    """
    keep = np.ones(len(ko_bag), dtype=bool)
    for bag in (ko_bag, en_bag):
        rounded = [tuple(row) for row in np.round(bag, decimals)]
        counts: dict[tuple[float, ...], int] = {}
        for key in rounded:
            counts[key] = counts.get(key, 0) + 1
        keep &= np.array([counts[key] == 1 for key in rounded])
    return keep


def pair_records(pairs: Sequence[ParallelPair], lang: str) -> list[TasteRecord]:
    """Notes-only records of one side (``"ko"`` or ``"en"``), one user, fixed time."""
    if lang not in ("ko", "en"):
        raise ValueError(f"lang must be 'ko' or 'en', not {lang!r}")
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        TasteRecord(id=f"{p.id}-{lang}", user="parallel", timestamp=when, notes=getattr(p, lang))
        for p in pairs
    ]


def evaluate_parallel(
    model: Any, pairs: Sequence[ParallelPair], text_baseline: bool = True
) -> dict[str, ParallelScores]:
    """Nearest-translation figures per representation, the model's 128-d vector first.

    ``model`` is a :class:`~taste2vec.model.taste2vec.Taste2Vec`. Rows:

    - ``Taste2Vec 128-d``: :meth:`Taste2Vec.embed` of the notes-only records;
    - ``lexicon bag``: :func:`lexicon_bag` of the raw notes (the baseline);
    - with ``text_baseline``, the model's text encoder alone on the raw notes and on
      the notes as the text tower sees them (Korean descriptors rendered in English).
    """
    ko_recs, en_recs = pair_records(pairs, "ko"), pair_records(pairs, "en")
    ko_texts = [p.ko for p in pairs]
    en_texts = [p.en for p in pairs]
    out = {
        "Taste2Vec 128-d": both_directions(model.embed(ko_recs), model.embed(en_recs)),
        "lexicon bag": both_directions(
            lexicon_bag(model.lexicon, ko_texts), lexicon_bag(model.lexicon, en_texts)
        ),
    }
    if text_baseline:
        enc = model.text_encoder
        name = "text encoder"
        en_emb = enc.encode(en_texts)
        out[f"{name} alone (raw notes)"] = both_directions(enc.encode(ko_texts), en_emb)
        rendered = [model.lexicon.render_english(t) for t in ko_texts]
        out[f"{name} alone (Korean rendered)"] = both_directions(enc.encode(rendered), en_emb)
    return out


def render_parallel_markdown(
    scores: dict[str, ParallelScores], n_pairs: int, source: str, command: str
) -> str:
    """The figures as a markdown section for ``bench/RESULTS.md``."""
    lines = [
        "| representation | ko→en acc | ko→en mean rank | en→ko acc | en→ko mean rank |",
        "|---|---|---|---|---|",
    ]
    for name, s in scores.items():
        lines.append(
            f"| {name} | {s.ko_to_en.accuracy:.3f} | {s.ko_to_en.mean_rank:.2f} | "
            f"{s.en_to_ko.accuracy:.3f} | {s.en_to_ko.mean_rank:.2f} |"
        )
    ours, bag = scores["Taste2Vec 128-d"], scores["lexicon bag"]
    parts, met = [], True
    for label, key in (("ko→en", "ko_to_en"), ("en→ko", "en_to_ko")):
        acc, base = getattr(ours, key).accuracy, getattr(bag, key).accuracy
        met = met and acc >= ACCURACY_TARGET and acc >= base
        parts.append(f"{label} {acc:.3f} (lexicon bag {base:.3f})")
    verdict = (
        f"Taste2Vec {'; '.join(parts)} vs target ≥ {ACCURACY_TARGET} and ≥ the lexicon "
        f"bag in each direction: **{'met' if met else 'NOT met'}**."
    )
    return (
        f"## Korean ↔ English nearest translation\n\n"
        f"Command: `{command}`. {n_pairs} hand-written parallel pairs ({source}); each "
        f"note's translation ranked among all {n_pairs} notes of the other language by "
        f"cosine (ties in expectation).\n\n" + "\n".join(lines) + f"\n\n{verdict}\n"
    )
