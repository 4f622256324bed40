"""The queue views the console shares by URL: channel and assignee filters, oldest-first paging.

Over HTTP against a live server, on SQLite and on the real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.model import Alert
from alerts.store import SqlAlertStore


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def queue(
    request: pytest.FixtureRequest, tmp_path: Path, seed_alerts: list[Alert], serve: Callable[..., str],
    http: Callable[[str], httpx.Client],
) -> Iterator[httpx.Client]:
    url = f"sqlite:///{tmp_path / 'veille.db'}"
    if request.param == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
    store = SqlAlertStore.open(url)
    try:
        store.add_many(seed_alerts)
        yield http(serve(store))
    finally:
        store.close()


def _walk(client: httpx.Client, params: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = {**params, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/alerts", params=page).json()
        seen.extend(a["id"] for a in body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def test_oldest_first_pages_through_every_alert_once(queue: httpx.Client, seed_alerts: list[Alert]) -> None:
    oldest = [a.id for a in sorted(seed_alerts, key=lambda a: (a.created_at, a.id))]
    assert _walk(queue, {"order": "oldest", "limit": 4}) == oldest  # alerts 10 and 11 tie: id breaks it
    assert _walk(queue, {"limit": 4}) == oldest[::-1]
    first = queue.get("/api/v1/alerts", params={"order": "oldest", "limit": 1, "status": "open"}).json()
    assert first["data"][0]["id"] == next(a.id for a in sorted(seed_alerts, key=lambda a: a.created_at)
                                          if a.status == "open")


def test_channel_and_assignee_filters(queue: httpx.Client, seed_alerts: list[Alert]) -> None:
    on_x = {a.id for a in seed_alerts if a.channel == "x"}
    assert 0 < len(on_x) < len(seed_alerts)
    assert set(_walk(queue, {"channel": "x", "limit": 500})) == on_x

    fr_open = {a.id for a in seed_alerts if a.jurisdiction == "FR" and a.status == "open"}
    fr_filter = {"jurisdiction": ["FR"], "status": ["open"]}
    done = queue.post("/api/v1/bulk/assign", json={"assignee": "c.dupont", "filter": fr_filter}).json()
    assert set(done["changed"]) == fr_open
    mine = queue.get("/api/v1/alerts", params={"assignee": "c.dupont", "limit": 500}).json()
    assert {a["id"] for a in mine["data"]} == fr_open and mine["count"] == len(fr_open)
    assert queue.get("/api/v1/alerts", params={"assignee": "nobody"}).json()["count"] == 0
    assert queue.get("/api/v1/alerts", params={"order": "sideways"}).status_code == 422


def test_bulk_assign_a_selection_by_id(queue: httpx.Client, seed_alerts: list[Alert]) -> None:
    chosen = [seed_alerts[i].id for i in (3, 8, 21)]
    done = queue.post("/api/v1/bulk/assign", json={"assignee": "m.leroy", "filter": {"id": chosen}}).json()
    assert sorted(done["changed"]) == sorted(chosen)
    mine = queue.get("/api/v1/alerts", params={"assignee": "m.leroy", "limit": 500}).json()
    assert sorted(a["id"] for a in mine["data"]) == sorted(chosen)
    assert queue.get("/api/v1/alerts", params={"id": chosen[:2]}).json()["count"] == 2
