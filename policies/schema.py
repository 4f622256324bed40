"""The pack file format, validated strictly: an unknown key is an error, never silently ignored.

Shorthands keep packs short without making the schema ambiguous: they are expanded *before*
validation (``lexicon: confidentiality_markers`` is ``lexicon: {lists: [confidentiality_markers]}``),
so every error is reported against one form only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SEVERITIES = ("info", "low", "medium", "high", "critical")
MATURITIES = ("stable", "incubating", "sandbox")
SOURCES = ("internal", "external")
Severity = Literal["info", "low", "medium", "high", "critical"]
Maturity = Literal["stable", "incubating", "sandbox"]
SourceName = Literal["internal", "external"]
# Who reviews a rule's alerts: compliance sees every alert; communications (the comms role) only
# those of rules that list it, pseudonymised and masked.
AudienceName = Literal["compliance", "communications"]
COMPLIANCE: AudienceName = "compliance"
COMMUNICATIONS: AudienceName = "communications"

NAME = r"^[a-z][a-z0-9_]*$"
RULE_ID = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"
PACK_ID = r"^[a-z][a-z0-9_-]*$"
JURISDICTION = r"^(?:[A-Z]{2}|GLOBAL)$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _wrap(value: Any, key: str) -> Any:
    """``x`` or ``[x, y]`` → ``{key: [...]}``; anything else is left for validation to judge."""
    if isinstance(value, str):
        return {key: [value]}
    if isinstance(value, list):
        return {key: value}
    return value


class PackHeader(Strict):
    id: str = Field(pattern=PACK_ID)
    jurisdiction: str | None = Field(default=None, pattern=JURISDICTION)
    extends: str | None = Field(default=None, pattern=PACK_ID)
    overlay: str | None = Field(
        default=None,
        pattern=PACK_ID,
        description="an organisation's file amending a pack (its lists, rules, disables) without editing it",
    )
    covers: list[str] = Field(
        default_factory=list, description="other jurisdiction codes this pack applies to (e.g. EU members)"
    )
    version: str | None = None
    description: str | None = None

    @field_validator("jurisdiction", "covers", mode="before")
    @classmethod
    def _yaml_norway(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted NO (Norway) as false: say so instead of "not a valid string".
        items = value if isinstance(value, list) else [value]
        if any(isinstance(item, bool) for item in items):
            raise ValueError('a country code was read as true/false: quote it, e.g. "NO" for Norway')
        return value

    @field_validator("covers")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if not isinstance(code, str) or len(code) != 2 or not code.isupper():
                raise ValueError(f"'{code}' is not an ISO 3166-1 alpha-2 code (two capital letters)")
        return value

    @model_validator(mode="after")
    def _kind(self) -> PackHeader:
        if self.overlay is not None:
            if self.jurisdiction is not None or self.extends is not None or self.covers:
                raise ValueError("an overlay amends another pack: drop jurisdiction/extends/covers")
        elif self.jurisdiction is None:
            raise ValueError("a pack needs 'jurisdiction' (e.g. FR, GB, GLOBAL), or 'overlay: <pack id>'")
        return self


class ListSpec(Strict):
    description: str | None = None
    phrases: list[str] | None = Field(default=None, description="the list's phrases (replaces inherited)")
    extend: list[str] | None = Field(default=None, description="phrases added to the inherited list")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"phrases": value} if isinstance(value, list) else value

    @field_validator("phrases", "extend")
    @classmethod
    def _non_blank(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for phrase in value:
                if not phrase.strip():
                    raise ValueError("a phrase is empty or blank")
        return value


class PiiPredicate(Strict):
    entities: list[str] = Field(min_length=1)
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    min_count: int = Field(default=1, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _wrap(value, "entities")


class SentimentPredicate(Strict):
    compound_lte: float | None = Field(default=None, ge=-1.0, le=1.0)
    compound_gte: float | None = Field(default=None, ge=-1.0, le=1.0)

    @model_validator(mode="after")
    def _one(self) -> SentimentPredicate:
        if self.compound_lte is None and self.compound_gte is None:
            raise ValueError("give compound_lte (e.g. -0.5 for negative) and/or compound_gte")
        return self


class LexiconPredicate(Strict):
    lists: list[str] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _wrap(value, "lists")


class NearPredicate(Strict):
    a: str
    b: str | None = Field(default=None, description="a list name")
    entities: list[str] | None = Field(
        default=None, min_length=1, description="instead of b: personal data entities, e.g. [PERSON]"
    )
    within: int = Field(default=8, ge=0, le=100, description="at most this many words between them")
    sentence: bool = Field(default=False, description="both in the same sentence")

    @model_validator(mode="after")
    def _one_b(self) -> NearPredicate:
        if (self.b is None) == (self.entities is None):
            raise ValueError("give one of 'b: <list>' or 'entities: [PERSON, ...]': what 'a' must be near")
        return self


class PatternPredicate(Strict):
    names: list[str] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _wrap(value, "names")


class ClassifierPredicate(Strict):
    """A label of the trained risk classifier (``detectors.classifier``), at or above ``min_score``."""

    label: str = Field(description="a classifier label, e.g. promissory_claim")
    min_score: float | None = Field(
        default=None, ge=0.0, le=1.0, description="default: the model's own threshold for the label"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"label": value} if isinstance(value, str) else value

    def floor(self, thresholds: Mapping[str, float] | None) -> float:
        """The score the predicate needs: its ``min_score``, else the model's threshold (``thresholds``)."""
        if self.min_score is not None:
            return self.min_score
        if thresholds is None or self.label not in thresholds:
            raise ValueError(f"no model threshold for classifier label {self.label!r}")
        return thresholds[self.label]


class AuthorPredicate(Strict):
    role: list[str] | None = None
    is_employee: bool | None = None

    @field_validator("role", mode="before")
    @classmethod
    def _one_role(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one(self) -> AuthorPredicate:
        if self.role is None and self.is_employee is None:
            raise ValueError("give 'role: [...]' and/or 'is_employee: true|false'")
        return self


class InPredicate(Strict):
    in_: list[str] = Field(alias="in", min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _wrap(value, "in")


CONDITION_KEYS = (
    "all",
    "any",
    "not",
    "pii",
    "sentiment",
    "lexicon",
    "near",
    "pattern",
    "classifier",
    "author",
    "channel",
    "lang",
)


class Condition(Strict):
    """Exactly one of: a combinator (all/any/not) or a predicate."""

    all_: list[Condition] | None = Field(default=None, alias="all", min_length=1)
    any_: list[Condition] | None = Field(default=None, alias="any", min_length=1)
    not_: Condition | None = Field(default=None, alias="not")
    pii: PiiPredicate | None = None
    sentiment: SentimentPredicate | None = None
    lexicon: LexiconPredicate | None = None
    near: NearPredicate | None = None
    pattern: PatternPredicate | None = None
    classifier: ClassifierPredicate | None = None
    author: AuthorPredicate | None = None
    channel: InPredicate | None = None
    lang: InPredicate | None = None

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, value: Any) -> Any:
        if isinstance(value, dict):
            known = [key for key in value if key in CONDITION_KEYS]
            if len(value) > 1 and len(known) == len(value):
                raise ValueError(
                    f"a condition has exactly one key, found {', '.join(map(str, value))}: "
                    "wrap them in 'all: [...]' or 'any: [...]'"
                )
            if not value:
                raise ValueError(f"empty condition: use one of {', '.join(CONDITION_KEYS)}")
        return value


class ExceptionSpec(Strict):
    name: str = Field(pattern=NAME)
    when: Condition


class TestPost(Strict):
    __test__ = False  # not a pytest class

    text: str
    jurisdiction: str | None = Field(default=None, pattern=JURISDICTION)
    source: SourceName | None = None
    channel: str | None = None
    role: str | None = None
    is_employee: bool | None = None
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value


class RuleTests(Strict):
    __test__ = False

    match: list[TestPost] = Field(default_factory=list)
    no_match: list[TestPost] = Field(default_factory=list)


PURPOSES = ("regulatory_supervision", "information_security", "reputation")
Purpose = Literal["regulatory_supervision", "information_security", "reputation"]


class RuleSpec(Strict):
    id: str = Field(pattern=RULE_ID)
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    severity: Severity
    maturity: Maturity = "stable"
    sources: list[SourceName] = Field(default=["internal", "external"], min_length=1)
    audience: list[AudienceName] = Field(
        default=[COMPLIANCE],
        min_length=1,
        description="who reviews its alerts: [compliance], or [compliance, communications] for e-reputation",
    )
    four_eyes: bool = Field(
        default=False,
        description="closing its alerts needs a second reviewer's approval (say why in a comment)",
    )
    purpose: Purpose | None = Field(
        default=None,
        description="what the rule is for (GDPR art. 5(1)(b)): regulatory_supervision, "
        "information_security or reputation; decides what its alerts keep (alerts.privacy)",
    )
    tags: list[str] = Field(default_factory=list)
    when: Condition
    exceptions: list[ExceptionSpec] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    remediation: str | None = None
    tests: RuleTests = Field(default_factory=RuleTests)

    @field_validator("audience", mode="before")
    @classmethod
    def _one_audience(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("audience")
    @classmethod
    def _compliance_sees_all(cls, value: list[str]) -> list[str]:
        if COMPLIANCE not in value:
            raise ValueError(
                "compliance reviews every alert: write 'audience: [compliance, communications]' to "
                "share a rule's alerts with communications"
            )
        if len(set(value)) != len(value):
            raise ValueError("an audience is listed twice: list each of compliance, communications once")
        return value
