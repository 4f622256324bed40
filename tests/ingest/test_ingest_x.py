"""X API v2 responses become the expected posts: expanded links, threads, edits, gone posts."""

from __future__ import annotations

from typing import Any

from monitor.ingest.base import SkipReason
from monitor.ingest.people import Directory
from monitor.ingest.x_api import read_x
from policies.post import Source


def test_the_responses_give_the_expected_posts_field_by_field(ingest_kit: Any, people: Directory) -> None:
    context = ingest_kit.context_for("x", Source.EXTERNAL, people)
    posts, _ = ingest_kit.split(read_x(ingest_kit.DATA / "x", context))
    # The reply is in both pages: the reader yields it twice, the reconciler counts the duplicate.
    unique = list({post.id: post for post in posts}.values())
    assert len(posts) == len(unique) + 1
    ingest_kit.assert_posts_equal(unique, ingest_kit.expected_posts("x"))


def test_errors_and_broken_pages_are_named(ingest_kit: Any) -> None:
    _, skipped = ingest_kit.split(read_x(ingest_kit.DATA / "x", ingest_kit.context_for("x", Source.EXTERNAL)))
    assert [(item.ref, item.reason) for item in skipped] == [
        ("search-page-1.json.data[5]", SkipReason.MALFORMED),  # no author_id
        ("search-page-1.json.errors[0]", SkipReason.DELETED),  # resource-not-found
        ("search-page-2.jsonl:2", SkipReason.MALFORMED),  # truncated line
        ("search-page-2.jsonl:4", SkipReason.MALFORMED),  # not a response
    ]
    assert skipped[0].detail == "author_id missing (request expansions=author_id)"
