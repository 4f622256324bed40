"""Pattern-based PII: Presidio's recognizers and Veille's French ones, called directly.

No NLP engine and no model here: the recognizers run on the raw text, each behind a cheap regex
prefilter that is a superset of what it can match (most posts have no 9 consecutive digits and
skip the phone, card, SSN... recognizers entirely). Context words (English and French) raise scores
the way Presidio's context enhancer does, from the words around a match, without lemmas.
Names and places (NER) are the ``ner`` detector's job.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from detectors._presidio import EntityRecognizer, RecognizerResult
from detectors.base import DetectorPlan, Finding
from detectors.lexicon import fold
from detectors.registry import NER_ENTITIES, DetectorConfig

if TYPE_CHECKING:
    from policies.post import Post

# Presidio's LemmaContextAwareEnhancer defaults.
CONTEXT_BOOST = 0.35
MIN_SCORE_WITH_CONTEXT = 0.4
CONTEXT_WORDS_BEFORE = 5
CONTEXT_WORDS_AFTER = 2

_WORD = re.compile(r"[^\W_]+")

# Prefilters: each must accept every text its recognizers could match.
_DIGITS = {n: re.compile(r"\d(?:[\s().\-/]*\d){" + str(n - 1) + "}") for n in (6, 7, 8, 9)}
PREFILTERS: dict[str, re.Pattern[str] | None] = {
    "EMAIL_ADDRESS": re.compile("@"),
    "PHONE_NUMBER": _DIGITS[6],
    "CREDIT_CARD": _DIGITS[9],
    "IBAN_CODE": re.compile(r"[a-z]{2}[ \-]?\d{2}", re.IGNORECASE),
    "IP_ADDRESS": re.compile(r"\d\.\d|[0-9a-f]*:[0-9a-f]*:", re.IGNORECASE),
    "URL": re.compile(r"[^\W_]\.[^\W\d_]{2}|://"),
    "US_SSN": _DIGITS[9],
    "US_ITIN": _DIGITS[9],
    "US_PASSPORT": _DIGITS[8],
    "UK_NINO": _DIGITS[6],
    "UK_NHS": _DIGITS[9],
    "FR_NIR": _DIGITS[6],
    "FR_SIREN": _DIGITS[9],
    "FR_SIRET": _DIGITS[9],
    "FR_ID_CARD": re.compile(r"\d"),
    "FR_PASSPORT": re.compile(r"\d{2}[A-Z]{2}\d"),
}

# French (and extra English) context words added to Presidio's English lists.
EXTRA_CONTEXT: dict[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": ("e-mail", "mail", "courriel", "adresse", "contact", "ecrire", "écrire", "contacter"),
    "PHONE_NUMBER": ("tel", "tél", "téléphone", "portable", "appeler", "appelez", "joindre", "numéro", "fixe",
                     "whatsapp", "sms"),
    "CREDIT_CARD": ("carte", "bancaire", "cb", "crédit", "paiement", "payment"),
    "IBAN_CODE": ("rib", "banque", "virement", "compte", "account"),
    "IP_ADDRESS": ("adresse", "address", "serveur", "server", "host"),
    "URL": ("lien", "site", "web"),
    "US_SSN": ("sécurité", "sociale"),
    "UK_NINO": ("assurance", "nationale", "insurance", "national"),
    "UK_NHS": ("santé", "health"),
}


def _presidio_factories() -> dict[str, Callable[[tuple[str, ...]], list[Any]]]:
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        NhsRecognizer,
        PhoneRecognizer,
        UkNinoRecognizer,
        UrlRecognizer,
        UsItinRecognizer,
        UsPassportRecognizer,
        UsSsnRecognizer,
    )

    from detectors.recognizers import (
        FrIdCardRecognizer,
        FrNirRecognizer,
        FrPassportRecognizer,
        FrPhoneRecognizer,
        FrSirenRecognizer,
        FrSiretRecognizer,
    )

    def ctx(entity: str, base: Sequence[str]) -> list[str]:
        return list(dict.fromkeys([*base, *EXTRA_CONTEXT.get(entity, ())]))

    def simple(cls: Any, entity: str) -> Callable[[tuple[str, ...]], list[Any]]:
        return lambda _regions: [cls(context=ctx(entity, cls.CONTEXT))]

    return {
        "EMAIL_ADDRESS": simple(EmailRecognizer, "EMAIL_ADDRESS"),
        "PHONE_NUMBER": lambda regions: [
            PhoneRecognizer(context=ctx("PHONE_NUMBER", PhoneRecognizer.CONTEXT), supported_regions=regions),
            FrPhoneRecognizer(),
        ],
        "CREDIT_CARD": simple(CreditCardRecognizer, "CREDIT_CARD"),
        "IBAN_CODE": simple(IbanRecognizer, "IBAN_CODE"),
        "IP_ADDRESS": simple(IpRecognizer, "IP_ADDRESS"),
        "URL": simple(UrlRecognizer, "URL"),
        "US_SSN": simple(UsSsnRecognizer, "US_SSN"),
        "US_ITIN": simple(UsItinRecognizer, "US_ITIN"),
        "US_PASSPORT": simple(UsPassportRecognizer, "US_PASSPORT"),
        "UK_NINO": simple(UkNinoRecognizer, "UK_NINO"),
        "UK_NHS": simple(NhsRecognizer, "UK_NHS"),
        "FR_NIR": lambda _regions: [FrNirRecognizer()],
        "FR_SIREN": lambda _regions: [FrSirenRecognizer()],
        "FR_SIRET": lambda _regions: [FrSiretRecognizer()],
        "FR_ID_CARD": lambda _regions: [FrIdCardRecognizer()],
        "FR_PASSPORT": lambda _regions: [FrPassportRecognizer()],
    }


def build_recognizers(entities: frozenset[str], regions: tuple[str, ...]) -> list[Any]:
    """Presidio recognizer instances for these entities (also used by the benchmark's baseline)."""
    factories = _presidio_factories()
    unknown = entities - factories.keys() - NER_ENTITIES
    if unknown:
        raise ValueError(f"no pattern recognizer for {sorted(unknown)}; known: {sorted(factories)}")
    recognizers: list[Any] = []
    for entity in sorted(entities - NER_ENTITIES):
        recognizers.extend(factories[entity](regions))
    return recognizers


@dataclass(frozen=True, slots=True)
class _Bound:
    entity: str
    recognizer: Any
    prefilter: re.Pattern[str] | None
    context: frozenset[str]


def _context_set(words: Sequence[str]) -> frozenset[str]:
    folded: set[str] = set()
    for word in words:
        folded.update(_WORD.findall(fold(word)[0]))
    return frozenset(folded)


def supporting_word(text: str, start: int, end: int, context: frozenset[str]) -> str | None:
    """A context word among the few words around ``text[start:end]``, if any."""
    before = _WORD.findall(fold(text[max(0, start - 80) : start])[0])[-CONTEXT_WORDS_BEFORE:]
    after = _WORD.findall(fold(text[end : end + 40])[0])[:CONTEXT_WORDS_AFTER]
    for word in (*reversed(before), *after):
        if word in context:
            return word
    return None


class PiiDetector:
    name: ClassVar[str] = "pii"

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._allow = frozenset(item.strip().casefold() for item in self.config.allow_list)
        self._bound: dict[tuple[frozenset[str], tuple[str, ...]], list[_Bound]] = {}
        self._lock = threading.Lock()

    def bound(self, entities: frozenset[str], regions: tuple[str, ...]) -> list[_Bound]:
        key = (entities, regions)
        bound = self._bound.get(key)
        if bound is None:
            with self._lock:
                bound = self._bound.get(key)
                if bound is None:
                    bound = [
                        _Bound(
                            recognizer.supported_entities[0],
                            recognizer,
                            PREFILTERS[recognizer.supported_entities[0]],
                            _context_set(recognizer.context or ()),
                        )
                        for recognizer in build_recognizers(entities, regions)
                    ]
                    self._bound[key] = bound
        return bound

    def detect(self, posts: Sequence[Post], plan: DetectorPlan) -> list[list[Finding]]:
        entities = frozenset(plan.pii_entities - NER_ENTITIES)
        if not entities:
            return [[] for _ in posts]
        bound = self.bound(entities, self.config.regions_for(plan.jurisdiction))
        return [self.analyze(post.text, bound) for post in posts]

    def analyze(self, text: str, bound: Sequence[_Bound]) -> list[Finding]:
        results: list[RecognizerResult] = []
        context_of: dict[int, frozenset[str]] = {}
        passed: dict[int, bool] = {}
        for item in bound:
            prefilter = item.prefilter
            if prefilter is not None:
                ok = passed.get(id(prefilter))
                if ok is None:
                    ok = passed[id(prefilter)] = prefilter.search(text) is not None
                if not ok:
                    continue
            for result in item.recognizer.analyze(text, [item.entity], None):
                context_of[id(result)] = item.context
                results.append(result)
        if not results:
            return []
        findings: list[Finding] = []
        supporting: dict[int, str] = {}
        for result in results:
            word = supporting_word(text, result.start, result.end, context_of[id(result)])
            if word is not None:
                result.score = max(min(result.score + CONTEXT_BOOST, 1.0), MIN_SCORE_WITH_CONTEXT)
                supporting[id(result)] = word
        for result in EntityRecognizer.remove_duplicates(results):
            value = text[result.start : result.end]
            if value.strip().casefold() in self._allow:
                continue
            if result.score < self.config.threshold(result.entity_type):
                continue
            metadata = result.recognition_metadata or {}
            extra = {"context": supporting[id(result)]} if id(result) in supporting else {}
            findings.append(
                Finding(
                    "pii",
                    result.entity_type,
                    result.start,
                    result.end,
                    round(float(result.score), 4),
                    str(metadata.get(RecognizerResult.RECOGNIZER_NAME_KEY, "")),
                    extra,
                )
            )
        findings.sort(key=lambda finding: (finding.start, finding.end, finding.type))
        return findings
