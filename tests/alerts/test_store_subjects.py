"""A data subject's access and erasure requests on a real store (SQLite and PostgreSQL).

Written from GDPR art. 15 (everything about the person) and art. 17(3) (erasure gives way to a legal
obligation to keep, SEC 17a-4 / FCA SYSC 10A, and to legal claims, a legal hold).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from alerts.audit import Actor
from alerts.lifecycle import LifecycleError
from alerts.model import Alert
from alerts.privacy import author_pseudonym
from alerts.retention import ANONYMISED
from alerts.store import SqlAlertStore
from alerts.subjects import ACTION_ERASE, ACTION_ERASE_REFUSED, ACTION_REQUEST, decide

NOW = datetime.now(UTC)
KEY = b"k"
SUBJECT = "subj-1"
DPO = Actor(name="dpo.martin", role="admin")
OFFICER = Actor(name="officer-1", role="officer")
REGIMES = {"US": (1095, "SEC Rule 17a-4"), "GB": (1825, "FCA SYSC 10A")}


def _seed(store: SqlAlertStore, make_alert: Callable[..., Alert]) -> dict[str, Alert]:
    recent, old = NOW - timedelta(days=30), NOW - timedelta(days=4 * 365)
    alerts = {
        "fr": make_alert(author_id=SUBJECT, jurisdiction="FR", post_created_at=recent),
        "us_recent": make_alert(author_id=SUBJECT, jurisdiction="US", post_created_at=recent),
        "us_old": make_alert(author_id=SUBJECT, jurisdiction="US", post_created_at=old, created_at=old),
        "gb_recent": make_alert(author_id=SUBJECT, jurisdiction="GB", post_created_at=recent),
        "held": make_alert(author_id=SUBJECT, jurisdiction="FR", post_created_at=recent),
        "reputation": make_alert(author_id=author_pseudonym(KEY, SUBJECT), jurisdiction="FR",
                                 purpose="reputation", rule_id="global-negative-employee-external"),
        "other": make_alert(author_id="other-9", jurisdiction="FR"),
    }
    store.add_many(list(alerts.values()))
    store.comment(alerts["fr"].id, "called subj-1 about it", OFFICER)
    store.comment(alerts["other"].id, "nothing to do with the subject", OFFICER)
    store.reveal(alerts["us_recent"].id, "FINRA exam request 2026-4", OFFICER)
    return alerts


def _ids() -> list[str]:
    return [SUBJECT, author_pseudonym(KEY, SUBJECT)]


def test_access_lists_every_alert_comment_and_audit_entry_about_the_person(
    store: SqlAlertStore, make_alert: Callable[..., Alert]
) -> None:
    alerts = _seed(store, make_alert)
    found = store.subject_items(_ids())
    mine = {k: a.id for k, a in alerts.items() if k != "other"}
    assert sorted(a.id for a in found["alerts"]) == sorted(mine.values())
    assert [(c["alert_id"], c["body"]) for c in found["comments"]] == [(mine["fr"], "called subj-1 about it")]
    actions = sorted((e.target, e.action) for e in found["audit"])
    assert actions == sorted([(f"alert:{mine['us_recent']}", "alert.reveal"),
                              (f"alert:{mine['fr']}", "alert.comment")])
    assert all(e.target != f"alert:{alerts['other'].id}" for e in found["audit"])
    assert store.subject_items(["nobody"]) == {"alerts": [], "comments": [], "audit": []}


def test_erasure_anonymises_what_it_may_refuses_held_and_retained_and_is_audited(
    store: SqlAlertStore, make_alert: Callable[..., Alert]
) -> None:
    alerts = _seed(store, make_alert)
    found = store.subject_items(_ids())["alerts"]
    decisions = decide(found, {alerts["held"].id}, REGIMES.get, NOW)
    by_id = {d.alert_id: d for d in decisions}
    erased = {k for k, a in alerts.items() if a.id in by_id and by_id[a.id].erase}
    assert erased == {"fr", "us_old", "reputation"}
    assert "legal hold" in by_id[alerts["held"].id].reason
    assert by_id[alerts["us_recent"].id].reason.startswith("regulatory retention until ")
    assert "SEC Rule 17a-4" in by_id[alerts["us_recent"].id].reason
    assert "FCA SYSC 10A" in by_id[alerts["gb_recent"].id].reason

    store.erase_subject(decisions, "DSAR 2026-117 from the employee", DPO)

    for key in ("fr", "us_old", "reputation"):
        after = store.get(alerts[key].id)
        assert after is not None and after.anonymised_at is not None
        assert after.author_id == ANONYMISED and after.post_id == ANONYMISED
        assert all(e.span is None and e.snippet == ANONYMISED for e in after.evidence)
    for key in ("us_recent", "gb_recent", "held"):
        kept = store.get(alerts[key].id)
        assert kept is not None and kept.author_id == SUBJECT and kept.anonymised_at is None
    other = store.get(alerts["other"].id)
    assert other is not None and other.author_id == "other-9" and other.anonymised_at is None
    assert [c["body"] for c in store.comments(alerts["fr"].id)] == [ANONYMISED]
    assert [c["body"] for c in store.comments(alerts["other"].id)] == ["nothing to do with the subject"]

    entries = store.audit_entries(limit=None)
    decided = {(e.target, e.action): e.after for e in entries if e.action.startswith("subject.")}
    assert decided[(f"alert:{alerts['fr'].id}", ACTION_ERASE)] == {
        "reason": "DSAR 2026-117 from the employee",
        "decision": "no legal hold or regulatory retention applies"}
    held = decided[(f"alert:{alerts['held'].id}", ACTION_ERASE_REFUSED)]
    assert held["decision"].startswith("under legal hold")
    assert decided[("subject", ACTION_REQUEST)] == {
        "reason": "DSAR 2026-117 from the employee", "erased": 3, "refused": 3}
    ours = [e for e in entries if e.action.startswith("subject.")]
    assert all(e.actor == "dpo.martin" for e in ours)
    assert SUBJECT not in "".join(repr(e.after) + e.target for e in ours)
    store.verify_audit()  # the chain still holds

    # Nothing links the erased alerts to the person any more; what was kept is still found.
    again = store.subject_items(_ids())
    kept = sorted(alerts[k].id for k in ("us_recent", "gb_recent", "held"))
    assert sorted(a.id for a in again["alerts"]) == kept
    assert again["comments"] == []


def test_erasure_needs_a_reason(store: SqlAlertStore) -> None:
    with pytest.raises(LifecycleError, match="at least 10 characters"):
        store.erase_subject([], "because", DPO)
