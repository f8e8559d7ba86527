"""Turn the bundled ``synonyms.json`` into lookup tables keyed by normalised surface form.

Internal to :mod:`taste2vec.lexicon`. The JSON holds, per wheel node path, English and
Korean synonyms; per sensory metric, attribute cue words with a direction; stop phrases
that must never match anything; and the modifier words (negation, intensity). Everything
is validated here so a broken data file fails loudly at load time, naming the entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from taste2vec.errors import LexiconError
from taste2vec.lexicon.wheel import WheelNode

ATTRIBUTE_NAMES: tuple[str, ...] = (
    "acidity",
    "sweetness",
    "bitterness",
    "body",
    "aftertaste",
    "astringency",
    "balance",
)
MODIFIER_LISTS: tuple[str, ...] = (
    "negation_before",
    "negation_after",
    "weaken_before",
    "weaken_after",
    "strengthen_before",
    "strengthen_after",
    "lower_before",
    "lower_after",
    "clause_breaks",
)

TargetKind = Literal["node", "attribute", "stop"]


@dataclass(frozen=True, slots=True)
class Target:
    """What a recognised surface form means: a wheel node, an attribute cue, or nothing."""

    kind: TargetKind
    node: int = -1
    metric: str = ""
    direction: float = 0.0
    english: str = ""


@dataclass(frozen=True)
class Tables:
    """Lookup tables built from the data files (see :func:`build_tables`).

    ``en`` is keyed by :func:`en_key` (also the form the matcher compiles); ``ko`` by
    :func:`ko_key`, with ``ko_forms`` keeping the spacing the data was written with.
    """

    en: dict[str, Target]
    ko: dict[str, Target]
    ko_forms: frozenset[str]
    ko_strict: frozenset[str]
    strict_followers: frozenset[str]
    modifiers: dict[str, tuple[str, ...]]
    factors: dict[str, float]
    attribute_labels: dict[str, tuple[str, str]] = field(default_factory=dict)


_EN_SEP = re.compile(r"[\s\-]+")
_KO_SPACE = re.compile(r"\s+")


def en_key(surface: str) -> str:
    """Normalise English text for lookup: lower case, straight apostrophes, one space for -."""
    text = surface.lower().replace("\u2019", "'")
    return _EN_SEP.sub(" ", text).strip()


def ko_key(surface: str) -> str:
    """Normalise Korean text for lookup: all whitespace removed."""
    return _KO_SPACE.sub("", surface)


def is_korean(surface: str) -> bool:
    """True when the string contains a Hangul syllable."""
    return any("\uac00" <= ch <= "\ud7a3" for ch in surface)


def plural_forms(key: str) -> list[str]:
    """Simple English plurals of the last word: berry → berries, peach → peaches, plum → plums."""
    if not key or not key[-1].isalpha() or key.endswith("s"):
        return []
    if key.endswith("y") and len(key) > 1 and key[-2] not in "aeiou":
        return [key[:-1] + "ies"]
    if key.endswith(("x", "z", "ch", "sh")):
        return [key + "es"]
    if key.endswith("o"):
        return [key + "s", key + "es"]
    return [key + "s"]


class _Builder:
    def __init__(self) -> None:
        self.en: dict[str, Target] = {}
        self.ko: dict[str, Target] = {}
        self.ko_forms: set[str] = set()
        self.origin: dict[tuple[str, str], str] = {}

    def add(self, surface: str, target: Target, where: str, *, explicit: bool = True) -> None:
        korean = is_korean(surface)
        keys = [ko_key(surface)] if korean else self._en_keys(surface)
        table = self.ko if korean else self.en
        if korean:
            self.ko_forms.add(_KO_SPACE.sub(" ", surface.strip()))
        for key in keys:
            if not key:
                raise LexiconError(f"{where}: empty surface form")
            old = table.get(key)
            if old is None:
                table[key] = target
                self.origin[("ko" if korean else "en", key)] = where
            elif _meaning(old) != _meaning(target) and explicit:
                first = self.origin[("ko" if korean else "en", key)]
                raise LexiconError(
                    f"{where}: {surface!r} already means something else ({first}); "
                    "every surface form must map to exactly one target"
                )

    @staticmethod
    def _en_keys(surface: str) -> list[str]:
        key = en_key(surface)
        keys = [key]
        if "-" in surface and " " not in surface.strip():
            keys.append(key.replace(" ", ""))
        return keys


def _meaning(target: Target) -> tuple[str, int, str, float]:
    return target.kind, target.node, target.metric, target.direction


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LexiconError(f"{where} must be a list of strings")
    return [v.strip() for v in value]


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise LexiconError(f"{where} must be a JSON object")
    return value


def build_tables(data: Mapping[str, Any], nodes: Sequence[WheelNode]) -> Tables:
    """Validate the parsed ``synonyms.json`` against ``nodes`` and build the lookup tables."""
    by_path = {n.path: n for n in nodes}
    builder = _Builder()
    synonyms = _mapping(data.get("synonyms"), "synonyms")
    for path, langs in synonyms.items():
        node = by_path.get(path)
        if node is None:
            raise LexiconError(f"synonyms: {path!r} is not a wheel node path")
        langs = _mapping(langs, f"synonyms[{path!r}]")
        for lang in ("en", "ko"):
            for surface in _strings(langs.get(lang, []), f"synonyms[{path!r}].{lang}"):
                builder.add(surface, Target("node", node=node.index), f"synonyms[{path!r}]")
    labels = _add_attributes(builder, _mapping(data.get("attributes"), "attributes"))
    stops = _mapping(data.get("stop_phrases"), "stop_phrases")
    for lang in ("en", "ko"):
        for surface in _strings(stops.get(lang, []), f"stop_phrases.{lang}"):
            builder.add(surface, Target("stop"), f"stop_phrases.{lang}")
    _add_node_names(builder, nodes, _mapping(data.get("exclude_node_names"), "exclude_node_names"))
    for key, target in list(builder.en.items()):
        if target.kind != "stop":
            for plural in plural_forms(key):
                builder.en.setdefault(plural, target)
    strict = frozenset(ko_key(s) for s in _strings(data.get("strict_ko", []), "strict_ko"))
    unknown_strict = sorted(strict - builder.ko.keys())
    if unknown_strict:
        raise LexiconError(f"strict_ko lists words that are not Korean entries: {unknown_strict}")
    followers = data.get("strict_ko_followers", "")
    if not isinstance(followers, str):
        raise LexiconError("strict_ko_followers must be a string of characters")
    mods = _mapping(data.get("modifiers"), "modifiers")
    modifiers = {
        name: tuple(_strings(mods.get(name, []), f"modifiers.{name}")) for name in MODIFIER_LISTS
    }
    factors = _factors(_mapping(mods.get("factors"), "modifiers.factors"))
    return Tables(
        en=builder.en,
        ko=builder.ko,
        ko_forms=frozenset(builder.ko_forms),
        ko_strict=strict,
        strict_followers=frozenset(followers),
        modifiers=modifiers,
        factors=factors,
        attribute_labels=labels,
    )


def _add_attributes(builder: _Builder, attrs: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    if tuple(attrs) != ATTRIBUTE_NAMES:
        raise LexiconError(
            f"attributes must list exactly {', '.join(ATTRIBUTE_NAMES)} in that order; "
            f"found {', '.join(attrs)}"
        )
    labels: dict[str, tuple[str, str]] = {}
    for metric in ATTRIBUTE_NAMES:
        spec = _mapping(attrs[metric], f"attributes.{metric}")
        labels[metric] = (str(spec.get("en_positive", metric)), str(spec.get("en_negative", "")))
        english = _mapping(spec.get("en"), f"attributes.{metric}.en")
        directions: dict[str, float] = {}
        for cue, direction in english.items():
            where = f"attributes.{metric}.en[{cue!r}]"
            if not isinstance(direction, int | float) or not -1.0 <= direction <= 1.0:
                raise LexiconError(f"{where}: direction must be a number in [-1, 1]")
            if direction == 0:
                raise LexiconError(f"{where}: direction 0 carries no information")
            directions[en_key(cue)] = float(direction)
            target = Target("attribute", metric=metric, direction=float(direction), english=cue)
            builder.add(cue, target, where)
        korean = _mapping(spec.get("ko"), f"attributes.{metric}.ko")
        for cue, english_cue in korean.items():
            where = f"attributes.{metric}.ko[{cue!r}]"
            if not isinstance(english_cue, str) or en_key(english_cue) not in directions:
                raise LexiconError(
                    f"{where}: must name an English cue of the same metric, got {english_cue!r}"
                )
            direction = directions[en_key(english_cue)]
            target = Target("attribute", metric=metric, direction=direction, english=english_cue)
            builder.add(cue, target, where)
    return labels


def _add_node_names(
    builder: _Builder, nodes: Iterable[WheelNode], exclude: Mapping[str, Any]
) -> None:
    skip_en = {en_key(s) for s in _strings(exclude.get("en", []), "exclude_node_names.en")}
    skip_ko = {ko_key(s) for s in _strings(exclude.get("ko", []), "exclude_node_names.ko")}
    for node in nodes:
        target = Target("node", node=node.index)
        if en_key(node.name) not in skip_en:
            builder.add(node.name, target, f"node name {node.path!r}", explicit=False)
        if ko_key(node.name_ko) not in skip_ko:
            builder.add(node.name_ko, target, f"node name_ko {node.path!r}", explicit=False)


def _factors(raw: Mapping[str, Any]) -> dict[str, float]:
    factors: dict[str, float] = {}
    for name in ("weaken", "strengthen", "lower"):
        value = raw.get(name)
        if not isinstance(value, int | float) or not 0 < value <= 3:
            raise LexiconError(f"modifiers.factors.{name} must be a number in (0, 3]")
        factors[name] = float(value)
    return factors
