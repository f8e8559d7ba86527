"""Measure the lexicon: precision/recall on hand-labelled sentences, coverage on real notes.

The labelled file is JSON lines, one sentence each::

    {"text": "Juicy blackberry, cocoa nib", "lang": "en",
     "descriptors": ["Fruity > Berry > Blackberry", "Nutty/Cocoa > Cocoa > Dark Chocolate"]}

Precision and recall are micro-averaged over (sentence, node path) pairs: a predicted
path counts once per sentence however often it is found, and only an exact path match is
a hit (predicting "Fruity > Berry" for a gold "Fruity > Berry > Blackberry" is a miss).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from taste2vec.errors import DataError
from taste2vec.lexicon.extractor import Lexicon

LANGUAGES: tuple[str, ...] = ("en", "ko")

STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all almost along already also although always am among
    an and another any are around as at away back be became because been before being below
    between both but by can could did do does doing done down during each either else enough
    even ever every few for from further get gets getting give gives given go goes going got
    had has have having he her here hers him his how however i if in into is it its itself
    just least less like likely made make makes many may me more most much must my near
    neither nor not now of off often on once one only onto or other others our out over own
    per quite rather really said same seem seems several she should since so some something
    still such than that the their them then there these they this those though through thus
    to together too toward towards under until up upon us very via was we well were what when
    where whether which while who whom whose why will with within without would yet you your
    yours two three four first second last next new good nice lot lots bit way kind sort
    """.split()
)

REVIEW_VOCABULARY: frozenset[str] = frozenset(
    """
    cup cups aroma aromas aromatic aromatics finish finishes mouthfeel structure structured
    acidity acid acids note notes noted flavor flavors flavour flavours flavored taste tastes
    tasted tasting coffee coffees espresso espressos brew brewed brewing roast roasted roaster
    roasting bean beans body bodied palate nose impression impressions character characters
    tone tones toned toning nuance nuances nuanced suggestion suggestions suggest suggests
    hint hints touch undertone undertones overtone overtones complex complexity evaluated
    sample samples shot shots milk parts part carries carry carrying carried consolidates
    consolidate consolidating leads lead leading led resonates resonance throughout especially
    particularly overall deep deeply richly crisply gently sweetly delicately lightly fully
    sense pleasing pleasant pleasantly lovely intriguing engaging satisfying attractive
    gorgeous beautiful elegant appealing distinct distinctly clear clearly quietly balanced
    short long medium moderate moderately cooling cools cooled cooler hot hotter heat
    lively vibrant bright crisp juicy syrupy creamy velvety silky smooth round rounded
    lingering
    """.split()
)

_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class LabelledSentence:
    """A tasting note with the wheel node paths a careful human assigned to it."""

    text: str
    lang: str
    descriptors: tuple[str, ...]


@dataclass
class PRReport:
    """Micro-averaged precision, recall and F1, overall and per language (p, r, f1)."""

    precision: float
    recall: float
    f1: float
    n_sentences: int
    by_language: dict[str, tuple[float, float, float]] = field(default_factory=dict)


@dataclass
class CoverageReport:
    """Share of texts with at least one descriptor, and the commonest words not recognised."""

    n_texts: int
    share_with_descriptor: float
    top_unrecognised: list[tuple[str, int]]


def load_labelled(path: Path) -> list[LabelledSentence]:
    """Read a labelled JSON-lines file; a bad line raises :class:`DataError` naming it."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read labelled sentences {path}: {exc}") from exc
    out: list[LabelledSentence] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise DataError(f"{where}: each line must be a JSON object")
        text, lang, descriptors = row.get("text"), row.get("lang"), row.get("descriptors")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}: 'text' must be a non-empty string")
        if lang not in LANGUAGES:
            raise DataError(f"{where}: 'lang' must be one of {LANGUAGES}, got {lang!r}")
        if not isinstance(descriptors, list) or not all(isinstance(d, str) for d in descriptors):
            raise DataError(f"{where}: 'descriptors' must be a list of wheel node paths")
        out.append(LabelledSentence(text=text, lang=lang, descriptors=tuple(descriptors)))
    return out


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def precision_recall(lexicon: Lexicon, labelled: Sequence[LabelledSentence]) -> PRReport:
    """Score ``lexicon.extract`` against the gold paths (unknown gold paths raise)."""
    counts: dict[str, list[int]] = {}
    for sentence in labelled:
        gold = {lexicon.node(p).path for p in sentence.descriptors}
        predicted = {d.node.path for d in lexicon.extract(sentence.text)}
        row = counts.setdefault(sentence.lang, [0, 0, 0])
        row[0] += len(gold & predicted)
        row[1] += len(predicted - gold)
        row[2] += len(gold - predicted)
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    p, r, f1 = _prf(*total)
    by_language = {lang: _prf(*c) for lang, c in sorted(counts.items())}
    return PRReport(p, r, f1, n_sentences=len(labelled), by_language=by_language)


def coverage(lexicon: Lexicon, texts: Iterable[str], top: int = 25) -> CoverageReport:
    """How much of a corpus the lexicon recognises, and which frequent words it misses.

    A word is unrecognised when it is alphabetic, at least three letters, outside every
    lexicon match (descriptors, attribute cues, stop phrases, negated ones too), not a
    one-word modifier the lexicon knows (faint, intense, 살짝...), and not in
    :data:`STOPWORDS` or :data:`REVIEW_VOCABULARY`.
    """
    known = STOPWORDS | REVIEW_VOCABULARY | lexicon._modifier_words()
    n_texts = 0
    with_descriptor = 0
    unrecognised: Counter[str] = Counter()
    for raw in texts:
        text = unicodedata.normalize("NFC", raw)
        n_texts += 1
        if lexicon.extract(text):
            with_descriptor += 1
        spans = lexicon._matched_spans(text)
        for m in _WORD.finditer(text):
            word = m.group().lower()
            if len(word) < 3 or word in known:
                continue
            if any(start < m.end() and m.start() < end for start, end in spans):
                continue
            unrecognised[word] += 1
    share = with_descriptor / n_texts if n_texts else 0.0
    return CoverageReport(n_texts, share, unrecognised.most_common(top))
