"""Shared pieces: stable prefixed ids within the contract's limit, timestamps, languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.ingest.base import ID_MAX_CHARS, BadRecord, language, parse_time, platform_id


def test_ids_are_prefixed_stable_and_within_the_contract() -> None:
    assert platform_id("slack", "C1", "1709542860.000200") == "slack:C1:1709542860.000200"
    long_id = platform_id("rss", "https://example.com/" + "x" * 400)
    assert long_id.startswith("rss:sha256:") and len(long_id) <= ID_MAX_CHARS
    assert long_id == platform_id("rss", "https://example.com/" + "x" * 400)


@pytest.mark.parametrize(("value", "expected"), [
    ("1709542860.000200", datetime(2024, 3, 4, 9, 1, 0, 200, tzinfo=UTC)),
    (1709542860, datetime(2024, 3, 4, 9, 1, tzinfo=UTC)),
    ("2024-03-04T09:01:00.000Z", datetime(2024, 3, 4, 9, 1, tzinfo=UTC)),
    ("2023-03-30T09:53:48.4850000Z", datetime(2023, 3, 30, 9, 53, 48, 485000, tzinfo=UTC)),
    ("Tue, 05 Mar 2024 18:30:00 +0100", datetime(2024, 3, 5, 18, 30, tzinfo=timezone(timedelta(hours=1)))),
    ("2024-03-04 09:01:00", datetime(2024, 3, 4, 9, 1, tzinfo=UTC)),
])
def test_timestamps_of_every_format(value: object, expected: datetime) -> None:
    assert parse_time(value) == expected


@pytest.mark.parametrize("value", [None, "", "soon", True])
def test_unreadable_timestamps(value: object) -> None:
    with pytest.raises(BadRecord):
        parse_time(value)


def test_languages_are_iso_639_1_or_nothing() -> None:
    assert [language(tag) for tag in ("en", "en-GB", "fr_FR", "und", "zxx", "qme", None, 3)] == [
        "en", "en", "fr", None, None, None, None, None]
