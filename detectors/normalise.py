"""Text as it reads, not as it is encoded: the folding the matchers share, with a map back to the original.

A writer can hide a phrase from a matcher without hiding it from a reader: invisible characters inside a
word (``confi\\u200bdential``), letters borrowed from another script that look the same (Cyrillic ``о``
for Latin ``o``), compatibility forms (fullwidth, mathematical bold), or letter-spacing
(``c o n f i d e n t i a l``). Folding undoes all of these in one pass, and keeps, per folded character,
the index of the original character it came from, so that a finding's span is always what was written.

Letter-spacing is undone only for a run of at least ``MIN_SPACED_LETTERS`` one-letter words separated by
one and the same separator: "I A M", initials ("J. R. R. Tolkien") and "plan A or B" stay as they are.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, replace

from detectors.base import Finding

# Invisible characters: every format character (Unicode category Cf: zero-width space and joiners, word
# joiner, BOM, soft hyphen, bidirectional controls, tags...), plus the combining grapheme joiner,
# variation selectors and the Hangul fillers, which render as nothing. The test checks this set
# against the running Python's Unicode database.
_INVISIBLE_RANGES = (
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f\U000e0100-\U000e01ef"
)
INVISIBLE = re.compile(f"[{_INVISIBLE_RANGES}]")

# Letters of other scripts drawn like a Latin letter in common fonts (the single-letter entries of
# Unicode's confusables.txt for Cyrillic, Greek and Latin small capitals), folded to that letter. A
# deliberately small table: mapping "d" to "cl" or "0" to "o", as the full skeleton does, would make
# "dear" read "clear".
_LOOKALIKES = {
    "a": "аАαΑɑᴀ",
    "b": "ВΒʙ",
    "c": "сСϲϹᴄ",
    "d": "ԁᴅ",
    "e": "еЕΕᴇ",
    "f": "ꜰ",
    "g": "ɡɢ",
    "h": "һНҺΗʜ",
    "i": "іІιΙıɩɪӀ",
    "j": "јЈϳͿᴊ",
    "k": "КκΚᴋ",
    "l": "ӏʟ",
    "m": "МΜᴍ",
    "n": "пΝηɴ",
    "o": "оОοΟᴏ",
    "p": "рРρΡᴘ",
    "q": "ԛԚ",
    "r": "гʀ",
    "s": "ѕЅꜱ",
    "t": "ТΤᴛ",
    "u": "υᴜ",
    "v": "ѵνᴠ",
    "w": "ԝԜᴡ",
    "x": "хХχΧ",
    "y": "уУүҮγΥʏ",
    "z": "Ζᴢ",
}
CONFUSABLES: dict[str, str] = {char: latin for latin, chars in _LOOKALIKES.items() for char in chars}

_APOSTROPHES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"}
_DASHES = {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-"}
# ASCII text folds to text.lower() one-for-one unless whitespace runs collapse or a backtick maps.
_ASCII_NEEDS_MAP = re.compile(r"\s{2,}|[^\S ]|`")
_ASCII_RAW = str.maketrans({**{c: " " for c in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"}, "`": "'"})

_FOLD_CACHE_LIMIT = 1 << 16  # distinct characters; a text cannot grow the cache without bound
_fold_cache: dict[str, str] = {}

MIN_SPACED_LETTERS = 4
# One-letter words separated by the same one to three non-alphanumeric characters, on folded text; the
# last is not an elided one ("d" of "d'initié" belongs to the word after it).
_SPACED = re.compile(
    r"(?<![^\W_])[^\W_](?P<sep>[\W_]{1,3})[^\W_]"
    rf"(?:(?P=sep)[^\W_]){{{MIN_SPACED_LETTERS - 2},}}(?![^\W_]|')"
)


def _fold_char(char: str) -> str:
    folded = _fold_cache.get(char)
    if folded is None:
        if char in _APOSTROPHES:
            folded = _APOSTROPHES[char]
        elif char in _DASHES:
            folded = _DASHES[char]
        elif char.isspace():
            folded = " "
        elif char in CONFUSABLES:
            folded = CONFUSABLES[char]
        elif INVISIBLE.match(char):
            folded = ""
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
            # A compatibility decomposition can yield a look-alike too (a circled or fullwidth Cyrillic "о").
            folded = "".join(CONFUSABLES.get(c, c) for c in folded)
        if len(_fold_cache) < _FOLD_CACHE_LIMIT:
            _fold_cache[char] = folded
    return folded


@dataclass(frozen=True, slots=True)
class Folded:
    """Folded text and, per folded character, the index of the original one (``None``: the same index)."""

    text: str
    index: list[int] | None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of ``text[start:end]`` (``end > start``)."""
        if self.index is None:
            return start, end
        return self.index[start], self.index[end - 1] + 1

    def original(self, findings: list[Finding]) -> list[Finding]:
        """Findings on ``text`` moved onto the original text."""
        if self.index is None:
            return findings
        return [
            replace(finding, start=self.index[finding.start], end=self.index[finding.end - 1] + 1)
            for finding in findings
        ]


