"""`veille demo`: the whole system on one machine with nothing installed or configured.

Starts an embedded broker, the worker(s) and the API as child processes, then feeds generated posts
(and a few malformed records, so the dead-letter path shows) until Ctrl-C or SIGTERM. Stopping goes in
dependency order: stop feeding, let the workers drain and commit, stop the API, stop the broker.
Every child gets PR_SET_PDEATHSIG, so even a demo killed with SIGKILL leaves nothing running.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretStr

from monitor.broker import EmbeddedBroker, free_port, port_free
from monitor.kafka_io import ensure_topics, make_producer
from monitor.process import die_with_parent
from monitor.produce import topic_for_sources
from monitor.settings import Settings
from monitor.traffic import generate_posts
from policies.post import Post

if TYPE_CHECKING:
    from alerts.store import SqlAlertStore

log = logging.getLogger(__name__)

DEMO_DIR = Path(".veille/demo")
MALFORMED_EVERY = 50
CHILD_STOP_S = 30.0
# Local runs: a group join costs about half of the session timeout on Tansu.
DEMO_SESSION_TIMEOUT_MS = 6000
DEMO_HEARTBEAT_MS = 1000


def _malformed_records(max_bytes: int) -> Iterator[tuple[str, bytes]]:
    """One of each DLQ reason, in turn; none contains personal data."""
    while True:
        yield "invalid_json", b'{"id": "broken", "text": '
        yield "invalid_post", json.dumps({"id": "no-author", "source": "internal", "channel": "teams",
                                          "text": 42}).encode()
        yield "invalid_utf8", b'{"id": "latin1", "text": "caf\xe9"}'
        yield "too_large", b'{"id": "huge", "text": "' + b"x" * (max_bytes + 1) + b'"}'


def demo_settings(settings: Settings, *, api_port: int | None = None) -> Settings:
    """What the demo changes: its own data dir (unless one was set) and short group timeouts."""
    update: dict[str, object] = {
        "session_timeout_ms": DEMO_SESSION_TIMEOUT_MS,
        "heartbeat_interval_ms": DEMO_HEARTBEAT_MS,
    }
    if "data_dir" not in settings.model_fields_set:
        update["data_dir"] = DEMO_DIR
    if api_port is not None:
        update["api_port"] = api_port
    if settings.bootstrap_admin_token is None:
        # The API requires a token: the demo makes an admin one and prints the console link with it.
        from alerts.tokens import new_token

        update["bootstrap_admin_token"] = SecretStr(new_token()[1])
    if "brands" not in settings.model_fields_set:
        # Watch the brands the generated traffic talks about, so that the e-reputation views fill up.
        from monitor.brands import BrandConfig
        from monitor.traffic import BRANDS

        update["brands"] = [BrandConfig(name=brand) for brand in BRANDS]
    return settings.model_copy(update=update)


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "VEILLE_BOOTSTRAP_SERVERS": ",".join(settings.bootstrap_servers),
        "VEILLE_DATA_DIR": str(settings.data_dir.resolve()),
        "VEILLE_DATABASE_URL": settings.resolved_database_url,
        "VEILLE_INPUT_TOPICS": ",".join(settings.input_topics),
        "VEILLE_DLQ_TOPIC": settings.dlq_topic,
        "VEILLE_ALERTS_TOPIC": settings.alerts_topic,
        "VEILLE_GROUP_ID": settings.group_id,
        "VEILLE_SESSION_TIMEOUT_MS": str(settings.session_timeout_ms),
        "VEILLE_HEARTBEAT_INTERVAL_MS": str(settings.heartbeat_interval_ms),
        "VEILLE_GROUP_WINDOW_SECONDS": str(settings.group_window_seconds),
        "VEILLE_BRANDS": json.dumps([brand.model_dump(mode="json") for brand in settings.brands]),
        "VEILLE_API_HOST": settings.api_host,
        "VEILLE_API_PORT": str(settings.api_port),
        **_bootstrap_env(settings),
        # Workers write their samples here and the API's /metrics aggregates them.
        "PROMETHEUS_MULTIPROC_DIR": str((settings.data_dir / "metrics").resolve()),
    })
    return env


def _bootstrap_env(settings: Settings) -> dict[str, str]:
    token = settings.bootstrap_admin_token
    return {"VEILLE_BOOTSTRAP_ADMIN_TOKEN": token.get_secret_value()} if token is not None else {}


class Demo:
    """The processes of one demo run; ``stop()`` is safe to call at any point and more than once."""

    def __init__(self, settings: Settings, *, workers: int = 1, api_port: int | None = None,
                 embedded_broker: bool | None = None) -> None:
        self.settings = demo_settings(settings, api_port=api_port)
        self.workers = workers
        if embedded_broker is None:
            embedded_broker = "bootstrap_servers" not in settings.model_fields_set
        self.broker = (
            EmbeddedBroker(log_path=self.settings.data_dir / "broker.log") if embedded_broker else None
        )
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.sent = 0
        self.malformed = 0

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    @property
    def console_url(self) -> str:
        """The console with the demo's admin token in the fragment (never sent to the server's logs)."""
        token = self.settings.bootstrap_admin_token
        fragment = f"#token={token.get_secret_value()}" if token is not None else ""
        return f"{self.api_url}/{fragment}"

    def start(self) -> None:
        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(data_dir / "metrics", ignore_errors=True)
        (data_dir / "metrics").mkdir()
        if self.broker is not None:
            # The broker keeps topics in memory: alerts from an earlier run would point at lost offsets.
            (data_dir / "veille.db").unlink(missing_ok=True)
            self.broker.start()
            self.settings = self.settings.model_copy(update={"bootstrap_servers": [self.broker.bootstrap]})
        ensure_topics(self.settings, partitions=4)
        env = child_env(self.settings)
        self._spawn("worker", [sys.executable, "-m", "monitor.cli", "run", "--workers", str(self.workers)],
                    env)
        self._spawn("api", [sys.executable, "-m", "monitor.cli", "api"], env)
        self._wait_for_api()

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log_path = self.settings.data_dir / f"{name}.log"
        with log_path.open("ab") as log_file:
            # Own session: Ctrl-C reaches only the demo, which then stops children in order.
            self.children[name] = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                preexec_fn=die_with_parent, start_new_session=True,
            )
        log.info("started %s (pid %d), log in %s", name, self.children[name].pid, log_path)

    def _wait_for_api(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_children()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/healthz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the API did not answer at {self.api_url} within {timeout_s:.0f} s "
                           f"(see {self.settings.data_dir / 'api.log'})")

    def _check_children(self) -> None:
        for name, process in self.children.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode} "
                                   f"(see {self.settings.data_dir / (name + '.log')})")

    def feed(self, stop: threading.Event, rate: float, *, status: bool = True,
             limit: int | None = None) -> None:
        """Send generated posts at ``rate`` per second until ``stop`` (or ``limit`` posts)."""
        routing = topic_for_sources(self.settings)
        producer = make_producer(self.settings, client_id="veille-demo")
        bad = _malformed_records(self.settings.max_record_bytes)
        posts = generate_posts(10**9, seed=int(time.time()))
        interval = 1.0 / rate
        next_at = time.monotonic()
        last_status = 0.0
        store: SqlAlertStore | None = None
        try:
            while not stop.is_set() and (limit is None or self.sent < limit):
                self._check_children()
                post: Post = next(posts)
                producer.send(routing[post.source], key=post.author.id.encode(),
                              value=post.model_dump_json().encode())
                self.sent += 1
                if self.sent % MALFORMED_EVERY == 0:
                    _reason, value = next(bad)
                    producer.send(routing[post.source], key=b"demo-malformed", value=value)
                    self.malformed += 1
                now = time.monotonic()
                if status and now - last_status >= 1.0:
                    store = store or _open_store(self.settings)
                    self._print_status(store)
                    last_status = now
                next_at += interval
                stop.wait(max(0.0, next_at - time.monotonic()))
            producer.flush(timeout=10)
        finally:
            producer.close(timeout=5)
            if store is not None:
                store.close()
            if status:
                sys.stderr.write("\n")

    def _print_status(self, store: SqlAlertStore) -> None:
        from alerts.query import AlertQuery
        from alerts.store import StoreError

        alerts = "?"
        with contextlib.suppress(StoreError):
            alerts = str(store.count(AlertQuery()))
        sys.stderr.write(f"\r{self.api_url}  posts sent {self.sent}  malformed {self.malformed}  "
                         f"alerts stored {alerts}   ")
        sys.stderr.flush()

    def stop(self) -> None:
        """Workers first (they drain and commit while the broker is up), then the API, then the broker."""
        for name in ("worker", "api"):
            process = self.children.pop(name, None)
            if process is None:
                continue
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=CHILD_STOP_S)
                except subprocess.TimeoutExpired:
                    log.error("%s did not stop within %.0f s; killing it", name, CHILD_STOP_S)
                    process.kill()
                    process.wait(timeout=5)
            log.info("%s stopped (exit code %s)", name, process.returncode)
        if self.broker is not None:
            self.broker.stop()


def _open_store(settings: Settings) -> SqlAlertStore:
    from alerts.store import SqlAlertStore

    return SqlAlertStore.open(settings.resolved_database_url)


def run_demo(settings: Settings, *, rate: float = 20.0, workers: int = 1, api_port: int | None = None,
             stop: threading.Event | None = None) -> None:
    """Run until Ctrl-C / SIGTERM (or ``stop`` is set); everything started is stopped before returning."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        def _handler(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGINT, _handler)
        signal.signal(signal.SIGTERM, _handler)
    if api_port is None and "api_port" not in settings.model_fields_set:
        api_port = _port_or_free(settings.api_port)
    demo = Demo(settings, workers=workers, api_port=api_port)
    try:
        demo.start()
        sys.stderr.write(f"Veille demo: console at {demo.console_url}  (Ctrl-C to stop)\n")
        token = demo.settings.bootstrap_admin_token
        if token is not None:
            sys.stderr.write(f"  admin token for the API: {token.get_secret_value()}\n")
        demo.feed(stop, rate)
    finally:
        demo.stop()
        sys.stderr.write(f"demo stopped: {demo.sent} posts and {demo.malformed} malformed records sent\n")


def _port_or_free(port: int) -> int:
    """The default API port when it is free, another one otherwise (a demo should just start)."""
    return port if port_free("127.0.0.1", port) else free_port()
