"""A real pipeline, scraped: `veille run --workers 2` and `veille api` on a real broker, then /metrics.

Generated traffic full of personal data (e-mails, phone numbers, NIR, IBAN, card numbers) plus malformed
records flows through two worker processes. Every endpoint (each worker's port, the API's multiprocess
aggregate) is then checked: totals equal what was produced, every label value belongs to a set fixed at
start-up, and no post text, identifier or personal datum appears anywhere in the scrape. Finally a real
Prometheus scrapes the three endpoints, loads the shipped rules and answers queries over its HTTP API.
An organisation overlay samples a share of the posts that raise no alert (``veille_samples_total``),
and the API exports the queue's service levels.
"""

from __future__ import annotations

import json
import platform
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kafka import TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from alerts.audit import CLI_ACTOR
from alerts.model import AlertKind, AlertStatus, Severity, Verdict
from alerts.query import AlertQuery
from alerts.sampling import SAMPLE_RULE_ID
from alerts.store import SqlAlertStore
from detectors.catalogue import DETECTOR_ORDER
from monitor.broker import free_port
from monitor.demo import child_env
from monitor.kafka_io import committed_offsets, ensure_topics, send_records
from monitor.metrics import BATCH_STAGES, RULE_HIT_MODES, veille_version
from monitor.produce import topic_for_sources
from monitor.records import DLQ_REASONS
from monitor.reputation import RULE_CRISIS, RULE_NEGATIVE_SPIKE, RULE_VOLUME_SPIKE, SPIKE_KINDS
from monitor.settings import Settings
from monitor.traffic import generate_posts
from policies import load_policy_set
from policies.post import Post

pytestmark = pytest.mark.kafka

POSTS = 300
SAMPLING_OVERLAY = """pack: {id: ops_sampling, overlay: global}
sampling:
  - population: ops_everyone
    percent: 25
"""
PARTITIONS = 4
# Malformed records that carry personal data: the DLQ reason may reach a label, their content never.
MALFORMED = {
    "invalid_json": b'{"id": "broken-1", "text": "write to zoe.leaky@example.org or call 06 12 34 56 78',
    "invalid_post": json.dumps({"id": "no-author-7", "source": "internal", "channel": "teams",
                                "text": "IBAN FR76 3000 6000 0112 3456 7890 189 for Zoe Leaky"}).encode(),
    "invalid_utf8": b'{"id": "latin-9", "text": "Zo\xe9 Leaky +44 7700 900123"}',
}


@dataclass
class Stack:
    settings: Settings
    posts: list[Post]
    worker_ports: tuple[int, int]
    api_port: int
    logs: dict[str, Path]
    policies_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def scrape(self, port: int) -> str:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        response.raise_for_status()
        return response.text

    def endpoints(self) -> dict[str, str]:
        return {"worker-0": self.scrape(self.worker_ports[0]), "worker-1": self.scrape(self.worker_ports[1]),
                "api": self.scrape(self.api_port)}

    def tail(self) -> str:
        return "\n".join(f"--- {name}\n{path.read_text()[-2500:]}" for name, path in self.logs.items())


