"""The risk classifier's features: one tokenisation shared by training and scoring.

Training and run time call the same ``features()``, so the shipped weights can never meet a text
cut differently from the texts they were fitted on (the usual way a linear model silently degrades
when a vectoriser is reimplemented). Every feature remembers the token span it came from: the
explanation shown to reviewers names words of the post, not opaque character n-grams.

Features (measured against alternatives in ``detectors/classifier_train.py``):
- ``w:`` word unigrams and ``b:`` word bigrams over folded tokens;
- ``c:`` character 2-5-grams inside each word padded with spaces (scikit-learn's ``char_wb``), which
  carry French inflections, typos, cashtags and phrasings the word features have never seen.

Folding: casefold, accents stripped (chat French often drops them), apostrophes unified, every digit
replaced by 0 so that "12%" and "9%" are one feature: the claim matters, not the number.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Iterator

# Words, plus the symbols that carry meaning in finance posts (%, currency, cashtags, rockets).
_TOKEN = re.compile(r"\w+|[%$€£]|[\U0001F300-\U0001FAFF]", re.UNICODE)
_DIGIT = re.compile(r"\d")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})

CHAR_NGRAMS: tuple[int, int] = (2, 5)

_fold_cache: dict[str, str] = {}
_FOLD_CACHE_LIMIT = 200_000


def fold(token: str) -> str:
    folded = _fold_cache.get(token)
    if folded is None:
        decomposed = unicodedata.normalize("NFKD", token.translate(_APOSTROPHES).casefold())
        folded = _DIGIT.sub("0", "".join(c for c in decomposed if not unicodedata.combining(c)))
        if len(_fold_cache) >= _FOLD_CACHE_LIMIT:
            _fold_cache.clear()
        _fold_cache[token] = folded
    return folded


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(folded token, start, end) with offsets into the original text."""
    return [(fold(match.group()), match.start(), match.end()) for match in _TOKEN.finditer(text)]


def word_char_ngrams(token: str, low: int, high: int) -> Iterator[str]:
    padded = f" {token} "
    size = len(padded)
    for n in range(low, high + 1):
        if n > size:
            break
        for start in range(size - n + 1):
            yield padded[start : start + n]


def features(
    text: str, char_ngrams: tuple[int, int] = CHAR_NGRAMS, with_spans: bool = False
) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """Feature counts, and (when asked) the first span of the text each feature was read from."""
    counts: dict[str, int] = {}
    spans: dict[str, tuple[int, int]] = {}
    toks = tokens(text)
    low, high = char_ngrams

    def add(name: str, start: int, end: int) -> None:
        counts[name] = counts.get(name, 0) + 1
        if with_spans and name not in spans:
            spans[name] = (start, end)

    previous: tuple[str, int, int] | None = None
    for token, start, end in toks:
        add("w:" + token, start, end)
        if previous is not None:
            add(f"b:{previous[0]} {token}", previous[1], end)
        previous = (token, start, end)
        if high:
            for gram in word_char_ngrams(token, low, high):
                add("c:" + gram, start, end)
    return counts, spans


def is_char_feature(name: str) -> bool:
    return name.startswith("c:")


def tfidf(counts: dict[str, int], idf: dict[str, float]) -> dict[str, float]:
    """Sublinear tf times idf; word and character features L2-normalised each on their own.

    Normalising the two blocks separately (as scikit-learn's FeatureUnion of two vectorisers does)
    keeps the many character n-grams of a post from drowning its few word features.
    """
    values = {name: (1.0 + math.log(count)) * idf[name] for name, count in counts.items() if name in idf}
    squares = [0.0, 0.0]
    for name, value in values.items():
        squares[is_char_feature(name)] += value * value
    norms = [math.sqrt(square) or 1.0 for square in squares]
    return {name: value / norms[is_char_feature(name)] for name, value in values.items()}


def document_frequencies(texts: Iterable[str], char_ngrams: tuple[int, int]) -> dict[str, int]:
    frequencies: dict[str, int] = {}
    for text in texts:
        for name in features(text, char_ngrams)[0]:
            frequencies[name] = frequencies.get(name, 0) + 1
    return frequencies


def smooth_idf(document_frequency: int, documents: int) -> float:
    # scikit-learn's smooth idf: as if one extra document held every feature once.
    return math.log((1 + documents) / (1 + document_frequency)) + 1.0
