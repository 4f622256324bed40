"""The Alert: what a rule hit on a post becomes once it is worth a reviewer's time."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_REVIEW = "in_review"
    ESCALATED = "escalated"
    CLOSED = "closed"


class Verdict(StrEnum):
    """Why a closed alert was closed; per-rule precision is computed from these."""

    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    BENIGN = "benign"
    DUPLICATE = "duplicate"


def alert_id(post_id: str, rule_id: str) -> str:
    """Stable across replays and workers: the same post and rule always give the same alert."""
    digest = hashlib.sha256(f"{rule_id}\x1f{post_id}".encode()).hexdigest()
    return digest[:32]


class Evidence(BaseModel):
    """One span that made the rule match.

    ``snippet`` is the span with a little context, every personal-data span in it masked by type
    (``[EMAIL]``); it is what anyone allowed to see the alert sees. ``span`` is the raw matched text,
    kept only for a justified, audited reveal and never returned by default.
    """

    model_config = ConfigDict(frozen=True)

    detector: str
    type: str
    start: int
    end: int
    score: float
    recognizer: str = ""
    snippet: str
    span: str | None = None
    personal: bool = Field(default=False, description="the span is personal data (masked in the snippet)")


class Alert(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    rule_id: str
    rule_title: str
    severity: Severity
    status: AlertStatus = AlertStatus.OPEN
    jurisdiction: str
    source: str
    channel: str
    post_id: str
    author_id: str
    author_role: str
    lang: str | None = None
    post_created_at: datetime
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    policy_version: str
    evidence: list[Evidence] = Field(default_factory=list)
    explanation: list[str] = Field(default_factory=list, description="the rule clauses that matched")
    remediation: str | None = None
    references: list[str] = Field(default_factory=list)
    origin: dict[str, Any] = Field(
        default_factory=dict, description="where the post came from: topic, partition, offset, url"
    )
    # Review state (alerts.lifecycle): who works the alert and how it was concluded.
    assignee: str | None = None
    verdict: Verdict | None = None
    ticket: str | None = None
    updated_at: datetime | None = None
    acknowledged_at: datetime | None = Field(default=None, description="first left the open status")
    closed_at: datetime | None = Field(default=None, description="last closed; cleared on reopen")
    anonymised_at: datetime | None = Field(default=None, description="personal data removed by retention")
    # Grouping (alerts.store): repeated hits of one rule by one author within the window.
    occurrences: int = Field(default=1, ge=1, description="hits grouped into this alert")
    last_seen_at: datetime | None = Field(default=None, description="post time of the newest grouped hit")
    silenced: bool = Field(default=False, description="matched an active silence when stored")
