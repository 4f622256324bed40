"""Review fixtures: a real store (SQLite file or PostgreSQL), a token per role, a live uvicorn server
(``live_server``, from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from alerts.audit import CLI_ACTOR
from alerts.model import Alert, Evidence, Severity, alert_id
from alerts.store import SqlAlertStore
from alerts.tokens import Role
from api.app import create_app
from monitor.settings import Settings

BASE_TIME = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
RAW_EMAIL = "claire.durand@example.org"


def make_alert(i: int, rule_id: str, *, personal: bool, comms_visible: bool = False) -> Alert:
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
        comms_visible=comms_visible,
    )


# Two e-reputation alerts (one carrying personal data) and two PII alerts: enough to tell scopes apart.
SEED = [
    make_alert(0, "global.brand.negative_spike", personal=True, comms_visible=True),
    make_alert(1, "fr.reputation.crisis_words", personal=False, comms_visible=True),
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

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()


LiveFactory = Callable[..., Live]
ServeApp = Callable[[FastAPI], AbstractContextManager[str]]


@pytest.fixture
def seed() -> list[Alert]:
    return list(SEED)


@pytest.fixture
def live(live_server: ServeApp) -> Iterator[LiveFactory]:
    """``live(database_url)``: migrated store seeded with SEED, one token per role, server started.

    ``settings`` (default: a fixed pseudonym key) also give the store its audit options; ``alerts``
    replace SEED.
    """
    with ExitStack() as running:

        def start(url: str, *, settings: Settings | None = None, alerts: Sequence[Alert] = SEED) -> Live:
            settings = settings or Settings(_env_file=None, pseudonym_key="test-key")
            store = SqlAlertStore.open(url, audit=settings.audit_options, qa=settings.qa_sampling)
            running.callback(store.close)
            store.add_many(alerts)
            tokens = {role: store.create_token(f"{role.value}-1", role, CLI_ACTOR)[1] for role in Role}
            app = create_app(settings, store)
            started = Live(running.enter_context(live_server(app)), store, tokens, app)
            running.callback(started.close_clients)
            return started

        yield start


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


def run_sql(url: str, statement: str) -> None:
    """What someone with direct database access could do (tamper tests)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(statement))
    finally:
        engine.dispose()


@pytest.fixture
def sql() -> Callable[[str, str], None]:
    """``sql(database_url, statement)``: run one statement outside the store."""
    return run_sql
