"""`veille policies backtest`: where the posts come from (a JSONL export or a Kafka topic between two
offsets or two times), where reviewers' verdicts come from (the alert store), and the report.

The comparison itself is ``policies.backtest``: both sides detect through the one detection engine.
Kafka is read by plain partition assignment (no consumer group, nothing committed), so a backtest
never moves a worker's offsets; records that are not valid posts are counted and skipped, as the
run loop would dead-letter them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from monitor.records import MalformedRecord, decode_post
from monitor.settings import Settings
from policies.backtest import BacktestReport
from policies.post import Post

DEFAULT_SHOW = 5
IDLE_POLLS = 6  # empty polls in a row after which a partition without a known end counts as read


@dataclass
class SourceCounts:
    read: int = 0
    skipped: int = 0


def read_jsonl(path: Path, counts: SourceCounts) -> Iterator[Post]:
    """Posts of a JSONL export; an invalid line is reported by number (never its content) and skipped."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                post = Post.model_validate_json(raw)
            except ValidationError as exc:
                counts.skipped += 1
                first = exc.errors(include_input=False, include_url=False)[0]
                where = ".".join(str(part) for part in first["loc"]) or "(line)"
                typer.echo(f"{path}:{number}: skipped, {where}: {first['msg']}", err=True)
                continue
            counts.read += 1
            yield post


def parse_offsets(value: str | None) -> int | dict[int, int] | None:
    """``N`` (every partition) or ``0:N,1:M`` (per partition)."""
    if value is None:
        return None
    try:
        if ":" not in value:
            return int(value)
        pairs = (item.split(":", 1) for item in value.split(",") if item.strip())
        return {int(partition): int(offset) for partition, offset in pairs}
    except ValueError:
        raise typer.BadParameter(f"{value!r}: give N or partition:offset pairs, e.g. 0:100,1:250") from None


def _offset_for(spec: int | dict[int, int] | None, partition: int) -> int | None:
    return spec.get(partition) if isinstance(spec, dict) else spec


def read_topics(
    settings: Settings,
    topics: Sequence[str],
    counts: SourceCounts,
    *,
    from_offset: int | dict[int, int] | None = None,
    to_offset: int | dict[int, int] | None = None,
    from_time: datetime | None = None,
    to_time: datetime | None = None,
    poll_timeout_ms: int = 500,
) -> Iterator[Post]:
    """Posts of ``topics``' records from ``from_*`` (inclusive) to ``to_*`` (exclusive), each partition.

    Without a start, a partition is read from its beginning; without an end, up to its high-water
    mark as seen while reading. Offsets given per partition (``{0: 100}``) read only the partitions
    they name. Times select by record timestamp: the broker's time index only says where to start
    (some brokers answer it loosely), every record's own timestamp decides, up to the high-water mark.
    """
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=list(settings.bootstrap_servers),
        enable_auto_commit=False,
        group_id=None,
        client_id="veille-backtest",
        max_poll_records=settings.poll_max_records,
    )
    try:
        partitions = []
        for topic in topics:
            found = consumer.partitions_for_topic(topic)
            if not found:
                raise typer.BadParameter(f"topic {topic!r} does not exist or has no partitions")
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(partitions)
        starts = _times_to_offsets(consumer, partitions, from_time)
        named = {
            partition
            for spec in (from_offset, to_offset)
            if isinstance(spec, dict)
            for partition in spec
        }
        end: dict[Any, int | None] = {}
        for tp in partitions:
            if named and tp.partition not in named:
                consumer.pause(tp)  # offsets given per partition: the others are not read
                end[tp] = 0
                continue
            start = _offset_for(from_offset, tp.partition) if from_time is None else starts.get(tp)
            stop = _offset_for(to_offset, tp.partition)
            if from_time is not None and start is None:
                start = -1  # no record at or after the start time: nothing to read
            if start is None:
                consumer.seek_to_beginning(tp)
            elif start < 0:
                consumer.pause(tp)
                end[tp] = 0
                continue
            else:
                consumer.seek(tp, start)
            end[tp] = stop
        window = (_millis(from_time), _millis(to_time))
        yield from _consume(consumer, end, window, counts, settings.max_record_bytes, poll_timeout_ms)
    finally:
        consumer.close()


