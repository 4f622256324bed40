"""Slack exports (folder and ZIP) become the expected posts; system, deleted and broken records do not."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

from monitor.ingest.base import SkipReason
from monitor.ingest.people import Directory
from monitor.ingest.slack import decode_mrkdwn, read_slack
from policies.post import Source

USERS = {"U1": {"id": "U1", "name": "zoe", "profile": {"display_name": "Zoé", "real_name": "Zoé Dupont"}},
         "U2": {"id": "U2", "name": "bob", "real_name": "Bob Smith", "profile": {"display_name": ""}}}


def test_the_export_gives_the_expected_posts_field_by_field(ingest_kit: Any, people: Directory) -> None:
    context = ingest_kit.context_for("slack", Source.INTERNAL, people)
    posts, _ = ingest_kit.split(read_slack(ingest_kit.DATA / "slack", context))
    ingest_kit.assert_posts_equal(posts, ingest_kit.expected_posts("slack"))


def test_skipped_records_are_named_by_file_and_index_with_their_reason(ingest_kit: Any) -> None:
    context = ingest_kit.context_for("slack", Source.INTERNAL)
    _, skipped = ingest_kit.split(read_slack(ingest_kit.DATA / "slack", context))
    assert [(item.ref, item.reason) for item in skipped] == [
        ("general/2024-03-04.json[0]", SkipReason.SYSTEM_MESSAGE),  # channel_join
        ("general/2024-03-04.json[6]", SkipReason.DELETED),  # tombstone
        ("general/2024-03-04.json[7]", SkipReason.SYSTEM_MESSAGE),  # channel_topic
        ("slack:C01GENERAL:1709543900.000900", SkipReason.EMPTY),  # a file shared without text
        ("trading-desk/2024-03-05.json[2]", SkipReason.DELETED),  # message_deleted
        ("trading-desk/2024-03-06.json", SkipReason.MALFORMED),
        ("trading-desk/2024-03-07.json[0]", SkipReason.MALFORMED),
    ]
    broken = {item.ref: item.detail for item in skipped if item.reason is SkipReason.MALFORMED}
    assert broken["trading-desk/2024-03-06.json"].startswith("not valid JSON (Unterminated string")
    assert broken["trading-desk/2024-03-07.json[0]"] == "ts missing or not a Slack timestamp"


def test_a_zip_export_nested_in_a_folder_reads_like_the_unpacked_folder(
    ingest_kit: Any, people: Directory, tmp_path: Path,
) -> None:
    archive = tmp_path / "Acme Slack export Mar 4 2024 - Mar 7 2024.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted((ingest_kit.DATA / "slack").rglob("*.json")):
            bundle.write(path, f"acme-export/{path.relative_to(ingest_kit.DATA / 'slack').as_posix()}")
    context = ingest_kit.context_for("slack", Source.INTERNAL, people)
    from_zip = list(read_slack(archive, context))
    from_folder = list(read_slack(ingest_kit.DATA / "slack", context))
    assert from_zip == from_folder


def test_a_channel_export_without_users_json_keeps_ids_and_message_profiles(
    ingest_kit: Any, tmp_path: Path,
) -> None:
    shutil.copytree(ingest_kit.DATA / "slack" / "trading-desk", tmp_path / "trading-desk")
    posts, _ = ingest_kit.split(read_slack(tmp_path, ingest_kit.context_for("slack", Source.EXTERNAL)))
    by_id = {post.id: post for post in posts}
    # No channels.json: the folder name stands for the conversation.
    reply = by_id["slack:trading-desk:1709647260.000200"]
    assert reply.author.display_name == "carol"  # from the message's own user_profile
    assert reply.metadata["thread_id"] == "slack:trading-desk:1709647200.000100"
    assert by_id["slack:trading-desk:1709647200.000100"].author.display_name is None


def test_not_an_export_is_one_malformed_record(ingest_kit: Any, tmp_path: Path) -> None:
    bogus = tmp_path / "export.zip"
    bogus.write_bytes(b"not a zip")
    (item,) = read_slack(bogus, ingest_kit.context_for("slack", Source.INTERNAL))
    assert item.reason is SkipReason.MALFORMED and item.ref == "export.zip"


def test_mrkdwn_tokens_and_escapes() -> None:
    channels = {"C9": "random"}
    cases = {
        "hi <@U1> and <@U2|bob>": "hi @Zoé and @Bob Smith",
        "<@U404|ghost> <@U405>": "@ghost @U405",
        "see <#C9> or <#C8|ops>": "see #random or #ops",
        "<!here> <!channel> <!subteam^S1|@risk> <!date^1392734382^{date}|Feb 18, 2014>": (
            "@here @channel @risk Feb 18, 2014"),
        "<https://a.example/x?y=1&amp;z=2|the doc> <https://b.example>": (
            "the doc (https://a.example/x?y=1&z=2) https://b.example"),
        "<mailto:bob@example.com|bob@example.com>": "bob@example.com",
        "a &lt;b&gt; &amp;lt; &amp;amp; c": "a <b> &lt; &amp; c",
    }
    for text, expected in cases.items():
        assert decode_mrkdwn(text, USERS, channels) == expected, text
