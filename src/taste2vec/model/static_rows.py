"""Which table rows a note reads in the static text tower: the one implementation.

Torch-free (numpy and a ``tokenizers.Tokenizer``): the cloud tower
(:class:`taste2vec.model.text_static.StaticEncoder`) and the edge runtime
(:mod:`taste2vec.edge.runtime`, for static bundles) both call :class:`RowMatcher`,
so the phone's rows are the cloud's rows by construction.

The rule, for a phone port (``docs/edge.md``):

1. words: replace ``-`` by a space, run the tokenizer's normaliser (BERT: clean,
   lower-case, strip accents, split CJK characters) and pre-tokeniser (BERT:
   whitespace and punctuation); the words are the pre-tokeniser's pieces;
2. walk the words left to right; where a lexicon phrase (up to
   :data:`MAX_PHRASE_WORDS` words) starts, take the LONGEST one that matches and
   emit its row (``n_tokens + its index in the phrase list``), skipping its words;
3. otherwise emit the WordPiece ids of the word (the tokenizer's model alone, no
   ``[CLS]``/``[SEP]``), dropping ids whose ``keep`` flag is false (padding,
   ``[UNK]`` and the other specials, ``[unused*]``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MAX_PHRASE_WORDS", "RowMatcher", "phrase_words"]

MAX_PHRASE_WORDS = 4
_MEMO_LIMIT = 200_000


def phrase_words(tokenizer: Any, text: str) -> tuple[str, ...]:
    """``text`` as the tokeniser's normaliser and pre-tokeniser split it into words."""
    normalizer, pre = tokenizer.normalizer, tokenizer.pre_tokenizer
    text = text.replace("-", " ")  # as the lexicon's keys: "fruit-forward" is "fruit forward"
    norm = normalizer.normalize_str(text) if normalizer is not None else text
    if pre is None:
        return tuple(norm.split())
    return tuple(w for w, _ in pre.pre_tokenize_str(norm))


class RowMatcher:
    """A note's table rows: lexicon phrases first (longest match), else kept WordPieces.

    ``keep[i]``: WordPiece id ``i`` has a row; ``phrases``: the phrase rows, in row
    order, each as space-joined words (rows ``len(keep)``, ``len(keep) + 1``, ...).
    Thread-safe; remembers the WordPieces of up to 200,000 words.
    """

    def __init__(self, tokenizer: Any, keep: np.ndarray, phrases: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.keep = np.asarray(keep, dtype=bool)
        self.n_tokens = int(self.keep.shape[0])
        self.phrases = tuple(phrases)
        self._phrases = {tuple(p.split(" ")): self.n_tokens + j for j, p in enumerate(phrases)}
        self._first_words = {words[0] for words in self._phrases}
        self._memo: dict[str, tuple[int, ...]] = {}
        self._lock = threading.Lock()

    @property
    def n_rows(self) -> int:
        """Rows of the table: WordPiece ids, then phrases."""
        return self.n_tokens + len(self.phrases)

    def _word_rows(self, word: str) -> tuple[int, ...]:
        rows = self._memo.get(word)
        if rows is None:
            keep, n = self.keep, self.n_tokens
            rows = tuple(
                t.id for t in self.tokenizer.model.tokenize(word) if t.id < n and keep[t.id]
            )
            with self._lock:
                if len(self._memo) >= _MEMO_LIMIT:
                    self._memo.clear()
                self._memo[word] = rows
        return rows

    def rows(self, text: str) -> list[int]:
        """The table rows of ``text``, in reading order (repeats kept)."""
        words = phrase_words(self.tokenizer, text)
        out: list[int] = []
        i, n = 0, len(words)
        while i < n:
            matched = False
            if words[i] in self._first_words:
                for size in range(min(MAX_PHRASE_WORDS, n - i), 0, -1):
                    row = self._phrases.get(words[i : i + size])
                    if row is not None:
                        out.append(row)
                        i += size
                        matched = True
                        break
            if not matched:
                out.extend(self._word_rows(words[i]))
                i += 1
        return out