def _millis(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp() * 1000)


def _times_to_offsets(consumer: Any, partitions: list[Any], at: datetime | None) -> dict[Any, int | None]:
    """Offset of the first record at or after ``at`` per partition (None: no such record)."""
    if at is None:
        return {}
    millis = _millis(at)
    found = consumer.offsets_for_times({tp: millis for tp in partitions})
    return {tp: (None if meta is None else meta.offset) for tp, meta in found.items()}


def _consume(
    consumer: Any,
    end: dict[Any, int | None],
    window: tuple[int | None, int | None],
    counts: SourceCounts,
    max_bytes: int,
    poll_timeout_ms: int,
) -> Iterator[Post]:
    since, until = window
    done = {tp for tp, stop in end.items() if stop is not None and consumer.position(tp) >= stop}
    idle = 0
    while len(done) < len(end):
        batches = consumer.poll(timeout_ms=poll_timeout_ms)
        idle = 0 if batches else idle + 1
        for tp, records in batches.items():
            if tp in done:
                continue
            stop = end[tp]
            for record in records:
                if stop is not None and record.offset >= stop:
                    break
                if (since is not None and record.timestamp < since) or (
                    until is not None and record.timestamp >= until
                ):
                    continue
                try:
                    post = decode_post(record.value, max_bytes)
                except MalformedRecord:
                    counts.skipped += 1
                    continue
                counts.read += 1
                yield post
        for tp, stop in end.items():
            if tp in done:
                continue
            position = consumer.position(tp)
            # The fetch high-water mark, not end_offsets(): some brokers answer the latter wrongly.
            highwater = consumer.highwater(tp)
            if (stop is not None and position >= stop) or (
                stop is None and highwater is not None and position >= highwater
            ):
                done.add(tp)
                consumer.pause(tp)
        # Nothing more arrives: a requested end beyond the partition's last record is its end. Idle polls
        # count only once the broker answered a fetch for every partition still read (a high-water mark
        # is known): on a loaded broker the first answer can take longer than a few empty polls.
        answered = all(consumer.highwater(tp) is not None for tp in end if tp not in done)
        if (idle >= IDLE_POLLS and answered) or idle >= IDLE_POLLS * 20:
            break


def verdicts_by_rule(database_url: str) -> dict[str, dict[str, int]]:
    from alerts.query import AlertQuery
    from alerts.store import SqlAlertStore

    store = SqlAlertStore.open(database_url)
    try:
        return store.precision_by_rule(AlertQuery())
    finally:
        store.close()


def print_report(report: BacktestReport, show: int) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False, soft_wrap=True)
    table = Table(
        title=f"backtest: {report.posts} posts, active {report.active_version} → draft {report.draft_version}"
    )
    for column in ("rule", "active", "draft", "Δ", "gained", "lost", "shadow a→d", "precision (reviewed)"):
        table.add_column(column, no_wrap=column == "rule")
    for rule in report.sorted_rules():
        precision = "-" if rule.precision is None else f"{rule.precision:.2f} ({rule.closed})"
        table.add_row(
            rule.rule_id,
            str(rule.active),
            str(rule.draft),
            f"{rule.draft - rule.active:+d}",
            str(len(rule.gained)),
            str(len(rule.lost)),
            f"{rule.active_shadow}→{rule.draft_shadow}",
            precision,
        )
    out.print(table)
    for rule in report.sorted_rules():
        for what, ids in (("gains", rule.gained), ("loses", rule.lost)):
            if ids and show:
                more = f" (+{len(ids) - show} more)" if len(ids) > show else ""
                out.print(f"{rule.rule_id} {what} alerts on: {', '.join(ids[:show])}{more}", markup=False)
    out.print(
        f"{len(report.posts_gaining)} post(s) gain an alert, {len(report.posts_losing)} lose every alert; "
        f"{report.skipped} record(s) skipped as invalid",
        markup=False,
    )


