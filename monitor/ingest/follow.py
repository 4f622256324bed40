"""Live sources: poll a URL every ``--interval`` seconds, produce what is new, survive restarts.

State, saved in one JSON file after each poll whose posts were delivered (acknowledged by the broker
with ``--produce``), holds the source's cursor (Mastodon: the newest status id, passed back as
``min_id``; feeds: ``ETag`` and ``Last-Modified`` for conditional requests) and the ids of the posts
produced most recently (feeds list all their items at every poll: those already produced count as
duplicates). A restart reads the state and produces nothing twice. A crash between the broker's
acknowledgement and the state's save re-sends that one poll: the posts' stable ids keep the alerts
unique.

HTTP failures (connection errors, timeouts, 429, 5xx, any other error status) never stop the service:
it waits, doubling the wait from ``backoff_initial_s`` up to ``backoff_max_s``, or exactly as long as a
``Retry-After`` header asks (seconds or an HTTP date), then polls again. A failed delivery is undone in
the manifest and retried the same way, with the cursor not moved. The Prometheus counters move only for
polls that were delivered.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from monitor.ingest.base import SKIP_REASONS, BadRecord, Context, Item, decode_json, malformed
from monitor.ingest.feeds import FeedItems
from monitor.ingest.manifest import Manifest, RecentIds, Reconciler, write_json_atomically
from monitor.ingest.mastodon import status_items
from monitor.metrics import Metrics
from policies.post import Post

log = logging.getLogger(__name__)

SEEN_CAPACITY = 10_000  # post ids kept in the state: more than any feed lists at once
RETRY_AFTER_MAX_S = 3600.0  # a server asking for longer is treated as asking for an hour
MASTODON_PAGE_LIMIT = 40  # the API's maximum for timelines
MASTODON_MAX_PAGES = 10  # per poll: a backlog drains over several polls instead of one long one

Deliver = Callable[[Iterable[Post]], int | None]


class FetchError(RuntimeError):
    """A poll that got nothing usable; ``retry_after`` is what the server asked for, if anything."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After``: delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_MAX_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), RETRY_AFTER_MAX_S)


def fetch(client: httpx.Client, url: str, *, params: Mapping[str, Any] | None = None,
          headers: Mapping[str, str] | None = None) -> httpx.Response:
    """GET, with the URL's own query kept; any status but 200 and 304 is a FetchError."""
    target = httpx.URL(url).copy_merge_params(dict(params or {}))
    try:
        response = client.get(target, headers=dict(headers or {}))
    except httpx.HTTPError as exc:
        raise FetchError(f"{urlsplit(url).netloc}: {type(exc).__name__}") from None
    if response.status_code in (200, 304):
        return response
    raise FetchError(f"{urlsplit(url).netloc}: HTTP {response.status_code}",
                     retry_after_seconds(response.headers.get("retry-after")))


class Poller(Protocol):
    def poll(self, client: httpx.Client, cursor: dict[str, Any]) -> tuple[list[Item], dict[str, Any]]:
        """The items of one poll, and the cursor to save once they are delivered."""
        ...


@dataclass
class MastodonPoller:
    """A public timeline or hashtag URL (``/api/v1/timelines/public``, ``/api/v1/timelines/tag/:tag``),
    paged forward with ``min_id``: each request returns the statuses just after the newest one seen."""

    url: str
    context: Context
    page_limit: int = MASTODON_PAGE_LIMIT

    def poll(self, client: httpx.Client, cursor: dict[str, Any]) -> tuple[list[Item], dict[str, Any]]:
        min_id = cursor.get("min_id")
        instance = urlsplit(self.url).hostname or "unknown"
        items: list[Item] = []
        for _ in range(MASTODON_MAX_PAGES):
            params: dict[str, Any] = {"limit": self.page_limit, **({"min_id": min_id} if min_id else {})}
            ref = f"{self.url} min_id={min_id or '-'}"
            try:
                page = decode_json(fetch(client, self.url, params=params).content)
            except BadRecord as exc:
                items.append(malformed(ref, str(exc)))
                break
            if not isinstance(page, list):
                items.append(malformed(ref, "expected a JSON array of statuses"))
                break
            ids = [status["id"] for status in page if isinstance(status, dict)
                   and isinstance(status.get("id"), str)]
            items.extend(status_items(ref, page, instance, self.context))
            if ids:  # numeric strings, longer is newer
                min_id = max(ids, key=lambda value: (len(value), value))
            if len(page) < self.page_limit:
                break
        return items, {"min_id": min_id} if min_id else {}


