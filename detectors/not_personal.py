"""What the recognizers mistake for personal data, and how to tell.

Measured on an independent PII set (``bench/pii_eval.py``), the false positives left are of three
kinds, each answered by context rather than by a higher threshold (which would lose real names and
numbers):

- organisations the NER models tag PERSON: retailers, banks, fashion houses named after their
  founders ("Louis Vuitton", "Hugo Boss"). A shipped list (``data/organisations.txt``), the
  organisation's own names (``DetectorConfig.known_organisations``) and its watched brands decide,
  on the whole entity only: "Tom Ford" stays a person even though "Ford" is a company;
- words that open a sentence, capitalised, tagged PERSON ("Désolé", "Cheers"): an entity is cut
  before its first uncapitalised word ("Audrey de ma part" is Audrey), and one word left at the start
  of a sentence is no name when words followed it in the entity ("Passe le bonjour") or when it is
  one of the language's ``DetectorConfig.ner_ignore`` greetings and interjections;
- reference codes read as phone numbers ("1Z 999 AA1 01 2345 6784", "dossier n° 2023 458 710"): a
  number continuing a code that mixes letters and digits, or introduced by a reference word with no
  phone word around it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources

ORGANISATIONS_RESOURCE = "data/organisations.txt"

# Lower-case words that belong inside names (Jean de La Fontaine, Ludwig van Beethoven).
NAME_PARTICLES = frozenset(
    {"de", "du", "des", "la", "le", "d", "van", "von", "der", "den", "di", "da", "dos", "del", "bin", "al"}
)
# Words that introduce a reference, not a phone number (EN, FR).
REFERENCE_WORDS = frozenset(
    {
        "order", "tracking", "ref", "reference", "invoice", "ticket", "case", "claim", "parcel", "po",
        "account", "policy", "booking", "shipment", "serial", "commande", "colis", "dossier", "facture",
        "référence", "suivi", "contrat", "sinistre", "réservation", "n°", "no", "num",
    }
)
REFERENCE_WORDS_BEFORE = 2

_WORD = re.compile(r"[^\W_]+|n°", re.UNICODE)
_TOKEN = re.compile(r"\S+")
_POSSESSIVE = re.compile(r"['’]s$")
_SENTENCE_START = re.compile(r"(?:^|[.!?…:\n])[\W_]*$")
# A code token just before the number: letters and digits mixed ("AA1", "1Z"), joined by spaces.
# Bounded repetitions: it only ever reads the 40 characters before a number, and bounds keep every
# attempt constant-time, so a search over any text stays linear (tests/faults/test_regex_linear.py).
_CODE_BEFORE = re.compile(
    r"(?:[A-Za-z]{1,40}\d{1,40}|\d{1,40}[A-Za-z]{1,40})[A-Za-z0-9]{0,40}[\s\-/]{1,40}"
    r"(?:[A-Za-z0-9]{1,40}[\s\-/]{1,40}){0,20}$"
)


def fold_name(text: str) -> str:
    """Casefold, accents off, possessive and outer punctuation off, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("’", "'"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = _POSSESSIVE.sub("", " ".join(plain.split()).strip(" .,;:!?\"()[]"))
    return plain


@lru_cache(maxsize=1)
def shipped_organisations() -> frozenset[str]:
    text = resources.files("detectors").joinpath(ORGANISATIONS_RESOURCE).read_text(encoding="utf-8")
    names = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return frozenset(fold_name(name) for name in names if name)


class NotAPerson:
    """Narrows a PERSON entity to the name it holds, or says it holds none."""

    def __init__(
        self, organisations: Iterable[str] = (), sentence_words: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        self.organisations = shipped_organisations() | {fold_name(name) for name in organisations}
        self.sentence_words = {
            lang: frozenset(fold_name(word) for word in words)
            for lang, words in (sentence_words or {}).items()
        }

    def name_span(self, text: str, start: int, end: int, lang: str) -> tuple[int, int] | None:
        """The entity's span, cut before its first uncapitalised word ("Audrey de ma part" is Audrey),
        or None when it is an organisation or a word opening a sentence ("Passe le bonjour")."""
        if fold_name(text[start:end]) in self.organisations:
            return None
        words = [(m.start() + start, m.end() + start) for m in _TOKEN.finditer(text[start:end])]
        kept = words
        for index, (word_start, word_end) in enumerate(words):
            word = text[word_start:word_end]
            if word[:1].islower() and fold_name(word) not in NAME_PARTICLES:
                kept = words[:index]
                break
        while kept and fold_name(text[kept[-1][0] : kept[-1][1]]) in NAME_PARTICLES:
            kept = kept[:-1]
        if not kept:
            return None
        span = (kept[0][0], kept[-1][1])
        # A capitalised word that opens a sentence and runs on into lower-case words, or one of the
        # language's greetings and interjections there, is not a name.
        alone = len(kept) == 1 and _SENTENCE_START.search(text[: span[0]]) is not None
        greeting = fold_name(text[span[0] : span[1]]) in self.sentence_words.get(lang, ())
        if alone and (len(kept) < len(words) or greeting):
            return None
        if fold_name(text[span[0] : span[1]]) in self.organisations:
            return None
        return span


def is_reference_code(text: str, start: int, end: int, phone_context: bool) -> bool:
    """A number that continues a code (whatever the words around it), or that follows a reference
    word with no phone word to vouch for it."""
    before = text[max(0, start - 40) : start]
    if _CODE_BEFORE.search(before):
        return True
    if phone_context:
        return False
    words = [fold_name(w) for w in _WORD.findall(before)][-REFERENCE_WORDS_BEFORE:]
    return any(word in REFERENCE_WORDS for word in words)
