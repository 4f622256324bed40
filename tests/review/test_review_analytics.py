"""Counts and per-rule precision over real HTTP, readable by ops (numbers, never content)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from alerts.audit import CLI_ACTOR
from alerts.model import Alert, AlertStatus, Verdict
from alerts.tokens import Role


def test_counts_and_precision_from_verdicts(
    live: Callable[[str], Any], database_url: str, seed: list[Alert]
) -> None:
    app = live(database_url)
    extra = [a.model_copy(update={"id": f"{a.id[:28]}x{i:03d}"}) for i, a in enumerate(seed * 2)]
    app.store.add_many(extra)  # 12 alerts: 3 per rule
    by_rule: dict[str, list[str]] = {}
    for alert in [*seed, *extra]:
        by_rule.setdefault(alert.rule_id, []).append(alert.id)
    email, phone = by_rule["fr.pii.email"], by_rule["eu.pii.phone"]
    for alert_id, verdict in [
        (email[0], "true_positive"),
        (email[1], "false_positive"),
        (email[2], "true_positive"),
    ]:
        app.store.transition(alert_id, AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict(verdict))
    app.store.transition(phone[0], AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.BENIGN)
    app.store.transition(phone[1], AlertStatus.ACKNOWLEDGED, CLI_ACTOR)  # not closed: not counted
    # Reopened: its earlier verdict no longer counts.
    app.store.transition(phone[2], AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.TRUE_POSITIVE)
    app.store.transition(phone[2], AlertStatus.OPEN, CLI_ACTOR, "more posts")

    ops = app.client(Role.OPS)
    counts = ops.get("/api/v1/analytics/counts", params={"by": "rule_id"}).json()
    assert counts == {
        "by": "rule_id",
        "total": 12,
        "counts": {rule: 3 for rule in sorted(by_rule)},
    }
    by_status = ops.get("/api/v1/analytics/counts", params={"by": "status", "rule": "eu.pii.phone"}).json()
    assert by_status["counts"] == {"acknowledged": 1, "closed": 1, "open": 1}

    report = ops.get("/api/v1/analytics/precision").json()["rules"]
    assert report == [
        {"rule_id": "eu.pii.phone", "closed_with_verdict": 1, "true_positive": 0, "false_positive": 0,
         "benign": 1, "duplicate": 0, "precision": 0.0},
        {"rule_id": "fr.pii.email", "closed_with_verdict": 3, "true_positive": 2, "false_positive": 1,
         "benign": 0, "duplicate": 0, "precision": 0.6667},
    ]  # fmt: skip

    scrape = ops.get("/metrics").text
    assert 'veille_review_rule_precision{rule="fr.pii.email"} 0.6666666666666666' in scrape
    assert 'veille_review_rule_verdicts{rule="eu.pii.phone",verdict="benign"} 1.0' in scrape
    assert 'rule="fr.reputation.crisis_words"' not in scrape  # no verdict yet: no series

    bad = ops.get("/api/v1/analytics/counts", params={"by": "author_id"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "by"]
    assert app.client(Role.COMMS).get("/api/v1/analytics/counts").status_code == 403


NEXT_DAY = timedelta(hours=25, minutes=30)


def test_time_series_review_times_and_false_positive_ranking(
    live: Callable[[str], Any], database_url: str, seed: list[Alert]
) -> None:
    app = live(database_url)
    # seed: created 09:00, 09:01, 09:02, 09:03 on 2025-06-01; two more the next day at 10:30.
    later = [
        a.model_copy(update={"id": f"{a.id[:28]}y{i:03d}", "created_at": a.created_at + NEXT_DAY})
        for i, a in enumerate(seed[2:])
    ]
    app.store.add_many(later)
    ops = app.client(Role.OPS)
    day = ops.get("/api/v1/analytics/timeseries", params={"by": "severity", "bucket": "day"}).json()
    assert day == {
        "by": "severity",
        "bucket": "day",
        "series": [
            {"start": "2025-06-01T00:00:00Z", "counts": {"high": 4}},
            {"start": "2025-06-02T00:00:00Z", "counts": {"high": 2}},
        ],
    }
    hour = ops.get(
        "/api/v1/analytics/timeseries",
        params={"by": "rule_id", "bucket": "hour", "since": "2025-06-02T00:00:00Z"},
    ).json()
    assert hour["series"] == [
        {"start": "2025-06-02T10:00:00Z", "counts": {"eu.pii.phone": 1, "fr.pii.email": 1}}
    ]

    empty = ops.get("/api/v1/analytics/review-times").json()
    assert empty == {"time_to_acknowledge": {"count": 0, "mean_seconds": None, "median_seconds": None,
                                             "p90_seconds": None},
                     "time_to_close": {"count": 0, "mean_seconds": None, "median_seconds": None,
                                       "p90_seconds": None}}  # fmt: skip
    app.store.transition(seed[0].id, AlertStatus.ACKNOWLEDGED, CLI_ACTOR)
    app.store.transition(seed[0].id, AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.FALSE_POSITIVE)
    app.store.transition(seed[2].id, AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.FALSE_POSITIVE)
    app.store.transition(later[0].id, AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.FALSE_POSITIVE)
    app.store.transition(seed[3].id, AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.TRUE_POSITIVE)
    times = ops.get("/api/v1/analytics/review-times").json()
    assert times["time_to_acknowledge"]["count"] == 4 and times["time_to_close"]["count"] == 4
    stored = app.store.get(seed[0].id)
    assert stored is not None and stored.acknowledged_at is not None and stored.closed_at is not None
    assert stored.acknowledged_at <= stored.closed_at  # acknowledged first, kept when closing
    # Alerts were created in 2025 (seed), reviewed now: every duration is at least a year.
    assert times["time_to_close"]["median_seconds"] > 365 * 86400

    top = ops.get("/api/v1/analytics/false-positives", params={"top": 1}).json()["rules"]
    assert [(r["rule_id"], r["false_positive"]) for r in top] == [("fr.pii.email", 2)]
    every = ops.get("/api/v1/analytics/false-positives").json()["rules"]
    assert [r["rule_id"] for r in every] == ["fr.pii.email", "global.brand.negative_spike"]
