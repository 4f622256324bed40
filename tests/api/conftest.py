"""Fixtures for API tests: a real store, a real uvicorn server on a free port, httpx against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from alerts.model import Alert, AlertStatus, Evidence, Severity, alert_id
from alerts.store import SqlAlertStore
from api.app import create_app
from monitor.settings import Settings

SEED_SIZE = 37
BASE_TIME = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
JURISDICTIONS = ("FR", "EU", "GLOBAL", "UK")
STATUSES = (AlertStatus.OPEN, AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.CLOSED)
# Installed by the app at start (VEILLE_BOOTSTRAP_ADMIN_TOKEN) and sent by every test client.
ADMIN_TOKEN = "veille_00000000000000a1_" + "A" * 43


def raw_span(i: int) -> str:
    """The personal data in seed alert ``i``: it must never leave the API."""
    return f"jeanne.martin{i}@example.org"


def make_alert(i: int) -> Alert:
    rule_id = f"demo.rule{i % 3}"
    post_id = f"post-{i}"
    # Alerts 10 and 11 share one instant: pagination must break the tie by id, not lose one.
    created_at = BASE_TIME + timedelta(hours=10 if i == 11 else i)
    return Alert(
        id=alert_id(post_id, rule_id),
        rule_id=rule_id,
        rule_title=f"Demo rule {i % 3}",
        severity=list(Severity)[i % 5],
        status=STATUSES[i % 4],
        jurisdiction=JURISDICTIONS[i % 4],
        source="internal" if i % 2 else "external",
        channel="teams-fr" if i % 2 else "x",
        post_id=post_id,
        author_id=f"u-{i}",
        author_role="employee",
        lang="fr",
        post_created_at=created_at - timedelta(seconds=30),
        created_at=created_at,
        policy_version="v-test",
        evidence=[
            Evidence(
                detector="pii", type="EMAIL_ADDRESS", start=12, end=12 + len(raw_span(i)), score=0.9,
                recognizer="EmailRecognizer", snippet="écrivez-moi à [EMAIL_ADDRESS] demain",
                span=raw_span(i), personal=True,
            )
        ],
        explanation=["pii(EMAIL_ADDRESS)", f"seed #{i}"],
        remediation="Remove the address from the post.",
        references=["GDPR art. 5"],
        origin={"topic": "veille.posts.internal", "partition": 0, "offset": i},
    )


@pytest.fixture(scope="session")
def admin_token() -> str:
    return ADMIN_TOKEN


@pytest.fixture(scope="session")
def seed_alerts() -> list[Alert]:
    return [make_alert(i) for i in range(SEED_SIZE)]


ServeFactory = Callable[..., str]
ServeApp = Callable[[FastAPI], AbstractContextManager[str]]
Checks = Mapping[str, Callable[[], None]]


@pytest.fixture
def serve(live_server: ServeApp) -> Iterator[ServeFactory]:
    """``serve(store, readiness_checks=None) -> base URL`` of a live server, stopped after the test."""
    with ExitStack() as servers:

        def start(store: SqlAlertStore, readiness_checks: Checks | None = None) -> str:
            return servers.enter_context(live_server(_app(store, readiness_checks)))

        yield start


def _app(store: SqlAlertStore, readiness_checks: Checks | None = None) -> FastAPI:
    settings = Settings(_env_file=None, bootstrap_admin_token=ADMIN_TOKEN)
    return create_app(settings, store, readiness_checks=readiness_checks)


def _no_raw_span(response: httpx.Response) -> None:
    response.read()
    for i in range(SEED_SIZE):
        assert raw_span(i) not in response.text, f"raw evidence span leaked by {response.request.url}"
    # Also catch the span's key, in case a span of another shape is ever seeded.
    assert '"span"' not in response.text, f"evidence span field leaked by {response.request.url}"


def _client(base_url: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        timeout=10,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        event_hooks={"response": [_no_raw_span]},
    )


@pytest.fixture
def http() -> Iterator[Callable[[str], httpx.Client]]:
    """``http(base_url)``: an httpx client that fails the test if any response carries a raw span."""
    clients: list[httpx.Client] = []

    def make(base_url: str) -> httpx.Client:
        clients.append(_client(base_url))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlAlertStore]:
    store = SqlAlertStore.open(f"sqlite:///{tmp_path / 'veille.db'}")
    yield store
    store.close()


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory, seed_alerts: list[Alert], live_server: ServeApp
) -> Iterator[httpx.Client]:
    """A client on a live server over a SQLite store holding ``seed_alerts``.

    Shared by the tests of one module, which must only read through it (a server per test would
    spend most of the suite starting and stopping uvicorn).
    """
    store = SqlAlertStore.open(f"sqlite:///{tmp_path_factory.mktemp('api') / 'veille.db'}")
    try:
        assert len(store.add_many(seed_alerts)) == SEED_SIZE
        with live_server(_app(store)) as url, _client(url) as client:
            yield client
    finally:
        store.close()
