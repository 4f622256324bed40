"""The shipped alerting path for real: Prometheus evaluates deploy/'s rules, Alertmanager routes them.

A real Prometheus (Debian package) loads the shipped alerting and recording rules and the shipped
Alertmanager configuration drives a real Alertmanager; only the receivers' URLs point at a local
webhook, and ``for:`` / grouping delays are shortened so the test takes seconds instead of hours.
The targets: one worker port nobody listens on (a dead worker), and a static exposition standing for a
live worker that consumed nothing and whose webhook sink has delivered nothing for 20 minutes, and an
API whose queue holds critical alerts (the real endpoints are scraped in test_ops_scrape.py). Each of
the three receivers must get exactly its alerts.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from monitor.broker import free_port

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"

# What the live worker and the API would expose in this situation (names from docs/metrics.md).
WORKER_EXPOSITION = """\
# TYPE veille_posts_consumed_total counter
veille_posts_consumed_total{topic="veille.posts.internal"} 42
# TYPE veille_offsets_commits_total counter
veille_offsets_commits_total 7
# TYPE veille_sink_oldest_undelivered_seconds gauge
veille_sink_oldest_undelivered_seconds{sink="kafka"} 0
veille_sink_oldest_undelivered_seconds{sink="webhook:https://hooks.example.org#1a2b3c4d"} 1200
"""
API_EXPOSITION = """\
# TYPE veille_open_alerts gauge
veille_open_alerts{severity="critical"} 2
veille_open_alerts{severity="high"} 5
# TYPE veille_queue_oldest_open_age_seconds gauge
veille_queue_oldest_open_age_seconds{severity="critical"} 18000
veille_queue_oldest_open_age_seconds{severity="high"} 600
# TYPE veille_api_store_up gauge
veille_api_store_up 1
"""


class Receiver:
    """Serves the two expositions and records what Alertmanager posts to each receiver path."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = {"/worker/metrics": WORKER_EXPOSITION, "/api/metrics": API_EXPOSITION}.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write((body or "").encode())

            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    receiver.received.setdefault(self.path.strip("/"), []).append(payload)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def alertnames(self, receiver: str) -> set[str]:
        with self._lock:
            return {alert["labels"]["alertname"] for payload in self.received.get(receiver, [])
                    for alert in payload["alerts"] if alert["status"] == "firing"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    thread = threading.Thread(target=recv.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recv
    finally:
        recv.server.shutdown()
        recv.server.server_close()
        thread.join(5)


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _fast_rules(ops: Any, target: Path) -> list[str]:
    """The shipped rule files with every ``for:`` cut to 0s; expressions, labels, annotations untouched."""
    target.mkdir()
    paths = []
    for path in sorted(ops.RULES_DIR.glob("*.yml")):
        rules = yaml.safe_load(path.read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = "0s"
        (target / path.name).write_text(yaml.safe_dump(rules))
        paths.append(str(target / path.name))
    return paths


def test_shipped_rules_fire_and_shipped_routes_deliver_to_each_receiver(
    ops: Any, receiver: Receiver, tmp_path: Path
) -> None:
    shipped_am = yaml.safe_load((ops.DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    for entry in shipped_am["receivers"]:
        for hook in entry["webhook_configs"]:
            hook["url"] = f"http://127.0.0.1:{receiver.port}/{entry['name']}"
    shipped_am["route"].update(group_wait="1s", group_interval="1s")
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(shipped_am))

    dead_worker = free_port()  # nobody listens: up == 0
    am_port, prom_port = free_port(), free_port()
    shipped_prom = yaml.safe_load((ops.DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": _fast_rules(ops, tmp_path / "rules"),
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [
            {"job_name": "veille-worker", "metrics_path": "/worker/metrics",
             "static_configs": [{"targets": [f"127.0.0.1:{receiver.port}", f"127.0.0.1:{dead_worker}"]}]},
            {"job_name": "veille-api", "metrics_path": "/api/metrics",
             "static_configs": [{"targets": [f"127.0.0.1:{receiver.port}"]}]},
        ],
    }
    # The job names are the shipped ones: the rules select them.
    assert {job["job_name"] for job in config["scrape_configs"]} <= {
        job["job_name"] for job in shipped_prom["scrape_configs"]}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))

    logs = {"alertmanager": tmp_path / "alertmanager.log", "prometheus": tmp_path / "prometheus.log"}
    processes = [
        _start([ALERTMANAGER, f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address="], logs["alertmanager"]),
        _start([ops.PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}"], logs["prometheus"]),
    ]

    def tail() -> str:
        return "\n".join(f"--- {name}\n{path.read_text()[-2000:]}" for name, path in logs.items())

    try:
        ops.wait_until(lambda: _ready(am_port) and _ready(prom_port), 30, f"both servers ready\n{tail()}")
        expected = {
            "ops-pager": {"VeilleWorkerDown", "VeilleSinkDeliveryStalled"},
            # increase() over a counter that stays flat: needs two scrapes, then fires.
            "ops-tickets": {"VeilleNoPostsConsumed"},
            "compliance-team": {"VeilleCriticalAlertOpenTooLong"},
        }
        try:
            ops.wait_until(lambda: all(want <= receiver.alertnames(name) for name, want in expected.items()),
                           60, "every receiver's alerts")
        except AssertionError as exc:
            got = {name: receiver.alertnames(name) for name in receiver.received}
            raise AssertionError(f"{exc}: expected {expected}, got {got}\n{tail()}") from None
        # Routing by severity keeps them apart: the pager never gets the compliance queue, and so on.
        for name, names in expected.items():
            assert receiver.alertnames(name) == names, (name, receiver.alertnames(name))
        compliance = next(alert for payload in receiver.received["compliance-team"]
                          for alert in payload["alerts"])
        assert compliance["labels"]["severity"] == "compliance"
        assert compliance["annotations"]["runbook"] == "deploy/README.md#compliance-queue"
        assert re.match(r"The oldest critical alert not yet closed was stored 5h ",
                        compliance["annotations"]["summary"]), compliance["annotations"]["summary"]
        paged = {alert["labels"]["alertname"]: alert for payload in receiver.received["ops-pager"]
                 for alert in payload["alerts"]}
        assert paged["VeilleWorkerDown"]["labels"]["instance"] == f"127.0.0.1:{dead_worker}"
        stalled = paged["VeilleSinkDeliveryStalled"]
        assert stalled["labels"]["sink"] == "webhook:https://hooks.example.org#1a2b3c4d", "only the late sink"
        assert stalled["annotations"]["runbook"] == "deploy/README.md#sink-delivery-stalled"
    finally:
        for process in processes:
            _stop(process)
