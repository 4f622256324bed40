"""The API over the real PostgreSQL store: listing, pagination, lookup, readiness when the database goes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from alerts.model import Alert
from alerts.store import SqlAlertStore

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[SqlAlertStore]:
    store = SqlAlertStore.open(postgres_url)
    yield store
    store.close()


@pytest.fixture
def pg_api(
    pg_store: SqlAlertStore, seed_alerts: list[Alert], serve: Callable[..., str],
    http: Callable[[str], httpx.Client],
) -> httpx.Client:
    assert len(pg_store.add_many(seed_alerts)) == len(seed_alerts)
    return http(serve(pg_store))


def newest_first(alerts: list[Alert]) -> list[str]:
    return [a.id for a in sorted(alerts, key=lambda a: (a.created_at, a.id), reverse=True)]


def test_filters_pagination_and_lookup_on_postgres(pg_api: httpx.Client, seed_alerts: list[Alert]) -> None:
    expected = newest_first([a for a in seed_alerts if a.status == "open" and a.jurisdiction in {"FR", "UK"}])
    assert len(expected) > 4
    seen: list[str] = []
    params: dict[str, Any] = {"status": "open", "jurisdiction": ["fr", "UK"], "limit": 4}
    while True:
        body = pg_api.get("/api/v1/alerts", params=params).json()
        assert body["count"] == len(expected)
        seen.extend(a["id"] for a in body["data"])
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == expected

    everything: list[str] = []
    cursor = None
    while True:
        page = pg_api.get("/alerts", params={"limit": 5, **({"cursor": cursor} if cursor else {})}).json()
        everything.extend(a["id"] for a in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert everything == newest_first(seed_alerts)  # the hour-10 tie is broken the same way as SQLite

    alert = seed_alerts[3]
    assert pg_api.get(f"/alerts/{alert.id}").json()["rule_title"] == alert.rule_title
    assert pg_api.get("/alerts/nope").status_code == 404
    backwards = {"since": "2025-03-02T00:00:00Z", "until": "2025-03-01T00:00:00Z"}
    response = pg_api.get("/alerts", params=backwards)
    assert response.status_code == 400


def test_readyz_and_routes_when_the_database_is_dropped(
    pg_api: httpx.Client, pg_store: SqlAlertStore, postgres_url: str, postgres_server_url: str
) -> None:
    assert pg_api.get("/readyz").json() == {"status": "ready", "checks": {"store": "ok"}}
    pg_store.close()
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            database = sa.engine.make_url(postgres_url).database
            connection.execute(sa.text(f'drop database "{database}" with (force)'))
    finally:
        admin.dispose()

    response = pg_api.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"store": "unreachable"}
    assert "does not exist" not in response.text and "127.0.0.1" not in response.text
    listing = pg_api.get("/api/v1/alerts")
    assert listing.status_code == 503
    assert listing.json() == {"detail": "the alert store is unavailable; retry later"}
    metrics = pg_api.get("/metrics")
    assert metrics.status_code == 200
    assert "veille_api_store_up 0.0" in metrics.text
