"""AlertQuery validation and the cursor codec, without a database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from alerts.model import AlertStatus, Severity
from alerts.query import AlertQuery, InvalidCursor, Page, decode_cursor, encode_cursor

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_defaults_match_everything_fifty_at_a_time() -> None:
    q = AlertQuery()
    assert q.limit == 50
    filters = (q.status, q.severity, q.jurisdiction, q.rule_id, q.source, q.since, q.until, q.cursor)
    assert filters == (None,) * 8


def test_values_are_parsed_and_normalised() -> None:
    q = AlertQuery.model_validate(
        {
            "status": ["open"],
            "severity": ["high", "critical"],
            "jurisdiction": ["fr", "Eu"],
            "since": "2025-01-01T02:00:00+02:00",
        }
    )
    assert q.status == [AlertStatus.OPEN]
    assert q.severity == [Severity.HIGH, Severity.CRITICAL]
    assert q.jurisdiction == ["FR", "EU"]
    assert q.since == T0 and q.since.tzinfo is UTC


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"since": T0, "until": T0}, "must be earlier than until"),
        ({"since": T0 + timedelta(seconds=1), "until": T0}, "must be earlier than until"),
        ({"since": datetime(2025, 1, 1)}, "timezone"),
        ({"limit": 0}, "greater than or equal to 1"),
        ({"limit": 501}, "less than or equal to 500"),
        ({"status": ["opened"]}, "open"),
        ({"severity": ["urgent"]}, "critical"),
        ({"status": []}, "at least 1 item"),
        ({"rule_id": []}, "at least 1 item"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_queries_are_refused_with_a_clear_message(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AlertQuery.model_validate(fields)


def test_since_until_error_is_a_value_error_naming_both_bounds() -> None:
    with pytest.raises(ValidationError) as caught:
        AlertQuery(since=T0, until=T0 - timedelta(hours=1))
    assert isinstance(caught.value, ValueError)
    assert "2025-01-01T00:00:00+00:00" in str(caught.value)
    assert "2024-12-31T23:00:00+00:00" in str(caught.value)


@pytest.mark.parametrize(
    "created_at",
    [
        datetime(2025, 6, 1, 12, 30, 45, 123456, tzinfo=UTC),
        datetime(2025, 6, 1, 14, 30, 45, 123456, tzinfo=timezone(timedelta(hours=2))),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_cursor_round_trip_is_exact_and_url_safe(created_at: datetime) -> None:
    cursor = encode_cursor(created_at, "4f1c0a9e" * 4)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    decoded_at, decoded_id = decode_cursor(cursor)
    assert decoded_at == created_at and decoded_at.tzinfo is UTC
    assert decoded_id == "4f1c0a9e" * 4


def test_naive_cursor_time_is_taken_as_utc() -> None:
    assert decode_cursor(encode_cursor(datetime(2025, 1, 1), "a"))[0] == T0


@pytest.mark.parametrize(
    ("cursor", "reason"),
    [
        ("", "expected 1 to 256 characters, got 0"),
        ("%%%", "only url-safe base64 characters"),
        (encode_cursor(T0, "a") + "==", "only url-safe base64 characters"),
        (encode_cursor(T0, "a") + "!", "only url-safe base64 characters"),
        ("A", "not valid base64"),
        (encode_cursor(T0, "a")[:-4], "corrupted or truncated"),
        ("AAAA", "corrupted or truncated"),
        (encode_cursor(T0, "a").replace("W", "X", 1), "corrupted or truncated"),
        (encode_cursor(T0, "a" * 129), "too long"),
    ],
)
def test_decode_cursor_says_what_is_wrong(cursor: str, reason: str) -> None:
    with pytest.raises(InvalidCursor) as caught:
        decode_cursor(cursor)
    assert reason in caught.value.reason
    assert str(caught.value).startswith("invalid cursor: ")


def test_page_serialises_for_the_api() -> None:
    page = Page[int](data=[1, 2], next_cursor="abc")
    assert page.model_dump() == {"data": [1, 2], "next_cursor": "abc"}
    assert Page[str](data=[]).next_cursor is None
