"""Run the API: open the store, wire the broker check, serve with uvicorn until a signal."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from alerts.store import SqlAlertStore
from api.app import create_app
from monitor.settings import Settings

log = logging.getLogger(__name__)

BROKER_CHECK_TIMEOUT_S = 2.0
GRACEFUL_SHUTDOWN_S = 10


class BrokerUnreachable(ConnectionError):
    """No broker answered: ``/readyz`` reports the broker ``unreachable`` and logs this message."""


def broker_check(settings: Settings) -> Callable[[], None] | None:
    """A readiness check for the Kafka broker, or None when the Kafka I/O module is not installed.

    Imported lazily so that ``api`` itself never imports a Kafka client.
    """
    try:
        from monitor.kafka_io import broker_reachable
    except ImportError:
        log.warning("monitor.kafka_io is not available: /readyz will not check the broker")
        return None

    def check() -> None:
        if not broker_reachable(settings, BROKER_CHECK_TIMEOUT_S):
            # For the log only (readyz shows the state): host:port, never credentials.
            servers = ",".join(settings.bootstrap_servers)
            raise BrokerUnreachable(f"no broker answered at {servers} within {BROKER_CHECK_TIMEOUT_S:g} s")

    return check


@contextmanager
def _signals_end_serving() -> Iterator[None]:
    """Make SIGINT/SIGTERM end :func:`serve` normally instead of killing the process.

    uvicorn handles the signal itself (stops accepting, drains requests), then restores the handlers
    it found and raises the signal again. The handlers installed here are the ones it finds, so that
    second delivery is absorbed: ``serve`` returns, the store is closed, the process exits 0.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def absorb(signum: int, frame: FrameType | None) -> None:
        log.info("API stopped on signal %s", signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, absorb) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(settings: Settings) -> None:
    """Serve the API on ``settings.api_host:api_port`` until SIGINT/SIGTERM, then drain and close.

    Returns normally after a signal (exit status 0 for the CLI): the shutdown was the one asked for.
    """
    store = SqlAlertStore.open(
        settings.resolved_database_url, audit=settings.audit_options, qa=settings.qa_sampling
    )
    try:
        checks: dict[str, Callable[[], None]] = {}
        broker = broker_check(settings)
        if broker is not None:
            checks["broker"] = broker
        app = create_app(settings, store, readiness_checks=checks)
        config = uvicorn.Config(
            app,
            host=settings.api_host,
            port=settings.api_port,
            # uvicorn stops accepting, lets in-flight requests finish for this long, then exits.
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            server_header=False,
            log_config=None,  # keep the process's own logging setup
        )
        with _signals_end_serving():
            uvicorn.Server(config).run()
    finally:
        store.close()
