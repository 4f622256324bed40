"""What the API accepts and returns: public models kept apart from the stored ones.

The ladder follows the template's habit (``AlertPublic``, ``AlertsPage``): the stored ``Alert`` never
goes out as is. Public models are allow-lists, so a field added to the stored model (or the raw
``Evidence.span``, which is personal data) stays private until someone decides to publish it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from alerts.model import Alert, AlertStatus, Severity, Verdict, alert_id
from policies.post import Source

_EXAMPLE_ALERT: dict[str, Any] = {
    "id": alert_id("post-4711", "fr.pii.nir"),
    "rule_id": "fr.pii.nir",
    "rule_title": "French social security number posted",
    "severity": "high",
    "status": "open",
    "jurisdiction": "FR",
    "source": "internal",
    "channel": "teams-fr",
    "post_id": "post-4711",
    "author_id": "u-1029",
    "author_role": "employee",
    "lang": "fr",
    "post_created_at": "2025-03-04T09:12:00Z",
    "created_at": "2025-03-04T09:12:01.250000Z",
    "policy_version": "3f9c2a1",
    "evidence": [
        {
            "detector": "pii",
            "type": "FR_NIR",
            "start": 27,
            "end": 48,
            "score": 0.95,
            "recognizer": "FrNirRecognizer",
            "snippet": "…voici mon numéro de sécu [FR_NIR] pour le dossier…",
            "personal": True,
        }
    ],
    "explanation": ["pii(FR_NIR, score >= 0.8)"],
    "remediation": "Delete the message and remind the author of the data-protection policy.",
    "references": ["GDPR art. 9", "CNIL délibération 2019-001"],
    "origin": {"topic": "veille.posts.internal", "partition": 2, "offset": 18234},
}


class EvidencePublic(BaseModel):
    """One span that made the rule match, as a reviewer sees it: masked snippet only, no raw span."""

    detector: str
    type: str = Field(description="entity or finding kind, e.g. EMAIL_ADDRESS, FR_NIR, negative")
    start: int = Field(description="offset of the span in the post text")
    end: int
    score: float
    recognizer: str = ""
    snippet: str = Field(description="the span with some context, personal data masked by type")
    personal: bool = Field(description="the span is personal data (masked in the snippet)")


class AlertPublic(BaseModel):
    """An alert as the API returns it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_ALERT]})

    id: str
    rule_id: str
    rule_title: str
    severity: Severity
    status: AlertStatus
    jurisdiction: str
    source: str
    channel: str
    post_id: str
    author_id: str
    author_role: str
    lang: str | None
    post_created_at: datetime
    created_at: datetime
    policy_version: str
    evidence: list[EvidencePublic]
    explanation: list[str] = Field(description="the rule clauses that matched")
    remediation: str | None
    references: list[str]
    origin: dict[str, Any] = Field(description="where the post came from: topic, partition, offset, url")
    assignee: str | None = Field(default=None, description="the reviewer working the alert")
    verdict: Verdict | None = Field(default=None, description="set when closed")
    ticket: str | None = Field(default=None, description="external ticket reference, set when closed")
    updated_at: datetime | None = Field(default=None, description="last review change")
    acknowledged_at: datetime | None = Field(default=None, description="first moved out of open")
    closed_at: datetime | None = Field(default=None, description="last closed; null when open again")
    occurrences: int = Field(default=1, description="hits of this rule by this author grouped here")
    last_seen_at: datetime | None = Field(default=None, description="post time of the newest grouped hit")
    silenced: bool = Field(default=False, description="matched an active silence when stored")
    anonymised_at: datetime | None = Field(default=None, description="personal data removed by retention")

    @classmethod
    def from_alert(cls, alert: Alert) -> AlertPublic:
        # Excluding the span explicitly as well as leaving it out of EvidencePublic: either alone
        # would do, both together survive a careless edit of one of them.
        data = alert.model_dump(exclude={"evidence": {"__all__": {"span"}}})
        return cls.model_validate(data)


class AlertsPage(BaseModel):
    """One page of the alert queue, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"data": [_EXAMPLE_ALERT], "next_cursor": "WzEsMTc0MTA3OS...", "count": 1}]
        }
    )

    data: list[AlertPublic]
    next_cursor: str | None = Field(
        description="pass it back as `cursor` for the next page; null on the last page"
    )
    count: int = Field(description="how many alerts match the filters in total (all pages)")


_FilterValue = Annotated[str, Field(min_length=1, max_length=128)]


class AlertFilters(BaseModel):
    """Query parameters of ``GET /alerts``. Unknown parameters are refused, so a typo never
    silently widens a search."""

    model_config = ConfigDict(extra="forbid")

    status: list[AlertStatus] = Field(default_factory=list, max_length=100, description="repeatable")
    severity: list[Severity] = Field(default_factory=list, max_length=100, description="repeatable")
    jurisdiction: list[_FilterValue] = Field(
        default_factory=list, max_length=100, description="repeatable; case-insensitive (fr finds FR)"
    )
    rule: list[_FilterValue] = Field(default_factory=list, max_length=100, description="rule id; repeatable")
    source: list[Source] = Field(default_factory=list, max_length=100, description="repeatable")
    since: AwareDatetime | None = Field(
        default=None, description="ISO 8601 with a timezone, e.g. 2025-03-04T09:00:00Z; inclusive"
    )
    until: AwareDatetime | None = Field(
        default=None, description="ISO 8601 with a timezone, e.g. 2025-03-05T00:00:00Z; exclusive"
    )
    limit: int = Field(default=50, ge=1, le=500, description="page size")
    cursor: str | None = Field(default=None, max_length=256, description="next_cursor of the previous page")

    @field_validator("jurisdiction", "rule")
    @classmethod
    def _strip(cls, values: list[str]) -> list[str]:
        return [value.strip() for value in values]


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(description="ready or unavailable", examples=["ready"])
    checks: dict[str, str] = Field(
        description="each check: ok, or failed with the reason", examples=[{"store": "ok", "broker": "ok"}]
    )


class ErrorMessage(BaseModel):
    detail: str = Field(examples=["alert 'f00' not found"])
