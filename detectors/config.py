"""The detectors' own settings: one frozen instance shared by every detector."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.catalogue import PATTERN_TYPES, PII_ENTITIES

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
            # The sm models tag greetings, sign-offs and capitalised words opening a sentence as people.
            "fr": frozenset({
                "merci", "bonjour", "bonsoir", "salut", "cordialement", "bravo", "coucou", "désolé",
                "désolée", "super", "génial", "voilà", "attention", "rappel", "félicitations", "bienvenue",
                "urgent",
            }),
            "en": frozenset({
                "thanks", "thank", "cheers", "sorry", "hi", "hello", "hey", "dear", "great", "awesome",
                "brilliant", "lovely", "congrats", "congratulations", "welcome", "reminder", "urgent",
                "kudos",
            }),
        },
        description="per language, case-insensitive words that the NER model wrongly tags as names "
        "(dropped from the start of a name, and never a name on their own at the start of a sentence)",
    )
    known_organisations: frozenset[str] = Field(
        default=frozenset(),
        description="organisation and brand names never reported as a PERSON, added to the shipped list "
        "(detectors/data/organisations.txt); the watched brands (VEILLE_BRANDS) are added by the worker",
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
