"""Alert-store fixtures: one real SQLite file and one real PostgreSQL database per test."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.model import Alert, AlertStatus, Evidence, Severity, alert_id
from alerts.store import SqlAlertStore

_DEFAULT_TIME = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[SqlAlertStore]:
    opened = SqlAlertStore.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def make_alert() -> Callable[..., Alert]:
    """Builds a valid Alert; every call gets a new post id unless one is given."""
    counter = itertools.count()

    def build(
        post_id: str | None = None,
        rule_id: str = "fr.pii.email",
        *,
        created_at: datetime = _DEFAULT_TIME,
        severity: Severity = Severity.HIGH,
        status: AlertStatus = AlertStatus.OPEN,
        jurisdiction: str = "FR",
        source: str = "internal",
        **overrides: Any,
    ) -> Alert:
        post_id = post_id if post_id is not None else f"post-{next(counter)}"
        fields: dict[str, Any] = {
            "id": alert_id(post_id, rule_id),
            "rule_id": rule_id,
            "rule_title": "Personal e-mail address shared",
            "severity": severity,
            "status": status,
            "jurisdiction": jurisdiction,
            "source": source,
            "channel": "teams-fr",
            "post_id": post_id,
            "author_id": "author-1",
            "author_role": "employee",
            "lang": "fr",
            "post_created_at": created_at,
            "created_at": created_at,
            "policy_version": "2025.03.1",
            "evidence": [
                Evidence(
                    detector="pii",
                    type="EMAIL_ADDRESS",
                    start=10,
                    end=27,
                    score=0.95,
                    recognizer="EmailRecognizer",
                    snippet="écrivez à [EMAIL] demain",
                    span="jean@example.org",
                    personal=True,
                )
            ],
            "explanation": ["pii EMAIL_ADDRESS >= 0.9"],
            "remediation": "Remove the address.",
            "references": ["GDPR art. 5(1)(c)"],
            "origin": {"topic": "veille.posts.internal", "partition": 2, "offset": 41},
        }
        fields.update(overrides)
        return Alert(**fields)

    return build
