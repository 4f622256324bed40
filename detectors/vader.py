"""VADER's ``polarity_scores`` in linear time, with exactly its results.

VADER rebuilds the lower-cased list of *every* word of the text several times for each sentiment
word (``_negation_check``, ``_special_idioms_check``), and its "but" rule looks each score up with
``list.index``: quadratic, ≈20 s for a 100 KB post (tests/detectors/test_detectors_vader.py). Every
rule it applies to a word reads at most three words before it and two after, so scoring each word
against that window of the text gives the same valence; the "but" rule is replayed with a heap per
value, quirks included (it rescales the *first* score equal to each one, as ``list.index`` finds it).

Short texts keep going through the analyser's own method: same numbers, fewer moving parts.
"""

from __future__ import annotations

import heapq
import sys
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

# Below this many characters VADER's own method is fast enough (≈1 ms); above, its cost grows with
# the square of the number of words.
LONG_TEXT_CHARS = 2_000
_BEFORE, _AFTER = 3, 2  # the words VADER's rules read around the word being scored


class _Window:
    """What ``sentiment_valence`` reads of a ``SentiText``: the words around one word, and the flag
    computed on the whole text."""

    __slots__ = ("is_cap_diff", "words_and_emoticons")

    def __init__(self, words: list[str], is_cap_diff: bool) -> None:
        self.words_and_emoticons = words
        self.is_cap_diff = is_cap_diff


def polarity_scores(analyzer: Any, text: str, *, but_rule: bool) -> dict[str, float]:
    """``analyzer.polarity_scores(text)`` for a VADER ``SentimentIntensityAnalyzer`` (English or the
    French port, whose ``polarity_scores`` leaves the "but" rule out: say so with ``but_rule``)."""
    if len(text) <= LONG_TEXT_CHARS:
        result: dict[str, float] = analyzer.polarity_scores(text)
        return result
    module = sys.modules[type(analyzer).__module__]
    text = _emoji_described(analyzer.emojis, text)
    sentitext = module.SentiText(text)
    words: list[str] = sentitext.words_and_emoticons
    boosters = module.BOOSTER_DICT
    sentiments: list[float] = []
    for i, item in enumerate(words):
        lowered = item.lower()
        if lowered in boosters or (lowered == "kind" and i < len(words) - 1 and words[i + 1].lower() == "of"):
            sentiments.append(0)
            continue
        low = max(0, i - _BEFORE)
        window = _Window(words[low : i + _AFTER + 1], sentitext.is_cap_diff)
        analyzer.sentiment_valence(0, window, item, i - low, sentiments)
    if but_rule:
        sentiments = _but_rule(words, sentiments)
    scores: dict[str, float] = analyzer.score_valence(sentiments, text)
    return scores


def _emoji_described(emojis: dict[str, str], text: str) -> str:
    """VADER's emoji replacement (each emoji character by its description), built in one pass."""
    if emojis.keys().isdisjoint(text):
        return text.strip()
    pieces: list[str] = []
    previous_space = True
    for char in text:
        description = emojis.get(char)
        if description is not None:
            if not previous_space:
                pieces.append(" ")
            pieces.append(description)
            previous_space = False
        else:
            pieces.append(char)
            previous_space = char == " "
    return "".join(pieces).strip()


def _but_rule(words: Sequence[str], sentiments: list[float]) -> list[float]:
    """VADER's ``_but_check``: scores before the first "but" halved, after it increased by half.

    VADER walks the scores and rescales the first position holding an equal value (``list.index``),
    which is not always the position walked. Each position is read before any change reaches it, so
    the walk is replayed exactly with, per value, a heap of the positions currently holding it.
    """
    lowered = [str(word).lower() for word in words]
    if "but" not in lowered:
        return sentiments
    but = lowered.index("but")
    current = list(sentiments)
    holding: defaultdict[float, list[int]] = defaultdict(list)
    for position, value in enumerate(current):
        holding[value].append(position)  # ascending: already a heap
    for value in sentiments:
        first = holding[value][0]
        if first == but:
            continue
        heapq.heappop(holding[value])
        scaled = value * 0.5 if first < but else value * 1.5
        current[first] = scaled
        heapq.heappush(holding[scaled], first)
    return current
