"""Hostile requests against the real API process: bodies far over the limit are refused before they
are read (the process does not grow), and no answer that may carry alerts is left in a cache."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from alerts.model import Alert
from alerts.store import SqlAlertStore
from monitor.broker import free_port
from tests.api.test_api_server import SERVE, wait_until_up

MIB = 1024 * 1024
HOSTILE_BYTES = 150 * MIB
LIMIT = MIB  # VEILLE_API_MAX_BODY_BYTES's default
TOKEN = "veille_0000000000000c00_" + "C" * 43
TOO_LARGE = {
    "detail": f"the request body is larger than {LIMIT} bytes, the most this API accepts "
    "(VEILLE_API_MAX_BODY_BYTES)"
}


def lazy_body(total: int, chunk: int = MIB) -> Iterator[bytes]:
    """``total`` bytes, one reused chunk at a time: the test never holds the body either."""
    block = b"a" * chunk
    for _ in range(total // chunk):
        yield block


def memory_mib(pid: int) -> dict[str, int]:
    """Resident set now (VmRSS) and its peak since the process started (VmHWM), in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {name: int(fields[name].split()[0]) // 1024 for name in ("VmRSS", "VmHWM")}


@pytest.fixture
def api_process(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``veille api`` as its own process (its memory is its own), with the default limits."""
    port = free_port()
    env = {
        **os.environ,
        "VEILLE_DATA_DIR": str(tmp_path / "data"),
        "VEILLE_API_PORT": str(port),
        "VEILLE_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",  # readiness is not the point here
        "VEILLE_BOOTSTRAP_ADMIN_TOKEN": TOKEN,
    }
    env.pop("VEILLE_DATABASE_URL", None)
    env.pop("VEILLE_API_MAX_BODY_BYTES", None)
    server = subprocess.Popen([sys.executable, "-c", SERVE], env=env, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, server)
        yield url, server
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_150_mb_body_without_a_token_is_refused_quickly_and_the_api_stays_small(
    api_process: tuple[str, subprocess.Popen[bytes]], declared: bool
) -> None:
    url, server = api_process
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        before = memory_mib(server.pid)
        headers = {"Content-Type": "application/json"}
        if declared:
            headers["Content-Length"] = str(HOSTILE_BYTES)
        started = time.monotonic()
        response = client.post("/api/v1/tokens", content=lazy_body(HOSTILE_BYTES), headers=headers)
        elapsed = time.monotonic() - started
    after = memory_mib(server.pid)
    print(f"\n{'declared' if declared else 'chunked'}: {response.status_code} in {elapsed:.2f} s; "
          f"RSS {before['VmRSS']} -> {after['VmRSS']} MiB, peak {before['VmHWM']} -> {after['VmHWM']} MiB")
    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    assert response.headers["cache-control"] == "no-store"
    assert elapsed < 5, f"refusing took {elapsed:.1f} s"
    # Before the limit the peak grew by some 300 MiB (the body read whole, then parsed).
    assert after["VmHWM"] - before["VmHWM"] < 20, (before, after)
    assert after["VmRSS"] - before["VmRSS"] < 20, (before, after)
    # The process is fine and serves the next request.
    assert httpx.get(url + "/healthz", timeout=5).status_code == 200


def test_bodies_up_to_the_limit_are_read_and_one_byte_more_is_refused(
    api_process: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, _ = api_process
    admin = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    prefix, suffix = b'{"name": "padded", "role": "ops", "expires_in_days": 1', b"}"
    fits = prefix + b" " * (LIMIT - len(prefix) - len(suffix)) + suffix
    assert len(fits) == LIMIT
    with httpx.Client(base_url=url, timeout=30, headers=admin) as client:
        assert client.post("/api/v1/tokens", content=fits).status_code == 201
        over = fits[:-1] + b" }"
        for body in (over, iter([over[: LIMIT // 2], over[LIMIT // 2 :]])):  # declared, then chunked
            response = client.post("/api/v1/tokens", content=body)
            assert (response.status_code, response.json()) == (413, TOO_LARGE)
        assert [t["name"] for t in client.get("/api/v1/tokens").json()].count("padded") == 1


def test_answers_that_may_carry_alerts_are_never_cached(
    sqlite_store: SqlAlertStore,
    seed_alerts: list[Alert],
    serve: Callable[..., str],
    http: Callable[[str], httpx.Client],
    admin_token: str,
) -> None:
    sqlite_store.add_many(seed_alerts)
    client = http(serve(sqlite_store))
    alert = seed_alerts[0].id
    bulk = {"filter": {"rule": [seed_alerts[0].rule_id]}, "to": "acknowledged"}
    answers = {
        "list": client.get("/api/v1/alerts"),
        "list, unversioned": client.get("/alerts"),
        "detail": client.get(f"/api/v1/alerts/{alert}"),
        "occurrences": client.get(f"/api/v1/alerts/{alert}/occurrences"),
        "bulk result": client.post("/api/v1/alerts/bulk/transition", json=bulk),
        "audit entries": client.get("/api/v1/audit"),
        "tokens": client.get("/api/v1/tokens"),
        "refused": httpx.get(client.base_url.join("/api/v1/alerts")),
        "missing": client.get("/api/v1/alerts/nope"),
        "readiness": client.get("/readyz"),
    }
    # Not through `client`: its hook reads every body whole, and a stream has no end.
    auth = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=client.base_url, headers=auth, timeout=10) as plain, plain.stream(
        "GET", "/api/v1/alerts/stream"
    ) as stream:
        answers["stream"] = stream
    for name, response in answers.items():
        assert response.status_code < 500, (name, response.status_code)
        assert response.headers.get("cache-control") == "no-store", name
    # The console's own files hold no data: caching them is fine.
    static = httpx.get(client.base_url.join("/static/console.js"))
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")
