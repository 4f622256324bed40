"""The run loop: poll a batch, decode, detect, store, publish, commit. In that order, always.

Commit protocol (what makes "at-least-once in, exactly-once alerts out" true):

1. ``poll`` a batch; remember each partition's first offset in it.
2. Decode every record once. A malformed one goes to the DLQ (original bytes and key, reason headers).
3. ``pipeline.process`` the posts of the batch together.
4. ``store.add_many`` the alerts: idempotent on ``Alert.id``, so a replayed record never duplicates one.
5. Every sink publishes *all* the batch's alerts, not only the newly stored ones: if a previous attempt
   stored them and then a sink failed, the retry must still deliver them. Sinks are at-least-once.
6. Flush the DLQ producer (its records must be safe before their offsets move).
7. Commit the batch's end offsets synchronously.

If any of 3-6 raises, nothing is committed: the consumer seeks back to the batch's first offsets, waits
(exponential backoff) and polls the same records again. Nothing is skipped, and a broken store or sink
stalls the partition (visible as consumer lag) instead of losing posts.

Rebalances: kafka-python runs the rebalance listener inside ``poll``. Since each batch is fully
committed (or rolled back by seeking) before the next ``poll``, no processed-but-uncommitted offsets exist
when partitions are revoked; the new owner resumes from the last committed offset. A batch whose commit
fails because the group rebalanced meanwhile is simply replayed by the new owner: idempotent store,
at-least-once sinks.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from alerts.model import Alert, Severity
from alerts.sinks import AlertSink
from monitor.kafka_io import DeadLetterWriter, make_consumer, make_producer, record_ref
from monitor.metrics import BATCH_STAGES, Metrics
from monitor.records import DLQ_REASONS, MalformedRecord, decode_post
from monitor.reload import PolicyReloader
from monitor.reputation import ReputationAggregator
from monitor.settings import Settings
from policies import PolicySet
from policies.post import Post

log = logging.getLogger(__name__)


class _HasAlerts(Protocol):
    @property
    def alerts(self) -> list[Alert]: ...


class PipelineLike(Protocol):
    @property
    def policy_version(self) -> str: ...

    def process(
        self, posts: Sequence[Post], origins: Sequence[Mapping[str, Any]] | None = None
    ) -> Sequence[_HasAlerts]: ...


class ReloadablePipeline(PipelineLike, Protocol):
    policies: PolicySet


class SystemicFailure(RuntimeError):
    """Every post of a batch failed on its own too: the pipeline is broken, not the posts."""


class StoreLike(Protocol):
    def add_many(self, alerts: Sequence[Alert]) -> list[str]: ...

    def publishable(self, alert_ids: Sequence[str]) -> set[str]: ...


@dataclass
class BatchOutcome:
    records: int
    posts: int
    dead_lettered: int
    alerts: int
    new_alerts: int


class _LagTracker(ConsumerRebalanceListener):
    """Keeps the lag gauge to the partitions this worker owns, and logs rebalances."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        # Nothing to commit here: see the module docstring.
        if revoked:
            log.info("partitions revoked: %s", _names(revoked))
        for tp in revoked:
            self._worker._forget_partition(tp)

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        log.info("partitions assigned: %s", _names(assigned) or "none")


def _names(partitions: Sequence[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions))