def _fold_raw(text: str) -> tuple[str, list[int] | None]:
    """Each character folded on its own (whitespace not collapsed yet)."""
    if text.isascii():
        return text.translate(_ASCII_RAW).lower(), None
    pieces = [_fold_cache.get(char) or _fold_char(char) for char in text]
    raw = "".join(pieces)
    if len(raw) == len(text) and "" not in pieces:
        return raw, None  # one character for one: the common case, even with accents
    index = [position for position, piece in enumerate(pieces) for _ in piece]
    return raw, index


def _collapse_spaces(raw: str, index: list[int] | None) -> tuple[str, list[int] | None]:
    if "  " not in raw:
        return raw, index
    out: list[str] = []
    kept: list[int] = []
    previous_space = False
    for position, char in enumerate(raw):
        if char == " ":
            if previous_space:
                continue
            previous_space = True
        else:
            previous_space = False
        out.append(char)
        kept.append(index[position] if index is not None else position)
    return "".join(out), kept


def fold(text: str) -> tuple[str, list[int] | None]:
    """Folded text and, per folded character, the index of the original character it came from.

    Casefolded; accents, invisible characters and compatibility forms removed; look-alike letters of
    other scripts read as Latin; apostrophes and dashes unified; whitespace runs collapsed to one space.
    ``None`` as the map means identity (pure ASCII without whitespace runs to collapse is common and
    needs no per-character work).
    """
    if text.isascii() and _ASCII_NEEDS_MAP.search(text) is None:
        return text.lower(), None
    return _collapse_spaces(*_fold_raw(text))


# Every lexicon matcher folds the texts it reads, and a worker reads each post with two: the policy
# lexicons in the pipeline, then the brand list of the reputation windows. Folding is most of a match's
# cost, so a poll batch's short texts are folded once. Bounded: entries and text length (a long text's
# offset map is large, and long texts are rare).
FOLD_CACHE_ENTRIES = 1024
FOLD_CACHE_MAX_CHARS = 2_000


def fold_views(text: str) -> tuple[Folded, ...]:
    """The folded text and, when it has letter-spaced words, a second reading with them joined up.

    Both are matched: joining "x y u" into "xyu" must not hide the word "u" that was there all along.
    """
    if len(text) <= FOLD_CACHE_MAX_CHARS:
        return _fold_views_cached(text)
    return _fold_views(text)


@functools.lru_cache(maxsize=FOLD_CACHE_ENTRIES)
def _fold_views_cached(text: str) -> tuple[Folded, ...]:
    return _fold_views(text)


def _fold_views(text: str) -> tuple[Folded, ...]:
    raw, index = _fold_raw(text)
    views = [Folded(*_collapse_spaces(raw, index))]
    runs = list(_SPACED.finditer(raw))
    if runs:
        # Keep everything but the separators inside each run (its letters are its alphanumerics).
        kept: list[int] = []
        previous = 0
        for run in runs:
            start, end = run.span()
            kept.extend(range(previous, start))
            kept.extend(offset for offset in range(start, end) if raw[offset].isalnum())
            previous = end
        kept.extend(range(previous, len(raw)))
        joined = "".join(raw[offset] for offset in kept)
        views.append(Folded(*_collapse_spaces(joined, kept if index is None else [index[i] for i in kept])))
    return tuple(views)


def strip_invisible(text: str) -> Folded:
    """The text without its invisible characters, for patterns a zero-width space must not break."""
    if INVISIBLE.search(text) is None:
        return Folded(text, None)
    pieces: list[str] = []
    index: list[int] = []
    previous = 0
    for match in INVISIBLE.finditer(text):
        pieces.append(text[previous : match.start()])
        index.extend(range(previous, match.start()))
        previous = match.end()
    pieces.append(text[previous:])
    index.extend(range(previous, len(text)))
    return Folded("".join(pieces), index)