def _two_free_ports() -> int:
    """A port p such that p and p + 1 are free: worker N of `veille run --workers` uses METRICS_PORT + N."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")


def _sum(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen([sys.executable, "-m", "monitor.cli", *args], env=env, stdout=handle,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _workers_with_partitions(log: Path) -> set[str]:
    """Process names of the workers whose last rebalance gave them partitions (from `veille run`'s log)."""
    owners: dict[str, bool] = {}
    for match in re.finditer(r" (\S+) monitor\.runner: partitions assigned: (.*)", log.read_text()):
        owners[match.group(1)] = match.group(2).strip() != "none"
    return {name for name, owns in owners.items() if owns}


def _answers(port: int, path: str) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _produce(settings: Settings, posts: list[Post]) -> dict[TopicPartition, int]:
    routing = topic_for_sources(settings)
    records: list[tuple[str, bytes | None, bytes]] = [
        (routing[post.source], post.author.id.encode(), post.model_dump_json().encode()) for post in posts
    ]
    records += [(settings.input_topics[0], None, value) for value in MALFORMED.values()]
    return send_records(settings, records)


@pytest.fixture(scope="module")
def stack(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory, ops: Any) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("ops-stack")
    prefix = f"o{uuid.uuid4().hex[:10]}"
    settings = Settings(
        bootstrap_servers=[kafka_broker.bootstrap],
        input_topics=[f"{prefix}.posts.internal", f"{prefix}.posts.external"],
        dlq_topic=f"{prefix}.posts.dlq", alerts_topic=f"{prefix}.alerts", group_id=f"{prefix}-group",
        data_dir=data_dir, poll_timeout_ms=200, session_timeout_ms=6000, heartbeat_interval_ms=1000,
        api_port=free_port(),
    )
    ensure_topics(settings, partitions=PARTITIONS)
    metrics_port = _two_free_ports()
    policies_dir = data_dir / "policies"
    policies_dir.mkdir()
    (policies_dir / "ops-sampling.yaml").write_text(SAMPLING_OVERLAY)
    env = child_env(settings) | {"VEILLE_METRICS_PORT": str(metrics_port), "VEILLE_POLL_MAX_RECORDS": "40",
                                 "VEILLE_POLICIES_DIR": str(policies_dir), "VEILLE_SAMPLING_SEED": "ops-seed"}
    stack = Stack(settings, list(generate_posts(POSTS, seed=23)), (metrics_port, metrics_port + 1),
                  settings.api_port, {"run": data_dir / "run.log", "api": data_dir / "api.log"}, policies_dir)
    try:
        # Workers first: `veille run` empties the shared multiprocess directory when it starts.
        stack.processes.append(_start(["run", "--workers", "2"], env, stack.logs["run"]))
        ops.wait_until(lambda: all(_answers(port, "/metrics") for port in stack.worker_ports), 90,
                       "both workers' metrics ports")
        # A port answers before its worker has warmed up and joined the group: records produced then
        # could all go to the first worker to join. Both must own partitions first.
        ops.wait_until(lambda: len(_workers_with_partitions(stack.logs["run"])) == 2, 90,
                       "both workers owning partitions")
        stack.processes.append(_start(["api"], env, stack.logs["api"]))
        ops.wait_until(lambda: _answers(stack.api_port, "/healthz"), 60, "the API")
        ends = _produce(settings, stack.posts)
        ops.wait_until(lambda: all(committed_offsets(settings).get(tp) == end for tp, end in ends.items()),
                       120, "every record committed")
        # Counters move right after the commit: wait for the aggregate to show the last batch.
        ops.wait_until(
            lambda: _sum(stack.scrape(stack.api_port), "veille_posts_consumed_total") == POSTS, 30,
            "the API's aggregate to count every post",
        )
        for process in stack.processes:
            assert process.poll() is None, stack.tail()
    except BaseException as exc:
        # No process may outlive a failed set-up; the logs say why it failed.
        for process in reversed(stack.processes):
            _stop(process)
        if isinstance(exc, AssertionError):
            raise AssertionError(f"{exc}\n{stack.tail()}") from None
        raise
    try:
        yield stack
    finally:
        for process in reversed(stack.processes):
            _stop(process)


def test_totals_of_two_worker_processes_equal_the_records_produced(stack: Stack) -> None:
    scrapes = stack.endpoints()
    per_worker = [_sum(scrapes[name], "veille_posts_consumed_total") for name in ("worker-0", "worker-1")]
    assert all(count > 0 for count in per_worker), f"both workers must consume: {per_worker}"
    # One endpoint per worker and the multiprocess aggregate agree with each other and with the input.
    assert sum(per_worker) == POSTS
    assert _sum(scrapes["api"], "veille_posts_consumed_total") == POSTS
    for reason in MALFORMED:
        assert _sum(scrapes["api"], "veille_records_dead_lettered_total", reason=reason) == 1, reason
    store = SqlAlertStore.open(stack.settings.resolved_database_url)
    try:
        stored = store.query(AlertQuery(limit=500)).data
    finally:
        store.close()
    assert stored, "the generated traffic must raise alerts"
    samples = [alert for alert in stored if alert.kind is AlertKind.SAMPLE]
    assert samples, "the 25 % overlay must draw some of the posts that raised no alert"
    assert _sum(scrapes["api"], "veille_samples_total") == len(samples)
    assert _sum(scrapes["api"], "veille_samples_total", population="ops_everyone") == len(samples)
    # Every new hit counts once, whether it opened an alert or joined a grouped one as an occurrence.
    hits = sum(alert.occurrences for alert in stored if alert.kind is AlertKind.ALERT)
    assert _sum(scrapes["api"], "veille_alerts_raised_total") == hits
    assert _sum(scrapes["api"], "veille_alert_latency_seconds_count") == hits
    for severity in Severity:
        open_count = sum(1 for a in stored if a.severity is severity and a.status is AlertStatus.OPEN)
        assert _sum(scrapes["api"], "veille_open_alerts", severity=severity.value) == open_count
    assert _sum(scrapes["api"], "veille_api_store_up") == 1
    assert _sum(scrapes["api"], "veille_offsets_commits_total") > 0
    assert _sum(scrapes["api"], "veille_batch_retries_total") == 0
    assert _sum(scrapes["api"], "veille_sink_failures_total") == 0


def test_the_k8s_probe_paths_answer_on_the_running_api(stack: Stack, ops: Any) -> None:
    docs = [doc for doc in yaml.safe_load_all((ops.DEPLOY / "k8s" / "api.yaml").read_text()) if doc]
    api = next(doc for doc in docs if doc["kind"] == "Deployment")
    container = api["spec"]["template"]["spec"]["containers"][0]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        path = container[probe]["httpGet"]["path"]
        response = httpx.get(f"http://127.0.0.1:{stack.api_port}{path}", timeout=10)
        # Store and broker are up: readiness must say so (it checks both for real).
        assert response.status_code == 200, f"{probe} {path}: {response.text}"


def _allowed_values(stack: Stack) -> dict[str, set[str]]:
    policies = load_policy_set(stack.policies_dir)
    return {
        "topic": set(stack.settings.input_topics),
        "reason": set(DLQ_REASONS),
        "rule": {rule.id for _, rule in policies.rules()}
        | {RULE_NEGATIVE_SPIKE, RULE_VOLUME_SPIKE, RULE_CRISIS, SAMPLE_RULE_ID},
        "jurisdiction": set(policies.jurisdictions),
        "mode": set(RULE_HIT_MODES),
        "severity": {severity.value for severity in Severity},
        "detector": set(DETECTOR_ORDER),
        "partition": {str(n) for n in range(PARTITIONS)},
        "stage": set(BATCH_STAGES),
        "verdict": {verdict.value for verdict in Verdict},
        "sink": {"kafka"},
        "brand": {brand.name for brand in stack.settings.brands},
        "source": {"internal", "external"},
        "kind": set(SPIKE_KINDS),
        "version": {policies.version, veille_version()},
        "python": {platform.python_version()},
        "generation": {"0", "1", "2"},  # prometheus-client's python_gc_* on a worker's own port
        "population": {p.name for plan in policies.plans.values() for p in plan.sampling} | {""},
    }


_MAJOR, _MINOR, _PATCH = platform.python_version_tuple()
_PYTHON_INFO = {"implementation": platform.python_implementation(), "major": _MAJOR, "minor": _MINOR,
                "patchlevel": _PATCH, "version": platform.python_version()}


def test_every_label_value_comes_from_a_set_fixed_at_start_up(stack: Stack) -> None:
    allowed = _allowed_values(stack)
    for endpoint, text in stack.endpoints().items():
        seen: Counter[str] = Counter()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                for label, value in sample.labels.items():
                    where = f"{endpoint}: {sample.name}{{{label}={value!r}}}"
                    seen[label] += 1
                    if family.name == "python_info":
                        assert _PYTHON_INFO.get(label) == value, where
                    elif label == "le":
                        float(value)  # a bucket bound, or +Inf
                    elif label == "pid":
                        assert re.fullmatch(r"\d{1,7}", value), where
                    else:
                        assert label in allowed, f"{where}: label {label!r} is not in the catalogue"
                        assert value in allowed[label], f"{where}: value not in the start-up set"
        # The check saw the labels that matter (a scrape of empty families would pass vacuously).
        assert {"topic", "reason", "rule", "severity", "detector", "version"} <= set(seen), (endpoint, seen)


def _personal_strings(posts: list[Post]) -> set[str]:
    found: set[str] = set()
    for post in posts:
        found |= {post.text, post.id, post.author.id}
        found |= {value for value in (post.author.display_name, post.author.handle, post.url) if value}
        found |= set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", post.text))
        found |= {m.strip() for m in re.findall(r"\+?\d[\d .-]{7,}\d", post.text)}
    for raw in MALFORMED.values():
        text = raw.decode("utf-8", "replace")
        found |= set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", text))
        found |= {m.strip() for m in re.findall(r"\+?\d[\d .-]{7,}\d", text)}
        found |= {"Zoe Leaky", "broken-1", "no-author-7", "latin-9"}
    return found


def test_no_post_content_or_personal_data_in_any_scrape(stack: Stack) -> None:
    strings = _personal_strings(stack.posts)
    kinds = Counter(post.metadata["sample_kind"] for post in stack.posts)
    assert kinds["email"] and kinds["phone"] and kinds["nir"], f"traffic without personal data: {kinds}"
    for endpoint, text in stack.endpoints().items():
        leaked = sorted(s for s in strings if s in text)
        assert not leaked, f"{endpoint} /metrics contains post data: {leaked[:5]}"
        # Phone numbers, NIRs and cards also as bare digit runs (separators dropped).
        for value in strings:
            digits = re.sub(r"\D", "", value)
            if len(digits) >= 9 and re.fullmatch(r"[\d .+-]+", value):
                assert not re.search(rf"(?<![\d.]){digits}(?!\d)", text), f"{endpoint}: {value!r}"


def _exposed_names(text: str) -> set[str]:
    """Metric names as the catalogue writes them: counters with ``_total``, histograms by base name."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


def test_the_scrape_and_the_catalogue_list_the_same_veille_metrics(stack: Stack, ops: Any) -> None:
    catalogue = ops.read_catalogue()
    documented = {name for name in catalogue if name.startswith("veille_")}
    scraped: set[str] = set()
    for endpoint, text in stack.endpoints().items():
        names = {name for name in _exposed_names(text) if name.startswith("veille_")}
        # prometheus-client adds a creation timestamp per counter and histogram (docs/metrics.md says so).
        created = {name for name in names if name.endswith("_created")}
        for name in created:
            base = name.removesuffix("_created")
            assert f"{base}_total" in documented or base in documented, (
                f"{endpoint}: {name} belongs to no catalogued counter or histogram"
            )
        undocumented = names - created - documented
        assert not undocumented, f"{endpoint} exports {sorted(undocumented)}, missing from docs/metrics.md"
        scraped |= names - created
    # Worker ports export every family, even before its first sample; the API adds its scrape-time two.
    assert documented - scraped == set(), f"documented but exported by no endpoint: {documented - scraped}"


def test_a_real_prometheus_scrapes_the_workers_and_the_api(stack: Stack, ops: Any, tmp_path: Path) -> None:
    # One item closed, so that the time-to-close histogram has an observation to show.
    store = SqlAlertStore.open(stack.settings.resolved_database_url)
    try:
        closed = store.query(AlertQuery(kind=[AlertKind.SAMPLE], limit=1)).data[0]
        store.transition(closed.id, AlertStatus.CLOSED, CLI_ACTOR, verdict=Verdict.BENIGN)
        stored_samples = store.count(AlertQuery(kind=[AlertKind.SAMPLE]))
    finally:
        store.close()
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ops.RULES_DIR / "*.yml")],
        "scrape_configs": [
            {"job_name": "veille-worker",
             "static_configs": [{"targets": [f"127.0.0.1:{p}" for p in stack.worker_ports]}]},
            {"job_name": "veille-api", "static_configs": [{"targets": [f"127.0.0.1:{stack.api_port}"]}]},
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = tmp_path / "prometheus.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [ops.PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"

    def query(expr: str) -> list[dict[str, Any]]:
        body = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=5).json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def scalar(expr: str) -> float | None:
        result = query(expr)
        return float(result[0]["value"][1]) if result else None

    try:
        ops.wait_until(lambda: _answers(port, "/-/ready"), 30, f"Prometheus ready\n{log.read_text()}")
        ops.wait_until(lambda: scalar('count(up == 1)') == 3, 30, "three targets up")
        ops.wait_until(lambda: scalar('sum(veille_posts_consumed_total{job="veille-worker"})') == POSTS, 30,
                       "the workers' totals in Prometheus")
        assert scalar('sum(veille_posts_consumed_total{job="veille-api"})') == POSTS
        assert scalar('sum(veille_open_alerts{job="veille-api"})') is not None
        assert scalar('count(veille_build_info)') == 3
        ops.wait_until(lambda: scalar("sum(veille:consumer_lag:sum)") == 0, 30, "a recording rule's result")
        # Sampling and the queue's service levels, as Prometheus stores them.
        assert scalar('sum(veille_samples_total{job="veille-worker", population="ops_everyone"})') == (
            stored_samples
        )
        ages = query('veille_queue_oldest_open_age_seconds{job="veille-api"}')
        assert {series["metric"]["severity"] for series in ages} == {s.value for s in Severity}
        assert all(float(series["value"][1]) >= 0 for series in ages)
        assert scalar('max(veille_queue_oldest_open_age_seconds{job="veille-api", severity="info"})') > 0
        ops.wait_until(
            lambda: scalar('sum(veille_alert_time_to_close_seconds_count{job="veille-api", severity="info"})')
            == 1, 30, "the closed sample in the time-to-close histogram",
        )
        assert scalar('sum(veille_alert_time_to_close_seconds_bucket{job="veille-api", severity="info", '
                      'le="+Inf"})') == 1

        rules = httpx.get(f"{base}/api/v1/rules", timeout=5).json()["data"]["groups"]
        loaded = [rule for group in rules for rule in group["rules"]]
        assert len(loaded) == sum(
            len(group["rules"]) for path in ops.RULES_DIR.glob("*.yml")
            for group in yaml.safe_load(path.read_text())["groups"]
        )
        ops.wait_until(
            lambda: all(rule.get("health") == "ok" for group in httpx.get(f"{base}/api/v1/rules", timeout=5)
                        .json()["data"]["groups"] for rule in group["rules"]),
            30, "every shipped rule evaluated without error",
        )
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