class Worker:
    """One consumer in the group. ``run(stop)`` returns once ``stop`` is set and the batch is committed."""

    def __init__(
        self,
        settings: Settings,
        pipeline: PipelineLike,
        store: StoreLike,
        sinks: Sequence[AlertSink],
        metrics: Metrics,
        *,
        consumer: KafkaConsumer | None = None,
        dlq_producer: KafkaProducer | None = None,
        retry_backoff_s: tuple[float, float] = (0.5, 30.0),
        client_id: str | None = None,
        reloader: PolicyReloader | None = None,
        reputation: ReputationAggregator | None = None,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.store = store
        self.sinks = list(sinks)
        self.metrics = metrics
        self._consumer = consumer
        self._dlq_producer = dlq_producer
        self._owns_producer = dlq_producer is None
        self._backoff_initial, self._backoff_max = retry_backoff_s
        self._client_id = client_id
        self._reloader = reloader
        self.reputation = reputation
        self._lag_labels: set[tuple[str, str]] = set()
        self.batches_committed = 0
        self.failed_attempts = 0
        self._stage = "pipeline"  # the step a failing batch was in: a bounded metric label
        self.commits_refused = 0
        self._reputation_stale = False

    def run(self, stop: threading.Event) -> None:
        consumer = self._consumer or make_consumer(self.settings, client_id=self._client_id)
        producer = self._dlq_producer or make_producer(self.settings, client_id="veille-dlq")
        dlq = DeadLetterWriter(self.settings, producer)
        consumer.subscribe(list(self.settings.input_topics), listener=_LagTracker(self))
        log.info("worker consuming %s as group %r (policy %s)", ", ".join(self.settings.input_topics),
                 self.settings.group_id, self.pipeline.policy_version)
        backoff = self._backoff_initial
        self._publish_policy_version(None)
        self._init_series()
        try:
            while not stop.is_set():
                self._maybe_reload()
                try:
                    batch = consumer.poll(timeout_ms=self.settings.poll_timeout_ms,
                                          max_records=self.settings.poll_max_records)
                except KafkaError as exc:
                    log.warning("poll failed (%s: %s); retrying in %.1f s", type(exc).__name__, exc, backoff)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, self._backoff_max)
                    continue
                if batch:
                    try:
                        self._handle(consumer, dlq, batch)
                    except Exception as exc:
                        self.failed_attempts += 1
                        self.metrics.batch_retries.labels(self._stage).inc()
                        self._rewind(consumer, batch)
                        # The unsaved windows of the failed batch are forgotten by reloading, at the
                        # start of the next attempt: reloading reads the store, which may be what failed.
                        self._reputation_stale = True
                        log.error("batch %s not committed (%s: %s); retrying it in %.1f s",
                                  _batch_ref(batch), type(exc).__name__, exc, backoff)
                        # A stalled partition is exactly when the lag gauge must be right.
                        self._update_lag(consumer)
                        stop.wait(backoff)
                        backoff = min(backoff * 2, self._backoff_max)
                        continue
                    backoff = self._backoff_initial
                self._update_lag(consumer)
        finally:
            self._close(consumer, producer)

    def _handle(self, consumer: KafkaConsumer, dlq: DeadLetterWriter,
                batch: Mapping[TopicPartition, Sequence[ConsumerRecord]]) -> BatchOutcome:
        started = time.perf_counter()
        if self._reputation_stale and self.reputation is not None:
            self._stage = "store"
            self.reputation.reload()
            self._reputation_stale = False
        self._stage = "pipeline"
        max_bytes = self.settings.max_record_bytes
        posts: list[Post] = []
        origins: list[dict[str, Any]] = []
        sources: list[ConsumerRecord] = []
        consumed: Tally[str] = Tally()
        dead: Tally[tuple[str, str]] = Tally()
        records = 0
        for tp, tp_records in batch.items():
            records += len(tp_records)
            for record in tp_records:
                try:
                    post = decode_post(record.value, max_bytes)
                except MalformedRecord as bad:
                    log.warning("%s dead-lettered: %s", record_ref(tp.topic, tp.partition, record.offset),
                                bad.reason)
                    dlq.send(value=record.value, key=record.key, reason=bad.reason, detail=bad.detail,
                             source_topic=tp.topic, source_partition=tp.partition,
                             source_offset=record.offset)
                    dead[(tp.topic, bad.reason)] += 1
                    continue
                posts.append(post)
                origins.append({"topic": tp.topic, "partition": tp.partition, "offset": record.offset})
                sources.append(record)
                consumed[tp.topic] += 1

        results: Sequence[_HasAlerts] = []
        if posts:
            try:
                results = self.pipeline.process(posts, origins)
            except Exception as exc:
                log.warning("batch %s failed in the pipeline (%s); isolating the post that caused it",
                            _batch_ref(batch), type(exc).__name__)
                results = self._process_isolating(posts, origins, sources, dlq, dead)
        alerts = [alert for result in results for alert in result.alerts]
        if self.reputation is not None and results:
            aligned = origins
            if len(results) != len(origins):
                # Posts were dead-lettered while isolating a failure: match the rest by identity, so
                # that the aggregator still skips what it already counted when the batch is replayed.
                origin_of = {id(post): origin for post, origin in zip(posts, origins, strict=True)}
                aligned = [origin_of[id(result.post)] for result in results]  # type: ignore[attr-defined]
            alerts += self.reputation.process(results, aligned,  # type: ignore[arg-type]
                                              policy_version=self.pipeline.policy_version)
        self._stage = "store"
        new_ids = set(self.store.add_many(alerts)) if alerts else set()
        stored_at = time.time()
        # Counted when stored, not when committed: a retried batch finds them already stored (not new).
        for alert in alerts:
            if alert.id in new_ids:
                self.metrics.alerts_raised.labels(alert.rule_id, alert.severity.value,
                                                  self._metric_jurisdiction(alert.jurisdiction)).inc()
                # A producer clock ahead of ours would give a negative age: count it as immediate.
                age = max(0.0, stored_at - alert.post_created_at.timestamp())
                self.metrics.alert_latency_seconds.labels(alert.severity.value).observe(age)
        self._stage = "sink"
        # Every stored alert of the batch, new or not (a retry after a sink failure must deliver what
        # the failed attempt stored), but neither silenced ones nor hits grouped into another alert.
        publishable = self.store.publishable([alert.id for alert in alerts]) if alerts else set()
        to_publish = [alert for alert in alerts if alert.id in publishable]
        for sink in self.sinks:
            try:
                sink.publish(to_publish)
            except Exception:
                self.metrics.sink_failures.labels(sink.name).inc()
                raise
        self._stage = "dlq"
        dlq.flush()
        if self.reputation is not None:
            # Window state (with its applied offsets) is saved before the offsets move: a crash
            # after this replays a batch the aggregator then skips.
            self._stage = "store"
            self.reputation.save()
        self._stage = "commit"
        self._commit(consumer, batch)

        for topic, count in consumed.items():
            self.metrics.posts_consumed.labels(topic).inc(count)
        for (topic, reason), count in dead.items():
            self.metrics.records_dead_lettered.labels(topic, reason).inc(count)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        outcome = BatchOutcome(records, len(posts), sum(dead.values()), len(alerts), len(new_ids))
        log.debug("batch %s: %s", _batch_ref(batch), outcome)
        return outcome

    def _process_isolating(
        self,
        posts: Sequence[Post],
        origins: Sequence[dict[str, Any]],
        sources: Sequence[ConsumerRecord],
        dlq: DeadLetterWriter,
        dead: Tally[tuple[str, str]],
    ) -> list[_HasAlerts]:
        """Process posts one by one; dead-letter those that still fail, unless all of them do.

        One post that crashes a detector must not stall its partition forever; but when every post
        fails, the fault is the pipeline's (a model missing, a bug) and dead-lettering the whole stream
        would lose it: the batch is retried instead.
        """
        results: list[_HasAlerts] = []
        failed: list[tuple[int, Exception]] = []
        for index, (post, origin) in enumerate(zip(posts, origins, strict=True)):
            try:
                results.extend(self.pipeline.process([post], [origin]))
            except Exception as exc:
                failed.append((index, exc))
        if len(failed) == len(posts):
            raise SystemicFailure(f"all {len(posts)} posts failed; first: {type(failed[0][1]).__name__}")
        for index, error in failed:
            record = sources[index]
            origin = origins[index]
            where = record_ref(origin["topic"], origin["partition"], origin["offset"])
            log.error("%s dead-lettered: processing_failed (%s)", where, type(error).__name__)
            dlq.send(value=record.value, key=record.key, reason="processing_failed",
                     detail=f"{type(error).__name__} in the detectors or rules", source_topic=origin["topic"],
                     source_partition=origin["partition"], source_offset=origin["offset"])
            dead[(origin["topic"], "processing_failed")] += 1
        return results

    def _init_series(self) -> None:
        """Create every bounded series at zero, so rate() and absence alerts work before the first event."""
        for topic in self.settings.input_topics:
            self.metrics.posts_consumed.labels(topic)
            for reason in DLQ_REASONS:
                self.metrics.records_dead_lettered.labels(topic, reason)
        for sink in self.sinks:
            self.metrics.sink_failures.labels(sink.name)
        for stage in BATCH_STAGES:
            self.metrics.batch_retries.labels(stage)
        for severity in Severity:
            self.metrics.alert_latency_seconds.labels(severity.value)

    def _maybe_reload(self) -> None:
        """Between batches only: a batch is always evaluated by one policy version."""
        if self._reloader is None:
            return
        policies = self._reloader.poll(time.monotonic())
        if policies is None:
            return
        pipeline: ReloadablePipeline = self.pipeline  # type: ignore[assignment]
        previous = pipeline.policy_version
        pipeline.policies = policies
        self._publish_policy_version(previous)

    def _publish_policy_version(self, previous: str | None) -> None:
        if previous is not None and previous != self.pipeline.policy_version:
            with contextlib.suppress(KeyError):
                self.metrics.policy_info.remove(previous)
        self.metrics.policy_info.labels(self.pipeline.policy_version).set(1)

    def _metric_jurisdiction(self, jurisdiction: str) -> str:
        """The pack the post's jurisdiction maps to: bounded, unlike arbitrary country codes."""
        mapper = getattr(self.pipeline, "metric_jurisdiction", None)
        return mapper(jurisdiction) if callable(mapper) else jurisdiction

    def _commit(self, consumer: KafkaConsumer,
                batch: Mapping[TopicPartition, Sequence[ConsumerRecord]]) -> None:
        offsets = {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1)
                   for tp, records in batch.items() if records}
        try:
            consumer.commit(offsets=offsets)
        except CommitFailedError as exc:
            # The group rebalanced while we processed: the new owner replays from the last commit,
            # and the store's idempotence keeps the alerts single. Not a reason to retry here.
            log.warning("commit of %s refused after a rebalance (%s); the new owner will replay it",
                        _batch_ref(batch), exc)
            self.commits_refused += 1
            return
        self.metrics.offsets_committed.inc()
        self.batches_committed += 1

    def _rewind(self, consumer: KafkaConsumer,
                batch: Mapping[TopicPartition, Sequence[ConsumerRecord]]) -> None:
        """Point the consumer back at the batch's first records so the next poll returns them again."""
        assigned = consumer.assignment()
        for tp, records in batch.items():
            if records and tp in assigned:
                consumer.seek(tp, records[0].offset)

    def _update_lag(self, consumer: KafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue  # no fetch response for this partition yet
            try:
                position = consumer.position(tp, timeout_ms=0)
            except (KafkaError, TypeError):
                position = None
            if position is None:
                continue
            labels = (tp.topic, str(tp.partition))
            self._lag_labels.add(labels)
            self.metrics.consumer_lag.labels(*labels).set(max(0, highwater - position))

    def _forget_partition(self, tp: TopicPartition) -> None:
        labels = (tp.topic, str(tp.partition))
        if labels in self._lag_labels:
            # Zero first: in multiprocess mode the sample file outlives remove().
            self.metrics.consumer_lag.labels(*labels).set(0)
            with contextlib.suppress(KeyError):
                self.metrics.consumer_lag.remove(*labels)
            self._lag_labels.discard(labels)

    def _close(self, consumer: KafkaConsumer, producer: KafkaProducer) -> None:
        for labels in list(self._lag_labels):
            self._forget_partition(TopicPartition(labels[0], int(labels[1])))
        try:
            consumer.close(autocommit=False)
        except Exception as exc:  # closing must not hide the reason we are stopping
            log.warning("consumer close failed: %s: %s", type(exc).__name__, exc)
        if self._owns_producer:
            try:
                producer.close(timeout=5)
            except Exception as exc:
                log.warning("DLQ producer close failed: %s: %s", type(exc).__name__, exc)
        log.info("worker stopped after %d committed batches", self.batches_committed)


def _batch_ref(batch: Mapping[TopicPartition, Sequence[ConsumerRecord]]) -> str:
    return ", ".join(
        f"{tp.topic}[{tp.partition}]@{records[0].offset}..{records[-1].offset}"
        for tp, records in sorted(batch.items()) if records
    )


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT ask the loop to finish its batch, commit and close (main thread only)."""

    def _handler(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("%s received: finishing the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)


def run_worker(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Everything `veille run` needs in one process: pipeline, store, sinks, metrics, signal handlers."""
    from alerts.store import SqlAlertStore
    from monitor.metrics import default_metrics
    from monitor.pipeline import build_pipeline

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        install_stop_handlers(stop)
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc_dir:
        # Created, never emptied here: other workers may already write there (the supervisor clears it).
        os.makedirs(multiproc_dir, exist_ok=True)
    metrics = default_metrics()
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.api_host)
        log.info("worker metrics on http://%s:%d/metrics", settings.api_host, settings.metrics_port)
    pipeline = build_pipeline(settings, metrics=metrics)
    pipeline.warm_up()  # before joining the group: no partition waits on a model loading
    reloader = PolicyReloader(settings.policies_dir, metrics)
    if threading.current_thread() is threading.main_thread():
        reloader.install_sighup()
    store = SqlAlertStore.open(
        settings.resolved_database_url, group_window=timedelta(seconds=settings.group_window_seconds)
    )
    from alerts.reputation_store import ReputationStore
    from monitor.reputation import build_aggregator

    reputation = build_aggregator(settings, pipeline, ReputationStore(store.engine), metrics)
    from monitor.sinks import build_sinks

    sinks = build_sinks(settings, make_producer(settings, client_id="veille-alerts"), metrics)
    # Models, automata and clients live as long as the process: moved out of the collector's sight,
    # full collections stop rescanning them (measured: a fifth of a pattern-only pipeline's time).
    gc.freeze()
    try:
        Worker(settings, pipeline, store, sinks, metrics, reloader=reloader, reputation=reputation).run(stop)
    finally:
        for sink in sinks:
            try:
                sink.close()
            except Exception as exc:
                log.warning("sink %s close failed: %s: %s", sink.name, type(exc).__name__, exc)
        store.close()
