"""Reconciliation: what one run read, produced and skipped, and the manifest that shows it.

A firm shows its regulator that nothing was dropped between a source and the monitor with three
numbers that must agree: ``read == produced + sum(skipped)``, and with ``--produce``,
``acknowledged == produced``. The content hash is the SHA-256 of the produced records exactly as
written (one ``Post`` JSON line each, newline-terminated): ``sha256sum OUT.jsonl`` gives the same value,
and the same bytes are the Kafka record values. Malformed records are listed by reference and reason,
never content.

A post id seen before in the run (or, for live sources, in the saved state) is a duplicate: stable
platform ids make a re-read record the same post.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from monitor.ingest.base import SKIP_REASONS, Item, Skipped, SkipReason
from policies.post import Post

log = logging.getLogger(__name__)

MALFORMED_LISTED = 1000  # the manifest lists this many malformed records; the count covers them all


class MalformedEntry(BaseModel):
    ref: str
    detail: str


class Manifest(BaseModel):
    format: str
    input: str = Field(description="the export path or the polled URL")
    output: str = Field(description="the JSONL file, '-' for stdout, or the Kafka topics")
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    read: int = 0
    produced: int = 0
    skipped: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))
    acknowledged: int | None = Field(default=None, description="records the broker acknowledged "
                                     "(--produce only)")
    first_timestamp: datetime | None = Field(default=None, description="oldest created_at produced")
    last_timestamp: datetime | None = Field(default=None, description="newest created_at produced")
    content_sha256: str = Field(default=hashlib.sha256().hexdigest(),
                                description="SHA-256 of the produced JSONL lines, in order")
    malformed: list[MalformedEntry] = Field(default_factory=list)

    def write(self, path: Path) -> None:
        """Atomically: a reader (or a crash) never sees half a manifest."""
        write_json_atomically(path, self.model_dump(mode="json"))


def write_json_atomically(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def post_line(post: Post) -> bytes:
    """One produced record, as the JSONL output holds it (and as the hash covers it)."""
    return post.model_dump_json().encode() + b"\n"


class RecentIds:
    """The post ids already produced; bounded for live sources, which run for months."""

    def __init__(self, ids: Iterable[str] = (), capacity: int | None = None) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        for post_id in ids:
            self.add(post_id)

    def __contains__(self, post_id: object) -> bool:
        return post_id in self._ids

    def add(self, post_id: str) -> None:
        self._ids[post_id] = None
        self._ids.move_to_end(post_id)
        if self.capacity is not None and len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    def newest(self) -> list[str]:
        return list(self._ids)


@dataclass(frozen=True)
class Checkpoint:
    manifest: Manifest
    hash: Any
    seen: list[str]


class Reconciler:
    """Counts every item of a run into its manifest and passes on the posts to produce.

    A live source's poll whose delivery fails is read again later: ``checkpoint`` and ``restore`` undo
    its counting, so that nothing is counted twice and nothing is mistaken for a duplicate.
    """

    def __init__(self, manifest: Manifest, *, seen: RecentIds | None = None) -> None:
        self.manifest = manifest
        self.seen = seen if seen is not None else RecentIds()
        self._hash = hashlib.sha256()

    def admit(self, items: Iterable[Item]) -> Iterator[Post]:
        for item in items:
            self.manifest.read += 1
            if isinstance(item, Skipped):
                self._skip(item)
            elif item.id in self.seen:
                self._skip(Skipped(item.id, SkipReason.DUPLICATE))
            else:
                self._count_produced(item)
                yield item

    def acknowledged(self, count: int) -> None:
        self.manifest.acknowledged = (self.manifest.acknowledged or 0) + count

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.manifest.model_copy(deep=True), self._hash.copy(), self.seen.newest())

    def restore(self, checkpoint: Checkpoint) -> None:
        self.manifest = checkpoint.manifest.model_copy(deep=True)
        self._hash = checkpoint.hash.copy()
        self.seen = RecentIds(checkpoint.seen, self.seen.capacity)

    def finish(self) -> Manifest:
        self.manifest.finished_at = datetime.now(UTC)
        return self.manifest

    def _count_produced(self, post: Post) -> None:
        self.seen.add(post.id)
        manifest = self.manifest
        manifest.produced += 1
        self._hash.update(post_line(post))
        manifest.content_sha256 = self._hash.hexdigest()
        if manifest.first_timestamp is None or post.created_at < manifest.first_timestamp:
            manifest.first_timestamp = post.created_at
        if manifest.last_timestamp is None or post.created_at > manifest.last_timestamp:
            manifest.last_timestamp = post.created_at

    def _skip(self, item: Skipped) -> None:
        self.manifest.skipped[item.reason.value] += 1
        if item.reason is SkipReason.MALFORMED:
            log.error("%s: not produced: %s", item.ref, item.detail)
            if len(self.manifest.malformed) < MALFORMED_LISTED:
                self.manifest.malformed.append(MalformedEntry(ref=item.ref, detail=item.detail))
        else:
            log.debug("%s: skipped (%s)", item.ref, item.reason.value)
