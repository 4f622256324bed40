"""GET /alerts and /alerts/{id} over HTTP against a live server and a real SQLite store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from alerts.model import Alert

# The seed (tests/api/conftest.py): alert i created at BASE_TIME + i hours, except 11 sharing hour 10.
SEED_SIZE = 37
BASE_TIME = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def newest_first(alerts: list[Alert]) -> list[str]:
    return [a.id for a in sorted(alerts, key=lambda a: (a.created_at, a.id), reverse=True)]


def test_list_returns_newest_first_with_total_count(api: httpx.Client, seed_alerts: list[Alert]) -> None:
    response = api.get("/alerts", params={"limit": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == SEED_SIZE
    assert [a["id"] for a in body["data"]] == newest_first(seed_alerts)[:5]
    assert body["next_cursor"]


def test_versioned_path_serves_the_same_listing(api: httpx.Client) -> None:
    versioned = api.get("/api/v1/alerts", params={"limit": 3}).json()
    assert versioned == api.get("/alerts", params={"limit": 3}).json()
    assert len(versioned["data"]) == 3


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"severity": "high"}, lambda a: a.severity == "high"),
        ({"severity": ["high", "critical"]}, lambda a: a.severity in {"high", "critical"}),
        ({"status": "open"}, lambda a: a.status == "open"),
        ({"status": ["acknowledged", "closed"]}, lambda a: a.status in {"acknowledged", "closed"}),
        ({"jurisdiction": "FR"}, lambda a: a.jurisdiction == "FR"),
        ({"jurisdiction": ["fr", "uk"]}, lambda a: a.jurisdiction in {"FR", "UK"}),
        ({"rule": "demo.rule1"}, lambda a: a.rule_id == "demo.rule1"),
        ({"source": "internal"}, lambda a: a.source == "internal"),
        (
            {"severity": "medium", "source": "external", "status": "open"},
            lambda a: a.severity == "medium" and a.source == "external" and a.status == "open",
        ),
    ],
)
def test_each_filter_selects_exactly_the_matching_alerts(
    api: httpx.Client, seed_alerts: list[Alert], params: dict[str, Any], keep: Callable[[Alert], bool]
) -> None:
    expected = [a for a in seed_alerts if keep(a)]
    assert 0 < len(expected) < SEED_SIZE, "the seed must make this filter meaningful"
    body = api.get("/alerts", params={**params, "limit": 500}).json()
    assert [a["id"] for a in body["data"]] == newest_first(expected)
    assert body["count"] == len(expected)
    assert body["next_cursor"] is None


def test_unknown_rule_gives_an_empty_page(api: httpx.Client) -> None:
    body = api.get("/alerts", params={"rule": "no.such.rule"}).json()
    assert body == {"data": [], "next_cursor": None, "count": 0}


def test_time_range_is_since_inclusive_until_exclusive(api: httpx.Client, seed_alerts: list[Alert]) -> None:
    since, until = BASE_TIME + timedelta(hours=5), BASE_TIME + timedelta(hours=12)
    expected = [a for a in seed_alerts if since <= a.created_at < until]
    # The same instant written with another offset (httpx encodes the '+') selects the same alerts.
    plus_two = since.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert plus_two.endswith("+02:00")
    for since_param in (since.isoformat().replace("+00:00", "Z"), plus_two):
        params: dict[str, str | int] = {"since": since_param, "until": until.isoformat(), "limit": 500}
        body = api.get("/alerts", params=params).json()
        assert [a["id"] for a in body["data"]] == newest_first(expected)
        # Alerts 5..11 (alert 11 shares hour 10); alert 5 sits on `since`, alert 12 on `until`.
        assert body["count"] == len(expected) == 7


def test_since_alone_and_until_alone(api: httpx.Client, seed_alerts: list[Alert]) -> None:
    cut = BASE_TIME + timedelta(hours=30)
    after = api.get("/alerts", params={"since": cut.isoformat(), "limit": 500}).json()
    before = api.get("/alerts", params={"until": cut.isoformat(), "limit": 500}).json()
    assert after["count"] + before["count"] == SEED_SIZE
    assert {a["id"] for a in after["data"]} == {a.id for a in seed_alerts if a.created_at >= cut}


@pytest.mark.parametrize("limit", [1, 4, 10, 36, 37])
def test_pagination_walks_every_alert_once(api: httpx.Client, seed_alerts: list[Alert], limit: int) -> None:
    assert len(seed_alerts) == SEED_SIZE
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        body = api.get("/alerts", params=params).json()
        pages += 1
        assert len(body["data"]) <= limit
        assert body["count"] == SEED_SIZE  # the total ignores the cursor
        seen.extend(a["id"] for a in body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages <= SEED_SIZE, "pagination does not terminate"
    assert seen == newest_first(seed_alerts)  # order kept, no duplicate, none lost
    assert pages == -(-SEED_SIZE // limit)


def test_pagination_keeps_the_filters(api: httpx.Client, seed_alerts: list[Alert]) -> None:
    expected = newest_first([a for a in seed_alerts if a.status == "open"])
    seen: list[str] = []
    params: dict[str, Any] = {"status": "open", "limit": 3}
    while True:
        body = api.get("/alerts", params=params).json()
        seen.extend(a["id"] for a in body["data"])
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == expected


def test_get_by_id_returns_the_public_alert(api: httpx.Client, seed_alerts: list[Alert]) -> None:
    alert = seed_alerts[7]
    for path in (f"/alerts/{alert.id}", f"/api/v1/alerts/{alert.id}"):
        response = api.get(path)
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == alert.id
        assert body["rule_id"] == alert.rule_id
        assert body["severity"] == alert.severity.value
        assert body["evidence"] == [
            {
                "detector": "pii", "type": "EMAIL_ADDRESS", "start": 12, "end": alert.evidence[0].end,
                "score": 0.9, "recognizer": "EmailRecognizer",
                "snippet": "écrivez-moi à [EMAIL_ADDRESS] demain", "personal": True,
            }
        ]
        assert body["explanation"] == ["pii(EMAIL_ADDRESS)", "seed #7"]
        assert datetime.fromisoformat(body["created_at"]) == alert.created_at


def test_missing_alert_is_a_json_404(api: httpx.Client) -> None:
    response = api.get("/api/v1/alerts/does-not-exist")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "alert 'does-not-exist' not found"}


def test_openapi_documents_the_alert_schema_with_examples(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert schemas["AlertPublic"]["examples"][0]["rule_id"] == "fr.pii.nir"
    assert "span" not in schemas["EvidencePublic"]["properties"]
    parameters = {p["name"] for p in doc["paths"]["/api/v1/alerts"]["get"]["parameters"]}
    assert parameters == {
        "id", "status", "severity", "jurisdiction", "rule", "source", "channel", "assignee", "qa", "kind",
        "population", "since", "until", "order", "limit", "cursor",
    }
    assert "/api/v1/alerts/{alert_id}" in doc["paths"]


def test_no_response_ever_carries_a_raw_span(
    api: httpx.Client, http: Callable[[str], httpx.Client], seed_alerts: list[Alert]
) -> None:
    # The `http` fixture's hook already checks every response of every test; this one makes the
    # check explicit over every alert, both in lists and one by one.
    bodies = [api.get("/alerts", params={"limit": 500}).text]
    bodies += [api.get(f"/alerts/{a.id}").text for a in seed_alerts]
    for i, alert in enumerate(seed_alerts):
        assert alert.evidence[0].span and all(alert.evidence[0].span not in body for body in bodies), i
        assert "[EMAIL_ADDRESS]" in bodies[0]
