"""Any bytes a producer can send either become a Post or a MalformedRecord with a bounded reason.

A decoding failure that escapes as another exception rewinds the whole batch, which is then retried for
ever: the partition stalls and every post behind the record goes unmonitored.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.records import DLQ_REASONS, MalformedRecord, decode_post
from policies.post import Post

MAX_BYTES = 262_144


def _valid(**overrides: object) -> dict[str, object]:
    post: dict[str, object] = {
        "id": "p-1", "source": "internal", "channel": "teams", "author": {"id": "u-1"}, "text": "hello",
    }
    post.update(overrides)
    return post


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b"[" * 5000, "invalid_json", id="deep-array-nesting"),
        pytest.param(b'{"a":' * 5000, "invalid_json", id="deep-object-nesting"),
        pytest.param(b'{"id": ' + b"9" * 5000 + b"}", "invalid_json", id="integer-over-conversion-limit"),
        pytest.param(json.dumps(_valid(created_at=None)).replace("null", "9" * 5000).encode(), "invalid_json",
                     id="huge-integer-in-a-known-field"),
        pytest.param(b"\xff\xfe{}", "invalid_utf8", id="invalid-utf8"),
        pytest.param(b'{"id": "p-1", "source"', "invalid_json", id="truncated"),
        pytest.param(b"null", "invalid_post", id="json-null"),
        pytest.param(b"[]", "invalid_post", id="json-array"),
        pytest.param(json.dumps(_valid(source=7)).encode(), "invalid_post", id="wrong-type"),
        pytest.param(json.dumps({"id": "p-1"}).encode(), "invalid_post", id="missing-fields"),
        pytest.param(b"x" * (MAX_BYTES + 1), "too_large", id="over-size-limit"),
        pytest.param(None, "invalid_json", id="tombstone"),
    ],
)
def test_hostile_record_is_refused_with_its_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(MalformedRecord) as refused:
        decode_post(raw, MAX_BYTES)
    assert refused.value.reason == reason
    assert refused.value.reason in DLQ_REASONS


@pytest.mark.parametrize(
    "text",
    [
        "NUL \x00 inside",
        "controls \x01\x02\x1b[31m red",
        "right-to-left \u202eoverride\u202c and isolates \u2067x\u2069",
        "zero\u200bwidth\u200djoiners\ufeff",
    ],
)
def test_odd_characters_in_text_are_kept_for_detection(text: str) -> None:
    post = decode_post(json.dumps(_valid(text=text)).encode(), MAX_BYTES)
    assert post.text == text


def test_detail_never_echoes_the_record() -> None:
    secret = "4970101234567894"
    with pytest.raises(MalformedRecord) as refused:
        decode_post(json.dumps(_valid(source=secret)).encode(), MAX_BYTES)
    assert secret not in refused.value.detail


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_any_bytes_decode_or_are_refused(raw: bytes) -> None:
    try:
        assert isinstance(decode_post(raw, MAX_BYTES), Post)
    except MalformedRecord as refused:
        assert refused.reason in DLQ_REASONS


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "source", "channel", "author", "text", "lang", "jurisdiction",
                                        "created_at", "url", "metadata", "extra"]), _json_values))
def test_any_json_object_decodes_or_is_refused(fields: dict[str, object]) -> None:
    raw = json.dumps(fields).encode()
    try:
        assert isinstance(decode_post(raw, MAX_BYTES), Post)
    except MalformedRecord as refused:
        assert refused.reason in {"invalid_post", "invalid_json"}
