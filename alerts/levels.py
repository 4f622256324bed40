"""Review levels: who may act on an alert, which closures need a second reviewer, and the QA sample.

FINRA Rule 3110.08 lets a principal delegate review but not responsibility: first-level reviewers
work the queue, second-level reviewers (principals) answer escalations, approve the closures that
need four eyes, and look again at a sample of what the first level closed. Pure rules, no storage:
:mod:`alerts.sql.review` checks them inside the transaction that applies a change, as it does the
lifecycle's.

Levels by role:

- first level: ``reviewer``;
- second level: ``principal``, ``officer`` (the compliance officer always had every review power: it
  keeps them, which makes it second level) and ``admin`` (everything);
- ``comms`` and ``ops`` do not review.

Four eyes: closing a critical alert as a false positive, closing any alert of a rule marked
``four_eyes: true`` in its pack, or a first-level reviewer closing a critical alert at all, only asks
for the closure; a second-level reviewer who is not the one who asked approves or rejects it. People
are told apart by their token's name (the actor name the audit records).

QA: a fraction of the closures made by first-level reviewers is drawn for a second-level review. The
draw is an HMAC of the alert id under a secret key, so it is reproducible (the same key and alert
always draw the same way, an auditor can recompute it) and unpredictable to reviewers who do not hold
the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from alerts.audit import Actor
from alerts.lifecycle import LifecycleError
from alerts.model import Alert, AlertStatus, Severity, Verdict
from alerts.sampling import draw_value
from alerts.tokens import Role


class Level(IntEnum):
    NONE = 0
    FIRST = 1
    SECOND = 2


LEVELS: dict[Role, Level] = {
    Role.REVIEWER: Level.FIRST,
    Role.PRINCIPAL: Level.SECOND,
    Role.OFFICER: Level.SECOND,
    Role.ADMIN: Level.SECOND,
    Role.COMMS: Level.NONE,
    Role.OPS: Level.NONE,
}
SECOND_LEVEL_ROLES = frozenset(role for role, level in LEVELS.items() if level is Level.SECOND)
_SECOND_LEVEL_NAMES = ", ".join(sorted(SECOND_LEVEL_ROLES))


def level_of(actor: Actor) -> Level:
    """An actor whose role is not a known :class:`Role` (the CLI, a bootstrap) reviews as nothing."""
    try:
        return LEVELS[Role(actor.role)]
    except ValueError:
        return Level.NONE


class NotPermitted(LifecycleError, PermissionError):
    """The caller's role or identity may not make this change (an HTTP 403); says who may."""


class AwaitingApproval(LifecycleError):
    """The alert waits for its closure to be approved or rejected (an HTTP 409)."""

    def __init__(self, alert: Alert) -> None:
        verdict = alert.approval_verdict.value if alert.approval_verdict else "?"
        super().__init__(
            f"alert {alert.id!r} awaits approval of its closure as {verdict} requested by "
            f"{alert.approval_requested_by}: a second-level reviewer ({_SECOND_LEVEL_NAMES}) other than "
            f"{alert.approval_requested_by} approves or rejects it (POST /alerts/{alert.id}/approval)"
        )


def check_may_act(alert: Alert, by: Actor) -> None:
    """Escalated alerts and closures awaiting approval are the second level's; others may comment."""
    if level_of(by) >= Level.SECOND:
        return
    if alert.status in (AlertStatus.ESCALATED, AlertStatus.PENDING_APPROVAL):
        raise NotPermitted(
            f"alert {alert.id!r} is {alert.status.value}: only a second-level reviewer "
            f"({_SECOND_LEVEL_NAMES}) may change it; role {by.role} may comment on it"
        )


def check_may_assign(alert: Alert, assignee: str | None, by: Actor) -> None:
    """A first-level reviewer takes work for themselves (or gives back their own); dispatching work
    to others is a supervisor's."""
    check_may_act(alert, by)
    if level_of(by) >= Level.SECOND:
        return
    if assignee is not None and assignee != by.name:
        raise NotPermitted(
            f"role {by.role} may assign alerts to themselves only (assignee {by.name!r}), "
            f"not to {assignee!r}; a second-level reviewer dispatches work to others"
        )
    if assignee is None and alert.assignee not in (None, by.name):
        raise NotPermitted(
            f"alert {alert.id!r} is assigned to {alert.assignee!r}: role {by.role} may unassign only "
            "alerts assigned to themselves"
        )


def approval_reasons(alert: Alert, verdict: Verdict, by: Actor) -> list[str]:
    """Why closing ``alert`` with ``verdict`` needs a second reviewer's approval; empty: it does not."""
    reasons = []
    critical = alert.severity is Severity.CRITICAL
    if alert.four_eyes:
        reasons.append(f"rule {alert.rule_id} is marked four_eyes in its pack")
    if critical and verdict is Verdict.FALSE_POSITIVE:
        reasons.append("a critical alert closed as false_positive")
    elif critical and level_of(by) < Level.SECOND:
        reasons.append(f"a critical alert closed by a first-level reviewer ({by.role})")
    return reasons


def check_may_decide(alert: Alert, by: Actor) -> None:
    """Approving or rejecting a closure: second level, and never the person who asked for it."""
    if alert.status is not AlertStatus.PENDING_APPROVAL:
        raise LifecycleError(
            f"alert {alert.id!r} is {alert.status.value}: only a closure awaiting approval "
            "(pending_approval) is approved or rejected"
        )
    if level_of(by) < Level.SECOND:
        raise NotPermitted(
            f"role {by.role} may not approve or reject a closure: only a second-level reviewer "
            f"({_SECOND_LEVEL_NAMES}) may"
        )
    if by.name == alert.approval_requested_by:
        raise NotPermitted(
            f"{by.name} requested the closure of alert {alert.id!r} and may not approve or reject it: "
            "four eyes need a different second-level reviewer"
        )


def check_may_qa(alert: Alert, by: Actor) -> None:
    if level_of(by) < Level.SECOND:
        raise NotPermitted(
            f"role {by.role} may not record a QA outcome: only a second-level reviewer "
            f"({_SECOND_LEVEL_NAMES}) may"
        )
    if alert.qa_status is None or alert.status is not AlertStatus.CLOSED:
        raise LifecycleError(f"alert {alert.id!r} was not drawn for QA: there is no QA review to record")
    if alert.qa_status.value != "pending":
        raise LifecycleError(
            f"alert {alert.id!r} already has its QA outcome ({alert.qa_status.value}); it is recorded once"
        )
    if by.name == alert.closed_by:
        raise NotPermitted(f"{by.name} closed alert {alert.id!r} and may not review their own closure")


@dataclass(frozen=True)
class QaSampling:
    """Which first-level closures go to QA (settings ``VEILLE_QA_SAMPLE_RATE`` and ``_KEY``)."""

    rate: float = 0.0  # 0: no QA sample
    key: bytes = b""

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"the QA sample rate is a fraction from 0 to 1, not {self.rate}")
        if self.rate > 0 and len(self.key) < 16:
            raise ValueError("the QA sample key must be at least 16 bytes, or the draw can be guessed")

    def drawn(self, alert_id: str) -> bool:
        """Reproducible: the same key and alert id always give the same answer."""
        # The sampling draw's keyed hash, on a name of its own: the same key never ties the two draws.
        return self.rate > 0 and draw_value(self.key, "veille qa\x1f" + alert_id) < self.rate

    def applies(self, alert: Alert, by: Actor) -> bool:
        """A closure by a first-level reviewer, drawn for QA."""
        return level_of(by) is Level.FIRST and self.drawn(alert.id)
