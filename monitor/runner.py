"""The run loop: poll a batch, decode, detect, store, commit. In that order, always.

Commit protocol (what makes "at-least-once in, exactly-once alerts out" true):

1. ``poll`` a batch; remember each partition's first offset in it.
2. Decode every record once. A malformed one goes to the DLQ (original bytes and key, reason headers).
3. ``pipeline.process`` the posts of the batch together.
4. ``store.add_many`` the alerts: idempotent on ``Alert.id``, so a replayed record never duplicates one.
   The same transaction queues the new alerts for the sinks (the outbox, :mod:`alerts.outbox`).
5. Flush the DLQ producer (its records must be safe before their offsets move).
6. Commit the batch's end offsets synchronously.

If any of 3-5 raises, nothing is committed: the consumer seeks back to the batch's first offsets, waits
(exponential backoff) and polls the same records again. Nothing is skipped, and a broken store stalls the
partition (visible as consumer lag) instead of losing posts. One post that fails on its own (in the
detectors, or refused by the store) is dead-lettered instead (``monitor.isolation``).

Sinks are not part of the batch: they deliver from the outbox on their own threads
(:mod:`monitor.delivery`), with their own cursors and retries. The commit depends on the store (and the
DLQ) only, so a sink that is down delays its deliveries but never stops consumption.

Time: steps 2-6 run on chunks of at most ``batch_chunk_bytes`` of records, each committed in turn; once
``batch_max_seconds`` have passed, the rest of the poll is sought back and polled again, so a poll of
slow posts never outlasts ``max_poll_interval_ms`` (``veille_batches_cut_short_total``). Should a chunk
outlast it all the same, the group refuses the commit (``veille_commits_refused_total``): the worker
remembers what it stored, and after rejoining commits it instead of processing it again, so an
overrunning batch is never replayed without end.

Rebalances: kafka-python runs the rebalance listener inside ``poll``. Since each batch is fully
committed (or rolled back by seeking) before the next ``poll``, no processed-but-uncommitted offsets exist
when partitions are revoked; the new owner resumes from the last committed offset. A batch whose commit
fails because the group rebalanced meanwhile is replayed by the new owner (the idempotent store
neither stores nor queues its alerts twice), or committed without processing if the partition comes back
to this worker.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from alerts.model import Alert, AlertKind, Severity
from alerts.store import StoreDataError
from monitor.isolation import (
    Batch,
    DeadLetters,
    PostAlerts,
    process_isolating,
    store_isolating,
)
from monitor.kafka_io import DeadLetterWriter, make_consumer, make_producer, record_ref
from monitor.metrics import BATCH_STAGES, Metrics
from monitor.polled import Polled, batch_ref, chunks, merged, without_processed
from monitor.process import install_stop_handlers
from monitor.records import DLQ_REASONS, MalformedRecord, decode_post
from monitor.reload import PolicyReloader
from monitor.reputation import ReputationAggregator
from monitor.settings import Settings
from policies import PolicySet
from policies.post import Post

log = logging.getLogger(__name__)


class PipelineLike(Protocol):
    @property
    def policy_version(self) -> str: ...

    def process(
        self, posts: Sequence[Post], origins: Sequence[Mapping[str, Any]] | None = None
    ) -> Sequence[PostAlerts]: ...


class ReloadablePipeline(PipelineLike, Protocol):
    policies: PolicySet


class StoreLike(Protocol):
    def add_many(self, alerts: Sequence[Alert]) -> list[str]: ...


@dataclass
class BatchOutcome:
    records: int
    posts: int
    dead_lettered: int
    alerts: int
    new_alerts: int
    committed: bool


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
        # Stored records whose commit was refused are committed by whoever owns them now: we only
        # skip them on the partitions we got back.
        for tp in set(self._worker._refused) - set(assigned):
            del self._worker._refused[tp]


def _names(partitions: Sequence[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions))


class Worker:
    """One consumer in the group. ``run(stop)`` returns once ``stop`` is set and the batch is committed."""

    def __init__(
        self,
        settings: Settings,
        pipeline: PipelineLike,
        store: StoreLike,
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
        # Per partition, the next offset after records stored by a chunk whose commit was refused.
        self._refused: dict[TopicPartition, int] = {}
        self._unfinished: Sequence[Polled] = []  # the chunks a failing batch leaves to poll again
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
                        self._handle_batch(consumer, dlq, batch)
                    except Exception as exc:
                        self.failed_attempts += 1
                        self.metrics.batch_retries.labels(self._stage).inc()
                        self._rewind(consumer, merged(self._unfinished))
                        # The unsaved windows of the failed batch are forgotten by reloading, at the
                        # start of the next attempt: reloading reads the store, which may be what failed.
                        self._reputation_stale = True
                        log.error("batch %s not committed (%s: %s); retrying it in %.1f s",
                                  batch_ref(batch), type(exc).__name__, exc, backoff)
                        # A stalled partition is exactly when the lag gauge must be right.
                        self._update_lag(consumer)
                        stop.wait(backoff)
                        backoff = min(backoff * 2, self._backoff_max)
                        continue
                    backoff = self._backoff_initial
                self._update_lag(consumer)
        finally:
            self._close(consumer, producer)

    def _handle_batch(self, consumer: KafkaConsumer, dlq: DeadLetterWriter, batch: Polled) -> None:
        """One poll's records, a chunk at a time; after ``batch_max_seconds`` the rest waits for the next
        poll (module docstring, "Time")."""
        started = time.perf_counter()
        self._unfinished = [batch]
        if self._reputation_stale and self.reputation is not None:
            self._stage = "store"
            self.reputation.reload()
            self._reputation_stale = False
        parts = chunks(without_processed(batch, self._refused), self.settings.batch_chunk_bytes)
        if not parts:
            self._commit(consumer, {})  # only records stored before a refused commit
        for index, part in enumerate(parts):
            self._unfinished = parts[index:]
            outcome = self._handle(consumer, dlq, part)
            if index + 1 == len(parts):
                break
            elapsed = time.perf_counter() - started
            if not outcome.committed or elapsed > self.settings.batch_max_seconds:
                self._rewind(consumer, merged(parts[index + 1 :]))
                if outcome.committed:
                    self.metrics.batches_cut_short.inc()
                    log.warning("batch %s cut short after %.1f s (VEILLE_BATCH_MAX_SECONDS=%g): the rest "
                                "is polled again", batch_ref(batch), elapsed, self.settings.batch_max_seconds)
                break
        self._unfinished = []
        self.metrics.batch_seconds.observe(time.perf_counter() - started)

    def _handle(self, consumer: KafkaConsumer, dlq: DeadLetterWriter, batch: Polled) -> BatchOutcome:
        self._stage = "pipeline"
        max_bytes = self.settings.max_record_bytes
        posts: list[Post] = []
        origins: list[dict[str, Any]] = []
        sources: list[ConsumerRecord] = []
        consumed: Tally[str] = Tally()
        dead: Tally[tuple[str, str]] = Tally()
        dead_letters = DeadLetters(dlq, dead)
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

        decoded = Batch(posts, origins, sources)
        results: Sequence[PostAlerts] = []
        if posts:
            try:
                results = self.pipeline.process(posts, origins)
            except Exception as exc:
                log.warning("batch %s failed in the pipeline (%s); isolating the post that caused it",
                            batch_ref(batch), type(exc).__name__)
                results = process_isolating(self.pipeline, decoded, dead_letters)
        alerts = [alert for result in results for alert in result.alerts]
        window_alerts: list[Alert] = []
        if self.reputation is not None and results:
            aligned = origins
            if len(results) != len(origins):
                # Posts were dead-lettered while isolating a failure: match the rest by identity, so
                # that the aggregator still skips what it already counted when the batch is replayed.
                origin_of = {id(post): origin for post, origin in zip(posts, origins, strict=True)}
                aligned = [origin_of[id(result.post)] for result in results]
            window_alerts = self.reputation.process(results, aligned,  # type: ignore[arg-type]
                                                    policy_version=self.pipeline.policy_version)
            alerts += window_alerts
        self._stage = "store"
        new_ids = self._store(alerts, results, window_alerts, decoded, dead_letters, batch)
        stored_at = time.time()
        # Counted when stored, not when committed: a retried batch finds them already stored (not new).
        for alert in alerts:
            if alert.id in new_ids and alert.kind is AlertKind.SAMPLE:
                # Population names come from the packs (a bounded, configured set), never from posts.
                self.metrics.samples.labels(alert.population or "").inc()
            elif alert.id in new_ids:
                self.metrics.alerts_raised.labels(alert.rule_id, alert.severity.value,
                                                  self._metric_jurisdiction(alert.jurisdiction)).inc()
                # A producer clock ahead of ours would give a negative age: count it as immediate.
                age = max(0.0, stored_at - alert.post_created_at.timestamp())
                self.metrics.alert_latency_seconds.labels(alert.severity.value).observe(age)
        self._stage = "dlq"
        dlq.flush()
        if self.reputation is not None:
            # Window state (with its applied offsets) is saved before the offsets move: a crash
            # after this replays a batch the aggregator then skips.
            self._stage = "store"
            self.reputation.save()
        self._stage = "commit"
        committed = self._commit(consumer, batch)

        for topic, count in consumed.items():
            self.metrics.posts_consumed.labels(topic).inc(count)
        for (topic, reason), count in dead.items():
            self.metrics.records_dead_lettered.labels(topic, reason).inc(count)
        outcome = BatchOutcome(records, len(posts), sum(dead.values()), len(alerts), len(new_ids), committed)
        log.debug("batch %s: %s", batch_ref(batch), outcome)
        return outcome

    def _store(self, alerts: Sequence[Alert], results: Sequence[PostAlerts], window_alerts: Sequence[Alert],
               decoded: Batch, dead: DeadLetters, batch: Polled) -> set[str]:
        """``store.add_many`` of the batch's alerts; if the database refuses some values, post by post."""
        if not alerts:
            return set()
        try:
            return set(self.store.add_many(alerts))
        except StoreDataError as refused:
            log.warning("batch %s: the store refused some values (%s); storing post by post",
                        batch_ref(batch), refused.detail)
        return set(store_isolating(self.store, results, window_alerts, decoded, dead))

    def _init_series(self) -> None:
        """Create every bounded series at zero, so rate() and absence alerts work before the first event."""
        for topic in self.settings.input_topics:
            self.metrics.posts_consumed.labels(topic)
            for reason in DLQ_REASONS:
                self.metrics.records_dead_lettered.labels(topic, reason)
        for stage in BATCH_STAGES:
            self.metrics.batch_retries.labels(stage)
        for severity in Severity:
            self.metrics.alert_latency_seconds.labels(severity.value)
        self._init_series_per_pack()

    def _init_series_per_pack(self) -> None:
        """A zero series per sampling population and per jurisdiction skipping personal messages, of
        the loaded packs (again after each reload)."""
        policies = getattr(self.pipeline, "policies", None)
        for plan in getattr(policies, "plans", {}).values():
            for population in plan.sampling:
                self.metrics.samples.labels(population.name)
            if plan.personal.skip:
                self.metrics.posts_personal_skipped.labels(plan.jurisdiction)

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
        self._init_series_per_pack()

    def _publish_policy_version(self, previous: str | None) -> None:
        if previous is not None and previous != self.pipeline.policy_version:
            with contextlib.suppress(KeyError):
                self.metrics.policy_info.remove(previous)
        self.metrics.policy_info.labels(self.pipeline.policy_version).set(1)

    def _metric_jurisdiction(self, jurisdiction: str) -> str:
        """The pack the post's jurisdiction maps to: bounded, unlike arbitrary country codes."""
        mapper = getattr(self.pipeline, "metric_jurisdiction", None)
        return mapper(jurisdiction) if callable(mapper) else jurisdiction

    def _commit(self, consumer: KafkaConsumer, batch: Polled) -> bool:
        """Commit ``batch`` and whatever a refused commit left stored but uncommitted; False if refused."""
        assigned = consumer.assignment()
        ends = {tp: offset for tp, offset in self._refused.items() if tp in assigned}
        ends.update({tp: records[-1].offset + 1 for tp, records in batch.items() if records})
        if not ends:
            return True
        try:
            consumer.commit(offsets={tp: OffsetAndMetadata(end, "", -1) for tp, end in ends.items()})
        except CommitFailedError as exc:
            # The group rebalanced while we processed (another worker joined, or this batch outlasted
            # max_poll_interval_ms). The records are stored: if we get their partitions back, skip and
            # commit them rather than process them again, or a batch that always overruns would be
            # replayed for ever. Whoever else gets them replays them (idempotent store).
            log.warning("commit of %s refused after a rebalance (%s); stored, committed after the rejoin",
                        batch_ref(batch), exc)
            self._refused.update(ends)
            self.commits_refused += 1
            self.metrics.commits_refused.inc()
            return False
        for tp in ends:
            self._refused.pop(tp, None)
        self.metrics.offsets_committed.inc()
        self.batches_committed += 1
        return True

    def _rewind(self, consumer: KafkaConsumer, batch: Polled) -> None:
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




def run_worker(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Everything `veille run` needs in one process: pipeline, store, metrics, signal handlers, and the
    delivery threads of the sinks (unless ``delivery_in_workers`` is off: then `veille deliver` runs)."""
    from alerts.store import SqlAlertStore
    from monitor.metrics import serve_process_metrics
    from monitor.pipeline import build_pipeline

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        install_stop_handlers(stop)
    metrics = serve_process_metrics(settings.metrics_port, settings.api_host)
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
    from monitor.delivery import Delivery, register_sinks

    delivery = None
    # Models, automata and clients live as long as the process: moved out of the collector's sight,
    # full collections stop rescanning them (measured: a fifth of a pattern-only pipeline's time).
    gc.freeze()
    try:
        # Before the first alert is stored: a newly configured sink must not miss it.
        register_sinks(settings, store.engine)
        if settings.delivery_in_workers:
            delivery = Delivery.for_settings(settings, store.engine, metrics).start()
        Worker(settings, pipeline, store, metrics, reloader=reloader, reputation=reputation).run(stop)
    finally:
        if delivery is not None:
            delivery.stop()
        store.close()
