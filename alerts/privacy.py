"""Privacy rules of an alert, pure: its purpose's minimisation, author pseudonyms, who reveals an author.

**Purpose and minimisation (GDPR art. 5(1)(b), (c)).** Every rule states the purpose it serves
(pack key ``purpose:``); the alert carries it, and keeps only what that purpose needs. The table
:data:`MINIMISATION` is the one place this is decided:

======================  ==========================================  =====================================
purpose                 personal-data spans kept for a reveal       author id
======================  ==========================================  =====================================
regulatory_supervision  every matched span (the evidence a          kept (supervision names its author)
                        regulator or a breach assessment needs)
information_security    secrets (``pattern``) and technical         kept (the owner of a leaked secret is
                        identifiers (IP address, URL), never        contacted)
                        personal data about a person (a card
                        number stays masked, as PCI DSS asks)
reputation              none                                        replaced by its pseudonym at creation
======================  ==========================================  =====================================

Masked snippets are kept for every purpose: they hold no personal data (``alerts.evidence``). An alert
without a purpose (stored before purposes existed, or from an organisation's pack that states none)
keeps what it always kept.

**Pseudonymised authors.** In a jurisdiction whose pack says ``pseudonymise_authors: true`` (EU, FR),
reviewers see :func:`author_pseudonym` instead of the author's id; revealing the id is its own audited
action with a justification (``SqlAlertStore.reveal_author``), which can require a second person's
approval (setting ``VEILLE_AUTHOR_REVEAL_APPROVAL``): one person requests, another approves, then the
requester sees the id. :func:`may_approve_author_reveal` is the single place that says who approves.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from alerts.audit import Actor, AuditEntry
from alerts.levels import SECOND_LEVEL_ROLES
from alerts.lifecycle import LifecycleError
from alerts.model import Alert, Evidence
from policies.schema import PURPOSES

AUTHOR_PSEUDONYM_PREFIX = "anon-"
ACTION_REVEAL_AUTHOR = "alert.reveal_author"
ACTION_REVEAL_AUTHOR_REQUESTED = "alert.reveal_author_requested"
ACTION_REVEAL_AUTHOR_APPROVED = "alert.reveal_author_approved"
# Roles that may approve another person's author reveal: revealing an identity is a second-level
# act, as revealing a span is (alerts.levels).
AUTHOR_REVEAL_APPROVERS = SECOND_LEVEL_ROLES


def keyed_hash(key: bytes, value: str) -> str:
    """16 hex digits of HMAC-SHA256: stable under one key, unlinkable to ``value`` without it."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


def author_pseudonym(key: bytes, author_id: str) -> str:
    """The author's pseudonym, the same in the worker (minimised alerts) and the API (masked views)."""
    return AUTHOR_PSEUDONYM_PREFIX + keyed_hash(key, author_id)


@dataclass(frozen=True)
class Minimisation:
    """What an alert of one purpose keeps beyond its masked evidence."""

    span_detectors: frozenset[str]  # detectors whose raw spans are kept for an audited reveal
    author_id: bool  # False: the author id is stored as its pseudonym, never in clear
    span_types: frozenset[str] = frozenset()  # and these entity types of other detectors

    def keeps_span(self, detector: str, type_: str) -> bool:
        return detector in self.span_detectors or type_ in self.span_types


MINIMISATION: dict[str, Minimisation] = {
    "regulatory_supervision": Minimisation(frozenset({"pii", "pattern"}), author_id=True),
    "information_security": Minimisation(
        frozenset({"pattern"}), author_id=True, span_types=frozenset({"IP_ADDRESS", "URL"})
    ),
    "reputation": Minimisation(frozenset(), author_id=False),
}
assert set(MINIMISATION) == set(PURPOSES), "every purpose needs its row in MINIMISATION"


def minimise(alert: Alert, pseudonym_key: bytes | None) -> Alert:
    """``alert`` with only what its purpose needs (see the table above).

    An author id its purpose does not need is replaced by its pseudonym, or by ``"*"`` without a key:
    never kept in clear for want of one.
    """
    rule = MINIMISATION.get(alert.purpose or "")
    if rule is None:
        return alert
    update: dict[str, object] = {}
    # Only personal-data spans are at stake: the others (a matched phrase) show in the snippet anyway.
    def kept(e: Evidence) -> bool:
        return e.span is None or not e.personal or rule.keeps_span(e.detector, e.type)

    if not all(kept(e) for e in alert.evidence):
        update["evidence"] = [e if kept(e) else e.model_copy(update={"span": None}) for e in alert.evidence]
    if not rule.author_id and alert.about_one_post:
        update["author_id"] = author_pseudonym(pseudonym_key, alert.author_id) if pseudonym_key else "*"
        # Nothing left to reveal: the clear id was never stored.
        update["author_pseudonymised"] = False
    return alert.model_copy(update=update) if update else alert


# --- revealing a pseudonymised author ---


def may_approve_author_reveal(actor: Actor) -> bool:
    """Whether ``actor``'s role may approve an author reveal: the second level's."""
    return actor.role in AUTHOR_REVEAL_APPROVERS


@dataclass(frozen=True)
class RevealRequest:
    """An ``alert.reveal_author_requested`` entry (its audit seq is the request id) and its approval."""

    id: int
    requested_by: str
    justification: str
    approved_by: str | None = None


def reveal_requests(entries: Sequence[AuditEntry]) -> dict[int, RevealRequest]:
    """The reveal requests recorded in an alert's audit entries, with their approvals."""
    requests: dict[int, RevealRequest] = {}
    for entry in entries:
        after = entry.after or {}
        if entry.action == ACTION_REVEAL_AUTHOR_REQUESTED:
            requests[entry.seq] = RevealRequest(entry.seq, entry.actor, str(after.get("justification", "")))
        elif entry.action == ACTION_REVEAL_AUTHOR_APPROVED:
            request = requests.get(int(after.get("request", 0)))
            if request is not None:
                requests[request.id] = RevealRequest(
                    request.id, request.requested_by, request.justification, entry.actor
                )
    return requests


def check_approval(request: RevealRequest | None, request_id: int, approver: Actor) -> RevealRequest:
    """The request ``approver`` may approve, or LifecycleError saying why not."""
    if request is None:
        raise LifecycleError(f"no author reveal request {request_id} on this alert")
    if request.approved_by is not None:
        raise LifecycleError(f"request {request_id} was already approved by {request.approved_by}")
    if approver.name == request.requested_by:
        raise LifecycleError("a second person must approve: the requester cannot approve their own request")
    if not may_approve_author_reveal(approver):
        raise LifecycleError(f"role {approver.role} may not approve an author reveal")
    return request


def check_approved(request: RevealRequest | None, request_id: int, by: Actor) -> RevealRequest:
    """The approved request ``by`` made, which now lets them see the author, or LifecycleError."""
    if request is None or request.requested_by != by.name:
        raise LifecycleError(f"no author reveal request {request_id} of yours on this alert")
    if request.approved_by is None:
        raise LifecycleError(f"request {request_id} awaits a second person's approval")
    return request
