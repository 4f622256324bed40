"""Kafka clients built from Settings, topic creation, the dead-letter writer and the readiness probes.

Everything Kafka-specific the run loop needs lives here so that `runner.py` reads as the commit
protocol and nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

from alerts.sinks import await_acks
from monitor.records import DLQ_REASONS
from monitor.settings import Settings

log = logging.getLogger(__name__)

DLQ_DETAIL_MAX_CHARS = 500
# Kafka refuses records over about 1 MB by default (producer max_request_size, broker message.max.bytes):
# a record larger than that cannot be dead-lettered whole, and retrying its batch would stall the partition.
DLQ_RECORD_MAX_BYTES = 1_000_000
DLQ_KEY_MAX_BYTES = 16_384


def record_ref(topic: str, partition: int, offset: int) -> str:
    """How logs name a record: never its payload."""
    return f"{topic}[{partition}]@{offset}"


def make_consumer(settings: Settings, *, client_id: str | None = None, **overrides: Any) -> KafkaConsumer:
    """A consumer in ``settings.group_id`` that hands out raw bytes and never commits on its own.

    No value_deserializer: decoding belongs to ``decode_post`` so that a bad record becomes a DLQ
    entry with a reason instead of an exception inside the client's fetch loop.
    """
    config: dict[str, Any] = {
        "bootstrap_servers": list(settings.bootstrap_servers),
        "group_id": settings.group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "max_poll_records": settings.poll_max_records,
        # The run loop polls again after at most batch_max_seconds and one chunk (monitor.runner).
        "max_poll_interval_ms": settings.max_poll_interval_ms,
        "client_id": client_id or "veille-worker",
    }
    config.update(overrides)
    return KafkaConsumer(**config)


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """Durable by default (kafka-python 3.0: acks=all and idempotence); callers flush before committing."""
    config: dict[str, Any] = {
        "bootstrap_servers": list(settings.bootstrap_servers),
        "acks": "all",
        "linger_ms": 5,
        "client_id": "veille-producer",
    }
    config.update(overrides)
    return KafkaProducer(**config)


def create_topics(bootstrap_servers: Sequence[str], names: Sequence[str], partitions: int,
                  *, timeout_s: float = 15.0) -> None:
    """Create the topics that do not exist yet (idempotent) and wait until they have metadata."""
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    admin = KafkaAdminClient(bootstrap_servers=list(bootstrap_servers), client_id="veille-admin",
                             request_timeout_ms=int(timeout_s * 1000))
    try:
        existing = set(admin.list_topics())
        missing = [name for name in dict.fromkeys(names) if name not in existing]
        if missing:
            # Already there means created concurrently by another worker: exactly what we wanted.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1}
                                     for name in missing})
        _wait_for_topics(admin, list(names), timeout_s)
    finally:
        admin.close()


def _wait_for_topics(admin: KafkaAdminClient, names: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        visible = set(admin.list_topics())
        missing = [name for name in names if name not in visible]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {missing} not visible in broker metadata after {timeout_s:.0f} s")
        time.sleep(0.05)


def ensure_topics(settings: Settings, partitions: int = 4) -> None:
    """The input topics, the DLQ and the alerts topic."""
    create_topics(settings.bootstrap_servers,
                  [*settings.input_topics, settings.dlq_topic, settings.alerts_topic], partitions)


def committed_offsets(settings: Settings, group_id: str | None = None) -> dict[TopicPartition, int]:
    """The group's committed offsets (admin API), for tests, lag tools and the demo."""
    admin = KafkaAdminClient(bootstrap_servers=list(settings.bootstrap_servers), client_id="veille-admin")
    try:
        group = group_id or settings.group_id
        offsets = admin.list_group_offsets({group: None}).get(group, {})
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    finally:
        admin.close()


def broker_reachable(settings: Settings, timeout_s: float = 2.0) -> bool:
    """True when at least one bootstrap server answers a Kafka request within ``timeout_s``.

    Used by the API readiness probe: a raw ApiVersions round trip, so no client threads, no metadata.
    """
    deadline = time.monotonic() + timeout_s
    for server in settings.bootstrap_servers:
        host, _, port = server.rpartition(":")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            port_number = int(port)
        except ValueError:
            log.warning("bootstrap server %r has no numeric port", server)
            continue
        if kafka_api_versions(host.strip("[]") or "127.0.0.1", port_number, timeout_s=remaining):
            return True
    return False


