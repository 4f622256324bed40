"""Send posts to the input topics, from code (demo, tests, benchmarks) or a JSONL file (`veille produce`).

The topic follows ``post.source``: internal posts go to the input topic whose name ends in
``.internal``, external ones to the one ending in ``.external`` (a single input topic takes both).
The key is the author id, so one author's posts stay in order on one partition.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from monitor.kafka_io import send_records
from monitor.settings import Settings
from policies.post import Post, Source, summarise_validation_error

log = logging.getLogger(__name__)


class ProduceError(ValueError):
    """The input topics cannot route posts, or a file had invalid lines (valid ones were still sent)."""


@dataclass
class InvalidLine:
    line: int
    reason: str


@dataclass
class ProduceReport:
    sent: int = 0
    invalid: list[InvalidLine] = field(default_factory=list)


def topic_for_sources(settings: Settings) -> dict[Source, str]:
    topics = list(settings.input_topics)
    if not topics:
        raise ProduceError("no input topics configured (VEILLE_INPUT_TOPICS is empty)")
    if len(topics) == 1:
        return {Source.INTERNAL: topics[0], Source.EXTERNAL: topics[0]}
    routing: dict[Source, str] = {}
    for source in Source:
        matches = [topic for topic in topics if topic.endswith(f".{source.value}")]
        if not matches:
            raise ProduceError(f"no input topic ends with '.{source.value}' in {topics}: name one "
                               f"'<prefix>.{source.value}' or configure a single input topic")
        routing[source] = matches[0]
    return routing


def produce_posts(settings: Settings, posts: Iterable[Post], *, timeout_s: float = 60.0) -> int:
    """Send every post (keyed by author) and wait for the broker's acknowledgements; returns how many."""
    routing = topic_for_sources(settings)
    sent = 0

    def records() -> Iterator[tuple[str, bytes, bytes]]:
        nonlocal sent
        for post in posts:
            sent += 1
            yield routing[post.source], post.author.id.encode(), post.model_dump_json().encode()

    send_records(settings, records(), timeout_s=timeout_s)
    return sent


def read_posts_file(path: Path) -> tuple[list[Post], list[InvalidLine]]:
    """Valid posts and the invalid lines (1-based number and why; never the line's content)."""
    posts: list[Post] = []
    invalid: list[InvalidLine] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                invalid.append(InvalidLine(number, f"byte {exc.start} is not valid UTF-8"))
                continue
            try:
                posts.append(Post.model_validate_json(text))
            except ValidationError as exc:
                if any(error["type"] == "json_invalid" for error in exc.errors()):
                    invalid.append(InvalidLine(number, "not valid JSON"))
                else:
                    invalid.append(InvalidLine(number, summarise_validation_error(exc)))
    return posts, invalid


def produce_file_report(settings: Settings, path: Path) -> ProduceReport:
    """Send the valid posts of a JSONL file; the report lists the invalid lines, which are not sent."""
    posts, invalid = read_posts_file(path)
    return ProduceReport(sent=produce_posts(settings, posts), invalid=invalid)


def produce_file(settings: Settings, path: Path) -> ProduceReport:
    """Send the valid posts of a JSONL file and log each invalid line (number and reason) as an error."""
    report = produce_file_report(settings, path)
    for bad in report.invalid:
        log.error("%s:%d: not sent: %s", path, bad.line, bad.reason)
    if report.invalid:
        log.error("%d invalid lines in %s were not sent", len(report.invalid), path)
    return report
