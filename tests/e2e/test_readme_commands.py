"""The README's two commands, run from a clean clone: the promise a newcomer relies on first."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def clean_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("clone") / "veille"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(target)], check=True)
    return target


def clean_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VEILLE_", "VIRTUAL_ENV", "PROMETHEUS_MULTIPROC"))
    }


def test_readme_has_exactly_two_commands() -> None:
    assert readme_commands() == ["./dev.sh demo", "./dev.sh test"]


def test_demo_command_from_clean_clone_raises_alerts_and_stops_cleanly(clean_clone: Path) -> None:
    port = free_port()
    # The API needs a token; the demo installs the one it is given (else it makes and prints one).
    token = "veille_00000000000000e2_" + "E" * 43
    env = {**clean_env(), "VEILLE_API_PORT": str(port), "VEILLE_BOOTSTRAP_ADMIN_TOKEN": token}
    started = time.monotonic()
    demo = subprocess.Popen(
        ["./dev.sh", "demo", "--rate", "50"],
        cwd=clean_clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 900
        alerts: list[dict[str, object]] = []
        while time.monotonic() < deadline and not alerts:
            assert demo.poll() is None, demo.stdout.read().decode() if demo.stdout else "demo exited"
            with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                alerts = httpx.get(
                    f"http://127.0.0.1:{port}/alerts", headers={"Authorization": f"Bearer {token}"}, timeout=2
                ).json()["data"]
            time.sleep(2)
        assert alerts, "the demo raised no alert"
        print(f"demo: first alert {time.monotonic() - started:.0f}s after `./dev.sh demo` on a clean clone")
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=60)
        finally:
            os.killpg(demo.pid, signal.SIGKILL) if demo.poll() is None else None
    leftovers = subprocess.run(
        ["pgrep", "-f", str(clean_clone)], capture_output=True, text=True
    ).stdout.split()
    assert leftovers == [], f"processes left behind by the demo: {leftovers}"


def test_test_command_from_clean_clone_passes(clean_clone: Path) -> None:
    # The same command; pytest is narrowed to the fast modules so that the suite does not run itself.
    started = time.monotonic()
    result = subprocess.run(
        ["./dev.sh", "test", "tests/core", "-q", "-m", "not slow"],
        cwd=clean_clone,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert " passed" in result.stdout
    print(f"test: `./dev.sh test` (narrowed) took {time.monotonic() - started:.0f}s on a clean clone")
