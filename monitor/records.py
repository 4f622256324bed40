"""Kafka edge decoding: one record's bytes to a validated Post, or a bounded reason to dead-letter it."""

from __future__ import annotations

import json

from pydantic import ValidationError

from policies.post import Post, summarise_validation_error


class MalformedRecord(ValueError):
    """A record that cannot become a Post. ``reason`` is a bounded code, ``detail`` is for the DLQ header."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# Bounded set: used as a metric label and as the DLQ `error` header.
DLQ_REASONS = (
    "too_large", "invalid_utf8", "invalid_json", "invalid_post", "processing_failed", "store_failed"
)


def decode_post(raw: bytes | None, max_bytes: int) -> Post:
    """Turn a Kafka record value into a Post, or raise MalformedRecord naming why."""
    if raw is None:
        raise MalformedRecord("invalid_json", "record has no value (tombstone)")
    if len(raw) > max_bytes:
        raise MalformedRecord("too_large", f"record is {len(raw)} bytes, limit is {max_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRecord("invalid_utf8", f"byte {exc.start} is not valid UTF-8") from None
    try:
        return Post.model_validate_json(text)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise MalformedRecord("invalid_json", _json_error_position(text)) from None
        raise MalformedRecord("invalid_post", summarise_validation_error(exc)) from None
    except Exception as exc:
        # The parser lets some limits through as plain exceptions (an integer beyond Python's 4,300-digit
        # conversion limit is a ValueError). Whatever it is, it concerns this record only: dead-letter it,
        # or the batch is rewound and retried for ever and the partition stalls behind it.
        raise MalformedRecord("invalid_json", f"unparseable record ({type(exc).__name__})") from None


def _json_error_position(text: str) -> str:
    """Where the JSON breaks, from the stdlib parser (pydantic's message would echo the input)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    except RecursionError:
        return "nesting too deep"
    except ValueError as error:  # e.g. an integer literal over the int conversion limit
        return f"unparseable value ({type(error).__name__})"
    return "invalid JSON"
