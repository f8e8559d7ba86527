"""Find lexicon entries in free text, with negation and intensity scopes.

Internal to :mod:`taste2vec.lexicon`. All surface forms are compiled into one regular
expression shaped as a character trie, so a scan is a single left-to-right pass and, at
each position, the longest entry wins ("dark chocolate" before "chocolate"):

- English entries match whole words only (not inside a longer word), case-insensitively;
  a space in an entry matches any run of spaces or hyphens, and plurals are table entries.
  A space in a Korean entry matches any run of spaces or none (다크초콜릿).
- Korean entries match anywhere (particles attach to nouns: 자몽의, 꿀같은); an entry
  listed as strict must stand as its own word (배 is pear only in 배, 배의, 배 같은).

Then each match looks at the text between it and its neighbours, cut at clause breaks
(punctuation, "but", "and", 지만...): negation words before it (no, not, without, 안) or
after it (없, 않, free) suppress it; weakeners (hint of, 살짝) and strengtheners
(intense, 진한) scale it; "lower" words (low, less, 약한) turn an attribute cue negative.
"no sourness or bitterness" and "쓴맛이나 떫은맛은 없다" negate both cues.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeAlias

from taste2vec.lexicon._tables import Tables, Target, en_key, is_korean, ko_key

_EN_LETTER = "0-9a-z\u00c0-\u024f"
_CHAIN_EN = re.compile(r"^[\s\-]*(?:,?\s*(?:or|nor)\s+(?:any\s+|even\s+)?)?$", re.IGNORECASE)
_CHAIN_KO = re.compile(r"^\s*(?:이나|나|와|과|랑|이랑|하고|도|및)?\s*$")
_BREAK_CHARS = r"[.,;:!?()\[\]{}\n/|\u2014\u2013]"
_AFTER_BREAK_CHARS = r"[.,;!?()\[\]{}\n/|\u2014\u2013]"
_BEFORE_WORDS = 3
_AFTER_WORDS = 2
_AFTER_KO_CHARS = 12
# Texts whose scan is kept: featurising a note scans it five times (rendering, descriptors,
# cues, canonical terms), batches of up to this many notes scan each note once.
SCAN_CACHE = 4096


@dataclass(frozen=True, slots=True)
class Match:
    """One recognised span with its scopes resolved."""

    start: int
    end: int
    target: Target
    korean: bool
    factor: float = 1.0
    lowered: bool = False
    negated: bool = False


_Trie: TypeAlias = dict[str, "_Trie"]


def _trie_pattern(forms: Iterable[str], space: str) -> str:
    """A regex matching any of ``forms``, longest first, built as a trie of characters."""
    root: _Trie = {}
    for form in forms:
        node = root
        for ch in form:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _emit(root, space)


def _emit(node: _Trie, space: str) -> str:
    alternatives: list[str] = []
    for ch in sorted(k for k in node if k):
        head = space if ch == " " else ("['\u2019]" if ch == "'" else re.escape(ch))
        alternatives.append(head + _emit(node[ch], space))
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    if "" in node:
        return f"(?:{body})?"
    return body


def _word_regex(phrases: Iterable[str], *, korean_whole_token: bool) -> re.Pattern[str] | None:
    """Match any phrase: English ones on word boundaries, Korean as tokens or substrings."""
    parts: list[str] = []
    for phrase in sorted(set(phrases), key=len, reverse=True):
        body = r"\s+".join(re.escape(w) for w in phrase.split())
        if is_korean(phrase):
            # a whole token, optionally with the genitive particle (약간의 = a little)
            parts.append(rf"(?<!\S){body}의?(?!\S)" if korean_whole_token else body)
        else:
            parts.append(rf"(?<![a-z]){body}(?![a-z])")
    if not parts:
        return None
    return re.compile("|".join(parts), re.IGNORECASE)


class Matcher:
    """Compiled patterns for one set of :class:`Tables`."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        en = _trie_pattern(sorted(tables.en), r"[\s\-]+")
        # Each Korean form also goes in without its spaces (다크 초콜릿 / 다크초콜릿): the
        # trie's branches must start with disjoint characters for longest-match to hold.
        ko_forms = tables.ko_forms | {f.replace(" ", "") for f in tables.ko_forms}
        ko = _trie_pattern(sorted(ko_forms), r"\s+")
        self._regex = re.compile(
            rf"(?P<en>(?<![{_EN_LETTER}])(?:{en})(?![{_EN_LETTER}]))|(?P<ko>{ko})",
            re.IGNORECASE,
        )
        mods = tables.modifiers
        breaks = mods["clause_breaks"]
        en_breaks = [b for b in breaks if not is_korean(b)]
        ko_breaks = [re.escape(b) for b in breaks if is_korean(b)]
        words = [rf"(?<![a-z])(?:{'|'.join(re.escape(b) for b in en_breaks)})(?![a-z])"]
        words = (words if en_breaks else []) + ko_breaks
        self._break_before = re.compile("|".join([_BREAK_CHARS, *words]), re.IGNORECASE)
        self._break_after = re.compile("|".join([_AFTER_BREAK_CHARS, *words]), re.IGNORECASE)
        self._before = {
            name: _word_regex(mods[f"{name}_before"], korean_whole_token=True)
            for name in ("negation", "weaken", "strengthen", "lower")
        }
        self._after_en = {
            name: _word_regex(
                [w for w in mods[f"{name}_after"] if not is_korean(w)], korean_whole_token=False
            )
            for name in ("negation", "weaken", "strengthen", "lower")
        }
        self._after_ko = {
            name: _word_regex(
                [w for w in mods[f"{name}_after"] if is_korean(w)], korean_whole_token=False
            )
            for name in ("negation", "weaken", "strengthen", "lower")
        }
        # A bounded, thread-safe memo of recent scans (Match objects are immutable).
        self._scan_memo: Callable[[str], tuple[Match, ...]] = functools.lru_cache(
            maxsize=SCAN_CACHE
        )(self._scan)

    def scan(self, text: str) -> list[Match]:
        """Every recognised span in ``text`` (stop phrases included), scopes resolved."""
        return list(self._scan_memo(text))

    def _scan(self, text: str) -> tuple[Match, ...]:
        raw = self._find(text)
        if not raw:
            return ()
        flags: list[tuple[float, bool, str]] = []
        for i, (start, end, target, _korean) in enumerate(raw):
            prev_end = raw[i - 1][1] if i else 0
            next_start = raw[i + 1][0] if i + 1 < len(raw) else len(text)
            flags.append(self._scope(text[prev_end:start], text[end:next_start], target))
        negation = [f[2] for f in flags]
        for i in range(1, len(raw)):
            if negation[i - 1] in ("before", "chain") and not negation[i]:
                if _CHAIN_EN.match(text[raw[i - 1][1] : raw[i][0]]):
                    negation[i] = "chain"
        for i in range(len(raw) - 2, -1, -1):
            if negation[i + 1] in ("after", "back") and not negation[i]:
                if _CHAIN_KO.match(text[raw[i][1] : raw[i + 1][0]]):
                    negation[i] = "back"
        return tuple(
            Match(s, e, t, k, factor=f[0], lowered=f[1], negated=bool(neg))
            for (s, e, t, k), f, neg in zip(raw, flags, negation, strict=True)
        )

    def _find(self, text: str) -> list[tuple[int, int, Target, bool]]:
        tables = self.tables
        found: list[tuple[int, int, Target, bool]] = []
        for m in self._regex.finditer(text):
            korean = m.group("en") is None
            if korean:
                key = ko_key(m.group())
                if key in tables.ko_strict and not self._strict_ok(text, m.start(), m.end()):
                    continue
                target = tables.ko.get(key)
            else:
                target = tables.en.get(en_key(m.group()))
            if target is not None:
                found.append((m.start(), m.end(), target, korean))
        return found

    def _strict_ok(self, text: str, start: int, end: int) -> bool:
        if start > 0 and _is_syllable(text[start - 1]):
            return False
        if end < len(text) and _is_syllable(text[end]):
            return text[end] in self.tables.strict_followers
        return True

    def _scope(self, before: str, after: str, target: Target) -> tuple[float, bool, str]:
        """(intensity factor, lowered, negation source) for one match."""
        if target.kind == "stop":
            return 1.0, False, ""
        cut = 0
        for m in self._break_before.finditer(before):
            cut = m.end()
        before_window = " ".join(before[cut:].split()[-_BEFORE_WORDS:])
        m_after = self._break_after.search(after)
        after = after[: m_after.start()] if m_after else after
        after_en = " ".join(after.split()[:_AFTER_WORDS])
        after_ko = after[:_AFTER_KO_CHARS]

        def found(name: str) -> tuple[bool, bool]:
            b = self._before[name]
            a_en = self._after_en[name]
            a_ko = self._after_ko[name]
            hit_before = bool(b and b.search(before_window))
            hit_after = bool((a_en and a_en.search(after_en)) or (a_ko and a_ko.search(after_ko)))
            return hit_before, hit_after

        neg_before, neg_after = found("negation")
        negation = "before" if neg_before else ("after" if neg_after else "")
        factors = self.tables.factors
        factor = 1.0
        if any(found("weaken")):
            factor *= factors["weaken"]
        if any(found("strengthen")):
            factor *= factors["strengthen"]
        return factor, any(found("lower")), negation


def _is_syllable(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"
