"""Review levels over real HTTP, on SQLite and PostgreSQL: a first-level reviewer works the queue and
escalates; the second level answers escalations, approves four-eyes closures (never their own) and
reviews a sample of first-level closures. FINRA Rule 3110.08: review may be delegated, responsibility
may not; Rule 3110.07: the evidence of each review names who did what, when.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from alerts.audit import CLI_ACTOR, Actor
from alerts.levels import SECOND_LEVEL_ROLES, QaSampling, approval_reasons
from alerts.model import Alert, Severity, Verdict
from alerts.tokens import Role
from api.auth import route_table
from monitor.settings import Settings
from tests.review.conftest import make_alert

REVIEWER = Actor(name="r", role=Role.REVIEWER.value)
PRINCIPAL = Actor(name="p", role=Role.PRINCIPAL.value)
OFFICER = Actor(name="o", role=Role.OFFICER.value)
CRITICAL_FP = "a critical alert closed as false_positive"
FOUR_EYES_0 = "rule test.rule.0 is marked four_eyes in its pack"


def _alert(i: int, *, severity: Severity = Severity.HIGH, four_eyes: bool = False) -> Alert:
    return make_alert(i, f"test.rule.{i}", personal=False).model_copy(
        update={"severity": severity, "four_eyes": four_eyes}
    )


@pytest.mark.parametrize(
    ("severity", "four_eyes", "verdict", "by", "needs"),
    [
        (Severity.CRITICAL, False, Verdict.FALSE_POSITIVE, PRINCIPAL, [CRITICAL_FP]),
        (Severity.CRITICAL, False, Verdict.FALSE_POSITIVE, OFFICER, [CRITICAL_FP]),
        (Severity.CRITICAL, False, Verdict.TRUE_POSITIVE, OFFICER, []),
        (Severity.CRITICAL, False, Verdict.TRUE_POSITIVE, REVIEWER,
         ["a critical alert closed by a first-level reviewer (reviewer)"]),
        (Severity.HIGH, True, Verdict.TRUE_POSITIVE, OFFICER, [FOUR_EYES_0]),
        (Severity.HIGH, False, Verdict.FALSE_POSITIVE, REVIEWER, []),
        (Severity.HIGH, False, Verdict.TRUE_POSITIVE, REVIEWER, []),
    ],
)  # fmt: skip
def test_which_closures_need_a_second_reviewer(
    severity: Severity, four_eyes: bool, verdict: Verdict, by: Actor, needs: list[str]
) -> None:
    assert approval_reasons(_alert(0, severity=severity, four_eyes=four_eyes), verdict, by) == needs


def test_second_level_routes_are_closed_to_first_level_reviewers(
    live: Callable[..., Any], sqlite_url: str
) -> None:
    # What the route x role matrix (test_review_auth.py) enforces over HTTP, said here per level.
    table = route_table(live(sqlite_url).app)
    roles = {(r.path, m): r.roles for r in table for m in r.methods}
    for path in ("/api/v1/alerts/{alert_id}/approval", "/api/v1/alerts/{alert_id}/qa",
                 "/api/v1/alerts/{alert_id}/reveal", "/api/v1/silences", "/api/v1/audit"):  # fmt: skip
        method = "GET" if path.endswith(("/silences", "/audit")) else "POST"
        assert roles[(path, method)] == SECOND_LEVEL_ROLES, path
    for path in ("/api/v1/alerts/{alert_id}/transition", "/api/v1/alerts/{alert_id}/assign",
                 "/api/v1/alerts/{alert_id}/comments", "/api/v1/bulk/transition"):  # fmt: skip
        assert {Role.REVIEWER, Role.PRINCIPAL} <= (roles[(path, "POST")] or set()), path
    assert Role.PRINCIPAL in (roles[("/api/v1/analytics/counts", "GET")] or set())


def _transition(client: Any, alert_id: str, **body: Any) -> Any:
    return client.post(f"/api/v1/alerts/{alert_id}/transition", json=body)


def _decide(client: Any, alert_id: str, **body: Any) -> Any:
    return client.post(f"/api/v1/alerts/{alert_id}/approval", json=body)


def test_four_eyes_closures_wait_for_a_different_second_level_reviewer(
    live: Callable[..., Any], database_url: str
) -> None:
    four_eyes, critical, plain, critical_tp, officer_critical = (
        _alert(1, four_eyes=True), _alert(2, severity=Severity.CRITICAL), _alert(3),
        _alert(4, severity=Severity.CRITICAL), _alert(5, severity=Severity.CRITICAL),
    )  # fmt: skip
    app = live(database_url, alerts=[four_eyes, critical, plain, critical_tp, officer_critical])
    reviewer, principal, officer = (app.client(r) for r in (Role.REVIEWER, Role.PRINCIPAL, Role.OFFICER))
    second_principal = app.client(token=app.store.create_token("principal-2", Role.PRINCIPAL, CLI_ACTOR)[1])

    # A rule marked four_eyes: the reviewer's close is only a request.
    requested = _transition(reviewer, four_eyes.id, to="closed", verdict="true_positive", ticket="T-1")
    assert requested.status_code == 200, requested.text
    body = requested.json()
    assert (body["status"], body["verdict"], body["closed_at"]) == ("pending_approval", None, None)
    assert (body["approval_verdict"], body["approval_ticket"], body["approval_requested_by"]) == (
        "true_positive", "T-1", "reviewer-1",
    )  # fmt: skip
    assert body["four_eyes"] is True
    # The first level neither decides nor moves it on.
    denied = _decide(reviewer, four_eyes.id, decision="approve")
    assert denied.status_code == 403
    assert denied.json()["detail"].startswith("role reviewer may not call POST /api/v1/alerts/")
    moved = _transition(reviewer, four_eyes.id, to="in_review")
    assert moved.status_code == 403
    assert moved.json()["detail"] == (
        f"alert {four_eyes.id!r} is pending_approval: only a second-level reviewer (admin, officer, "
        "principal) may change it; role reviewer may comment on it"
    )
    # The second level answers through the approval route, not a plain transition.
    conflict = _transition(officer, four_eyes.id, to="closed", verdict="benign")
    assert conflict.status_code == 409
    assert "awaits approval of its closure as true_positive requested by reviewer-1" in conflict.text
    no_reason = _decide(officer, four_eyes.id, decision="reject")
    assert (no_reason.status_code, no_reason.json()["detail"]) == (
        422, f"rejecting the closure of alert {four_eyes.id!r} needs a reason",
    )  # fmt: skip
    rejected = _decide(officer, four_eyes.id, decision="reject", reason="the post names a client")
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["approval_verdict"], rejected.json()["verdict"]) == (
        "in_review", None, None,
    )  # fmt: skip
    assert app.store.get(four_eyes.id).approval_requested_by is None

    # A critical false positive: even a principal only asks, and may not approve their own request.
    asked = _transition(principal, critical.id, to="closed", verdict="false_positive", comment="test data")
    assert asked.json()["status"] == "pending_approval"
    own = _decide(principal, critical.id, decision="approve")
    assert own.status_code == 403
    assert own.json()["detail"] == (
        f"principal-1 requested the closure of alert {critical.id!r} and may not approve or reject it: "
        "four eyes need a different second-level reviewer"
    )
    queue = second_principal.get("/api/v1/alerts", params={"status": "pending_approval"}).json()
    assert [a["id"] for a in queue["data"]] == [critical.id]
    approved = _decide(second_principal, critical.id, decision="approve", comment="agreed: test data")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["verdict"], approved.json()["closed_by"]) == (
        "closed", "false_positive", "principal-2",
    )  # fmt: skip
    again = _decide(officer, critical.id, decision="approve")
    assert again.status_code == 422 and "only a closure awaiting approval" in again.json()["detail"]

    # No four eyes needed: a first-level true positive on a high alert, a second-level one on a critical.
    assert _transition(reviewer, plain.id, to="closed", verdict="true_positive").json()["status"] == "closed"
    assert _transition(officer, officer_critical.id, to="closed", verdict="true_positive").json()[
        "status"
    ] == "closed"
    # A first-level reviewer never closes a critical alert alone, whatever the verdict.
    assert _transition(reviewer, critical_tp.id, to="closed", verdict="true_positive").json()[
        "status"
    ] == "pending_approval"
    # Nobody asks for pending_approval directly.
    direct = _transition(officer, plain.id, to="pending_approval")
    assert direct.status_code == 409 and "send closed with a verdict" in direct.json()["detail"]

    # Evidence of review: who asked, who decided, what, in the chain, which still verifies.
    trail = app.client(Role.PRINCIPAL).get("/api/v1/audit", params={"target": f"alert:{critical.id}"})
    actions = [(e["actor"], e["action"], (e["after"] or {}).get("decision")) for e in trail.json()["data"]]
    assert ("principal-1", "alert.approval_requested", None) in actions
    assert ("principal-2", "alert.approval", "approved") in actions
    entries = app.store.audit_entries(target=f"alert:{four_eyes.id}")
    request = next(e for e in entries if e.action == "alert.approval_requested")
    assert request.after is not None and request.after["needs_approval"] == [
        f"rule {four_eyes.rule_id} is marked four_eyes in its pack"
    ]
    assert app.client(Role.ADMIN).get("/api/v1/audit/verify").json()["ok"] is True


def test_escalated_alerts_belong_to_the_second_level(live: Callable[..., Any], database_url: str) -> None:
    alerts = [_alert(i) for i in range(1, 4)] + [_alert(4, severity=Severity.CRITICAL)]
    app = live(database_url, alerts=alerts)
    reviewer, principal = app.client(Role.REVIEWER), app.client(Role.PRINCIPAL)
    escalated, other, mine, critical = (a.id for a in alerts)

    assert _transition(reviewer, escalated, to="escalated").json()["status"] == "escalated"
    for response in (
        _transition(reviewer, escalated, to="in_review"),
        _transition(reviewer, escalated, to="closed", verdict="benign"),
        reviewer.post(f"/api/v1/alerts/{escalated}/assign", json={"assignee": "reviewer-1"}),
    ):
        assert response.status_code == 403
        assert response.json()["detail"] == (
            f"alert {escalated!r} is escalated: only a second-level reviewer (admin, officer, principal) "
            "may change it; role reviewer may comment on it"
        )
    commented = reviewer.post(f"/api/v1/alerts/{escalated}/comments", json={"body": "see thread"})
    assert commented.status_code == 201
    assert app.store.get(escalated).status.value == "escalated"  # nothing changed
    assert principal.post(f"/api/v1/alerts/{escalated}/assign", json={"assignee": "j.doe"}).status_code == 200
    assert _transition(principal, escalated, to="in_review").json()["status"] == "in_review"

    # A first-level reviewer takes work for themselves only.
    other_assign = reviewer.post(f"/api/v1/alerts/{other}/assign", json={"assignee": "j.doe"})
    assert (other_assign.status_code, other_assign.json()["detail"]) == (
        403, "role reviewer may assign alerts to themselves only (assignee 'reviewer-1'), not to 'j.doe'; "
        "a second-level reviewer dispatches work to others",
    )  # fmt: skip
    assert reviewer.post(f"/api/v1/alerts/{mine}/assign", json={"assignee": "reviewer-1"}).status_code == 200
    unassign = reviewer.post(f"/api/v1/alerts/{escalated}/assign", json={"assignee": None})
    assert unassign.status_code == 403 and "assigned to 'j.doe'" in unassign.json()["detail"]

    # Bulk: what the level refuses is skipped with the reason; critical closures wait for approval.
    _transition(principal, other, to="escalated")
    bulk = reviewer.post(
        "/api/v1/bulk/transition",
        json={"filter": {"id": [other, mine, critical]}, "to": "closed", "verdict": "true_positive"},
    )
    assert bulk.status_code == 200, bulk.text
    assert sorted(bulk.json()["changed"]) == sorted([mine, critical])
    assert bulk.json()["pending_approval"] == [critical]
    assert "is escalated: only a second-level reviewer" in bulk.json()["skipped"][other]
    assert app.store.get(mine).status.value == "closed"
    assert app.store.get(critical).status.value == "pending_approval"
    assert app.client(Role.ADMIN).get("/api/v1/audit/verify").json()["ok"] is True


QA_KEY = "qa-key-for-tests-0123456789"


def test_the_qa_draw_is_reproducible_keyed_and_binomial() -> None:
    ids = [f"alert-{i:05d}" for i in range(10_000)]
    sampling = QaSampling(rate=0.1, key=QA_KEY.encode())
    drawn = {i for i in ids if sampling.drawn(i)}
    # 10,000 Bernoulli(0.1) draws: 1,000 expected, standard deviation 30; 5 sigma is ~1 in 3.5 million.
    assert abs(len(drawn) - 1000) < 5 * 30
    assert drawn == {i for i in ids if QaSampling(rate=0.1, key=QA_KEY.encode()).drawn(i)}
    other_key = {i for i in ids if QaSampling(rate=0.1, key=b"another-key-0123456789").drawn(i)}
    assert len(drawn & other_key) < 200  # independent draws overlap on ~100
    assert not any(QaSampling(rate=0.0, key=QA_KEY.encode()).drawn(i) for i in ids)
    assert all(QaSampling(rate=1.0, key=QA_KEY.encode()).drawn(i) for i in ids[:100])
    with pytest.raises(ValueError, match="from 0 to 1"):
        QaSampling(rate=1.5, key=QA_KEY.encode())
    with pytest.raises(ValueError, match="at least 16 bytes"):
        QaSampling(rate=0.1, key=b"short")


def test_a_sample_of_first_level_closures_goes_to_qa(live: Callable[..., Any], database_url: str) -> None:
    rate, n = 0.25, 300
    settings = Settings(_env_file=None, pseudonym_key="test-key", qa_sample_rate=rate, qa_sample_key=QA_KEY)
    alerts = [_alert(i) for i in range(n)] + [_alert(n + i) for i in range(40)]
    app = live(database_url, settings=settings, alerts=alerts)
    reviewer, principal, officer = (app.client(r) for r in (Role.REVIEWER, Role.PRINCIPAL, Role.OFFICER))
    first_level = [a.id for a in alerts[:n]]
    second_level = [a.id for a in alerts[n:]]

    closed = reviewer.post(
        "/api/v1/bulk/transition",
        json={"filter": {"id": first_level}, "to": "closed", "verdict": "benign"},
    )
    assert closed.status_code == 200 and len(closed.json()["changed"]) == n
    officer.post(
        "/api/v1/bulk/transition",
        json={"filter": {"id": second_level}, "to": "closed", "verdict": "benign"},
    )

    queue, cursor = [], None
    while True:
        params = {"qa": "pending", "limit": 500, **({"cursor": cursor} if cursor else {})}
        page = principal.get("/api/v1/alerts", params=params).json()
        queue += [a["id"] for a in page["data"]]
        if not (cursor := page["next_cursor"]):
            break
    # Reproducible: exactly the alerts the keyed draw picks, none of the second level's closures.
    expected = {i for i in first_level if QaSampling(rate=rate, key=QA_KEY.encode()).drawn(i)}
    assert set(queue) == expected
    # Within binomial bounds: n=300, p=0.25: mean 75, standard deviation 7.5, 5 sigma either side.
    assert abs(len(queue) - n * rate) < 5 * math.sqrt(n * rate * (1 - rate))
    assert all(app.store.get(i).qa_status is None for i in second_level)

    sampled, not_sampled = sorted(expected)[0], next(i for i in first_level if i not in expected)
    assert reviewer.post(f"/api/v1/alerts/{sampled}/qa", json={"outcome": "agree"}).status_code == 403
    blank = principal.post(f"/api/v1/alerts/{sampled}/qa", json={"outcome": "disagree"})
    assert (blank.status_code, blank.json()["detail"]) == (422, "comment is required")
    assert principal.post(f"/api/v1/alerts/{sampled}/qa", json={"outcome": "pending"}).status_code == 422
    disagreed = principal.post(
        f"/api/v1/alerts/{sampled}/qa", json={"outcome": "disagree", "comment": "a true positive: coach"}
    )
    assert disagreed.status_code == 200 and disagreed.json()["qa_status"] == "disagree"
    twice = principal.post(f"/api/v1/alerts/{sampled}/qa", json={"outcome": "agree"})
    assert twice.status_code == 422 and "already has its QA outcome (disagree)" in twice.json()["detail"]
    undrawn = principal.post(f"/api/v1/alerts/{not_sampled}/qa", json={"outcome": "agree"})
    assert undrawn.status_code == 422 and "was not drawn for QA" in undrawn.json()["detail"]
    still_pending = principal.get("/api/v1/alerts", params={"qa": "pending"}).json()["data"]
    assert sampled not in [a["id"] for a in still_pending]

    entries = app.store.audit_entries(target=f"alert:{sampled}")
    close = next(e for e in entries if e.action == "alert.transition")
    assert close.actor == "reviewer-1" and close.after is not None and close.after["qa_sample"] is True
    qa = next(e for e in entries if e.action == "alert.qa")
    assert (qa.actor, qa.role, qa.after["qa_status"]) == ("principal-1", "principal", "disagree")  # type: ignore[index]
    assert "coach" not in str(qa.after)  # the comment's text stays in the comments, as for any comment
    # Reopening ends the draw of that closure.
    reopened = officer.post(f"/api/v1/alerts/{expected.difference({sampled}).pop()}/transition",
                            json={"to": "open", "reason": "new posts"})  # fmt: skip
    assert reopened.json()["qa_status"] is None
    assert app.client(Role.ADMIN).get("/api/v1/audit/verify").json()["ok"] is True
