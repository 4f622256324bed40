"""What the API accepts and returns: public models kept apart from the stored ones.

The ladder follows the template's habit (``AlertBase`` → ``Alert`` and ``AlertPublic``, ``AlertsPage``):
the stored ``Alert`` never goes out as is. The public fields are declared once, on
``alerts.model.AlertBase`` and ``EvidenceBase``; a field declared on ``Alert`` or ``Evidence`` themselves
(like the raw ``Evidence.span``, which is personal data) stays private until someone moves it to a base.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alerts.model import Alert, AlertBase, AlertKind, AlertStatus, EvidenceBase, QaStatus, Severity, alert_id
from alerts.query import AlertQuery, Instant, Order
from api.errors import BadRequest
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


class EvidencePublic(EvidenceBase):
    """One span that made the rule match, as a reviewer sees it: masked snippet only, no raw span."""

    # Every field is in every answer, defaults included: the schema says so to clients.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class AlertPublic(AlertBase[EvidencePublic]):
    """An alert as the API returns it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [_EXAMPLE_ALERT]}, json_schema_serialization_defaults_required=True
    )

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

    id: list[_FilterValue] = Field(
        default_factory=list, max_length=500, description="alert id; repeatable (a bulk selection)"
    )
    status: list[AlertStatus] = Field(default_factory=list, max_length=100, description="repeatable")
    severity: list[Severity] = Field(default_factory=list, max_length=100, description="repeatable")
    jurisdiction: list[_FilterValue] = Field(
        default_factory=list, max_length=100, description="repeatable; case-insensitive (fr finds FR)"
    )
    rule: list[_FilterValue] = Field(default_factory=list, max_length=100, description="rule id; repeatable")
    source: list[Source] = Field(default_factory=list, max_length=100, description="repeatable")
    channel: list[_FilterValue] = Field(default_factory=list, max_length=100, description="repeatable")
    assignee: list[_FilterValue] = Field(
        default_factory=list, max_length=100, description="reviewer's name; repeatable"
    )
    qa: list[QaStatus] = Field(
        default_factory=list, max_length=3, description="QA review of closed alerts, e.g. pending"
    )
    kind: list[AlertKind] = Field(
        default_factory=list, max_length=2, description="alert (a rule matched) or sample (drawn); repeatable"
    )
    population: list[_FilterValue] = Field(
        default_factory=list, max_length=100, description="sampling population; repeatable"
    )
    since: Instant | None = Field(
        default=None, description="ISO 8601 with a timezone, e.g. 2025-03-04T09:00:00Z; inclusive"
    )
    until: Instant | None = Field(
        default=None, description="ISO 8601 with a timezone, e.g. 2025-03-05T00:00:00Z; exclusive"
    )
    order: Order = Field(default="newest", description="by creation time: newest or oldest first")
    limit: int = Field(default=50, ge=1, le=500, description="page size")
    cursor: str | None = Field(
        default=None, max_length=256, description="next_cursor of the previous page (same order)"
    )

    @field_validator("jurisdiction", "rule", "channel", "assignee", "population")
    @classmethod
    def _strip(cls, values: list[str]) -> list[str]:
        return [value.strip() for value in values]

    def to_query(self) -> AlertQuery:
        """The store query for these filters; an empty list means "no filter"."""
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise BadRequest(
                f"since ({self.since.isoformat()}) must be earlier than until ({self.until.isoformat()})"
            )
        try:
            return AlertQuery(
                id=self.id or None,
                status=self.status or None,
                severity=self.severity or None,
                jurisdiction=self.jurisdiction or None,
                rule_id=self.rule or None,
                source=[str(source) for source in self.source] or None,
                channel=self.channel or None,
                assignee=self.assignee or None,
                qa=self.qa or None,
                kind=self.kind or None,
                population=self.population or None,
                since=self.since,
                until=self.until,
                order=self.order,
                limit=self.limit,
                cursor=self.cursor,
            )
        except ValidationError as exc:
            # AlertFilters mirrors AlertQuery's constraints, so this is a drift between the two: still
            # the client's input, still a 400 that says which field, never a 500.
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "query"
            raise BadRequest(f"{field}: {first['msg']}") from None


class Health(BaseModel):
    status: str = Field(examples=["ok"])


CheckState = Literal["ok", "unreachable", "failed"]


class Readiness(BaseModel):
    status: str = Field(description="ready or unavailable", examples=["ready"])
    checks: dict[str, CheckState] = Field(
        description="each component and its state, never an address or an error message (those are "
        "in the API's log)",
        examples=[{"store": "ok", "broker": "unreachable"}],
    )


class ErrorMessage(BaseModel):
    detail: str = Field(examples=["alert 'f00' not found"])


STORE_UNAVAILABLE: dict[str, Any] = {
    "model": ErrorMessage, "description": "the alert store is unavailable; retry later"
}


def guarded_responses(forbidden: str) -> dict[int | str, dict[str, Any]]:
    """The answers every guarded router documents: 401 without a valid token, 403 (``forbidden``)
    for a token whose role may not call it."""
    return {
        401: {"model": ErrorMessage, "description": "missing, unknown, revoked or expired token"},
        403: {"model": ErrorMessage, "description": forbidden},
    }
