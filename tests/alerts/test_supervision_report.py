"""The supervision report (FINRA Rule 3110.07) against the store, on SQLite and PostgreSQL.

A seeded data set of alerts and samples, reviewed, viewed and assigned at random by several people;
the expected figures are computed here from what the test did and the audit entries it caused, by a
path that shares nothing with the report's query.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.audit import Actor
from alerts.model import Alert, AlertKind, AlertStatus, Verdict
from alerts.sampling import SAMPLE_RULE_ID
from alerts.store import SqlAlertStore
from alerts.supervision import NO_POPULATION, to_csv

POPULATIONS = ("reps", "external", None)
PEOPLE = ("alice", "bob", "carol")


def _seed(store: SqlAlertStore, make_alert: Callable[..., Alert], start: datetime) -> dict[str, Any]:
    rng = random.Random(20261201)
    items: list[Alert] = []
    for n in range(80):
        kind = rng.choice((AlertKind.ALERT, AlertKind.SAMPLE))
        # Two days before the period to two days after it (the period is 7 days long).
        created = start + timedelta(minutes=rng.randint(-2 * 1440, 9 * 1440))
        rule = SAMPLE_RULE_ID if kind is AlertKind.SAMPLE else "fr.pii.email"
        items.append(make_alert(f"p-{n}", rule, created_at=created, kind=kind,
                                population=rng.choice(POPULATIONS)))
    store.add_many(items)
    reviews: dict[str, str] = {}  # item id → who first reviewed it (transition or comment)
    for item in items:
        for _ in range(rng.randint(0, 4)):
            who = Actor(name=rng.choice(PEOPLE), role="officer")
            step = rng.choice(("view", "assign", "comment", "transition"))
            if step == "view":
                store.record_view(item.id, who)
            elif step == "assign":
                store.assign(item.id, who.name, who)
            elif step == "comment":
                store.comment(item.id, "looked at it", who)
                reviews.setdefault(item.id, who.name)
            else:
                current = store.get(item.id)
                assert current is not None
                if current.status is AlertStatus.CLOSED:
                    store.transition(item.id, AlertStatus.OPEN, who, "second look")
                elif current.status is AlertStatus.OPEN:
                    store.transition(item.id, AlertStatus.ACKNOWLEDGED, who)
                else:
                    store.transition(item.id, AlertStatus.CLOSED, who, verdict=Verdict.BENIGN)
                reviews.setdefault(item.id, who.name)
    return {"items": items, "reviews": reviews}


def _first_review_at(store: SqlAlertStore, item_id: str) -> datetime:
    entries = store.audit_entries(target=f"alert:{item_id}", limit=None)
    return next(e.at for e in entries if e.action in ("alert.transition", "alert.comment"))


def _expected(store: SqlAlertStore, data: dict[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
    groups: dict[str, list[Alert]] = defaultdict(list)
    for item in data["items"]:
        if start <= item.created_at < end:
            groups[item.population or NO_POPULATION].append(item)
    out = {}
    for name, members in groups.items():
        reviewed = [m for m in members if m.id in data["reviews"]]
        delays = [(_first_review_at(store, m.id) - m.created_at).total_seconds() for m in reviewed]
        out[name] = {
            "sampled": sum(m.kind is AlertKind.SAMPLE for m in members),
            "alerts": sum(m.kind is AlertKind.ALERT for m in members),
            "reviewed": len(reviewed),
            "pending": len(members) - len(reviewed),
            "samples_reviewed": sum(m.kind is AlertKind.SAMPLE for m in reviewed),
            "by_reviewer": dict(Counter(data["reviews"][m.id] for m in reviewed)),
            "median": statistics.median(delays) if delays else None,
        }
    return out


@pytest.fixture
def period() -> tuple[datetime, datetime]:
    start = (datetime.now(UTC) - timedelta(days=30)).replace(microsecond=0)
    return start, start + timedelta(days=7)


def test_the_report_equals_the_store_on_a_seeded_data_set(
    store: SqlAlertStore, make_alert: Callable[..., Alert], period: tuple[datetime, datetime]
) -> None:
    start, end = period
    data = _seed(store, make_alert, start)
    expected = _expected(store, data, start, end)
    report = store.supervision_report(start, end)
    got = {f.population: f for f in report.populations}
    assert set(got) == set(expected)
    assert len(expected) == 3 and any(e["reviewed"] for e in expected.values())
    for name, want in expected.items():
        figures = got[name]
        assert (figures.sampled, figures.alerts, figures.reviewed, figures.pending) == (
            want["sampled"], want["alerts"], want["reviewed"], want["pending"]
        ), name
        assert figures.samples_reviewed == want["samples_reviewed"]
        assert figures.samples_pending == want["sampled"] - want["samples_reviewed"]
        assert figures.by_reviewer == want["by_reviewer"], name
        if want["median"] is None:
            assert figures.median_seconds_to_review is None
        else:
            assert figures.median_seconds_to_review == pytest.approx(want["median"], abs=1e-3)
    total = report.total
    assert total.sampled == sum(e["sampled"] for e in expected.values())
    assert total.reviewed + total.pending == sum(e["sampled"] + e["alerts"] for e in expected.values())

    only = store.supervision_report(start, end, populations=["reps"])
    assert [f.population for f in only.populations] == ["reps"]
    assert only.total.model_dump(exclude={"population"}) == got["reps"].model_dump(exclude={"population"})

    # Before anyone acted, everything of the period was pending.
    early = store.supervision_report(start, end, as_of=start)
    assert early.total.reviewed == 0 and early.total.pending == total.reviewed + total.pending

    lines = to_csv(report).splitlines()
    assert lines[0].startswith("from,to,as_of,population,sampled,alerts,reviewed,pending")
    assert len(lines) == 1 + len(expected) + 1


def test_a_view_or_an_assignment_is_not_a_review(
    store: SqlAlertStore, make_alert: Callable[..., Alert], period: tuple[datetime, datetime]
) -> None:
    start, end = period
    sample = make_alert("p-view", SAMPLE_RULE_ID, created_at=start + timedelta(hours=1),
                        kind=AlertKind.SAMPLE, population="reps")
    store.add_many([sample])
    dave = Actor(name="dave", role="officer")
    store.record_view(sample.id, dave)
    store.assign(sample.id, "dave", dave)
    (figures,) = store.supervision_report(start, end).populations
    assert (figures.sampled, figures.reviewed, figures.pending) == (1, 0, 1)
    store.transition(sample.id, AlertStatus.CLOSED, dave, verdict=Verdict.BENIGN)
    (figures,) = store.supervision_report(start, end).populations
    assert (figures.reviewed, figures.pending, figures.by_reviewer) == (1, 0, {"dave": 1})


def test_an_empty_period_is_refused(store: SqlAlertStore, period: tuple[datetime, datetime]) -> None:
    start, _ = period
    with pytest.raises(ValueError, match="must be earlier than"):
        store.supervision_report(start, start)
