"""One post never blocks the others: a batch that fails on one post is retried post by post, and the
posts that still fail are dead-lettered with their reason, so that the rest is stored and committed.

Detection: a post that crashes a detector or a rule is dead-lettered as ``processing_failed``, unless
every post fails (then the pipeline itself is broken and the batch is retried). Storage: a post whose
alerts the database refuses (:class:`alerts.store.StoreDataError`: a value too long, a constraint) is
dead-lettered as ``store_failed``; a database that is down (:class:`alerts.store.StoreUnavailable`)
fails the batch, which is retried and never dead-lettered. Details name the exception type and the
SQLSTATE, never a value: they go to DLQ headers and logs.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from kafka.consumer.fetcher import ConsumerRecord

from alerts.model import Alert
from alerts.store import StoreDataError
from monitor.kafka_io import DeadLetterWriter, record_ref
from policies.post import Post

log = logging.getLogger(__name__)


class PostAlerts(Protocol):
    """What the pipeline returns per post (``monitor.pipeline.PostResult``)."""

    @property
    def post(self) -> Post: ...

    @property
    def alerts(self) -> list[Alert]: ...


class Processes(Protocol):
    def process(
        self, posts: Sequence[Post], origins: Sequence[Mapping[str, Any]] | None = None
    ) -> Sequence[PostAlerts]: ...


class Stores(Protocol):
    def add_many(self, alerts: Sequence[Alert]) -> list[str]: ...


class SystemicFailure(RuntimeError):
    """Every post of a batch failed on its own too: the pipeline is broken, not the posts."""


class DeadLetters:
    """Dead-letters whole records with a bounded reason, and counts them per (topic, reason)."""

    def __init__(self, dlq: DeadLetterWriter, counts: Tally[tuple[str, str]]) -> None:
        self._dlq = dlq
        self.counts = counts

    def send(self, record: ConsumerRecord, origin: Mapping[str, Any], reason: str, detail: str) -> None:
        topic, partition, offset = origin["topic"], origin["partition"], origin["offset"]
        log.error("%s dead-lettered: %s (%s)", record_ref(topic, partition, offset), reason, detail)
        self._dlq.send(value=record.value, key=record.key, reason=reason, detail=detail, source_topic=topic,
                       source_partition=partition, source_offset=offset)
        self.counts[(topic, reason)] += 1


class Batch:
    """The decoded posts of one batch, each with where it came from (origin) and its record."""

    def __init__(self, posts: Sequence[Post], origins: Sequence[Mapping[str, Any]],
                 sources: Sequence[ConsumerRecord]) -> None:
        self.posts, self.origins, self.sources = posts, origins, sources
        self._index = {id(post): index for index, post in enumerate(posts)}

    def dead_letter(self, post: Post, dead: DeadLetters, reason: str, detail: str) -> None:
        index = self._index[id(post)]
        dead.send(self.sources[index], self.origins[index], reason, detail)


def process_isolating(pipeline: Processes, batch: Batch, dead: DeadLetters) -> list[PostAlerts]:
    """Process posts one by one; dead-letter those that still fail, unless all of them do.

    One post that crashes a detector must not stall its partition forever; but when every post
    fails, the fault is the pipeline's (a model missing, a bug) and dead-lettering the whole stream
    would lose it: the batch is retried instead.
    """
    results: list[PostAlerts] = []
    failed: list[tuple[Post, Exception]] = []
    for post, origin in zip(batch.posts, batch.origins, strict=True):
        try:
            results.extend(pipeline.process([post], [origin]))
        except Exception as exc:
            failed.append((post, exc))
    if len(failed) == len(batch.posts):
        raise SystemicFailure(f"all {len(failed)} posts failed; first: {type(failed[0][1]).__name__}")
    for post, error in failed:
        detail = f"{type(error).__name__} in the detectors or rules"
        batch.dead_letter(post, dead, "processing_failed", detail)
    return results


def store_isolating(store: Stores, results: Sequence[PostAlerts], window_alerts: Sequence[Alert],
                    batch: Batch, dead: DeadLetters) -> list[str]:
    """Store each post's alerts in a transaction of its own; dead-letter the posts the store refuses.

    For a batch whose ``add_many`` raised :class:`StoreDataError`. Any other error propagates, and the
    batch is retried. E-reputation alerts (``window_alerts``) belong to no post: refused, they fail
    the batch too. Returns the ids not stored before, as ``add_many`` does.
    """
    new_ids: list[str] = []
    for result in results:
        if not result.alerts:
            continue
        try:
            new_ids += store.add_many(result.alerts)
        except StoreDataError as refused:
            batch.dead_letter(result.post, dead, "store_failed", f"{refused.detail} storing its alerts")
    if window_alerts:
        new_ids += store.add_many(window_alerts)
    return new_ids