DraftDir = Annotated[
    Path | None,
    typer.Argument(help="the draft organisation directory (packs and overlays); default: --policies-dir"),
]
InputFile = Annotated[
    Path | None, typer.Option("--input", exists=True, dir_okay=False, help="JSONL export, one post a line")
]
Topics = Annotated[
    list[str] | None,
    typer.Option("--topic", help="Kafka topic to read (repeatable; brokers: VEILLE_BOOTSTRAP_SERVERS)"),
]
FromOffset = Annotated[str | None, typer.Option(help="first offset: N, or partition:offset,...")]
ToOffset = Annotated[str | None, typer.Option(help="end offset (exclusive): N, or partition:offset,...")]
FromTime = Annotated[datetime | None, typer.Option(help="first record time (ISO 8601)")]
ToTime = Annotated[datetime | None, typer.Option(help="end record time (exclusive, ISO 8601)")]
DraftPacks = Annotated[
    Path | None, typer.Option(help="packs replacing the shipped ones on the draft side (an upgrade)")
]
ActivePacks = Annotated[Path | None, typer.Option(help="packs replacing the shipped ones on the active side")]
PoliciesDir = Annotated[
    Path | None,
    typer.Option("--policies-dir", envvar="VEILLE_POLICIES_DIR", help="the active organisation directory"),
]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="alert store whose reviewers' verdicts give each rule's expected precision")
]
Show = Annotated[int, typer.Option(min=0, help="post ids listed per rule that gain or lose alerts")]
AsJson = Annotated[bool, typer.Option("--json", help="machine-readable (schema: `veille schema backtest`)")]


def backtest_command(
    draft: DraftDir = None,
    input: InputFile = None,
    topic: Topics = None,
    from_offset: FromOffset = None,
    to_offset: ToOffset = None,
    from_time: FromTime = None,
    to_time: ToTime = None,
    draft_packs: DraftPacks = None,
    active_packs: ActivePacks = None,
    policies_dir: PoliciesDir = None,
    database_url: DatabaseUrl = None,
    show: Show = DEFAULT_SHOW,
    as_json: AsJson = False,
) -> None:
    """Run the active packs and a draft over the same posts: alert volume per rule, posts that gain or
    lose an alert, and each rule's expected precision from reviewers' past verdicts."""
    from detectors.registry import build_detectors
    from monitor.jurisdiction import resolve_jurisdiction
    from policies.backtest import backtest
    from policies.errors import PolicyError
    from policies.loader import load_policy_set

    if (input is None) == (not topic):
        raise typer.BadParameter("give --input FILE or --topic NAME (one of them)")
    if input is not None and any(v is not None for v in (from_offset, to_offset, from_time, to_time)):
        raise typer.BadParameter("offsets and times select records of a --topic, not of an --input file")
    if (from_offset or to_offset) and (from_time or to_time):
        raise typer.BadParameter("select by offsets or by times, not both")
    settings = Settings()
    try:
        active = load_policy_set(policies_dir, shipped_dir=active_packs)
        proposed = load_policy_set(draft if draft is not None else policies_dir, shipped_dir=draft_packs)
    except PolicyError as exc:
        for error in exc.errors:
            typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    counts = SourceCounts()
    posts = (
        read_jsonl(input, counts)
        if input is not None
        else read_topics(
            settings,
            topic or [],
            counts,
            from_offset=parse_offsets(from_offset),
            to_offset=parse_offsets(to_offset),
            from_time=from_time,
            to_time=to_time,
        )
    )
    verdicts = verdicts_by_rule(database_url) if database_url else None
    report = backtest(
        active,
        proposed,
        posts,
        build_detectors(settings.detector_config()),
        jurisdiction_of=lambda post: resolve_jurisdiction(
            post, settings.channel_jurisdictions, settings.default_jurisdiction
        ),
        verdicts=verdicts,
    )
    report.skipped = counts.skipped
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(show), indent=2) + "\n")
        return
    print_report(report, show)
