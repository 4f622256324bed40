"""10,000 hostile records through a real broker into a real `veille run` worker (PostgreSQL store).

Every record is accounted for: dead-lettered with a reason its kind allows, or processed. The worker
stays alive, commits everything, and its resident memory (from /proc) stays bounded. The decoder alone
is tested in test_hostile_decoding.py; this is the whole path: broker fetch, decode, DLQ producer,
detectors, evidence, the store and the commit.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.broker import free_port
from monitor.kafka_io import make_producer, send_records
from monitor.records import DLQ_REASONS
from monitor.settings import Settings
from monitor.traffic import generate_posts

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

RECORDS = 10_000
HUGE_RECORDS = 5  # 10 MB each: over the record limit, and over kafka-python's default request size
HUGE_BYTES = 10 * 1024 * 1024
DECODE_REASONS = {"too_large", "invalid_utf8", "invalid_json", "invalid_post"}
PROCESSED = "processed"
ANY_OUTCOME = {PROCESSED, *DLQ_REASONS}  # processed safely, or isolated with whatever reason applies
# Resident memory may grow this much over the warmed-up worker while the hostile records pass,
# with 10 MB records among them (each held by the fetcher, and once more when dead-lettered).
RSS_PEAK_GROWTH = 300 * 1024 * 1024
RSS_END_GROWTH = 150 * 1024 * 1024

Record = tuple[bytes, set[str]]  # value, the outcomes allowed for it


def _post(index: int, rng: random.Random, **overrides: Any) -> dict[str, Any]:
    post: dict[str, Any] = {
        "id": f"hostile-{index}", "source": "external", "channel": "x",
        "author": {"id": f"u-{rng.randrange(1000)}", "country": rng.choice(["FR", "US", "GB"])},
        # A confidentiality marker in a public post raises an alert: the text reaches the stored evidence.
        "text": f"ce document est confidentiel, ne pas diffuser. Écrire à someone{index}@example.org",
        "created_at": "2026-11-26T09:30:00Z",
    }
    post.update(overrides)
    return post


def _raw(post: dict[str, Any]) -> bytes:
    return json.dumps(post).encode()


def _kinds(rng: random.Random) -> dict[str, Callable[[int], Record]]:
    def truncated(i: int) -> Record:
        raw = _raw(_post(i, rng))
        return raw[: rng.randrange(len(raw) - 1)], {"invalid_json"}

    def not_json(i: int) -> Record:
        garbage = rng.choice([b"<post>%d</post>", b"hello %d", b"{'id': %d}", b"\x00\x01\x02%d", b"id=%d&x"])
        return garbage % i, {"invalid_json"}

    # Far deeper than any parser's recursion limit; only a few near the record size limit, to keep the
    # volume (and so the test's time) down.
    def deep_arrays(i: int) -> Record:
        return b"[" * (200_000 if i % 97 == 0 else rng.randrange(1_000, 10_000)), {"invalid_json"}

    def deep_metadata(i: int) -> Record:
        depth = rng.randrange(100, 5_000)
        raw = _raw(_post(i, rng, metadata={"x": None})).replace(b"null", b"[" * depth + b"]" * depth)
        return raw, {"invalid_json", "invalid_post", PROCESSED}

    def huge_number(i: int) -> Record:
        raw = _raw(_post(i, rng, created_at=None))
        number, allowed = rng.choice([
            (b"9" * rng.randrange(4_400, 6_000), {"invalid_json"}),  # over Python's int conversion limit
            (b"1e999999", {"invalid_json", "invalid_post"}),  # infinity
            (b"-1e-999999", {"invalid_post", PROCESSED}),  # underflows to 0: the epoch, a valid date
        ])
        return raw.replace(b"null", number), allowed

    def wrong_types(i: int) -> Record:
        field, value = rng.choice([("source", 7), ("author", "u-1"), ("text", ["a"]), ("id", {"a": 1}),
                                   ("created_at", [1]), ("metadata", "x"), ("lang", 12)])
        return _raw(_post(i, rng, **{field: value})), {"invalid_post"}

    def missing_fields(i: int) -> Record:
        post = _post(i, rng)
        del post[rng.choice(["id", "source", "author", "text"])]
        return _raw(post), {"invalid_post"}

    def invalid_utf8(i: int) -> Record:
        raw = _raw(_post(i, rng))
        cut = raw.index(b"document") + rng.randrange(8)
        bad = rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
        return raw[:cut] + bad + raw[cut:], {"invalid_utf8"}

    def raw_controls(i: int) -> Record:
        # Control characters unescaped inside a JSON string are not JSON.
        raw = _raw(_post(i, rng))
        cut = raw.index(b"document")
        return raw[:cut] + bytes([rng.randrange(0, 32)]) + raw[cut:], {"invalid_json"}

    def nul_and_controls(i: int) -> Record:
        text = f"confidentiel, ne pas diffuser \u0000 nul{i}@example.org \u0001\u0007\u001b[31m \u0000"
        author = {"id": f"u-\u0000{i}"} if rng.random() < 0.3 else {"id": f"u-{i}"}
        return _raw(_post(i, rng, text=text, author=author)), ANY_OUTCOME

    def bidi_and_zero_width(i: int) -> Record:
        text = rng.choice([
            f"confidentiel, ne pas diffuser: \u202erog.elpmaxe@{i}enoemos\u202c",
            f"con\u200bfiden\u200dtiel, ne pas diffuser: z{i}@example.org\ufeff",
            f"\u2067confidentiel\u2069, ne pas diffuser \u061c {i} \u200e\u200f",
        ])
        return _raw(_post(i, rng, text=text)), {PROCESSED}

    def longest_ids(i: int) -> Record:
        pad = "x" * 256
        return _raw(_post(i, rng, id=f"{i}-{pad}"[:256], author={"id": f"{i}-{pad}"[:256]})), ANY_OUTCOME

    def wrong_json_shape(i: int) -> Record:
        return rng.choice([b"null", b"[]", b"42", b'"post"', b"true"]), {"invalid_post"}

    return {kind.__name__: kind for kind in (
        truncated, not_json, deep_arrays, deep_metadata, huge_number, wrong_types, missing_fields,
        invalid_utf8, raw_controls, nul_and_controls, bidi_and_zero_width, longest_ids, wrong_json_shape,
    )}


def hostile_records(seed: int) -> Iterator[tuple[bytes, bytes, str, set[str]]]:
    """``RECORDS`` records as (key, value, kind, allowed outcomes); the key is unique per record."""
    rng = random.Random(seed)
    kinds = _kinds(rng)
    names = sorted(kinds)
    huge_at = set(rng.sample(range(RECORDS), HUGE_RECORDS))
    for index in range(RECORDS):
        key = f"h-{index}".encode()
        if index in huge_at:
            yield key, _raw(_post(index, rng, text="a" * HUGE_BYTES)), "huge_text", {"too_large"}
            continue
        kind = names[index % len(names)]
        value, allowed = kinds[kind](index)
        yield key, value, kind, allowed


@pytest.mark.parametrize("kafka_broker", ["tansu"], indirect=True)
def test_ten_thousand_hostile_records_are_each_dead_lettered_or_processed(
    kafka_settings: Settings, postgres_url: str, children: Any, tmp_path: Path, fault: Any,
) -> None:
    seed = 20261126
    metrics_port = free_port()
    settings = kafka_settings.model_copy(update={"database_url": postgres_url})
    topic = settings.input_topics[0]
    worker = children(["run"], fault.worker_env(settings, VEILLE_METRICS_PORT=str(metrics_port)),
                      tmp_path / "run.log")
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"

    warmup = list(generate_posts(1000, seed=41))
    warm_ends = fault.produce(settings, warmup)
    fault.wait_committed(settings, warm_ends, 120, worker)
    warm_rss = worker.rss_bytes()

    records = list(hostile_records(seed))
    producer = make_producer(settings, max_request_size=2 * HUGE_BYTES, linger_ms=20, batch_size=256 << 10)
    try:
        hostile_ends = send_records(settings, [(topic, key, value) for key, value, _, _ in records],
                                    producer=producer)
    finally:
        producer.close(timeout=5)
    ends = fault.merge_ends(warm_ends, hostile_ends)

    peak_rss = warm_rss
    deadline = time.monotonic() + 200

    def all_committed() -> bool:
        nonlocal peak_rss
        peak_rss = max(peak_rss, worker.rss_bytes())
        assert worker.alive(), f"the worker died on hostile input:\n{worker.tail()}"
        committed = fault.committed_offsets(settings)
        return all(committed.get(tp, 0) >= end for tp, end in ends.items())

    while not all_committed():
        assert time.monotonic() < deadline, (
            f"hostile records not all committed in 200 s: {fault.committed_offsets(settings)} of {ends}\n"
            f"{worker.tail()}"
        )
        time.sleep(0.2)
    end_rss = worker.rss_bytes()

    by_key = {key: (kind, allowed) for key, _, kind, allowed in records}
    dead = fault.read_topic(settings, settings.dlq_topic)
    dead_hostile = {record.key: record for record in dead if record.key in by_key}
    wrong: list[str] = []
    for key, record in dead_hostile.items():
        reason = dict(record.headers)["error"].decode()
        kind, allowed = by_key[key]
        if reason not in allowed:
            wrong.append(f"{key.decode()} ({kind}) dead-lettered as {reason}, allowed: {sorted(allowed)}")
        if kind == "huge_text":
            # Kafka refuses a 10 MB record: the DLQ keeps its beginning and says how large it was.
            assert int(dict(record.headers)["value_truncated_from"]) > HUGE_BYTES
    assert not wrong, "\n".join(wrong[:20])
    reasons = Counter(dict(record.headers)["error"].decode() for record in dead_hostile.values())
    decode_dead = sum(count for reason, count in reasons.items() if reason in DECODE_REASONS)
    must_be_dead = {key for key, (_, allowed) in by_key.items() if PROCESSED not in allowed}
    assert must_be_dead <= set(dead_hostile), (
        f"{len(must_be_dead - set(dead_hostile))} malformed records missing from the DLQ"
    )

    consumed = fault.metric_total(metrics_url, "veille_posts_consumed_total")
    processed = consumed - len(warmup) - (len(dead_hostile) - decode_dead)
    assert len(dead_hostile) + processed == RECORDS, (
        f"{len(dead_hostile)} dead-lettered ({dict(reasons)}) + {processed:.0f} processed != {RECORDS} sent"
    )
    assert worker.alive(), worker.tail()
    assert peak_rss - warm_rss < RSS_PEAK_GROWTH and end_rss - warm_rss < RSS_END_GROWTH, (
        f"RSS {warm_rss >> 20} MiB warmed up, {peak_rss >> 20} MiB at peak, {end_rss >> 20} MiB at the end"
    )
    assert worker.stop() == 0, worker.tail()

