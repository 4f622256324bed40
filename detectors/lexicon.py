"""Phrase lists from the policy packs, matched case- and accent-insensitively in one pass.

All phrases of a plan go into one Aho-Corasick automaton, built once per plan and cached. The
text is folded (``detectors.normalise``: casefold, accents and invisible characters removed, look-alike
letters of other scripts read as Latin, whitespace runs collapsed, letter-spaced words joined) with a map
from every folded character back to the original one, so that spans are exact offsets into the
original text: the evidence shows what was written, and the policy engine's "within N words"
proximity relies on them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import ahocorasick

from detectors.base import DetectorPlan, Finding, TextRecord
from detectors.normalise import fold, fold_views

__all__ = ["LexiconDetector", "LexiconMatcher", "fold", "fold_phrase"]


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
        found: dict[tuple[int, int, str, str], Finding] = {}
        for view in fold_views(text):
            folded = view.text
            length = len(folded)
            for last, (size, targets) in self._automaton.iter(folded):
                first = last - size + 1
                # Word boundaries on the folded text: "cash" must not match inside "cashier".
                if first > 0 and _is_word(folded[first - 1]) and _is_word(folded[first]):
                    continue
                if last + 1 < length and _is_word(folded[last + 1]) and _is_word(folded[last]):
                    continue
                start, end = view.span(first, last + 1)
                for list_name, phrase in targets:
                    found.setdefault(
                        (start, end, list_name, phrase),
                        Finding("lexicon", list_name, start, end, 1.0, "LexiconMatcher", {"phrase": phrase}),
                    )
        return sorted(found.values(), key=lambda finding: (finding.start, finding.end, finding.type))


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
