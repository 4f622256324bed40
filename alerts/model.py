"""The Alert: what a rule hit on a post becomes once it is worth a reviewer's time."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
    # A closure that needs a second reviewer's approval (alerts.levels): waits here with its verdict.
    PENDING_APPROVAL = "pending_approval"
    CLOSED = "closed"


class AlertKind(StrEnum):
    """What put an item in the review queue: a rule's hit, or a random draw of a post that raised none
    (risk-based review of correspondence, FINRA Rule 3110.06; see :mod:`alerts.sampling`)."""

    ALERT = "alert"
    SAMPLE = "sample"


class Verdict(StrEnum):
    """Why a closed alert was closed; per-rule precision is computed from these."""

    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    BENIGN = "benign"
    DUPLICATE = "duplicate"


class QaStatus(StrEnum):
    """Quality review of a closed alert drawn for a second-level look (alerts.levels)."""

    PENDING = "pending"
    AGREE = "agree"
    DISAGREE = "disagree"


# ``Alert.origin["kind"]`` of the alerts about a window of posts rather than one post (the e-reputation
# spikes and crises of monitor.reputation): their post id names the window (brand, jurisdiction,
# source, start), never a post. Only code sets origin keys, never a post's content.
WINDOW_ORIGIN_KIND = "reputation"


def alert_id(post_id: str, rule_id: str) -> str:
    """Stable across replays and workers: the same post and rule always give the same alert."""
    digest = hashlib.sha256(f"{rule_id}\x1f{post_id}".encode()).hexdigest()
    return digest[:32]


class EvidenceBase(BaseModel):
    """The fields of an evidence item that may be shown: every one but the raw ``span``."""

    detector: str
    type: str = Field(description="entity or finding kind, e.g. EMAIL_ADDRESS, FR_NIR, negative")
    start: int = Field(description="offset of the span in the post text")
    end: int
    score: float
    recognizer: str = ""
    snippet: str = Field(description="the span with some context, personal data masked by type")
    personal: bool = Field(default=False, description="the span is personal data (masked in the snippet)")


class Evidence(EvidenceBase):
    """One span that made the rule match.

    ``snippet`` is the span with a little context, every personal-data span in it masked by type
    (``[EMAIL]``); it is what anyone allowed to see the alert sees. ``span`` is the raw matched text,
    kept only for a justified, audited reveal and never returned by default.
    """

    model_config = ConfigDict(frozen=True)

    span: str | None = None


EvidenceT = TypeVar("EvidenceT", bound=EvidenceBase)


class AlertBase(BaseModel, Generic[EvidenceT]):
    """The fields of an alert, declared once for the stored ``Alert`` and the API's public shape,
    which differ only in what their evidence items hold."""

    id: str
    kind: AlertKind = Field(
        default=AlertKind.ALERT, description="alert: a rule matched; sample: drawn at random for review"
    )
    # The sampling population (policies.sampling) the post belonged to, whatever the kind: the
    # supervision report groups by it. None when no population of the post's pack matched.
    population: str | None = Field(default=None, description="sampling population of the post")
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
    evidence: list[EvidenceT] = Field(default_factory=list)
    # Evidence is bounded per alert (alerts.evidence.EvidenceLimits); these say how much there was.
    evidence_total: int = Field(default=0, ge=0, description="spans the rule matched on, kept or not")
    evidence_truncated: bool = Field(
        default=False, description="evidence keeps only some of the spans (a configured number and size)"
    )
    explanation: list[str] = Field(default_factory=list, description="the rule clauses that matched")
    remediation: str | None = None
    references: list[str] = Field(default_factory=list)
    origin: dict[str, Any] = Field(
        default_factory=dict, description="where the post came from: topic, partition, offset, url"
    )
    # Review state (alerts.lifecycle): who works the alert and how it was concluded.
    assignee: str | None = Field(default=None, description="the reviewer working the alert")
    verdict: Verdict | None = Field(default=None, description="set when closed")
    ticket: str | None = Field(default=None, description="external ticket reference, set when closed")
    updated_at: datetime | None = Field(default=None, description="last review change")
    acknowledged_at: datetime | None = Field(default=None, description="first moved out of open")
    closed_at: datetime | None = Field(default=None, description="last closed; null when open again")
    anonymised_at: datetime | None = Field(default=None, description="personal data removed by retention")
    # Review levels (alerts.levels): four-eyes closures and the QA sample of first-level closures.
    four_eyes: bool = Field(default=False, description="the rule's pack requires a second reviewer to close")
    closed_by: str | None = Field(default=None, description="who closed it (or approved its closure)")
    approval_verdict: Verdict | None = Field(default=None, description="verdict awaiting approval")
    approval_ticket: str | None = Field(default=None, description="ticket of the closure awaiting approval")
    approval_requested_by: str | None = Field(default=None, description="who asked to close it")
    qa_status: QaStatus | None = Field(default=None, description="set when drawn for QA after closing")
    # Grouping (alerts.store): repeated hits of one rule by one author within the window.
    occurrences: int = Field(default=1, ge=1, description="hits of this rule by this author grouped here")
    last_seen_at: datetime | None = Field(default=None, description="post time of the newest grouped hit")
    silenced: bool = Field(default=False, description="matched an active silence when stored")
    # Privacy (alerts.privacy): what the rule is for, and whether reviewers see a pseudonym.
    purpose: str | None = Field(
        default=None,
        description="the rule's purpose: regulatory_supervision, information_security or reputation",
    )
    author_pseudonymised: bool = Field(
        default=False,
        description="the jurisdiction pseudonymises authors: reviewers see a pseudonym until a reveal",
    )

    @model_validator(mode="before")
    @classmethod
    def _evidence_counts(cls, data: Any) -> Any:
        """Alerts stored before evidence was bounded, and alerts built without counts, kept it all."""
        if not isinstance(data, dict):
            return data
        kept = len(data.get("evidence") or ())
        total = data.get("evidence_total")
        if total is None:
            total = kept
            data = {**data, "evidence_total": total}
        if data.get("evidence_truncated") is None:
            data = {**data, "evidence_truncated": total > kept}
        return data


class Alert(AlertBase[Evidence]):
    model_config = ConfigDict(frozen=True)

    # Decided by the rule's pack (`audience:`), not shown to clients: the comms role sees only these.
    comms_visible: bool = Field(default=False, description="communications is in the rule's audience")

    @property
    def about_one_post(self) -> bool:
        """False for an e-reputation spike or crisis, whose post id names a window of posts."""
        return self.origin.get("kind") != WINDOW_ORIGIN_KIND
