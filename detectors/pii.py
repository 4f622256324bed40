"""Pattern-based PII: Presidio's recognizers and Veille's French ones, called directly.

No NLP engine and no model here: the recognizers run on the raw text, each behind a cheap regex
prefilter that is a superset of what it can match; entities, recognizers, prefilters and context
words are one spec each in ``detectors.catalogue``. Context words (English and French) raise scores
the way Presidio's context enhancer does, from the words around a match, without lemmas.
Names and places (NER) are the ``ner`` detector's job.

Hostile text costs time linear in its length: the patterns RE2 can run exactly are run by RE2
(``detectors.re2_patterns``), the others cannot backtrack far (``tests/faults/test_regex_linear.py``),
and a text longer than ``WINDOW`` is analysed in overlapping windows, so that what a recognizer does
per match or per candidate (Presidio's de-duplication, libphonenumber's candidate parsing) is bounded
per window. Invisible characters are removed first: a zero-width space does not hide an e-mail address.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from detectors import recognizers
from detectors._presidio import EntityRecognizer, PatternRecognizer, RecognizerResult, predefined_recognizers
from detectors.base import DetectorPlan, Finding, TextRecord
from detectors.catalogue import NER_ENTITIES, PII_SPECS, PiiSpec
from detectors.config import DetectorConfig
from detectors.normalise import fold, strip_invisible
from detectors.re2_patterns import use_re2

# Presidio's LemmaContextAwareEnhancer defaults.
CONTEXT_BOOST = 0.35
MIN_SCORE_WITH_CONTEXT = 0.4
CONTEXT_WORDS_BEFORE = 5
CONTEXT_WORDS_AFTER = 2

_WORD = re.compile(r"[^\W_]+")

# A match up to WINDOW_OVERLAP - 2 * WINDOW_MARGIN characters long lies whole, with its context, in one
# window; a longer one in a text longer than WINDOW may be missed or cut.
WINDOW = 4096
WINDOW_OVERLAP = 512
WINDOW_MARGIN = 64


def _recognizer_class(name: str) -> type[Any]:
    """The recognizer class a spec names: Veille's own, else one of Presidio's predefined ones."""
    found = getattr(recognizers, name, None) or getattr(predefined_recognizers, name, None)
    if not (isinstance(found, type) and issubclass(found, EntityRecognizer)):
        raise LookupError(f"no recognizer {name!r}, neither Veille's (detectors.recognizers) nor Presidio's")
    return found


def _specs(entities: frozenset[str]) -> list[PiiSpec]:
    unknown = entities - PII_SPECS.keys() - NER_ENTITIES
    if unknown:
        raise ValueError(f"no pattern recognizer for {sorted(unknown)}; known: {sorted(PII_SPECS)}")
    return [PII_SPECS[entity] for entity in sorted(entities - NER_ENTITIES)]


def _build(spec: PiiSpec, regions: tuple[str, ...]) -> list[Any]:
    """The spec's recognizers, each with its own context words and then the spec's."""
    built = []
    for name in spec.recognizers:
        cls = _recognizer_class(name)
        context = list(dict.fromkeys([*cls.CONTEXT, *spec.context]))
        if name in spec.regional:
            recognizer = cls(context=context, supported_regions=regions)
        else:
            recognizer = cls(context=context)
        if isinstance(recognizer, PatternRecognizer):
            use_re2(recognizer)
        built.append(recognizer)
    return built


def analyze_in_windows(recognizer: Any, text: str, entity: str) -> list[RecognizerResult]:
    """``recognizer.analyze(text)``, in overlapping windows when the text is longer than ``WINDOW``.

    A window keeps the results that start and end at least ``WINDOW_MARGIN`` characters inside it
    (except at the ends of the text), so that every result kept was found with its context around it;
    one found by two windows is kept once, and results are then de-duplicated as Presidio does.
    """
    length = len(text)
    if length <= WINDOW:
        return list(recognizer.analyze(text, [entity], None))
    kept: dict[tuple[int, int, str, float], RecognizerResult] = {}
    start = 0
    while True:
        end = min(start + WINDOW, length)
        low = start + WINDOW_MARGIN if start else 0
        high = end - WINDOW_MARGIN if end < length else length
        for result in recognizer.analyze(text[start:end], [entity], None):
            result.start += start
            result.end += start
            if low <= result.start and result.end <= high:
                kept.setdefault((result.start, result.end, result.entity_type, result.score), result)
        if end == length:
            return list(EntityRecognizer.remove_duplicates(list(kept.values())))
        start += WINDOW - WINDOW_OVERLAP


def build_recognizers(entities: frozenset[str], regions: tuple[str, ...]) -> list[Any]:
    """Presidio recognizer instances for these entities (also used by the benchmark's baseline)."""
    return [recognizer for spec in _specs(entities) for recognizer in _build(spec, regions)]


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
                        _Bound(spec.entity, recognizer, spec.prefilter, _context_set(recognizer.context))
                        for spec in _specs(entities)
                        for recognizer in _build(spec, regions)
                    ]
                    self._bound[key] = bound
        return bound

    def detect(self, posts: Sequence[TextRecord], plan: DetectorPlan) -> list[list[Finding]]:
        entities = frozenset(plan.pii_entities - NER_ENTITIES)
        if not entities:
            return [[] for _ in posts]
        bound = self.bound(entities, self.config.regions_for(plan.jurisdiction))
        return [self.analyze(post.text, bound) for post in posts]

    def analyze(self, text: str, bound: Sequence[_Bound]) -> list[Finding]:
        """Findings on ``text``; a zero-width character inside an identifier does not hide it."""
        visible = strip_invisible(text)
        return visible.original(self._analyze(visible.text, bound))

    def _analyze(self, text: str, bound: Sequence[_Bound]) -> list[Finding]:
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
            for result in analyze_in_windows(item.recognizer, text, item.entity):
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
