"""The contract: names, order, plans, and the configuration's validation."""

from __future__ import annotations

import pytest

from detectors.catalogue import DETECTOR_ORDER, NER_ENTITIES, PATTERN_TYPES, PII_ENTITIES, PII_SPECS
from detectors.config import DetectorConfig
from detectors.pii import build_recognizers
from detectors.registry import build_detectors, full_plan, make_plan


def test_build_in_order() -> None:
    assert [detector.name for detector in build_detectors()] == list(DETECTOR_ORDER)
    assert DETECTOR_ORDER[-1] == "ner"


def test_entity_sets() -> None:
    assert NER_ENTITIES < PII_ENTITIES
    assert {
        "FR_NIR",
        "FR_SIREN",
        "FR_SIRET",
        "FR_ID_CARD",
        "FR_PASSPORT",
        "UK_NINO",
        "UK_NHS",
    } <= PII_ENTITIES
    assert {"AWS_ACCESS_KEY", "PRIVATE_KEY", "JWT", "PASSWORD_IN_TEXT", "CONNECTION_STRING"} <= PATTERN_TYPES


def test_every_pii_spec_builds_recognizers_of_its_entity() -> None:
    for entity, spec in PII_SPECS.items():
        assert spec.entity == entity and set(spec.regional) <= set(spec.recognizers)
        recognizers = build_recognizers(frozenset({entity}), ("FR",))
        assert [type(r).__name__ for r in recognizers] == list(spec.recognizers)
        assert all(r.supported_entities == [entity] for r in recognizers)
        assert all(set(spec.context) <= set(r.context) for r in recognizers)


def test_full_plan_asks_for_everything() -> None:
    plan = full_plan("FR", {"c": ("confidentiel",)})
    assert plan.detectors == frozenset(DETECTOR_ORDER)
    assert plan.pii_entities == PII_ENTITIES and plan.patterns == PATTERN_TYPES and plan.sentiment
    assert plan.lexicon_lists == {"c": ("confidentiel",)}


def test_make_plan_derives_detectors() -> None:
    assert make_plan("FR", pii_entities={"EMAIL_ADDRESS"}).detectors == {"pii"}
    assert make_plan("FR", pii_entities={"PERSON"}).detectors == {"ner"}
    assert make_plan("FR", patterns={"JWT"}, sentiment=True).detectors == {"pattern", "sentiment"}
    assert make_plan("FR", classifier_min_scores={"mnpi": 0.5}).detectors == {"classifier"}
    with pytest.raises(ValueError, match="unknown entity, pattern type or classifier label"):
        make_plan("FR", pii_entities={"EMAIL"})
    with pytest.raises(ValueError, match="promissory_claim"):
        make_plan("FR", classifier_min_scores={"promissory": 0.5})


def test_config_is_frozen_and_validated() -> None:
    config = DetectorConfig()
    with pytest.raises(ValueError):
        config.allow_list = frozenset({"x"})  # type: ignore[misc]
    with pytest.raises(ValueError, match="ISO 639-1"):
        DetectorConfig(spacy_models={"english": "en_core_web_sm"})
    assert config.regions_for("FR") == ("FR",)
    assert config.regions_for("EU") == config.default_phone_regions
