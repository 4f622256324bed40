"""Every Prometheus metric Veille exports, defined once.

Labels come only from sets fixed at start-up (topic, partition, jurisdiction, rule id, severity,
detector, DLQ reason, outcome): never post ids, authors, text or exception messages.

Several worker processes and the API share totals through prometheus-client's multiprocess mode:
when ``PROMETHEUS_MULTIPROC_DIR`` is set, every process writes its samples there and the API's
``/metrics`` aggregates them (see ``registry_for_scrape``).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess

REGISTRY_NAMESPACE = "veille"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Metrics:
    posts_consumed: Counter
    records_dead_lettered: Counter
    alerts_raised: Counter
    samples: Counter
    rule_hits: Counter
    posts_personal_skipped: Counter
    batch_seconds: Histogram
    detector_seconds: Histogram
    consumer_lag: Gauge
    offsets_committed: Counter
    policy_info: Gauge
    policy_reload_errors: Counter
    alert_latency_seconds: Histogram
    sink_deliveries: Counter
    sink_failures: Counter
    sink_backlog: Gauge
    sink_oldest_undelivered_seconds: Gauge
    batch_retries: Counter
    batches_cut_short: Counter
    commits_refused: Counter
    build_info: Gauge
    brand_sentiment: Gauge
    brand_volume: Gauge
    spike_alerts: Counter
    ingest_records_read: Counter
    ingest_posts_produced: Counter
    ingest_records_skipped: Counter
    ingest_posts_acknowledged: Counter
    ingest_fetch_failures: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> Metrics:
        """Fresh metrics in ``registry`` (tests pass their own ``CollectorRegistry()``)."""
        kwargs: dict[str, Any] = {"registry": registry} if registry is not None else {}
        metrics = cls(
            posts_consumed=Counter(
                "veille_posts_consumed", "Posts decoded from the input topics", ["topic"], **kwargs
            ),
            records_dead_lettered=Counter(
                "veille_records_dead_lettered",
                "Malformed records sent to the dead-letter topic",
                ["topic", "reason"],
                **kwargs,
            ),
            alerts_raised=Counter(
                "veille_alerts_raised",
                "New rule hits stored, as alerts or grouped occurrences (replays not counted)",
                ["rule", "severity", "jurisdiction"],
                **kwargs,
            ),
            samples=Counter(
                "veille_samples",
                "Posts that raised no alert drawn into the review queue, per sampling population "
                "(new items only: replays not counted)",
                ["population"],
                **kwargs,
            ),
            rule_hits=Counter(
                "veille_rule_hits",
                "Rule matches, including shadow (incubating) rules that raise no alert",
                ["rule", "jurisdiction", "mode"],
                **kwargs,
            ),
            posts_personal_skipped=Counter(
                "veille_posts_personal_skipped",
                "Posts marked personal and left unanalysed (counted, nothing else kept)",
                ["jurisdiction"],
                **kwargs,
            ),
            batch_seconds=Histogram(
                "veille_batch_processing_seconds",
                "Time from poll return to offsets committed, per batch",
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                **kwargs,
            ),
            detector_seconds=Histogram(
                "veille_detector_seconds",
                "Time one detector spends on one jurisdiction group of a batch",
                ["detector"],
                buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                **kwargs,
            ),
            consumer_lag=Gauge(
                "veille_consumer_lag",
                "Fetch high-water mark minus the position, per assigned partition",
                ["topic", "partition"],
                multiprocess_mode="livesum",
                **kwargs,
            ),
            offsets_committed=Counter(
                "veille_offsets_commits",
                "Offset commits after a stored batch",
                **kwargs,
            ),
            policy_info=Gauge(
                "veille_policy_info",
                "Loaded policy packs; the value is 1, the hash is the label",
                ["version"],
                multiprocess_mode="liveall",
                **kwargs,
            ),
            policy_reload_errors=Counter(
                "veille_policy_reload_errors",
                "Policy reloads refused because a pack failed validation",
                **kwargs,
            ),
            alert_latency_seconds=Histogram(
                "veille_alert_latency_seconds",
                "End to end: the post's created_at to its new alert stored",
                ["severity"],
                # From sub-second (live stream) to a day (replays, backlogs after an outage).
                buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
                **kwargs,
            ),
            # Delivery from the outbox (alerts.outbox): consumption never waits for a sink.
            sink_deliveries=Counter(
                "veille_sink_deliveries",
                "Alerts a sink acknowledged (delivered from the outbox)",
                ["sink"],
                **kwargs,
            ),
            sink_failures=Counter(
                "veille_sink_failures",
                "Delivery attempts that failed; the sink retries the same alerts after a backoff",
                ["sink"],
                **kwargs,
            ),
            # Read from the store by every deliverer: the same value in every process.
            sink_backlog=Gauge(
                "veille_sink_backlog",
                "Alerts stored and queued for the sink but not yet delivered",
                ["sink"],
                multiprocess_mode="livemax",
                **kwargs,
            ),
            sink_oldest_undelivered_seconds=Gauge(
                "veille_sink_oldest_undelivered_seconds",
                "Age of the oldest alert queued for the sink and not yet delivered; 0 when none waits",
                ["sink"],
                multiprocess_mode="livemax",
                **kwargs,
            ),
            batch_retries=Counter(
                "veille_batch_retries",
                "Batches rolled back and polled again, by the step that failed",
                ["stage"],
                **kwargs,
            ),
            batches_cut_short=Counter(
                "veille_batches_cut_short",
                "Polls whose processing reached VEILLE_BATCH_MAX_SECONDS: the rest was polled again",
                **kwargs,
            ),
            commits_refused=Counter(
                "veille_commits_refused",
                "Offset commits the group refused after a rebalance (e.g. a batch past max_poll_interval_ms)",
                **kwargs,
            ),
            build_info=Gauge(
                "veille_build_info",
                "Always 1; the Veille and Python versions are the labels",
                ["version", "python"],
                # Same value in every process: no per-pid series needed.
                multiprocess_mode="max",
                **kwargs,
            ),
            # Brand comes from the bounded configured list; jurisdiction is the policy pack.
            brand_sentiment=Gauge(
                "veille_brand_sentiment",
                "Mean compound sentiment of the newest window, per brand",
                ["brand", "jurisdiction", "source"],
                multiprocess_mode="mostrecent",
                **kwargs,
            ),
            brand_volume=Gauge(
                "veille_brand_volume",
                "Posts naming the brand in the newest window",
                ["brand", "jurisdiction", "source"],
                multiprocess_mode="mostrecent",
                **kwargs,
            ),
            spike_alerts=Counter(
                "veille_spike_alerts",
                "E-reputation alerts raised, by brand and kind (negative, volume, crisis)",
                ["brand", "kind"],
                **kwargs,
            ),
            # `veille ingest --follow`: reconciliation of a live source (monitor.ingest.manifest).
            ingest_records_read=Counter(
                "veille_ingest_records_read", "Source records read by `veille ingest`", ["format"], **kwargs
            ),
            ingest_posts_produced=Counter(
                "veille_ingest_posts_produced",
                "Posts `veille ingest` wrote to its output or sent to the input topics",
                ["format"],
                **kwargs,
            ),
            ingest_records_skipped=Counter(
                "veille_ingest_records_skipped",
                "Source records `veille ingest` read but did not produce, by reason",
                ["format", "reason"],
                **kwargs,
            ),
            ingest_posts_acknowledged=Counter(
                "veille_ingest_posts_acknowledged",
                "Posts sent by `veille ingest --produce` that the broker acknowledged",
                ["format"],
                **kwargs,
            ),
            ingest_fetch_failures=Counter(
                "veille_ingest_fetch_failures",
                "Polls of a live source that failed (connection error, timeout, HTTP error status)",
                ["format"],
                **kwargs,
            ),
        )
        metrics.build_info.labels(veille_version(), platform.python_version()).set(1)
        return metrics


# Values of the bounded labels above that are not data-driven (the others are topics, DLQ reasons,
# rule ids, jurisdictions, detectors, severities and sink names, all fixed when the process starts).
RULE_HIT_MODES = ("alert", "shadow")
BATCH_STAGES = ("pipeline", "store", "dlq", "commit")


def veille_version() -> str:
    try:
        return importlib.metadata.version("veille")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


_default: Metrics | None = None


def default_metrics() -> Metrics:
    """The process-wide metrics on the global registry, created on first use."""
    global _default
    if _default is None:
        _default = Metrics.create()
    return _default


def serve_process_metrics(port: int | None, host: str) -> Metrics:
    """The process-wide metrics of a long-running process (`veille run`, `veille deliver`), served on
    ``port`` when one is given."""
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc_dir:
        # Created, never emptied here: other processes may already write there (the supervisor clears it).
        os.makedirs(multiproc_dir, exist_ok=True)
    metrics = default_metrics()
    if port:
        from prometheus_client import start_http_server

        start_http_server(port, addr=host)
        log.info("metrics on http://%s:%d/metrics", host, port)
    return metrics


def registry_for_scrape() -> CollectorRegistry:
    """What /metrics serves: the multiprocess aggregate when enabled, else this process's registry."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY
