"""What the detectors can find, their configuration, and how to build them.

Importing this module is cheap (no Presidio, no spaCy): the policy compiler validates rules
against these name sets without loading any model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.base import DetectorPlan

if TYPE_CHECKING:
    from detectors.base import Detector

# Cheapest first: the pipeline runs them in this order, so that the policy engine can decide
# after the cheap ones whether the expensive NER pass still matters for a post.
DETECTOR_ORDER: tuple[str, ...] = ("pattern", "lexicon", "pii", "sentiment", "ner")

NER_ENTITIES: frozenset[str] = frozenset({"PERSON", "LOCATION"})

PATTERN_PII_ENTITIES: frozenset[str] = frozenset(
    {
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "IBAN_CODE",
        "IP_ADDRESS",
        "URL",
        "US_SSN",
        "US_ITIN",
        "US_PASSPORT",
        "UK_NINO",
        "UK_NHS",
        "FR_NIR",
        "FR_SIREN",
        "FR_SIRET",
        "FR_ID_CARD",
        "FR_PASSPORT",
    }
)

PII_ENTITIES: frozenset[str] = PATTERN_PII_ENTITIES | NER_ENTITIES

PATTERN_TYPES: frozenset[str] = frozenset(
    {
        "AWS_ACCESS_KEY",
        "AWS_SECRET_KEY",
        "GCP_API_KEY",
        "GCP_SERVICE_ACCOUNT_KEY",
        "AZURE_KEY",
        "PRIVATE_KEY",
        "GITHUB_TOKEN",
        "SLACK_TOKEN",
        "SLACK_WEBHOOK",
        "JWT",
        "PASSWORD_IN_TEXT",
        "CONNECTION_STRING",
    }
)

SENTIMENT_LANGUAGES: frozenset[str] = frozenset({"en", "fr"})
SENTIMENT_LABELS: tuple[str, ...] = ("positive", "negative", "neutral")

_DEFAULT_PHONE_REGIONS: dict[str, tuple[str, ...]] = {"FR": ("FR",), "GB": ("GB",), "US": ("US",)}


class DetectorConfig(BaseModel):
    """Detector settings; frozen so that one instance can be shared by every detector."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spacy_models: dict[str, str] = Field(
        default_factory=lambda: {"en": "en_core_web_sm", "fr": "fr_core_news_sm"},
        description="spaCy model (installed package name or directory path) per ISO 639-1 language",
    )
    languages: tuple[str, ...] = Field(
        default=("en", "fr", "de", "es", "it", "nl", "pt"),
        description="languages language detection chooses from; more than the models' languages so that "
        "a German post is called German, not mislabelled English",
    )
    language_min_confidence: float = Field(
        default=0.3, ge=0.0, le=1.0, description="lingua's relative confidence under which it is unknown"
    )
    language_low_accuracy: bool = Field(
        default=False, description="lingua's low-accuracy mode: ~4x faster, unreliable under ~5 words"
    )
    allow_list: frozenset[str] = Field(
        default=frozenset(),
        description="exact strings never reported (case-insensitive), e.g. the public press e-mail",
    )
    score_thresholds: dict[str, float] = Field(
        default_factory=dict, description="minimum score per entity or pattern type; DEFAULT for the rest"
    )
    phone_regions: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: dict(_DEFAULT_PHONE_REGIONS),
        description="default phone regions per jurisdiction (numbers written without a country code)",
    )
    default_phone_regions: tuple[str, ...] = Field(
        default=("FR", "GB", "US", "DE"), description="for EU, GLOBAL and jurisdictions not listed"
    )
    ner_ignore: dict[str, frozenset[str]] = Field(
        default_factory=lambda: {
            # French sm NER tags greetings and sign-offs as people.
            "fr": frozenset({"merci", "bonjour", "bonsoir", "salut", "cordialement", "bravo", "coucou"}),
        },
        description="per language, case-insensitive words that the NER model wrongly tags as names",
    )
    nlp_batch_size: int = Field(default=128, gt=0)

    @field_validator("score_thresholds")
    @classmethod
    def _thresholds_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        known = PII_ENTITIES | PATTERN_TYPES | {"DEFAULT"}
        for name, threshold in value.items():
            if name not in known:
                raise ValueError(f"score_thresholds: unknown type {name!r}; use one of {sorted(known)}")
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"score_thresholds[{name!r}] = {threshold}: must be between 0 and 1")
        return value

    @field_validator("spacy_models")
    @classmethod
    def _iso_languages(cls, value: dict[str, str]) -> dict[str, str]:
        for lang in value:
            if len(lang) != 2 or not lang.islower():
                raise ValueError(f"spacy_models: {lang!r} is not an ISO 639-1 code such as 'en' or 'fr'")
        return value

    def threshold(self, type_: str) -> float:
        return self.score_thresholds.get(type_, self.score_thresholds.get("DEFAULT", 0.0))

    def regions_for(self, jurisdiction: str) -> tuple[str, ...]:
        return self.phone_regions.get(jurisdiction.upper(), self.default_phone_regions)


def build_detectors(config: DetectorConfig | None = None) -> list[Detector]:
    """Every detector, in DETECTOR_ORDER. Nothing heavy loads here: models load on first use."""
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
) -> DetectorPlan:
    """A plan whose ``detectors`` follow from what it asks for (``ner`` only for NER entities)."""
    entities = frozenset(pii_entities)
    pattern_set = frozenset(patterns)
    unknown = (entities - PII_ENTITIES) | (pattern_set - PATTERN_TYPES)
    if unknown:
        raise ValueError(
            f"unknown entity or pattern type(s) {sorted(unknown)}; known entities: {sorted(PII_ENTITIES)}, "
            f"patterns: {sorted(PATTERN_TYPES)}"
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
    if entities & NER_ENTITIES:
        detectors.add("ner")
    return DetectorPlan(
        jurisdiction=jurisdiction,
        detectors=frozenset(detectors),
        pii_entities=entities,
        lexicon_lists=lists,
        patterns=pattern_set,
        sentiment=sentiment,
    )


def full_plan(jurisdiction: str, lexicon_lists: Mapping[str, tuple[str, ...]] | None = None) -> DetectorPlan:
    """Every detector, entity and pattern: for ``veille scan --detect all``."""
    return DetectorPlan(
        jurisdiction=jurisdiction,
        detectors=frozenset(DETECTOR_ORDER),
        pii_entities=PII_ENTITIES,
        lexicon_lists=dict(lexicon_lists or {}),
        patterns=PATTERN_TYPES,
        sentiment=True,
    )
