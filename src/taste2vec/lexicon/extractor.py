"""The flavour lexicon: map English or Korean tasting notes onto the flavour wheel.

>>> lex = load_lexicon()
>>> [(d.node.name, d.weight) for d in lex.extract("Juicy dark chocolate, a hint of 자몽")]
[('Dark Chocolate', 1.0), ('Grapefruit', 0.5)]
>>> lex.attributes("juicy but thin, no bitterness")
{'acidity': 1.0, 'body': -1.0}
>>> lex.render_english("자몽의 산미")
'Grapefruit 의 acidity'

Offsets (``Descriptor.start``/``end``) index the NFC-normalised text, which is the text
itself for all ordinary (already NFC) input. See :mod:`taste2vec.lexicon._matcher` for the
matching rules and ``data/synonyms.json`` (``conventions``) for the mapping choices.
"""

from __future__ import annotations

import functools
import hashlib
import json
import unicodedata
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from taste2vec.errors import LexiconError
from taste2vec.lexicon._matcher import Match, Matcher
from taste2vec.lexicon._tables import ATTRIBUTE_NAMES, Tables, build_tables
from taste2vec.lexicon.wheel import WheelNode, parse_wheel_nodes

N_NODES = 110
N_FAMILIES = 9
_WEIGHT_PREFIX = {0.5: "hint of ", 1.5: "intense "}


class UnknownNodeError(LexiconError, KeyError):
    """A wheel path that is not in the lexicon; catchable as ``KeyError`` too."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True, slots=True)
class Descriptor:
    """One flavour found in a text: the wheel node, its weight (> 0) and where it was."""

    node: WheelNode
    weight: float
    surface: str
    start: int
    end: int


class Lexicon:
    """The bundled flavour wheel plus synonyms, attribute cues and modifiers.

    Build it with :func:`load_lexicon`; the instance is immutable and thread-safe.
    """

    version: str
    nodes: tuple[WheelNode, ...]
    families: tuple[str, ...]
    attribute_names: tuple[str, ...]

    def __init__(self, nodes: tuple[WheelNode, ...], tables: Tables, version: str) -> None:
        self.version = version
        self.nodes = nodes
        self.families = tuple(n.name for n in nodes if n.level == 1)
        self.attribute_names = ATTRIBUTE_NAMES
        self._by_path = {n.path: n for n in nodes}
        self._family_index = {f: i for i, f in enumerate(self.families)}
        self._tables = tables
        self._matcher = Matcher(tables)

    def __repr__(self) -> str:
        return f"Lexicon(version={self.version!r}, nodes={len(self.nodes)})"

    def node(self, path: str) -> WheelNode:
        """The node with this exact path, e.g. ``"Fruity > Berry > Blackberry"``.

        Raises :class:`UnknownNodeError` (a :class:`LexiconError` and a ``KeyError``).
        """
        try:
            return self._by_path[path]
        except KeyError:
            close = [p for p in self._by_path if p.lower().endswith(path.lower().split(">")[-1])]
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownNodeError(
                f"Unknown flavour wheel path {path!r}. Paths join names with ' > ', "
                f"e.g. 'Fruity > Berry > Blackberry'.{hint}"
            ) from None

    def extract(self, text: str) -> list[Descriptor]:
        """Every non-negated flavour descriptor in ``text``, in order of appearance."""
        text = _nfc(text)
        lower = self._tables.factors["lower"]
        return [
            Descriptor(
                node=self.nodes[m.target.node],
                weight=m.factor * (lower if m.lowered else 1.0),
                surface=text[m.start : m.end],
                start=m.start,
                end=m.end,
            )
            for m in self._matcher.scan(text)
            if m.target.kind == "node" and not m.negated
        ]

    def english_surfaces(self) -> tuple[str, ...]:
        """Every English surface form of a flavour node or attribute cue, sorted."""
        return tuple(sorted(k for k, t in self._tables.en.items() if t.kind != "stop"))

    def family_distribution(self, text: str) -> npt.NDArray[np.float32]:
        """Descriptor weight per family (order :attr:`families`), summing to 1; zeros if none."""
        out = np.zeros(len(self.families), dtype=np.float32)
        for d in self.extract(text):
            out[self._family_index[d.node.family]] += d.weight
        total = float(out.sum())
        if total > 0:
            out /= total
        return out

    def attributes(self, text: str) -> dict[str, float]:
        """Summed direction per sensory metric for the cues found, each clipped to [-1, 1].

        Only metrics with at least one non-negated cue appear, in :attr:`attribute_names`
        order. "low"/"less"/약한 turn a cue negative at half strength.
        """
        sums: dict[str, float] = {}
        lower = self._tables.factors["lower"]
        for m in self._matcher.scan(_nfc(text)):
            if m.target.kind != "attribute" or m.negated:
                continue
            direction = -abs(m.target.direction) * lower if m.lowered else m.target.direction
            sums[m.target.metric] = sums.get(m.target.metric, 0.0) + direction * m.factor
        return {
            name: max(-1.0, min(1.0, round(sums[name], 6)))
            for name in self.attribute_names
            if name in sums
        }

    def render_english(self, text: str) -> str:
        """Replace each recognised Korean descriptor or attribute phrase by its English name.

        Descriptors become the wheel node's English name, attribute cues the English cue
        they translate; negated ones get "no ", weakened "hint of ", strengthened
        "intense ". A space keeps the English apart from an adjacent letter (a particle).
        Text with no Korean match (English text, for one) comes back unchanged.
        """
        text = _nfc(text)
        pieces: list[str] = []
        pos = 0
        for m in self._matcher.scan(text):
            if not m.korean or m.target.kind == "stop":
                continue
            english = self._english(m)
            if m.start > 0 and text[m.start - 1].isalnum():
                english = " " + english
            if m.end < len(text) and text[m.end].isalnum():
                english += " "
            pieces += [text[pos : m.start], english]
            pos = m.end
        if not pieces:
            return text
        pieces.append(text[pos:])
        return "".join(pieces)

    def render_canonical(self, text: str) -> str:
        """The descriptors and cues the lexicon reads, as canonical English, in either language.

        Wheel nodes by their lower-cased English name (with "hint of "/"intense "),
        structure cues by their metric's English label ("bright acidity" / "flat
        acidity"), comma-separated: "자몽과 재스민, 산미가 밝다" and "Grapefruit and
        jasmine, bright" both give "grapefruit, jasmine, bright acidity". Empty when
        nothing is recognised.
        """
        words = [_WEIGHT_PREFIX.get(d.weight, "") + d.node.name.lower() for d in self.extract(text)]
        for metric, value in self.attributes(text).items():
            positive, negative = self._tables.attribute_labels[metric]
            words.append(positive if value > 0 else negative)
        return ", ".join(words)

    def _matched_spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every match in the NFC text, stop phrases and negated ones too."""
        return [(m.start, m.end) for m in self._matcher.scan(_nfc(text))]

    def _modifier_words(self) -> frozenset[str]:
        """The one-word negation and intensity modifiers, lower-cased."""
        words = (w for group in self._tables.modifiers.values() for w in group)
        return frozenset(w.lower() for w in words if " " not in w)

    def _english(self, m: Match) -> str:
        if m.target.kind == "node":
            word = self.nodes[m.target.node].name
        elif m.lowered:
            word = self._tables.attribute_labels[m.target.metric][1] or m.target.english
        else:
            word = m.target.english
        if m.negated:
            return "no " + word
        return _WEIGHT_PREFIX.get(m.factor, "") + word


