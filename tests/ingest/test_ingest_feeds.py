"""RSS 2.0 and Atom feeds become the expected posts; hostile XML is refused, not expanded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.ingest.base import BadRecord, SkipReason
from monitor.ingest.feeds import atom_items, parse_xml, read_atom, read_rss
from monitor.ingest.people import Directory
from policies.post import Source


def test_the_rss_feed_gives_the_expected_posts_field_by_field(ingest_kit: Any, people: Directory) -> None:
    context = ingest_kit.context_for("reviews", Source.EXTERNAL, people)
    posts, skipped = ingest_kit.split(read_rss(ingest_kit.DATA / "feeds" / "reviews.rss", context))
    ingest_kit.assert_posts_equal(posts, ingest_kit.expected_posts("rss"))
    assert [(item.ref, item.reason, item.detail) for item in skipped] == [
        ("reviews.rss:item[3]", SkipReason.EMPTY, ""),
        ("reviews.rss:item[4]", SkipReason.MALFORMED, "unreadable timestamp 'the day before yesterday'"),
    ]


def test_the_atom_feed_gives_the_expected_posts_field_by_field(ingest_kit: Any, people: Directory) -> None:
    context = ingest_kit.context_for("forum", Source.EXTERNAL, people)
    posts, skipped = ingest_kit.split(read_atom(ingest_kit.DATA / "feeds" / "forum.atom", context))
    ingest_kit.assert_posts_equal(posts, ingest_kit.expected_posts("atom"))
    assert [(item.ref, item.reason, item.detail) for item in skipped] == [
        ("forum.atom:deleted-entry[0]", SkipReason.DELETED, ""),  # RFC 6721 tombstone
        ("forum.atom:entry[3]", SkipReason.MALFORMED, "<entry> without <id>"),
    ]


@pytest.mark.parametrize("name", ["hostile.rss", "external-entity.rss"])
def test_entity_declarations_are_refused_before_any_expansion(ingest_kit: Any, name: str) -> None:
    data = (ingest_kit.DATA / "feeds" / name).read_bytes()
    with pytest.raises(BadRecord, match="entity declarations and external entities are refused"):
        parse_xml(data)
    (item,) = read_rss(ingest_kit.DATA / "feeds" / name, ingest_kit.context_for("rss", Source.EXTERNAL))
    assert (item.ref, item.reason) == (name, SkipReason.MALFORMED)


def test_the_wrong_kind_of_feed_and_broken_xml_are_named(ingest_kit: Any, tmp_path: Path) -> None:
    context = ingest_kit.context_for("rss", Source.EXTERNAL)
    (item,) = read_rss(ingest_kit.DATA / "feeds" / "forum.atom", context)
    assert item.detail == "expected a <rss> document, found <feed>"
    (item,) = atom_items(b"<feed xmlns='http://www.w3.org/2005/Atom'><entry>", "cut.atom", context)
    assert item.ref == "cut.atom" and item.detail.startswith("not well-formed XML (no element found")
    (tmp_path / "a.rss").write_bytes((ingest_kit.DATA / "feeds" / "reviews.rss").read_bytes())
    (tmp_path / "b.rss").write_bytes(b"<rss version='2.0'></rss>")
    items = list(read_rss(tmp_path, context))
    assert (items[-1].ref, items[-1].detail) == ("b.rss", "<rss> without <channel>")
