"""The app's own Prometheus collectors: counted in the store at scrape time, so that every API process
agrees whichever process opened, closed or reviewed an alert. Labels come from severities, rule ids
and the fixed verdict set only; a failed count never fails the scrape."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from alerts.model import Severity
from alerts.query import AlertQuery
from alerts.store import SqlAlertStore
from api.errors import safe_reason

log = logging.getLogger(__name__)


class OpenAlertsCollector(Collector):
    """``veille_open_alerts{severity}`` counted in the store at scrape time.

    Counting on scrape (rather than keeping a gauge up to date) makes the number right whichever
    process opened or closed the alert. If the store fails, the scrape still succeeds: the gauge is
    left out (absent, not a false zero) and ``veille_api_store_up`` says 0.
    """

    def __init__(self, store: SqlAlertStore) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "veille_api_store_up", "1 if the API could count open alerts in the store at this scrape"
        )
        try:
            counts = self._store.count_open_by_severity()
        except Exception as exc:
            log.warning("open alert count failed during scrape: %s", safe_reason(exc))
            up.add_metric([], 0)
            yield up
            return
        gauge = GaugeMetricFamily(
            "veille_open_alerts", "Alerts in status open, per severity", labels=["severity"]
        )
        # Every severity is always present, so a dashboard sees 0 instead of a gap.
        for severity in Severity:
            gauge.add_metric([severity.value], float(counts.get(severity.value, 0)))
        yield gauge
        up.add_metric([], 1)
        yield up


class PrecisionCollector(Collector):
    """``veille_review_rule_precision{rule}`` and ``veille_review_rule_verdicts{rule,verdict}``.

    A rule with no verdict yet has no precision series (unknown, not 0).
    """

    def __init__(self, store: SqlAlertStore) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            by_rule = self._store.precision_by_rule(AlertQuery())
        except Exception as exc:  # a failed count must not fail the whole scrape
            log.warning("rule precision unavailable during scrape: %s", type(exc).__name__)
            return
        verdicts = GaugeMetricFamily(
            "veille_review_rule_verdicts", "Closed alerts per rule and verdict", labels=["rule", "verdict"]
        )
        precision = GaugeMetricFamily(
            "veille_review_rule_precision", "True positives / alerts closed with a verdict", labels=["rule"]
        )
        for rule_id, counts in sorted(by_rule.items()):
            for verdict, n in counts.items():
                verdicts.add_metric([rule_id, verdict], float(n))
            precision.add_metric([rule_id], counts["true_positive"] / sum(counts.values()))
        yield verdicts
        yield precision


# From minutes (a watched queue) to a week (samples reviewed in a weekly pass).
TIME_TO_CLOSE_BUCKETS = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
                         172800.0, 604800.0)


class QueueServiceCollector(Collector):
    """Queue service levels, read from the store at scrape time (every API process agrees):

    ``veille_queue_oldest_open_age_seconds{severity}``: age of the oldest item (alert or sample) not yet
    closed and not silenced, 0 when there is none (every severity always present);
    ``veille_alert_time_to_close_seconds{severity}``: a histogram of creation-to-close time over the
    items closed now. Counted from the rows, it goes down when an item is reopened or retention deletes
    it: Prometheus takes that as a counter reset, which rate() and histogram_quantile() handle.
    """

    def __init__(self, store: SqlAlertStore) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        try:
            oldest = self._store.oldest_open_by_severity()
            closed = self._store.close_time_buckets(TIME_TO_CLOSE_BUCKETS)
        except Exception as exc:  # a failed count must not fail the whole scrape
            log.warning("queue service levels unavailable during scrape: %s", safe_reason(exc))
            return
        now = datetime.now(UTC)
        age = GaugeMetricFamily(
            "veille_queue_oldest_open_age_seconds",
            "Age of the oldest review item not closed (nor silenced), per severity; 0 when none",
            labels=["severity"],
        )
        histogram = HistogramMetricFamily(
            "veille_alert_time_to_close_seconds",
            "Seconds from an item's creation to its closing, over the items closed now",
            labels=["severity"],
        )
        for severity in Severity:
            created = oldest.get(severity.value)
            age.add_metric([severity.value], max(0.0, (now - created).total_seconds()) if created else 0.0)
            cumulative, count, total = closed.get(severity.value, ([0] * len(TIME_TO_CLOSE_BUCKETS), 0, 0.0))
            buckets = [(repr(bound), float(n)) for bound, n in zip(TIME_TO_CLOSE_BUCKETS, cumulative,
                                                                   strict=True)]
            histogram.add_metric([severity.value], [*buckets, ("+Inf", float(count))], total)
        yield age
        yield histogram


def store_registry(store: SqlAlertStore) -> CollectorRegistry:
    """A registry private to one app, so that creating apps never touches the global registry."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OpenAlertsCollector(store))
    registry.register(PrecisionCollector(store))
    registry.register(QueueServiceCollector(store))
    return registry
