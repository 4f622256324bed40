"""The pack file as a whole: its header, lists and rules (:mod:`policies.schema`) and the sections that
set a jurisdiction's behaviour beyond its rules (personal messages, e-reputation spikes, retention,
sampling, disabled rules), validated as strictly.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from policies.schema import (
    NAME,
    RULE_ID,
    ListSpec,
    PackHeader,
    RuleSpec,
    SourceName,
    Strict,
    TestPost,
)


class PersonalTestPost(TestPost):
    """A post for the ``personal:`` tests: a rule test post plus what sources set on it."""

    metadata: dict[str, Any] = Field(default_factory=dict, description="e.g. {subject: '[PERSO] ...'}")


class PersonalTests(Strict):
    __test__ = False

    skip: list[PersonalTestPost] = Field(default_factory=list, description="posts that must be skipped")
    analyse: list[PersonalTestPost] = Field(default_factory=list, description="posts that must be analysed")


class PersonalSpec(Strict):
    """Messages an employee marked as personal, which the CNIL puts off-limits to the employer.

    ``skip: true`` makes the worker count such a post and drop it before any detector runs. A key left
    out is inherited along ``extends``; a list given replaces the inherited one.
    """

    skip: bool | None = Field(default=None, description="this jurisdiction leaves personal posts alone")
    flags: list[str] | None = Field(
        default=None, description="metadata keys a source sets to true on a personal message"
    )
    prefixes: list[str] | None = Field(
        default=None, description="markers at the start of the subject or text, e.g. '[PERSO]', 'privé'"
    )
    channels: list[str] | None = Field(default=None, description="channels that are personal as a whole")
    tests: PersonalTests = Field(default_factory=PersonalTests)

    @field_validator("prefixes", "flags", "channels")
    @classmethod
    def _non_blank(cls, value: list[str] | None) -> list[str] | None:
        for item in value or ():
            if not item.strip():
                raise ValueError("a marker is empty or blank: it would mark every post personal")
            if len(item.strip()) > 32:
                raise ValueError(f"marker {item[:40]!r} is longer than 32 characters: use a short word")
        return value


class SpikeSpec(Strict):
    """E-reputation spike thresholds for the pack's jurisdiction (``monitor.reputation``).

    A key left out is inherited along ``extends``; where no pack sets it, the worker's setting applies.
    """

    k: float | None = Field(
        default=None, gt=0, le=20, description="standard deviations above the baseline, e.g. 3"
    )
    min_volume: int | None = Field(
        default=None, ge=1, le=1_000_000, description="posts a window needs before it can spike, e.g. 20"
    )

    @model_validator(mode="after")
    def _one(self) -> SpikeSpec:
        if self.k is None and self.min_volume is None:
            raise ValueError("give 'k' (standard deviations, e.g. 3) and/or 'min_volume' (posts, e.g. 20)")
        return self


# Longer than this is almost surely a typo (the longest regime, FCA on request, is 7 years).
RETENTION_MAX_DAYS = 36_500


class RetentionSpec(Strict):
    """How long the pack's jurisdiction keeps a closed alert's personal data, and which rule says so.

    Inherited along ``extends``; an overlay sets its own to override it for one organisation; the
    setting VEILLE_RETENTION_DAYS overrides both (``alerts.retention``, ``veille retention policy``).
    """

    days: int = Field(description="days after an alert is closed, e.g. 1095 for 3 years")
    source: str = Field(
        min_length=1, description="the regulation or decision that sets the period, e.g. SEC Rule 17a-4(b)(4)"
    )
    required: bool | None = Field(
        default=None,
        description="true: a regulation requires keeping communications this long (a minimum, e.g. SEC "
        "17a-4, FCA SYSC 10A), so an erasure request is refused within it and a shorter override is "
        "flagged; false: a storage-limitation maximum (GDPR art. 5(1)(e)); unset: as the pack it amends",
    )

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= RETENTION_MAX_DAYS:
            raise ValueError(
                f"retention days must be a whole number of days from 0 to {RETENTION_MAX_DAYS} after an "
                f"alert is closed, e.g. 1095 for 3 years; got {value!r}"
            )
        return value

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name the regulation or decision that sets the period, e.g. 'SYSC 10A.1.11'")
        return value


class SamplingSpec(Strict):
    """A population of posts and the share of those that raised no alert drawn for review (FINRA Rule
    3110.06, risk-based review of correspondence). Criteria left out match everything; the criteria
    given must all match. The first population of a pack that matches a post is the post's."""

    population: str = Field(
        pattern=NAME, max_length=64, description="name in reports and metric labels, e.g. us_reps_external"
    )
    description: str | None = None
    percent: float = Field(ge=0.0, le=100.0, description="share of the non-alerting posts drawn, 0 to 100")
    author_role: list[str] | None = Field(default=None, min_length=1, description="e.g. [registered_rep]")
    channel: list[str] | None = Field(default=None, min_length=1, description="e.g. [teams, x]")
    source: list[SourceName] | None = Field(default=None, min_length=1)
    jurisdiction: list[str] | None = Field(
        default=None, min_length=1, description="the post's jurisdiction codes, e.g. [DE, AT] in the eu pack"
    )

    @field_validator("author_role", "channel", "source", "jurisdiction", mode="before")
    @classmethod
    def _one_value(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("jurisdiction")
    @classmethod
    def _codes(cls, value: list[str] | None) -> list[str] | None:
        for code in value or ():
            if not isinstance(code, str) or not (code == "GLOBAL" or (len(code) == 2 and code.isupper())):
                raise ValueError(
                    f"'{code}' is not a jurisdiction code: use ISO 3166-1 alpha-2 capitals "
                    "(FR, GB, US) or GLOBAL"
                )
        return value


class DisableSpec(Strict):
    id: str = Field(pattern=RULE_ID)
    reason: str = Field(min_length=1, description="recorded: why this jurisdiction does without the rule")


class PackFile(Strict):
    pack: PackHeader
    lists: dict[str, ListSpec] = Field(default_factory=dict)
    rules: list[RuleSpec] = Field(default_factory=list)
    disable: list[DisableSpec] = Field(default_factory=list)
    enable: list[str] = Field(default_factory=list, description="sandbox rule ids to load")
    spikes: SpikeSpec | None = Field(default=None, description="e-reputation spike thresholds")
    retention: RetentionSpec | None = Field(default=None, description="retention period and its source")
    personal: PersonalSpec | None = Field(default=None, description="personal messages left unanalysed")
    pseudonymise_authors: bool | None = Field(
        default=None, description="officers see a pseudonym for the authors of this jurisdiction's alerts"
    )
    sampling: list[SamplingSpec] = Field(
        default_factory=list, description="populations whose non-alerting posts are sampled for review"
    )

    @field_validator("lists")
    @classmethod
    def _list_names(cls, value: dict[str, ListSpec]) -> dict[str, ListSpec]:
        import re

        for name in value:
            if not re.match(NAME, name):
                raise ValueError(f"list name '{name}' must be lower_snake_case")
        return value
