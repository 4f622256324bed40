"""The review lifecycle: which status may follow which, and what each change must carry.

Pure rules, no storage: :class:`alerts.store.SqlAlertStore` checks every change here inside the
transaction that applies it, so the rules hold whichever process (API, CLI, bulk) makes the change.

    open ─► acknowledged ─► in_review ─► escalated ─► closed
      └──────────┴──────────────┴────────────┴──────────►┘   (closing needs a verdict)
    closed ─► open                                          (reopen: needs a reason)

    any close that needs approval ─► pending_approval ─► closed      (approved, alerts.levels)
                                                    └──► in_review   (rejected: needs a reason)

Nobody asks for ``pending_approval``: a close request lands there when :mod:`alerts.levels` says the
closure needs a second reviewer, and only an approval or a rejection leaves it.
"""

from __future__ import annotations

from collections.abc import Mapping

from alerts.model import AlertStatus, Verdict

S = AlertStatus

# Skipping ahead is allowed (an obvious false positive is closed straight from open); going back is
# not, except escalated → in_review (the escalation was answered) and the explicit reopen.
TRANSITIONS: Mapping[AlertStatus, tuple[AlertStatus, ...]] = {
    S.OPEN: (S.ACKNOWLEDGED, S.IN_REVIEW, S.ESCALATED, S.CLOSED),
    S.ACKNOWLEDGED: (S.IN_REVIEW, S.ESCALATED, S.CLOSED),
    S.IN_REVIEW: (S.ESCALATED, S.CLOSED),
    S.ESCALATED: (S.IN_REVIEW, S.CLOSED),
    S.PENDING_APPROVAL: (S.IN_REVIEW, S.CLOSED),
    S.CLOSED: (S.OPEN,),
}

MAX_COMMENT_CHARS = 10_000
MAX_TICKET_CHARS = 200
MAX_NAME_CHARS = 200
MIN_JUSTIFICATION_CHARS = 10


class LifecycleError(ValueError):
    """A review change refused by the rules; the message says what to send instead."""


class AlertNotFound(LifecycleError, LookupError):
    def __init__(self, alert_id: str) -> None:
        super().__init__(f"alert {alert_id!r} not found")
        self.alert_id = alert_id


class IllegalTransition(LifecycleError):
    """``current → requested`` is not an edge of :data:`TRANSITIONS`; ``allowed`` lists the edges."""

    def __init__(self, alert_id: str, current: AlertStatus, requested: AlertStatus) -> None:
        self.alert_id = alert_id
        self.current = current
        self.requested = requested
        self.allowed = list(TRANSITIONS[current])
        allowed = ", ".join(s.value for s in self.allowed)
        hint = ""
        if requested is S.PENDING_APPROVAL:
            hint = " (send closed with a verdict: a closure that needs approval waits there by itself)"
        super().__init__(
            f"alert {alert_id!r} is {current.value}: it cannot go to {requested.value}; "
            f"allowed: {allowed}{hint}"
        )


def allowed_transitions(current: AlertStatus) -> list[AlertStatus]:
    return list(TRANSITIONS[current])


def check_transition(
    alert_id: str,
    current: AlertStatus,
    to: AlertStatus,
    *,
    verdict: Verdict | None,
    reason: str | None,
    ticket: str | None,
) -> None:
    """Raise unless moving ``alert_id`` from ``current`` to ``to`` with these fields is allowed."""
    if to not in TRANSITIONS[current]:
        raise IllegalTransition(alert_id, current, to)
    if to is S.CLOSED and verdict is None:
        verdict_values = ", ".join(v.value for v in Verdict)
        raise LifecycleError(f"closing alert {alert_id!r} needs a verdict: one of {verdict_values}")
    if to is not S.CLOSED and verdict is not None:
        raise LifecycleError(
            f"verdict is only accepted when closing; alert {alert_id!r} is going to {to.value}"
        )
    if to is not S.CLOSED and ticket is not None:
        raise LifecycleError(
            f"ticket is only accepted when closing; alert {alert_id!r} is going to {to.value}"
        )
    if current is S.CLOSED and not (reason and reason.strip()):
        raise LifecycleError(f"reopening alert {alert_id!r} needs a reason")
    if current is S.PENDING_APPROVAL and to is S.IN_REVIEW and not (reason and reason.strip()):
        raise LifecycleError(f"rejecting the closure of alert {alert_id!r} needs a reason")
    check_text("reason", reason, MAX_COMMENT_CHARS, required=False)
    check_text("ticket", ticket, MAX_TICKET_CHARS, required=False)


def check_text(field: str, value: str | None, max_chars: int, *, required: bool) -> None:
    if value is None:
        if required:
            raise LifecycleError(f"{field} is required")
        return
    if not value.strip():
        raise LifecycleError(f"{field} must not be blank")
    if len(value) > max_chars:
        raise LifecycleError(f"{field} is {len(value)} characters long; at most {max_chars} are allowed")
    if "\x00" in value:
        # PostgreSQL text cannot hold U+0000: refused here as the client's mistake, not failed as a 503.
        raise LifecycleError(f"{field} contains a NUL character (U+0000): remove it")


def check_justification(justification: str) -> None:
    """Revealing personal data needs a reason someone can audit later, not a placeholder."""
    check_text("justification", justification, MAX_COMMENT_CHARS, required=True)
    if len(justification.strip()) < MIN_JUSTIFICATION_CHARS:
        raise LifecycleError(f"justification must say why in at least {MIN_JUSTIFICATION_CHARS} characters")
