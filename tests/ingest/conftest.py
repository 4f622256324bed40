"""Helpers for the ingest tests: fixtures on disk, a real local HTTP server, expected posts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.ingest.base import Context, Item, Skipped
from monitor.ingest.people import Directory
from policies.post import Post, Source

DATA = Path(__file__).parent / "data"


@dataclass
class Request:
    at: float
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class RecordedSite:
    """A real HTTP server on 127.0.0.1: ``answer`` decides each reply, ``requests`` records them."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.answer: Callable[[Request], Reply] = lambda _request: Reply(404)
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                request = Request(time.monotonic(), parts.path,
                                  {key: values[-1] for key, values in parse_qs(parts.query).items()},
                                  {key.lower(): value for key, value in self.headers.items()})
                site.requests.append(request)
                reply = site.answer(request)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="recorded-site", daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def site() -> Iterator[RecordedSite]:
    recorded = RecordedSite()
    recorded.thread.start()
    try:
        yield recorded
    finally:
        recorded.server.shutdown()
        recorded.server.server_close()


@pytest.fixture
def people() -> Directory:
    return Directory.load(DATA / "people.csv", ["acme-bank.fr"])


def context_for(channel: str, source: Source, people: Directory | None = None) -> Context:
    return Context(source, channel, None, people or Directory())


def split(items: Iterator[Item]) -> tuple[list[Post], list[Skipped]]:
    posts: list[Post] = []
    skipped: list[Skipped] = []
    for item in items:
        (posts if isinstance(item, Post) else skipped).append(item)  # type: ignore[arg-type]
    return posts, skipped


def expected_posts(name: str) -> list[dict[str, Any]]:
    """The posts a fixture must give, written by hand from the fixture and the platform's docs."""
    lines = (DATA / "expected" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def assert_posts_equal(posts: list[Post], expected: list[dict[str, Any]]) -> None:
    """Field by field, so that a failure names the post and the field."""
    assert [post.id for post in posts] == [record["id"] for record in expected]
    for post, record in zip(posts, expected, strict=True):
        actual = post.model_dump(mode="json")
        for name in Post.model_fields:
            assert actual[name] == record[name], f"{post.id}: {name}"


@pytest.fixture
def ingest_kit() -> Any:
    class Kit:
        DATA = DATA
        Reply = Reply
        context_for = staticmethod(context_for)
        split = staticmethod(split)
        expected_posts = staticmethod(expected_posts)
        assert_posts_equal = staticmethod(assert_posts_equal)

    return Kit
