"""Microsoft Graph chatMessage pages become the expected posts, replies and threads included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from monitor.ingest.base import SkipReason
from monitor.ingest.people import Directory
from monitor.ingest.teams import read_teams
from policies.post import Source


def test_the_pages_give_the_expected_posts_field_by_field(ingest_kit: Any, people: Directory) -> None:
    context = ingest_kit.context_for("teams", Source.INTERNAL, people)
    posts, _ = ingest_kit.split(read_teams(ingest_kit.DATA / "teams", context))
    ingest_kit.assert_posts_equal(posts, ingest_kit.expected_posts("teams"))


def test_system_events_deletions_and_senderless_messages_are_skipped(ingest_kit: Any) -> None:
    _, skipped = ingest_kit.split(read_teams(ingest_kit.DATA / "teams",
                                             ingest_kit.context_for("teams", Source.INTERNAL)))
    assert [(item.ref, item.reason, item.detail) for item in skipped] == [
        ("page-1.json[0].replies[1]", SkipReason.DELETED, ""),
        ("page-1.json[1]", SkipReason.SYSTEM_MESSAGE, ""),  # systemEventMessage (members added)
        ("page-2.json[2]", SkipReason.MALFORMED, "from.user missing"),
        ("page-2.json[3]", SkipReason.SYSTEM_MESSAGE, ""),  # chatEvent
    ]


def test_a_single_chat_message_and_a_file_that_is_not_a_page(ingest_kit: Any, tmp_path: Path) -> None:
    page = json.loads((ingest_kit.DATA / "teams" / "page-2.json").read_text())
    (tmp_path / "a-message.json").write_text(json.dumps(page["value"][1]))
    (tmp_path / "b-odd.json").write_text(json.dumps({"@odata.context": "x", "items": []}))
    posts, skipped = ingest_kit.split(read_teams(tmp_path, ingest_kit.context_for("teams", Source.INTERNAL)))
    chat = "19:2da4c29f6d7041eca70b638b43d45437@thread.v2"
    assert [post.id for post in posts] == [f"teams:{chat}:1709550060000"]
    assert [(item.ref, item.reason) for item in skipped] == [("b-odd.json", SkipReason.MALFORMED)]