def _nfc(text: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def build_lexicon(wheel_csv: str, synonyms_json: str) -> Lexicon:
    """Build a :class:`Lexicon` from the text of the two data files (validated)."""
    nodes = parse_wheel_nodes(wheel_csv)
    try:
        data = json.loads(synonyms_json)
    except json.JSONDecodeError as exc:
        raise LexiconError(f"synonyms.json is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise LexiconError("synonyms.json must hold a JSON object")
    tables = build_tables(data, nodes)
    digest = hashlib.sha256(wheel_csv.encode() + b"\0" + synonyms_json.encode()).hexdigest()
    return Lexicon(nodes, tables, digest[:12])


@functools.cache
def load_lexicon() -> Lexicon:
    """The bundled lexicon (110 wheel nodes), loaded and compiled once per process."""
    folder = resources.files("taste2vec.lexicon").joinpath("data")
    wheel_csv = folder.joinpath("wheel_nodes.csv").read_text(encoding="utf-8")
    synonyms = folder.joinpath("synonyms.json").read_text(encoding="utf-8")
    lexicon = build_lexicon(wheel_csv, synonyms)
    families = [n for n in lexicon.nodes if n.level == 1]
    if len(lexicon.nodes) != N_NODES or len(families) != N_FAMILIES:
        raise LexiconError(
            f"bundled wheel must have {N_NODES} nodes and {N_FAMILIES} families; "
            f"found {len(lexicon.nodes)} and {len(families)}"
        )
    return lexicon
