"""`api.server.serve` as the real process: store from settings, broker readiness, SIGTERM shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor.broker import free_port, tansu_binary

# Installed by the server at start from VEILLE_BOOTSTRAP_ADMIN_TOKEN: the path the demo relies on.
BOOTSTRAP_TOKEN = "veille_0000000000000b00_" + "B" * 43
SERVE = "from api.server import serve; from monitor.settings import Settings; serve(Settings())"


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve() exited early with {process.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("serve() did not answer /healthz in time")


def assert_stops_on_sigterm(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=15) == 0


def kill(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.kill()
        server.wait()


@pytest.fixture
def broker_port() -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """A free port for a Tansu broker that the test starts when it wants; stopped afterwards."""
    brokers: list[subprocess.Popen[bytes]] = []
    yield free_port(), brokers
    for broker in brokers:
        broker.terminate()
        broker.wait(timeout=5)


def test_serve_checks_the_broker_and_stops_cleanly_on_sigterm(
    tmp_path: Path, broker_port: tuple[int, list[subprocess.Popen[bytes]]]
) -> None:
    port, brokers = broker_port
    api_port = free_port()
    env = {
        **os.environ,
        "VEILLE_DATA_DIR": str(tmp_path / "data"),
        "VEILLE_API_PORT": str(api_port),
        "VEILLE_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "VEILLE_BOOTSTRAP_ADMIN_TOKEN": BOOTSTRAP_TOKEN,
    }
    env.pop("VEILLE_DATABASE_URL", None)
    server = subprocess.Popen([sys.executable, "-c", SERVE], env=env, cwd=tmp_path)
    url = f"http://127.0.0.1:{api_port}"
    try:
        wait_until_up(url, server)
        assert (tmp_path / "data" / "veille.db").is_file()  # SQLite default under data_dir

        response = httpx.get(url + "/readyz", timeout=10)
        assert response.status_code == 503
        assert response.json()["checks"] == {"store": "ok", "broker": "unreachable"}
        assert str(port) not in response.text  # the broker's address is in the log, not on this open route

        listener = f"tcp://127.0.0.1:{port}"
        brokers.append(subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", listener, "--advertised-listener-url", listener,
             "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        deadline = time.monotonic() + 10
        while (response := httpx.get(url + "/readyz", timeout=10)).status_code != 200:
            assert time.monotonic() < deadline, response.text
            time.sleep(0.05)
        assert response.json() == {"status": "ready", "checks": {"store": "ok", "broker": "ok"}}
        assert httpx.get(url + "/api/v1/alerts").status_code == 401
        admin = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
        listing = httpx.get(url + "/api/v1/alerts", headers=admin).json()
        assert listing == {"data": [], "next_cursor": None, "count": 0}

        assert_stops_on_sigterm(server)
    finally:
        kill(server)


def test_the_api_package_never_imports_kafka() -> None:
    code = (
        "import sys, api.app, api.deps, api.errors, api.schemas, api.server, api.routes.alerts, "
        "api.routes.health, api.routes.metrics, api.routes.console; "
        "runtime = {'monitor.runner', 'monitor.kafka_io', 'monitor.broker', 'monitor.workers', "
        "'monitor.demo', 'monitor.produce', 'monitor.pipeline'}; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'kafka' or m in runtime); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_veille_api_takes_host_and_port_flags_over_the_environment(tmp_path: Path) -> None:
    from_env, from_flag = free_port(), free_port()
    env = {
        **os.environ,
        "VEILLE_DATA_DIR": str(tmp_path / "data"),
        "VEILLE_API_HOST": "127.0.0.2",  # overridden by --host below
        "VEILLE_API_PORT": str(from_env),
    }
    env.pop("VEILLE_DATABASE_URL", None)
    command = [sys.executable, "-c", "from monitor.cli import main; main()", "api"]
    flags = ["--host", "127.0.0.1", "--port", str(from_flag)]
    server = subprocess.Popen([*command, *flags], env=env, cwd=tmp_path)
    try:
        wait_until_up(f"http://127.0.0.1:{from_flag}", server)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.2:{from_env}/healthz", timeout=1)
        assert_stops_on_sigterm(server)
    finally:
        kill(server)
