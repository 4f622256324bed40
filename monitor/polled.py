"""A polled batch as the run loop cuts it: chunks bounded in bytes, records already processed left out.

A poll returns up to ``poll_max_records`` records whatever they cost to process; the run loop handles
them a chunk at a time and commits each, so that it can stop after ``batch_max_seconds`` and poll
again long before ``max_poll_interval_ms`` (see ``monitor.runner``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

Polled = Mapping[TopicPartition, Sequence[ConsumerRecord]]


def chunks(batch: Polled, max_bytes: int) -> list[dict[TopicPartition, list[ConsumerRecord]]]:
    """Consecutive parts of ``batch``, each holding at most ``max_bytes`` of record values (and at
    least one record), partition after partition in offset order.

    Processing costs grow with the text (linearly: see ``alerts.evidence`` and ``detectors.vader``),
    so bytes bound a chunk's time where a record count would not: a poll of short posts is one
    chunk, a few hundred-kilobyte ones are not.
    """
    parts: list[dict[TopicPartition, list[ConsumerRecord]]] = []
    current: dict[TopicPartition, list[ConsumerRecord]] = {}
    size = 0
    for tp, records in batch.items():
        for record in records:
            cost = len(record.value or b"")
            if current and size + cost > max_bytes:
                parts.append(current)
                current, size = {}, 0
            current.setdefault(tp, []).append(record)
            size += cost
    if current:
        parts.append(current)
    return parts


def merged(parts: Sequence[Polled]) -> dict[TopicPartition, list[ConsumerRecord]]:
    """The records of consecutive ``parts`` as one batch again."""
    batch: dict[TopicPartition, list[ConsumerRecord]] = {}
    for part in parts:
        for tp, records in part.items():
            batch.setdefault(tp, []).extend(records)
    return batch


def without_processed(batch: Polled, processed: Mapping[TopicPartition, int]) -> Polled:
    """``batch`` without the records below ``processed[tp]``: stored by an attempt whose commit the
    group refused, they need committing, not processing again."""
    if not processed:
        return batch
    kept = {tp: [record for record in records if record.offset >= processed.get(tp, -1)]
            for tp, records in batch.items()}
    return {tp: records for tp, records in kept.items() if records}


def batch_ref(batch: Polled) -> str:
    """How logs name a batch: partitions and offset ranges, never a payload."""
    return ", ".join(
        f"{tp.topic}[{tp.partition}]@{records[0].offset}..{records[-1].offset}"
        for tp, records in sorted(batch.items()) if records
    )
