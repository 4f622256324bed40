"""Review fixtures: a real store (SQLite file or PostgreSQL), a token per role, a live uvicorn server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from alerts.audit import CLI_ACTOR
from alerts.model import Alert, Evidence, Severity, alert_id
from alerts.store import SqlAlertStore
from alerts.tokens import Role
from api.app import create_app
from monitor.settings import Settings

BASE_TIME = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
RAW_EMAIL = "claire.durand@example.org"


def make_alert(i: int, rule_id: str, *, personal: bool) -> Alert:
    post_id = f"post-{i}"
    evidence = [
        Evidence(
            detector="sentiment", type="negative", start=0, end=10, score=0.8, snippet="terrible service"
        ),
    ]
    if personal:
        evidence.append(
            Evidence(
                detector="pii",
                type="EMAIL_ADDRESS",
                start=20,
                end=20 + len(RAW_EMAIL),
                score=0.9,
                snippet="écrivez à [EMAIL_ADDRESS]",
                span=RAW_EMAIL,
                personal=True,
            )
        )
    return Alert(
        id=alert_id(post_id, rule_id),
        rule_id=rule_id,
        rule_title=f"rule {rule_id}",
        severity=Severity.HIGH,
        jurisdiction="FR",
        source="external",
        channel="x",
        post_id=post_id,
        author_id=f"author-{i % 2}",
        author_role="customer",
        post_created_at=BASE_TIME,
        created_at=BASE_TIME + timedelta(minutes=i),
        policy_version="v-test",
        evidence=evidence,
    )


# Two e-reputation alerts (one carrying personal data) and two PII alerts: enough to tell scopes apart.
SEED = [
    make_alert(0, "global.brand.negative_spike", personal=True),
    make_alert(1, "fr.reputation.crisis_words", personal=False),
    make_alert(2, "fr.pii.email", personal=True),
    make_alert(3, "eu.pii.phone", personal=True),
]


@dataclass
class Live:
    """A live API over ``store``; ``client(role)`` sends that role's token (None: no token)."""

    url: str
    store: SqlAlertStore
    tokens: dict[Role, str]
    app: FastAPI
    _clients: list[httpx.Client] = field(default_factory=list)

    def client(self, role: Role | None = None, token: str | None = None) -> httpx.Client:
        token = token if token is not None else (self.tokens[role] if role is not None else None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._clients.append(httpx.Client(base_url=self.url, headers=headers, timeout=10))
        return self._clients[-1]


class _Server:
    def __init__(self, app: FastAPI) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-review", daemon=True)

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "uvicorn did not stop"


LiveFactory = Callable[[str], Live]


@pytest.fixture
def seed() -> list[Alert]:
    return list(SEED)


@pytest.fixture
def live() -> Iterator[LiveFactory]:
    """``live(database_url)``: migrated store seeded with SEED, one token per role, server started."""
    started: list[tuple[_Server, Live]] = []

    def start(url: str) -> Live:
        store = SqlAlertStore.open(url)
        store.add_many(SEED)
        tokens = {role: store.create_token(f"{role.value}-1", role, CLI_ACTOR)[1] for role in Role}
        settings = Settings(_env_file=None, pseudonym_key="test-key")
        app = create_app(settings, store)
        server = _Server(app)
        started.append((server, Live(server.start(), store, tokens, app)))
        return started[-1][1]

    yield start
    for server, running in started:
        for client in running._clients:
            client.close()
        server.stop()
        running.store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'veille.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'veille.db'}"


@pytest.fixture
def alert_factory() -> Callable[..., Alert]:
    """``alert_factory(i, rule_id, personal=...)``: an alert like the seeded ones."""
    return make_alert