def kafka_api_versions(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when something at host:port answers a Kafka ApiVersions request (not merely accepts TCP)."""
    client_id = b"veille-probe"
    correlation_id = 0x5645494C
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exact(sock, 8)
            size, answered_id = struct.unpack(">ii", header)
            return answered_id == correlation_id and size >= 6
    except OSError:
        return False


def _recv_exact(sock: socket.socket, count: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < count:
        chunk = sock.recv(count - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        chunks.extend(chunk)
    return bytes(chunks)


class DeadLetterWriter:
    """Sends malformed records, byte for byte and with their key, to the DLQ topic.

    Headers carry why (``error``, a bounded reason code) and where from; ``error_detail`` is the
    decoder's description (positions, field paths, sizes), never post text. A key or value too large to
    resend keeps its first bytes, and ``key_truncated_from`` / ``value_truncated_from`` its full size.
    """

    def __init__(self, settings: Settings, producer: KafkaProducer) -> None:
        self.topic = settings.dlq_topic
        self._producer = producer
        self._pending: list[Any] = []

    def send(self, *, value: bytes | None, key: bytes | None, reason: str, detail: str,
             source_topic: str, source_partition: int, source_offset: int) -> None:
        if reason not in DLQ_REASONS:
            raise ValueError(f"unknown DLQ reason {reason!r}; expected one of {DLQ_REASONS}")
        headers = [
            ("error", reason.encode()),
            ("error_detail", detail[:DLQ_DETAIL_MAX_CHARS].encode("utf-8", "replace")),
            ("source_topic", source_topic.encode()),
            ("source_partition", str(source_partition).encode()),
            ("source_offset", str(source_offset).encode()),
        ]
        if key is not None and len(key) > DLQ_KEY_MAX_BYTES:
            headers.append(("key_truncated_from", str(len(key)).encode()))
            key = key[:DLQ_KEY_MAX_BYTES]
        # 1 KB of margin for the record's framing and the truncation header itself.
        framing = sum(len(name) + len(raw) for name, raw in headers) + 1024
        room = DLQ_RECORD_MAX_BYTES - len(key or b"") - framing
        if value is not None and len(value) > room:
            headers.append(("value_truncated_from", str(len(value)).encode()))
            value = value[:room]
        self._pending.append(self._producer.send(self.topic, value=value, key=key, headers=headers))

    def flush(self, timeout_s: float = 30.0) -> None:
        """Block until every DLQ record sent since the last flush is acknowledged; raise if one failed."""
        pending, self._pending = self._pending, []
        await_acks(self._producer, pending, timeout_s)


def send_records(
    settings: Settings,
    records: Iterable[tuple[str, bytes | None, bytes | None]],
    *,
    timeout_s: float = 60.0,
    producer: KafkaProducer | None = None,
) -> dict[TopicPartition, int]:
    """Send ``(topic, key, value)`` records, wait for every acknowledgement, and return each written
    partition's end offset (last offset + 1). Acks are awaited every 10,000 records to bound memory."""
    owned = producer is None
    producer = producer or make_producer(settings, linger_ms=20, batch_size=256 * 1024)
    ends: dict[TopicPartition, int] = {}
    futures: list[Any] = []

    def settle() -> None:
        await_acks(producer, futures, timeout_s)
        for future in futures:
            meta = future.value
            tp = TopicPartition(meta.topic, meta.partition)
            ends[tp] = max(ends.get(tp, 0), meta.offset + 1)
        futures.clear()

    try:
        for topic, key, value in records:
            futures.append(producer.send(topic, key=key, value=value))
            if len(futures) >= 10_000:
                settle()
        settle()
    finally:
        if owned:
            producer.close(timeout=5)
    return ends


def headers_dict(headers: Iterable[tuple[str, bytes]] | None) -> Mapping[str, str]:
    return {name: value.decode("utf-8", "replace") for name, value in (headers or [])}


__all__ = [
    "DeadLetterWriter",
    "KafkaError",
    "broker_reachable",
    "committed_offsets",
    "create_topics",
    "ensure_topics",
    "headers_dict",
    "kafka_api_versions",
    "make_consumer",
    "make_producer",
    "record_ref",
    "send_records",
]