@dataclass
class FeedPoller:
    """An RSS or Atom URL, fetched conditionally (``If-None-Match``, ``If-Modified-Since``)."""

    url: str
    context: Context
    items: FeedItems

    def poll(self, client: httpx.Client, cursor: dict[str, Any]) -> tuple[list[Item], dict[str, Any]]:
        headers = {name: cursor[key] for name, key in (("If-None-Match", "etag"),
                                                        ("If-Modified-Since", "last_modified"))
                   if cursor.get(key)}
        response = fetch(client, self.url, headers=headers)
        if response.status_code == 304:
            return [], cursor
        validators = {"etag": response.headers.get("etag"),
                      "last_modified": response.headers.get("last-modified")}
        return (list(self.items(response.content, self.url, self.context)),
                {key: value for key, value in validators.items() if value})


@dataclass
class FollowState:
    cursor: dict[str, Any] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> FollowState:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(dict(data.get("cursor") or {}), list(data.get("seen") or []))

    def save(self, path: Path) -> None:
        write_json_atomically(path, {"cursor": self.cursor, "seen": self.seen})


class Follower:
    """Runs one poller until stopped: poll, deliver, save state and manifest; back off on failure."""

    def __init__(self, poller: Poller, deliver: Deliver, *, manifest: Manifest, state_path: Path,
                 manifest_path: Path, interval_s: float, client: httpx.Client,
                 metrics: Metrics | None = None, backoff_initial_s: float = 1.0,
                 backoff_max_s: float = 300.0) -> None:
        self.poller = poller
        self.deliver = deliver
        self.state_path = state_path
        self.manifest_path = manifest_path
        self.interval_s = interval_s
        self.client = client
        self.metrics = metrics
        self.state = FollowState.load(state_path)
        self.reconciler = Reconciler(manifest, seen=RecentIds(self.state.seen, SEEN_CAPACITY))
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self.failures = 0
        if metrics is not None:
            self._count(manifest, manifest)  # every series exists at zero, so rate() works from the start

    def run(self, stop: threading.Event) -> Manifest:
        """Poll until ``stop`` is set; returns the manifest of the whole run."""
        backoff = self._backoff_initial_s
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:
                self.failures += 1
                delay = backoff
                if isinstance(exc, FetchError):
                    if self.metrics is not None:
                        self.metrics.ingest_fetch_failures.labels(self.reconciler.manifest.format).inc()
                    delay = exc.retry_after if exc.retry_after is not None else backoff
                    log.warning("poll failed (%s); next poll in %.1f s", exc, delay)
                else:  # the broker or the output failed: the poll was undone and is read again
                    log.warning("delivery failed (%s: %s); next poll in %.1f s", type(exc).__name__, exc,
                                delay)
                stop.wait(delay)
                backoff = min(backoff * 2, self._backoff_max_s)
                continue
            backoff = self._backoff_initial_s
            stop.wait(self.interval_s)
        return self.reconciler.finish()

    def poll_once(self) -> None:
        items, cursor = self.poller.poll(self.client, self.state.cursor)
        before = self.reconciler.checkpoint()
        try:
            acknowledged = self.deliver(self.reconciler.admit(items))
        except BaseException:
            self.reconciler.restore(before)
            raise
        if acknowledged is not None:
            self.reconciler.acknowledged(acknowledged)
        self.state = FollowState(cursor, self.reconciler.seen.newest())
        self.state.save(self.state_path)
        self.reconciler.manifest.write(self.manifest_path)
        self._count(before.manifest, self.reconciler.manifest)

    def _count(self, before: Manifest, after: Manifest) -> None:
        if self.metrics is None:
            return
        label = after.format
        self.metrics.ingest_fetch_failures.labels(label)
        self.metrics.ingest_records_read.labels(label).inc(after.read - before.read)
        self.metrics.ingest_posts_produced.labels(label).inc(after.produced - before.produced)
        self.metrics.ingest_posts_acknowledged.labels(label).inc(
            (after.acknowledged or 0) - (before.acknowledged or 0))
        for reason in SKIP_REASONS:
            self.metrics.ingest_records_skipped.labels(label, reason).inc(
                after.skipped[reason] - before.skipped[reason])
