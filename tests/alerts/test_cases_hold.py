"""Cases and legal hold on real SQLite and PostgreSQL: retention never removes what a hold keeps.

SEC Rule 17a-4 and litigation holds require records under hold to survive their ordinary disposal;
GDPR art. 17(3)(e) allows keeping data needed for legal claims. So a due alert of a held case must
come out of `apply_retention` unchanged, the report must say it was kept, and releasing the hold
must hand it back to retention.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from alerts.audit import CLI_ACTOR, Actor
from alerts.cases import CaseNotFound, CaseStatus
from alerts.lifecycle import AlertNotFound, LifecycleError
from alerts.model import Alert, AlertStatus, Verdict
from alerts.retention import ANONYMISED, RetentionPolicy
from alerts.store import SqlAlertStore

OFFICER = Actor(name="c.dupont", role="officer")
REASON = "Litigation hold: matter 2026-17 (Dupont v. Acme)"
LATER = datetime.now(UTC) + timedelta(days=400)


def _closed(store: SqlAlertStore, alert: Alert) -> None:
    store.transition(alert.id, AlertStatus.CLOSED, OFFICER, verdict=Verdict.BENIGN)


@pytest.mark.parametrize("mode", ["anonymise", "delete"])
def test_a_held_case_survives_retention_and_release_lets_it_go(
    store: SqlAlertStore, make_alert: Callable[..., Alert], mode: str
) -> None:
    held, loose = make_alert(), make_alert(jurisdiction="US")
    also_held_us = make_alert(jurisdiction="US")
    store.add_many([held, loose, also_held_us])
    for alert in (held, loose, also_held_us):
        _closed(store, alert)
    case = store.create_case("Matter 2026-17", "c.dupont", OFFICER)
    assert store.add_case_items(case.id, [held.id, also_held_us.id], OFFICER) == [held.id, also_held_us.id]
    store.hold_case(case.id, REASON, OFFICER)
    assert store.held_alert_ids([held.id, loose.id, also_held_us.id, "nope"]) == {held.id, also_held_us.id}

    policy = RetentionPolicy.from_settings({"*": 30}, mode)  # type: ignore[arg-type]
    dry = store.apply_retention(policy, CLI_ACTOR, now=LATER, dry_run=True)
    assert dry.by_jurisdiction == {"US": 1}
    assert dry.held_by_jurisdiction == {"FR": 1, "US": 1}
    assert dry.held_by_case == {case.id: 2}
    assert "legal hold: 2 due alerts would be kept" in dry.summary()
    assert case.id in dry.summary()

    report = store.apply_retention(policy, CLI_ACTOR, now=LATER)
    assert report.by_jurisdiction == {"US": 1} and report.held == 2
    kept = store.get(held.id)
    assert kept is not None and kept.anonymised_at is None
    assert kept.author_id == held.author_id and kept.evidence[0].span == "jean@example.org"
    gone = store.get(loose.id)
    assert gone is None if mode == "delete" else gone is not None and gone.author_id == ANONYMISED

    # Closing the case does not end the hold: only a release does.
    store.update_case(case.id, OFFICER, status=CaseStatus.CLOSED)
    assert store.apply_retention(policy, CLI_ACTOR, now=LATER).held == 2

    store.release_case(case.id, "Matter 2026-17 settled; counsel released the hold", OFFICER)
    assert store.held_alert_ids([held.id]) == set()
    after = store.apply_retention(policy, CLI_ACTOR, now=LATER)
    assert after.by_jurisdiction == {"FR": 1, "US": 1} and after.held == 0
    released = store.get(held.id)
    assert released is None if mode == "delete" else released is not None and released.author_id == ANONYMISED


def test_an_alert_in_two_held_cases_counts_once_per_jurisdiction(
    store: SqlAlertStore, make_alert: Callable[..., Alert]
) -> None:
    alert = make_alert()
    store.add_many([alert])
    _closed(store, alert)
    first, second = (store.create_case(f"Matter {n}", "c.dupont", OFFICER) for n in (1, 2))
    for case in (first, second):
        store.add_case_items(case.id, [alert.id], OFFICER)
        store.hold_case(case.id, REASON, OFFICER)
    report = store.apply_retention(RetentionPolicy.from_settings({"*": 1}, "delete"), CLI_ACTOR, now=LATER)
    assert report.total == 0
    assert report.held_by_jurisdiction == {"FR": 1}
    assert report.held_by_case == {first.id: 1, second.id: 1}
    # Released in one case, still held by the other.
    store.release_case(first.id, "Matter 1 closed by counsel, no claim", OFFICER)
    assert store.held_alert_ids([alert.id]) == {alert.id}
    assert store.get(alert.id) is not None


def test_case_changes_are_audited_and_checked(store: SqlAlertStore, make_alert: Callable[..., Alert]) -> None:
    alert = make_alert()
    store.add_many([alert])
    case = store.create_case("Front-running review", "c.dupont", OFFICER)
    store.add_case_items(case.id, [alert.id, alert.id], OFFICER)
    assert store.add_case_items(case.id, [alert.id], OFFICER) == []  # already in: nothing added
    store.add_case_note(case.id, "Asked the desk head for the chat export.", OFFICER)
    store.update_case(case.id, OFFICER, title="Front-running review Q1", owner="m.martin")
    store.hold_case(case.id, REASON, OFFICER)
    with pytest.raises(LifecycleError, match="release the hold before removing"):
        store.remove_case_items(case.id, [alert.id], OFFICER)
    with pytest.raises(LifecycleError, match="already under legal hold"):
        store.hold_case(case.id, REASON, OFFICER)
    store.release_case(case.id, "Matter closed by counsel on 2026-11-30", OFFICER)
    assert store.remove_case_items(case.id, [alert.id], OFFICER) == [alert.id]

    actions = [e.action for e in store.audit_entries(target=f"case:{case.id}", limit=None)]
    assert actions == [
        "case.create", "case.add_items", "case.note", "case.update", "case.hold", "case.release",
        "case.remove_items",
    ]
    hold = store.audit_entries(target=f"case:{case.id}", limit=None)[4]
    assert hold.actor == "c.dupont" and hold.after == {"reason": REASON, "items": 1}
    store.verify_audit()

    shown = store.get_case(case.id)
    assert shown.title == "Front-running review Q1" and shown.owner == "m.martin"
    assert [n.body for n in shown.notes] == ["Asked the desk head for the chat export."]
    assert shown.items == [] and not shown.held
    assert [c.id for c in store.list_cases()] == [case.id]
    assert store.list_cases(held=True) == []


def test_bad_case_requests_are_refused_with_what_to_fix(
    store: SqlAlertStore, make_alert: Callable[..., Alert]
) -> None:
    case = store.create_case("Matter", "c.dupont", OFFICER)
    with pytest.raises(AlertNotFound, match="'no-such-alert'"):
        store.add_case_items(case.id, ["no-such-alert"], OFFICER)
    assert store.get_case(case.id).items == []
    with pytest.raises(CaseNotFound, match="veille cases list"):
        store.get_case("nope")
    with pytest.raises(LifecycleError, match="at least 10 characters"):
        store.hold_case(case.id, "because", OFFICER)
    with pytest.raises(LifecycleError, match="not under legal hold"):
        store.release_case(case.id, "nothing to release here", OFFICER)
    with pytest.raises(LifecycleError, match="title must not be blank"):
        store.create_case("  ", "c.dupont", OFFICER)
