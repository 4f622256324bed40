"""Fixtures shared by every test area: real PostgreSQL, real Kafka-protocol brokers, a live API server."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, sync_playwright

POSTGRES_ADMIN_URL = os.environ.get(
    "VEILLE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The admin URL of the real PostgreSQL server; fails (never skips) when it is not reachable."""
    engine = sa.create_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}. Start it (see README).")
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database on the real server for one test, dropped afterwards."""
    name = f"veille_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'create database "{name}"'))
    url = sa.engine.make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database of each backend (the SQLite parent directory does not exist yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'veille.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _refuse_post_ids(url: str, prefix: str) -> None:
    """Make the database refuse any alert whose post id starts with ``prefix``, as a constraint an
    operator added would: a CHECK constraint on PostgreSQL (SQLSTATE 23514), a trigger on SQLite
    (which cannot add a CHECK to an existing table)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql(
                    f"create trigger refuse_{prefix} before insert on alerts "
                    f"when substr(new.post_id, 1, {len(prefix)}) = '{prefix}' "
                    "begin select raise(abort, 'refused by a test constraint'); end"
                )
            else:
                connection.exec_driver_sql(
                    f"alter table alerts add constraint refuse_{prefix} "
                    f"check (left(post_id, {len(prefix)}) <> '{prefix}')"
                )
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def refuse_post_ids() -> Callable[[str, str], None]:
    """``refuse_post_ids(url, prefix)``: a database (already migrated) that refuses some posts' alerts."""
    return _refuse_post_ids


# --- Kafka brokers ---
# Real Kafka-protocol brokers (see DESIGN.md): every Kafka test runs against Tansu and noida-db, so that
# no broker's quirk becomes Veille's assumption. One broker of each kind per session; tests isolate
# themselves with their own topic names and consumer group (see `kafka_settings`).

KAFKA_BROKER_KINDS = ("tansu", "noida")


@pytest.fixture(scope="session", params=KAFKA_BROKER_KINDS)
def kafka_broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[object]:
    """A started ``monitor.broker.EmbeddedBroker``; fails (never skips) when it cannot start."""
    from monitor.broker import BrokerError, EmbeddedBroker

    data_dir = tmp_path_factory.mktemp(f"broker-{request.param}")
    broker = EmbeddedBroker(request.param, data_dir=data_dir, log_path=data_dir / "broker.log")
    try:
        broker.start()
    except BrokerError as exc:
        pytest.fail(f"cannot start the {request.param} broker: {exc}")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def kafka_settings(kafka_broker: object, tmp_path: object) -> object:
    """Settings for one test: its own topics, group and SQLite store, short group timeouts.

    The topics exist (4 partitions each) when the test starts.
    """
    from monitor.kafka_io import ensure_topics
    from monitor.settings import Settings

    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = Settings(
        bootstrap_servers=[kafka_broker.bootstrap],  # type: ignore[attr-defined]
        input_topics=[f"{prefix}.posts.internal", f"{prefix}.posts.external"],
        dlq_topic=f"{prefix}.posts.dlq",
        alerts_topic=f"{prefix}.alerts",
        group_id=f"{prefix}-group",
        data_dir=tmp_path,
        poll_timeout_ms=200,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        # The Kafka tests count one alert per rule hit; grouping has its own tests (tests/review).
        group_window_seconds=0,
    )
    ensure_topics(settings, partitions=4)
    return settings


# --- A live API server ---


class LiveServer:
    """uvicorn serving ``app`` in a background thread on a port the OS picks (no port race).

    uvicorn binds the socket itself. A socket made with ``socket.socket()`` has proto 0, so asyncio
    leaves TCP_NODELAY off on its connections: ~45 ms per keep-alive request instead of ~1 ms.
    """

    def __init__(self, app: FastAPI) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn-test", daemon=True)
        self.url = ""

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "uvicorn did not stop"


@contextmanager
def _serving(app: FastAPI) -> Iterator[str]:
    server = LiveServer(app).start()
    try:
        yield server.url
    finally:
        server.stop()


ServeApp = Callable[[FastAPI], AbstractContextManager[str]]


@pytest.fixture(scope="session")
def live_server() -> ServeApp:
    """``with live_server(app) as base_url:``, the app served for the block. A context manager rather
    than a server per fixture, so that fixtures of any scope (a module's shared server) can use it."""
    return _serving


# --- Browser (the console's tests) ---

CHROMIUM = "/usr/bin/chromium"  # Debian's package: Playwright never downloads a browser here
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = browser.new_page()
    opened.set_default_timeout(5_000)
    yield opened
    opened.close()


# --- Waiting on real processes ---

WaitUntil = Callable[[Callable[[], bool], float, str], None]


def _wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@pytest.fixture(scope="session")
def wait_until() -> WaitUntil:
    """``wait_until(predicate, timeout_s, what)``: poll until true, or fail naming what never happened."""
    return _wait_until
