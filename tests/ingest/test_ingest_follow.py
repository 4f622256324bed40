"""--follow against a real HTTP server on 127.0.0.1 serving recorded pages: restarts produce nothing
twice, Retry-After and back-off are respected, a failed delivery is retried without loss."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from monitor.ingest.feeds import rss_items
from monitor.ingest.follow import FeedPoller, Follower, MastodonPoller, Poller, retry_after_seconds
from monitor.ingest.manifest import Manifest
from monitor.metrics import Metrics
from policies.post import Post, Source

TAG = "/api/v1/timelines/tag/acme"


class Collected:
    """The output: every post delivered, in order (a restart keeps appending here, as to a file)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.posts: list[Post] = []
        self._fail = fail_first

    def __call__(self, posts: Iterable[Post]) -> None:
        batch = list(posts)
        if self._fail:
            self._fail -= 1
            raise ConnectionError("broker unavailable")
        self.posts.extend(batch)


def _follow(poller: Poller, out: Collected, tmp_path: Path, until: Callable[[Follower], bool],
            metrics: Metrics | None = None, backoff_initial_s: float = 0.05) -> Follower:
    """Run a follower in a thread until ``until`` holds, then stop it as SIGTERM would."""
    with httpx.Client(timeout=5.0) as client:
        follower = Follower(poller, out, manifest=Manifest(format="test", input="url", output="-"),
                            state_path=tmp_path / "state.json", manifest_path=tmp_path / "manifest.json",
                            interval_s=0.05, client=client, metrics=metrics,
                            backoff_initial_s=backoff_initial_s, backoff_max_s=0.2)
        stop = threading.Event()
        thread = threading.Thread(target=follower.run, args=(stop,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not until(follower) and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the follower did not stop"
        assert until(follower), "timed out"
    return follower


def test_mastodon_restart_produces_nothing_twice(site: Any, ingest_kit: Any, tmp_path: Path) -> None:
    pages = {name: (ingest_kit.DATA / "mastodon-follow" / f"{name}.json").read_bytes()
             for name in ("page-1", "page-2", "page-3")}
    published = {None: pages["page-1"]}
    site.answer = lambda request: ingest_kit.Reply(
        200, published.get(request.query.get("min_id"), b"[]"), {"Content-Type": "application/json"})
    context = ingest_kit.context_for("mastodon", Source.EXTERNAL)
    poller = MastodonPoller(site.url(TAG), context)
    out = Collected()
    registry = CollectorRegistry()
    metrics = Metrics.create(registry)

    _follow(poller, out, tmp_path, lambda f: len(site.requests) >= 3, metrics)
    assert [post.id for post in out.posts] == ["mastodon:127.0.0.1:112000000000000101",
                                               "mastodon:127.0.0.1:112000000000000102"]
    assert [request.query.get("min_id") for request in site.requests[:3]] == [
        None, "112000000000000102", "112000000000000102"]

    # The instance restarts while two new pages appear; the boost in page 2 repeats a status it produced.
    published.update({"112000000000000102": pages["page-2"], "112000000000000104": pages["page-3"]})
    before = len(site.requests)
    follower = _follow(poller, out, tmp_path, lambda f: f.reconciler.manifest.read >= 4)
    assert site.requests[before].query.get("min_id") == "112000000000000102", "state was not read back"
    ids = [post.id for post in out.posts]
    assert len(ids) == len(set(ids)) == 5
    assert ids[2:] == ["mastodon:127.0.0.1:112000000000000104", "mastodon:127.0.0.1:112000000000000107",
                       "mastodon:127.0.0.1:112000000000000108"]
    assert follower.reconciler.manifest.skipped["duplicate"] == 1
    assert (tmp_path / "manifest.json").exists()
    assert all(request.query["limit"] == "40" for request in site.requests)
    assert registry.get_sample_value("veille_ingest_posts_produced_total", {"format": "test"}) == 2
    assert registry.get_sample_value("veille_ingest_records_read_total", {"format": "test"}) == 2
    assert registry.get_sample_value("veille_ingest_records_skipped_total",
                                     {"format": "test", "reason": "malformed"}) == 0


def _rss(items: list[tuple[str, str]]) -> bytes:
    entries = "".join(f"<item><title>{title}</title><guid>{guid}</guid>"
                      f"<pubDate>Tue, 05 Mar 2024 17:00:00 GMT</pubDate></item>" for guid, title in items)
    return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>Reviews</title>"
            f"<link>https://reviews.example.com</link>{entries}</channel></rss>").encode()


def test_feed_conditional_requests_and_restart_produce_each_item_once(
    site: Any, ingest_kit: Any, tmp_path: Path,
) -> None:
    feed = {"etag": '"v1"', "body": _rss([("r-1", "Great bank"), ("r-2", "Awful fees")])}

    def answer(request: Any) -> Any:
        if request.headers.get("if-none-match") == feed["etag"]:
            return ingest_kit.Reply(304, b"", {"ETag": feed["etag"]})
        return ingest_kit.Reply(200, feed["body"], {"ETag": feed["etag"]})

    site.answer = answer
    poller = FeedPoller(site.url("/reviews.rss"), ingest_kit.context_for("reviews", Source.EXTERNAL),
                        rss_items)
    out = Collected()
    _follow(poller, out, tmp_path, lambda f: len(site.requests) >= 2)
    assert [post.id for post in out.posts] == ["rss:r-1", "rss:r-2"]
    assert site.requests[1].headers["if-none-match"] == '"v1"'

    feed.update(etag='"v2"',
                body=_rss([("r-3", "Fixed, thanks"), ("r-1", "Great bank"), ("r-2", "Awful fees")]))
    before = len(site.requests)
    follower = _follow(poller, out, tmp_path, lambda f: f.reconciler.manifest.read >= 3)
    assert site.requests[before].headers["if-none-match"] == '"v1"', "the restart forgot the ETag"
    assert [post.id for post in out.posts] == ["rss:r-1", "rss:r-2", "rss:r-3"]
    assert follower.reconciler.manifest.skipped["duplicate"] == 2


def test_retry_after_is_respected_and_errors_back_off(site: Any, ingest_kit: Any, tmp_path: Path) -> None:
    replies = [ingest_kit.Reply(429, b"slow down", {"Retry-After": "1"}),
               ingest_kit.Reply(503, b"maintenance"),
               ingest_kit.Reply(200, _rss([("r-1", "Hello")]))]
    site.answer = lambda request: replies.pop(0) if len(replies) > 1 else replies[0]
    poller = FeedPoller(site.url("/reviews.rss"), ingest_kit.context_for("reviews", Source.EXTERNAL),
                        rss_items)
    registry = CollectorRegistry()
    out = Collected()
    follower = _follow(poller, out, tmp_path, lambda f: len(out.posts) == 1, Metrics.create(registry))
    first, second, third = (request.at for request in site.requests[:3])
    assert second - first >= 1.0, "polled again before Retry-After"
    assert 0.04 <= third - second < 1.0, "a 503 without Retry-After waits the back-off"
    assert follower.failures == 2
    assert registry.get_sample_value("veille_ingest_fetch_failures_total", {"format": "test"}) == 2


def test_a_failed_delivery_is_undone_and_retried(site: Any, ingest_kit: Any, tmp_path: Path) -> None:
    site.answer = lambda request: ingest_kit.Reply(200, _rss([("r-1", "Hello"), ("r-2", "World")]))
    poller = FeedPoller(site.url("/reviews.rss"), ingest_kit.context_for("reviews", Source.EXTERNAL),
                        rss_items)
    out = Collected(fail_first=1)
    follower = _follow(poller, out, tmp_path, lambda f: len(out.posts) == 2)
    manifest = follower.reconciler.manifest
    assert [post.id for post in out.posts] == ["rss:r-1", "rss:r-2"]
    assert manifest.produced == 2 and manifest.skipped["duplicate"] == manifest.read - 2


def test_retry_after_as_seconds_or_http_date() -> None:
    now = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    assert retry_after_seconds("999999") == 3600
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


@pytest.mark.parametrize("status", [404, 500])
def test_one_shot_poll_failure_leaves_the_state_alone(
    site: Any, ingest_kit: Any, tmp_path: Path, status: int,
) -> None:
    from monitor.ingest.follow import FetchError

    site.answer = lambda request: ingest_kit.Reply(status)
    poller = FeedPoller(site.url("/gone.rss"), ingest_kit.context_for("rss", Source.EXTERNAL), rss_items)
    with httpx.Client() as client:
        follower = Follower(poller, Collected(), manifest=Manifest(format="rss", input="u", output="-"),
                            state_path=tmp_path / "state.json", manifest_path=tmp_path / "m.json",
                            interval_s=1, client=client)
        with pytest.raises(FetchError, match=f"HTTP {status}"):
            follower.poll_once()
    assert not (tmp_path / "state.json").exists()
