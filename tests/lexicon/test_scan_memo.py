"""The matcher's scan memo: repeated scans of a note give the same matches, never shared lists."""

from __future__ import annotations

from taste2vec.lexicon import load_lexicon
from taste2vec.lexicon._matcher import Matcher


def test_repeated_scans_are_equal_and_independent() -> None:
    lex = load_lexicon()
    matcher = Matcher(lex._tables)
    text = "Not bitter; juicy blackcurrant and 자몽, a hint of jasmine, 산미가 밝다"
    first = matcher.scan(text)
    assert first, "the note names descriptors"
    first.clear()  # a caller mutating its list must not change the next answer
    again = matcher.scan(text)
    assert again and again == Matcher(lex._tables).scan(text)
    assert matcher._scan_memo.cache_info().hits >= 1  # type: ignore[attr-defined]
    # The public API reads the same either way.
    assert lex.extract(text) == lex.extract(text)
    assert lex.render_canonical(text) == load_lexicon().render_canonical(text)
