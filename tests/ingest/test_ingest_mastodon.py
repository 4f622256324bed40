"""Mastodon statuses become the expected posts: HTML to text, boosts, replies, remote accounts."""

from __future__ import annotations

from typing import Any

from monitor.ingest.base import SkipReason
from monitor.ingest.manifest import Manifest, Reconciler
from monitor.ingest.mastodon import instance_of, read_mastodon
from monitor.ingest.people import Directory
from policies.post import Source


def test_the_timeline_page_gives_the_expected_posts_field_by_field(
    ingest_kit: Any, people: Directory,
) -> None:
    context = ingest_kit.context_for("mastodon", Source.EXTERNAL, people)
    reconciler = Reconciler(Manifest(format="mastodon", input="tag-acme.json", output="-"))
    posts = list(reconciler.admit(read_mastodon(ingest_kit.DATA / "mastodon", context)))
    ingest_kit.assert_posts_equal(posts, ingest_kit.expected_posts("mastodon"))
    # The boost of the first status is that status again.
    assert reconciler.manifest.skipped == {"system_message": 0, "deleted": 0, "empty": 1, "duplicate": 1,
                                           "malformed": 1}
    assert reconciler.manifest.malformed[0].ref == "tag-acme.json[0]"
    assert reconciler.manifest.malformed[0].detail == "account.acct missing"


def test_the_instance_is_the_host_of_a_local_account() -> None:
    remote = {"account": {"acct": "bob@fosstodon.org", "url": "https://fosstodon.org/@bob"},
              "uri": "https://fosstodon.org/users/bob/statuses/1"}
    local = {"account": {"acct": "alice", "url": "https://mastodon.social/@alice"}}
    assert instance_of([remote, local]) == "mastodon.social"
    assert instance_of([remote]) == "fosstodon.org"
    assert instance_of([]) == "unknown"


def test_media_only_statuses_are_empty(ingest_kit: Any) -> None:
    _, skipped = ingest_kit.split(read_mastodon(ingest_kit.DATA / "mastodon",
                                                ingest_kit.context_for("mastodon", Source.EXTERNAL)))
    assert (skipped[-1].ref, skipped[-1].reason) == ("tag-acme.json[0]", SkipReason.MALFORMED)
    assert ("mastodon:mastodon.social:112000000000000105", SkipReason.EMPTY) in [
        (item.ref, item.reason) for item in skipped]
