"""Working the queue: status transitions, assignment, comments, and the same on a filtered set.

The rules live in :mod:`alerts.lifecycle`; an illegal transition answers 409 with the statuses that
are allowed from where the alert is. Review levels (:mod:`alerts.levels`): a change the caller's level
may not make (a first-level reviewer on an escalated alert, approving one's own closure) answers 403
saying who may; a closure that needs four eyes answers 200 with the alert in ``pending_approval``,
which a second-level reviewer approves or rejects. Every change is audited by the store in its own
transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from alerts.lifecycle import MAX_COMMENT_CHARS, MAX_NAME_CHARS, MAX_TICKET_CHARS
from alerts.model import AlertStatus, QaStatus, Verdict
from api.auth import visible_alert
from api.deps import AlertId, PseudonymizerDep, ReviewerDep, SettingsDep, StoreDep, SupervisorDep
from api.schemas import STORE_UNAVAILABLE, AlertFilters, AlertPublic, ErrorMessage, guarded_responses

router = APIRouter(
    tags=["review"],
    responses={
        **guarded_responses(
            "the token's role may not call this route, or its review level may not make this change "
            "(alerts.levels): the message says who may"
        ),
        422: {"description": "the request breaks a lifecycle rule (e.g. closing without a verdict)"},
        503: STORE_UNAVAILABLE,
    },
)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorMessage, "description": "no alert with this id"}
}


class TransitionConflict(BaseModel):
    detail: str
    current: AlertStatus
    allowed: list[AlertStatus]


class TransitionRequest(BaseModel):
    """Move an alert to ``to``. Closing needs a ``verdict``; reopening (closed → open) a ``reason``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"to": "closed", "verdict": "false_positive", "comment": "test data", "ticket": "JIRA-12"}
            ]
        },
    )

    to: AlertStatus
    verdict: Verdict | None = Field(default=None, description="required when closing, refused otherwise")
    reason: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS, description="required to reopen")
    ticket: str | None = Field(default=None, max_length=MAX_TICKET_CHARS, description="only when closing")
    comment: str | None = Field(
        default=None, max_length=MAX_COMMENT_CHARS, description="added as a comment after the change"
    )


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"assignee": "c.dupont"}]})

    assignee: str | None = Field(max_length=MAX_NAME_CHARS, description="reviewer's name; null unassigns")


class CommentRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"body": "Called the author."}]}
    )

    body: str = Field(min_length=1, max_length=MAX_COMMENT_CHARS)


class CommentPublic(BaseModel):
    id: int
    alert_id: str
    author: str
    body: str
    created_at: datetime


class BulkTransitionRequest(TransitionRequest):
    filter: AlertFilters = Field(
        description="which alerts (same filters as GET /alerts; limit and cursor are ignored)"
    )


class BulkAssignRequest(AssignRequest):
    filter: AlertFilters


class BulkResult(BaseModel):
    changed: list[str] = Field(description="ids of the alerts changed")
    skipped: dict[str, str] = Field(default_factory=dict, description="id → why it was left as it was")
    pending_approval: list[str] = Field(
        default_factory=list,
        description="ids among the changed whose closure now awaits a second reviewer's approval",
    )


class ApprovalRequest(BaseModel):
    """A second-level reviewer's decision on a closure awaiting approval (``pending_approval``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"decision": "approve"},
                {"decision": "reject", "reason": "the post names a client: this is no false positive"},
            ]
        },
    )

    decision: Literal["approve", "reject"]
    reason: str | None = Field(
        default=None, max_length=MAX_COMMENT_CHARS, description="required to reject; recorded in the audit"
    )
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


class QaRequest(BaseModel):
    """A second-level reviewer's QA outcome on a first-level closure drawn for QA (``qa=pending``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"outcome": "disagree", "comment": "this was a true positive"}]},
    )

    outcome: Literal[QaStatus.AGREE, QaStatus.DISAGREE]
    comment: str | None = Field(
        default=None, max_length=MAX_COMMENT_CHARS, description="required to disagree: say why"
    )


