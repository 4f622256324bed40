"""`veille scan`: the run loop's detectors and rules over a JSONL export, without Kafka."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from monitor.pipeline import Pipeline, PostResult
from policies.post import Post

SCAN_BATCH = 256


@dataclass
class ScanSummary:
    posts: int = 0
    invalid_lines: int = 0
    alerts: int = 0
    personal_skipped: int = 0  # marked personal in a jurisdiction that skips them: no output line
    seconds: float = 0.0


def scan_record(result: PostResult) -> dict[str, Any]:
    """One output line. This format is a contract: extend it with new keys, never change these."""
    return {
        "post_id": result.post.id,
        "jurisdiction": result.jurisdiction,
        "findings": [
            {
                "detector": finding.detector,
                "type": finding.type,
                "start": finding.start,
                "end": finding.end,
                "score": round(finding.score, 4),
            }
            for finding in sorted(
                result.findings, key=lambda item: (item.start, item.end, item.detector, item.type)
            )
        ],
        "alerts": [{"rule_id": alert.rule_id, "severity": alert.severity.value} for alert in result.alerts],
    }


def _read_posts(
    handle: IO[bytes], errors: IO[str], summary: ScanSummary, progress: Progress, task: Any
) -> Iterator[Post]:
    for line_number, raw in enumerate(handle, start=1):
        progress.advance(task, len(raw))
        if not raw.strip():
            continue
        try:
            yield Post.model_validate_json(raw)
        except ValidationError as exc:
            summary.invalid_lines += 1
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"]) or "(line)"
            errors.write(f"{handle.name}:{line_number}: skipped, {where}: {first['msg']}\n")


def scan_file(
    pipeline: Pipeline, source: Path, output: IO[str], *, show_progress: bool = True
) -> ScanSummary:
    summary = ScanSummary()
    skipped_before = sum(pipeline.personal_skipped.values())
    started = time.perf_counter()
    progress = Progress(
        TextColumn("scanning"),
        BarColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not show_progress,
    )
    with progress, source.open("rb") as handle:
        task = progress.add_task("scan", total=source.stat().st_size)
        batch: list[Post] = []
        for post in _read_posts(handle, sys.stderr, summary, progress, task):
            batch.append(post)
            if len(batch) >= SCAN_BATCH:
                _flush(pipeline, batch, output, summary)
                batch = []
        if batch:
            _flush(pipeline, batch, output, summary)
    summary.personal_skipped = sum(pipeline.personal_skipped.values()) - skipped_before
    summary.seconds = time.perf_counter() - started
    return summary


def _flush(pipeline: Pipeline, batch: list[Post], output: IO[str], summary: ScanSummary) -> None:
    for result in pipeline.process(batch):
        output.write(json.dumps(scan_record(result), ensure_ascii=False) + "\n")
        summary.posts += 1
        summary.alerts += len(result.alerts)


SCAN_OUTPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "veille scan output line",
    "type": "object",
    "required": ["post_id", "jurisdiction", "findings", "alerts"],
    "properties": {
        "post_id": {"type": "string"},
        "jurisdiction": {
            "type": "string",
            "description": "resolved: post, else author country, else channel",
        },
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["detector", "type", "start", "end", "score"],
                "properties": {
                    "detector": {
                        "type": "string",
                        "enum": ["pii", "pattern", "lexicon", "sentiment", "classifier"],
                    },
                    "type": {"type": "string"},
                    "start": {"type": "integer", "minimum": 0},
                    "end": {"type": "integer", "minimum": 0},
                    "score": {"type": "number"},
                },
            },
        },
        "alerts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["rule_id", "severity"],
                "properties": {
                    "rule_id": {"type": "string"},
                    "severity": {"type": "string", "enum": ["info", "low", "medium", "high", "critical"]},
                },
            },
        },
    },
}
