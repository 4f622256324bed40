"""The lifecycle rules as a table, then the same rules over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from alerts.lifecycle import IllegalTransition, LifecycleError, check_transition
from alerts.model import Alert, AlertStatus, Verdict
from alerts.tokens import Role

S = AlertStatus
ALLOWED = {
    (S.OPEN, S.ACKNOWLEDGED), (S.OPEN, S.IN_REVIEW), (S.OPEN, S.ESCALATED), (S.OPEN, S.CLOSED),
    (S.ACKNOWLEDGED, S.IN_REVIEW), (S.ACKNOWLEDGED, S.ESCALATED), (S.ACKNOWLEDGED, S.CLOSED),
    (S.IN_REVIEW, S.ESCALATED), (S.IN_REVIEW, S.CLOSED),
    (S.ESCALATED, S.IN_REVIEW), (S.ESCALATED, S.CLOSED),
    (S.CLOSED, S.OPEN),
    # Approval (alerts.levels) and rejection of a four-eyes closure; nobody asks for pending_approval.
    (S.PENDING_APPROVAL, S.CLOSED), (S.PENDING_APPROVAL, S.IN_REVIEW),
}  # fmt: skip


@pytest.mark.parametrize(("current", "to"), list(itertools.product(S, S)))
def test_every_pair_of_statuses_is_allowed_or_refused_with_the_allowed_list(
    current: AlertStatus, to: AlertStatus
) -> None:
    verdict = Verdict.BENIGN if to is S.CLOSED else None
    reason = "new facts" if current in (S.CLOSED, S.PENDING_APPROVAL) else None
    if (current, to) in ALLOWED:
        check_transition("a1", current, to, verdict=verdict, reason=reason, ticket=None)
        return
    with pytest.raises(IllegalTransition) as raised:
        check_transition("a1", current, to, verdict=verdict, reason=reason, ticket=None)
    assert raised.value.allowed == sorted((t for c, t in ALLOWED if c is current), key=list(S).index)
    assert f"is {current.value}: it cannot go to {to.value}; allowed: " in str(raised.value)


@pytest.mark.parametrize(
    ("current", "to", "fields", "message"),
    [
        (S.OPEN, S.CLOSED, {}, "closing alert 'a1' needs a verdict: one of true_positive, false_positive"),
        (S.OPEN, S.ACKNOWLEDGED, {"verdict": Verdict.BENIGN}, "verdict is only accepted when closing"),
        (S.OPEN, S.IN_REVIEW, {"ticket": "JIRA-1"}, "ticket is only accepted when closing"),
        (S.CLOSED, S.OPEN, {}, "reopening alert 'a1' needs a reason"),
        (S.CLOSED, S.OPEN, {"reason": "   "}, "reopening alert 'a1' needs a reason"),
        (S.PENDING_APPROVAL, S.IN_REVIEW, {}, "rejecting the closure of alert 'a1' needs a reason"),
        (S.OPEN, S.CLOSED, {"verdict": Verdict.BENIGN, "ticket": "T" * 201}, "ticket is 201 characters long"),
    ],
)
def test_what_a_transition_must_carry(
    current: AlertStatus, to: AlertStatus, fields: dict[str, object], message: str
) -> None:
    kwargs: dict[str, object] = {"verdict": None, "reason": None, "ticket": None, **fields}
    with pytest.raises(LifecycleError) as raised:
        check_transition("a1", current, to, **kwargs)  # type: ignore[arg-type]
    assert not isinstance(raised.value, IllegalTransition)
    assert message in str(raised.value)


def test_review_over_http(live: Callable[[str], Any], database_url: str, seed: list[Alert]) -> None:
    app = live(database_url)
    officer = app.client(Role.OFFICER)
    first, second = seed[2].id, seed[3].id

    # Illegal: open → open is not an edge; the 409 lists where the alert may go.
    response = officer.post(f"/api/v1/alerts/{first}/transition", json={"to": "open"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"alert {first!r} is open: it cannot go to open; "
        "allowed: acknowledged, in_review, escalated, closed",
        "current": "open",
        "allowed": ["acknowledged", "in_review", "escalated", "closed"],
    }

    assert officer.post(f"/api/v1/alerts/{first}/transition", json={"to": "acknowledged"}).json()[
        "status"
    ] == ("acknowledged")
    response = officer.post(f"/api/v1/alerts/{first}/transition", json={"to": "closed"})
    assert response.status_code == 422
    assert (
        "needs a verdict: one of true_positive, false_positive, benign, duplicate"
        in response.json()["detail"]
    )

    closed = officer.post(
        f"/api/v1/alerts/{first}/transition",
        json={"to": "closed", "verdict": "true_positive", "ticket": "JIRA-42", "comment": "author warned"},
    )
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["verdict"], closed.json()["ticket"]) == (
        "closed",
        "true_positive",
        "JIRA-42",
    )
    stored = app.store.get(first)
    assert stored is not None and stored.verdict == Verdict.TRUE_POSITIVE and stored.status is S.CLOSED

    response = officer.post(f"/api/v1/alerts/{first}/transition", json={"to": "in_review"})
    assert response.status_code == 409 and response.json()["allowed"] == ["open"]
    assert officer.post(f"/api/v1/alerts/{first}/transition", json={"to": "open"}).status_code == 422
    reopened = officer.post(f"/api/v1/alerts/{first}/transition", json={"to": "open", "reason": "new posts"})
    assert (reopened.json()["status"], reopened.json()["verdict"]) == ("open", None)

    assigned = officer.post(f"/api/v1/alerts/{first}/assign", json={"assignee": "c.dupont"})
    assert assigned.json()["assignee"] == "c.dupont"
    # PostgreSQL text cannot hold U+0000: the client's mistake, named, on both databases.
    nul = officer.post(f"/api/v1/alerts/{first}/comments", json={"body": "called\u0000 the lead"})
    assert nul.status_code == 422 and "NUL character" in nul.json()["detail"], nul.text
    comment = officer.post(f"/api/v1/alerts/{first}/comments", json={"body": "called the team lead"})
    assert comment.status_code == 201 and comment.json()["author"] == "officer-1"
    bodies = [c["body"] for c in officer.get(f"/api/v1/alerts/{first}/comments").json()]
    assert bodies == ["author warned", "called the team lead"]

    missing = officer.post("/api/v1/alerts/nope/transition", json={"to": "acknowledged"})
    assert (missing.status_code, missing.json()) == (404, {"detail": "alert 'nope' not found"})
    unknown = officer.post(f"/api/v1/alerts/{first}/transition", json={"to": "done"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "to"]

    # Bulk over the PII rules: the second alert moves, the first (open again) too; a closed one is skipped.
    officer.post(f"/api/v1/alerts/{second}/transition", json={"to": "closed", "verdict": "duplicate"})
    bulk = officer.post(
        "/api/v1/bulk/transition",
        json={"filter": {"rule": ["fr.pii.email", "eu.pii.phone"]}, "to": "in_review", "comment": "batch"},
    )
    assert bulk.status_code == 200, bulk.text
    assert bulk.json()["changed"] == [first]
    assert list(bulk.json()["skipped"]) == [second]
    assert "cannot go to in_review; allowed: open" in bulk.json()["skipped"][second]
    assert officer.get(f"/api/v1/alerts/{first}/comments").json()[-1]["body"] == "batch"
    assert officer.get(f"/api/v1/alerts/{second}/comments").json() == []  # skipped: no comment either
    assigned_all = officer.post(
        "/api/v1/bulk/assign", json={"filter": {"jurisdiction": ["fr"]}, "assignee": "t.l"}
    )
    assert sorted(assigned_all.json()["changed"]) == sorted(a.id for a in seed)
    assert {app.store.get(a.id).assignee for a in seed} == {"t.l"}