@router.post(
    "/alerts/{alert_id}/transition",
    response_model=AlertPublic,
    summary="Change an alert's status",
    responses={
        **_NOT_FOUND,
        409: {"model": TransitionConflict, "description": "not allowed from the current status"},
    },
)
def transition(
    alert_id: AlertId, body: TransitionRequest, store: StoreDep, actor: ReviewerDep,
    pseudonymize: PseudonymizerDep,
) -> AlertPublic:
    alert = store.transition(
        alert_id, body.to, actor, body.reason, verdict=body.verdict, ticket=body.ticket, comment=body.comment
    )
    return visible_alert(alert, actor, pseudonymize)


@router.post(
    "/alerts/{alert_id}/assign", response_model=AlertPublic, summary="Assign an alert", responses=_NOT_FOUND
)
def assign(
    alert_id: AlertId, body: AssignRequest, store: StoreDep, actor: ReviewerDep,
    pseudonymize: PseudonymizerDep,
) -> AlertPublic:
    alert = store.assign(alert_id, body.assignee, actor)
    return visible_alert(alert, actor, pseudonymize)


@router.post(
    "/alerts/{alert_id}/comments",
    response_model=CommentPublic,
    status_code=201,
    summary="Comment on an alert",
    responses=_NOT_FOUND,
)
def add_comment(
    alert_id: AlertId, body: CommentRequest, store: StoreDep, actor: ReviewerDep
) -> CommentPublic:
    return CommentPublic.model_validate(store.comment(alert_id, body.body, actor))


@router.get(
    "/alerts/{alert_id}/comments",
    response_model=list[CommentPublic],
    summary="An alert's comments, oldest first",
    responses=_NOT_FOUND,
)
def list_comments(alert_id: AlertId, store: StoreDep, actor: ReviewerDep) -> list[CommentPublic]:
    return [CommentPublic.model_validate(c) for c in store.comments(alert_id)]


@router.post(
    "/bulk/transition",
    response_model=BulkResult,
    summary="Change the status of every alert matching a filter",
)
def bulk_transition(body: BulkTransitionRequest, store: StoreDep, actor: ReviewerDep) -> BulkResult:
    """Alerts for which the transition is not allowed are skipped, with the reason; the others
    change together, in one transaction. At most 1000 alerts per call."""
    changed, skipped = store.bulk_transition(
        body.filter.to_query(),
        body.to,
        actor,
        body.reason,
        verdict=body.verdict,
        ticket=body.ticket,
        comment=body.comment,
    )
    pending = [a.id for a in changed if a.status is AlertStatus.PENDING_APPROVAL]
    return BulkResult(changed=[a.id for a in changed], skipped=skipped, pending_approval=pending)


@router.post("/bulk/assign", response_model=BulkResult, summary="Assign every alert matching a filter")
def bulk_assign(body: BulkAssignRequest, store: StoreDep, actor: ReviewerDep) -> BulkResult:
    """A first-level reviewer assigns to themselves only; escalated alerts are skipped for them."""
    changed, skipped = store.bulk_assign(body.filter.to_query(), body.assignee, actor)
    return BulkResult(changed=changed, skipped=skipped)


@router.post(
    "/alerts/{alert_id}/approval",
    response_model=AlertPublic,
    summary="Approve or reject a closure awaiting approval (second level, four eyes)",
    responses={
        **_NOT_FOUND,
        403: {"model": ErrorMessage, "description": "not second level, or the requester themselves"},
    },
)
def decide_approval(
    alert_id: AlertId, body: ApprovalRequest, store: StoreDep, actor: SupervisorDep,
    pseudonymize: PseudonymizerDep,
) -> AlertPublic:
    """Approving closes the alert with the verdict that was asked for; rejecting sends it back to
    in_review with the reason. The person who asked for the closure may do neither."""
    alert = store.decide_approval(
        alert_id, body.decision == "approve", actor, body.reason, comment=body.comment
    )
    return visible_alert(alert, actor, pseudonymize)


