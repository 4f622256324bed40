"""How to build the detectors, and the plans that tell them what to look for.

The registry imports the detectors, never the reverse: the names live in ``detectors.catalogue``,
the settings in ``detectors.config``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from detectors.base import Detector, DetectorPlan
from detectors.catalogue import (
    CLASSIFIER_LABELS,
    DETECTOR_ORDER,
    NER_ENTITIES,
    PATTERN_TYPES,
    PII_ENTITIES,
)
from detectors.config import DetectorConfig


def build_detectors(config: DetectorConfig | None = None) -> list[Detector]:
    """Every detector, in DETECTOR_ORDER. Nothing heavy loads here: models load on first use."""
    # Imported here, not above, so that importing the registry for a plan never imports Presidio.
    from detectors.classifier import ClassifierDetector
    from detectors.language import LanguageDetector
    from detectors.lexicon import LexiconDetector
    from detectors.ner import NerDetector
    from detectors.patterns import PatternDetector
    from detectors.pii import PiiDetector
    from detectors.sentiment import SentimentDetector

    config = config or DetectorConfig()
    languages = LanguageDetector(
        config.languages, config.language_min_confidence, config.language_low_accuracy
    )
    built: dict[str, Detector] = {
        "pattern": PatternDetector(config),
        "lexicon": LexiconDetector(),
        "pii": PiiDetector(config),
        "sentiment": SentimentDetector(languages),
        "classifier": ClassifierDetector(detect_language=languages.detect),
        "ner": NerDetector(config, languages),
    }
    return [built[name] for name in DETECTOR_ORDER]


def make_plan(
    jurisdiction: str,
    *,
    pii_entities: Iterable[str] = (),
    patterns: Iterable[str] = (),
    lexicon_lists: Mapping[str, tuple[str, ...]] | None = None,
    sentiment: bool = False,
    classifier_min_scores: Mapping[str, float] | None = None,
) -> DetectorPlan:
    """A plan whose ``detectors`` follow from what it asks for (``ner`` only for NER entities)."""
    entities = frozenset(pii_entities)
    pattern_set = frozenset(patterns)
    floors = dict(classifier_min_scores or {})
    unknown = (
        (entities - PII_ENTITIES) | (pattern_set - PATTERN_TYPES) | (set(floors) - set(CLASSIFIER_LABELS))
    )
    if unknown:
        raise ValueError(
            f"unknown entity, pattern type or classifier label(s) {sorted(unknown)}; known entities: "
            f"{sorted(PII_ENTITIES)}, patterns: {sorted(PATTERN_TYPES)}, labels: {list(CLASSIFIER_LABELS)}"
        )
    lists = dict(lexicon_lists or {})
    detectors = set()
    if pattern_set:
        detectors.add("pattern")
    if any(lists.values()):
        detectors.add("lexicon")
    if entities - NER_ENTITIES:
        detectors.add("pii")
    if sentiment:
        detectors.add("sentiment")
    if floors:
        detectors.add("classifier")
    if entities & NER_ENTITIES:
        detectors.add("ner")
    return DetectorPlan(
        jurisdiction=jurisdiction,
        detectors=frozenset(detectors),
        pii_entities=entities,
        lexicon_lists=lists,
        patterns=pattern_set,
        sentiment=sentiment,
        classifier_min_scores=floors,
    )


def full_plan(jurisdiction: str, lexicon_lists: Mapping[str, tuple[str, ...]] | None = None) -> DetectorPlan:
    """Every detector, entity, pattern and classifier label (at its threshold): ``scan --detect all``."""
    return DetectorPlan(
        jurisdiction=jurisdiction,
        detectors=frozenset(DETECTOR_ORDER),
        pii_entities=PII_ENTITIES,
        lexicon_lists=dict(lexicon_lists or {}),
        patterns=PATTERN_TYPES,
        sentiment=True,
    )
