"""The names a rule may use, taken from the detectors so that the packs and the detectors cannot drift."""

from __future__ import annotations

from collections.abc import Collection

from detectors.catalogue import CLASSIFIER_LABELS, DETECTOR_ORDER, NER_ENTITIES, PATTERN_TYPES, PII_ENTITIES

DETECTORS: tuple[str, ...] = tuple(DETECTOR_ORDER)
ENTITY_NAMES: frozenset[str] = frozenset(PII_ENTITIES) | frozenset(NER_ENTITIES)

__all__ = [
    "CLASSIFIER_LABELS",
    "DETECTORS",
    "ENTITY_NAMES",
    "NER_ENTITIES",
    "PATTERN_TYPES",
    "detectors_for_entities",
]


def detectors_for_entities(entities: Collection[str]) -> frozenset[str]:
    """NER entities (PERSON, LOCATION) come only from the costly 'ner' detector; the rest from 'pii'."""
    return frozenset("ner" if entity in NER_ENTITIES else "pii" for entity in entities)
