"""The post contract: what producers may send, and what a bad record becomes."""

from __future__ import annotations

import json

import pytest

from monitor.records import DLQ_REASONS, MalformedRecord, decode_post
from policies.post import Post, post_json_schema

VALID = {
    "id": "p-1",
    "source": "external",
    "channel": "x",
    "author": {
        "id": "a-1",
        "display_name": "Ann",
        "handle": "@ann",
        "is_employee": True,
        "role": "registered_rep",
        "country": "us",
    },
    "text": "hello",
    "lang": "EN",
    "jurisdiction": "us",
    "created_at": "2026-11-26T10:00:00Z",
    "url": "https://x.example/1",
    "metadata": {"thread": "t-9"},
}


def encode(data: object) -> bytes:
    return json.dumps(data).encode()


def test_valid_post_is_normalised() -> None:
    post = decode_post(encode(VALID), 10_000)
    assert post.jurisdiction == "US"
    assert post.author.country == "US"
    assert post.lang == "en"
    assert post.created_at.tzinfo is not None
    assert post.metadata == {"thread": "t-9"}


def test_unknown_fields_are_kept_in_metadata_not_refused() -> None:
    post = decode_post(encode({**VALID, "likes": 12, "thread": "ignored-because-metadata-wins"}), 10_000)
    assert post.metadata == {"thread": "t-9", "likes": 12}


def test_naive_timestamp_is_taken_as_utc() -> None:
    post = decode_post(encode({**VALID, "created_at": "2026-11-26T10:00:00"}), 10_000)
    assert post.created_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("raw", "reason", "detail_fragment"),
    [
        (b'{"id": "p-1", ', "invalid_json", "line 1"),
        (b"\xff\xfe not utf-8", "invalid_utf8", "byte 0"),
        (encode({**VALID, "source": "intranet"}), "invalid_post", "source"),
        (encode({**VALID, "author": {"role": "x"}}), "invalid_post", "author.id"),
        (encode({**VALID, "jurisdiction": "France"}), "invalid_post", "jurisdiction"),
        (encode([1, 2]), "invalid_post", "(root)"),
        (None, "invalid_json", "tombstone"),
    ],
)
def test_malformed_records_name_their_reason(raw: bytes | None, reason: str, detail_fragment: str) -> None:
    with pytest.raises(MalformedRecord) as caught:
        decode_post(raw, 10_000)
    assert caught.value.reason == reason
    assert reason in DLQ_REASONS
    assert detail_fragment in caught.value.detail


def test_oversized_record_is_refused_before_parsing() -> None:
    with pytest.raises(MalformedRecord) as caught:
        decode_post(encode({**VALID, "text": "x" * 500}), 200)
    assert caught.value.reason == "too_large"


def test_error_detail_never_echoes_post_content() -> None:
    secret_text = "my card is 4111 1111 1111 1111"
    with pytest.raises(MalformedRecord) as caught:
        decode_post(encode({**VALID, "text": secret_text, "source": 5}), 10_000)
    assert "4111" not in caught.value.detail


def test_schema_names_the_contract_fields() -> None:
    schema = post_json_schema()
    assert set(schema["properties"]) >= {
        "id",
        "source",
        "channel",
        "author",
        "text",
        "lang",
        "jurisdiction",
        "created_at",
        "url",
        "metadata",
    }
    assert set(schema["required"]) == {"id", "source", "channel", "author", "text"}
    assert Post.model_validate(schema["examples"][0]).channel == "teams"