@router.post(
    "/alerts/{alert_id}/qa",
    response_model=AlertPublic,
    summary="Record the QA outcome of a closure drawn for QA (second level)",
    responses=_NOT_FOUND,
)
def record_qa(
    alert_id: AlertId, body: QaRequest, store: StoreDep, actor: SupervisorDep, pseudonymize: PseudonymizerDep
) -> AlertPublic:
    alert = store.record_qa(alert_id, body.outcome, actor, comment=body.comment)
    return visible_alert(alert, actor, pseudonymize)


class RevealRequest(BaseModel):
    """Why the raw span is needed; written to the audit log with the officer's name."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"justification": "DPO request 2025-114: confirm the address leaked", "index": 1}]
        },
    )

    justification: str = Field(min_length=10, max_length=MAX_COMMENT_CHARS)
    index: int | None = Field(default=None, ge=0, description="one evidence item; null reveals all")


class RevealedSpan(BaseModel):
    index: int = Field(description="position in the alert's evidence list")
    detector: str
    type: str
    # Not called "span": no API answer outside this audited route carries a field of that name.
    text: str = Field(description="the raw matched text (personal data)")


class Occurrence(BaseModel):
    id: str = Field(description="the hit's own id (hash of post id and rule id)")
    post_id: str
    post_created_at: datetime
    created_at: datetime


@router.post(
    "/alerts/{alert_id}/reveal",
    response_model=list[RevealedSpan],
    summary="Reveal the masked personal-data spans of an alert (audited)",
    responses=_NOT_FOUND,
)
def reveal(
    alert_id: AlertId, body: RevealRequest, store: StoreDep, actor: SupervisorDep
) -> list[RevealedSpan]:
    """Second level only (principal, officer, admin), and only with a justification; comms never
    sees a raw span."""
    spans = store.reveal(alert_id, body.justification, actor, index=body.index)
    return [RevealedSpan.model_validate(s) for s in spans]


@router.get(
    "/alerts/{alert_id}/occurrences",
    response_model=list[Occurrence],
    summary="The hits grouped into an alert, oldest post first",
    responses=_NOT_FOUND,
)
def occurrences(alert_id: AlertId, store: StoreDep, actor: ReviewerDep) -> list[Occurrence]:
    return [Occurrence.model_validate(o) for o in store.occurrences(alert_id)]


class AuthorRevealRequest(BaseModel):
    """Why the author's identity is needed; written to the audit log with the reviewer's name."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"justification": "Interview with HR scheduled, case 2026-31"}]},
    )

    justification: str = Field(min_length=10, max_length=MAX_COMMENT_CHARS)
    request: int | None = Field(
        default=None, description="with approval required: the approved request's id, to see the author"
    )


class AuthorReveal(BaseModel):
    status: Literal["revealed", "pending"]
    author_id: str | None = Field(default=None, description="the author's own id, once revealed")
    request: int | None = Field(default=None, description="pending: the request a second person approves")


@router.post(
    "/alerts/{alert_id}/reveal-author",
    response_model=AuthorReveal,
    summary="Reveal a pseudonymised author (audited; may need a second person's approval)",
    responses=_NOT_FOUND,
)
def reveal_author(
    alert_id: AlertId, body: AuthorRevealRequest, store: StoreDep, actor: SupervisorDep, settings: SettingsDep
) -> AuthorReveal:
    """With ``VEILLE_AUTHOR_REVEAL_APPROVAL`` set, the first call answers ``pending`` with a request id;
    once another second-level reviewer approved it, the same person calls again with ``request``."""
    answer = store.reveal_author(
        alert_id, body.justification, actor, approval_required=settings.author_reveal_approval,
        request_id=body.request,
    )
    return AuthorReveal(status=answer["status"], author_id=answer.get("author_id"),
                        request=answer.get("request"))


@router.post(
    "/alerts/{alert_id}/reveal-author/{request_id}/approve",
    status_code=204,
    summary="Approve another person's author reveal request (audited)",
    responses=_NOT_FOUND,
)
def approve_author_reveal(alert_id: AlertId, request_id: int, store: StoreDep, actor: SupervisorDep) -> None:
    store.approve_author_reveal(alert_id, request_id, actor)
