"""Phrase lists from the policy packs, matched case- and accent-insensitively in one pass.

All phrases of a plan go into one Aho-Corasick automaton, built once per plan and cached. The
text is folded (casefold, accents stripped, apostrophes unified, whitespace runs collapsed) with
a map from every folded character back to the original one, so that spans are exact offsets into
the original text: the policy engine's "within N words" proximity relies on them.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import ahocorasick

from detectors.base import DetectorPlan, Finding, TextRecord

_APOSTROPHES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"}
_DASHES = {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-"}
_fold_cache: dict[str, str] = {}
# ASCII text folds to text.lower() one-for-one unless whitespace runs collapse or a backtick maps.
_ASCII_NEEDS_MAP = re.compile(r"\s{2,}|[^\S ]|`")


def _fold_char(char: str) -> str:
    folded = _fold_cache.get(char)
    if folded is None:
        if char in _APOSTROPHES:
            folded = _APOSTROPHES[char]
        elif char in _DASHES:
            folded = _DASHES[char]
        elif char.isspace():
            folded = " "
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
        _fold_cache[char] = folded
    return folded


def fold(text: str) -> tuple[str, list[int] | None]:
    """Folded text and, per folded character, the index of the original character it came from.

    ``None`` as the map means identity (pure ASCII without whitespace runs to collapse is common and
    needs no per-character work).
    """
    if text.isascii() and _ASCII_NEEDS_MAP.search(text) is None:
        return text.lower(), None
    out: list[str] = []
    index: list[int] = []
    previous_space = False
    for position, char in enumerate(text):
        folded = _fold_char(char)
        if folded == " ":
            if previous_space:
                continue
            previous_space = True
        else:
            previous_space = False
        for piece in folded:
            out.append(piece)
            index.append(position)
    return "".join(out), index


def fold_phrase(phrase: str) -> str:
    return fold(phrase.strip())[0]


class LexiconMatcher:
    """One automaton for every phrase of every list of a plan."""

    def __init__(self, lists: Mapping[str, Sequence[str]]) -> None:
        automaton: Any = ahocorasick.Automaton()
        entries: dict[str, list[tuple[str, str]]] = {}
        for list_name, phrases in lists.items():
            if isinstance(phrases, str):
                raise TypeError(f"lexicon list {list_name!r} must be a sequence of phrases, not one string")
            for phrase in phrases:
                key = fold_phrase(phrase)
                if not key:
                    raise ValueError(f"lexicon list {list_name!r} has an empty phrase")
                targets = entries.setdefault(key, [])
                if (list_name, phrase) not in targets:
                    targets.append((list_name, phrase))
        for key, targets in entries.items():
            automaton.add_word(key, (len(key), tuple(targets)))
        self.empty = not entries
        if not self.empty:
            automaton.make_automaton()
        self._automaton = automaton

    def match(self, text: str) -> list[Finding]:
        if self.empty or not text:
            return []
        folded, index = fold(text)
        length = len(folded)
        found: list[Finding] = []
        for last, (size, targets) in self._automaton.iter(folded):
            first = last - size + 1
            # Word boundaries on the folded text: "cash" must not match inside "cashier".
            if first > 0 and _is_word(folded[first - 1]) and _is_word(folded[first]):
                continue
            if last + 1 < length and _is_word(folded[last + 1]) and _is_word(folded[last]):
                continue
            if index is None:
                start, end = first, last + 1
            else:
                start, end = index[first], index[last] + 1
            for list_name, phrase in targets:
                found.append(
                    Finding("lexicon", list_name, start, end, 1.0, "LexiconMatcher", {"phrase": phrase})
                )
        found.sort(key=lambda finding: (finding.start, finding.end, finding.type))
        return found


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


class LexiconDetector:
    name: ClassVar[str] = "lexicon"

    def __init__(self, cache_size: int = 64) -> None:
        self._cache_size = cache_size
        # Keyed by the identity of the plan's mapping (plans are compiled once and live long); the
        # mapping is kept in the value so its id cannot be reused while cached.
        self._cache: dict[int, tuple[Mapping[str, tuple[str, ...]], LexiconMatcher]] = {}
        self._lock = threading.Lock()

    def matcher(self, lists: Mapping[str, tuple[str, ...]]) -> LexiconMatcher:
        entry = self._cache.get(id(lists))
        if entry is not None and entry[0] is lists:
            return entry[1]
        matcher = LexiconMatcher(lists)
        with self._lock:
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[id(lists)] = (lists, matcher)
        return matcher

    def detect(self, posts: Sequence[TextRecord], plan: DetectorPlan) -> list[list[Finding]]:
        if not plan.lexicon_lists:
            return [[] for _ in posts]
        matcher = self.matcher(plan.lexicon_lists)
        return [matcher.match(post.text) for post in posts]
