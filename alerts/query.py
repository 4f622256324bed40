"""What a reader asks the alert store for, and the page it gets back.

Pagination is keyset on ``(created_at desc, id desc)``: a cursor names the last alert of the previous
page, so pages stay stable while new alerts arrive (an offset would shift under a busy queue).
The cursor is opaque to clients (url-safe base64) and checked strictly on the way back in, so a
tampered or truncated cursor is a client error with a precise message, never a server error.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.model import AlertStatus, Severity

T = TypeVar("T")

_CURSOR_VERSION = 1
# An alert id is a 32-character hash today; the bound only keeps a forged cursor from smuggling
# an arbitrarily large value into the query.
_MAX_CURSOR_ID = 128
_MAX_CURSOR_CHARS = 256
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")

FilterList = Annotated[list[str], Field(min_length=1, max_length=100)]
Order = Literal["newest", "oldest"]


class InvalidCursor(ValueError):
    """A cursor that this store did not hand out (garbage, truncated or edited)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid cursor: {reason}; pass back the next_cursor of a previous page unchanged")
        self.reason = reason


def encode_cursor(created_at: datetime, alert_id: str) -> str:
    """The cursor that resumes a listing right after the alert ``(created_at, alert_id)``."""
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    # Integer microseconds: exact on both backends (no float or text round-trip of the instant).
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    raw = json.dumps([_CURSOR_VERSION, micros, alert_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """``(created_at, id)`` of the last alert of the previous page; raises :class:`InvalidCursor`."""
    if not cursor or len(cursor) > _MAX_CURSOR_CHARS:
        raise InvalidCursor(f"expected 1 to {_MAX_CURSOR_CHARS} characters, got {len(cursor)}")
    # The decoder would silently skip characters outside the alphabet: refuse them instead.
    if not _CURSOR_ALPHABET.fullmatch(cursor):
        raise InvalidCursor("only url-safe base64 characters (A-Z a-z 0-9 - _) are allowed")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except binascii.Error:
        raise InvalidCursor("not valid base64 (truncated?)") from None
    try:
        payload = json.loads(raw)
    except ValueError:
        # Also covers undecodable bytes (UnicodeDecodeError is a ValueError).
        raise InvalidCursor("corrupted or truncated content") from None
    if not (isinstance(payload, list) and len(payload) == 3):
        raise InvalidCursor("unexpected structure")
    version, micros, alert_id = payload
    if version != _CURSOR_VERSION or isinstance(version, bool):
        raise InvalidCursor(f"unsupported version {version!r}")
    if not isinstance(micros, int) or isinstance(micros, bool):
        raise InvalidCursor("timestamp is not an integer")
    if not isinstance(alert_id, str) or not 0 < len(alert_id) <= _MAX_CURSOR_ID:
        raise InvalidCursor("alert id is missing or too long")
    try:
        created_at = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise InvalidCursor("timestamp out of range") from None
    return created_at, alert_id


class AlertQuery(BaseModel):
    """Filters over the alert queue; every filter is optional and they combine with AND.

    A list filter matches any of its values. ``since``/``until`` bound the alert's ``created_at``
    (``since`` inclusive, ``until`` exclusive) and must carry a timezone.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[list[str], Field(min_length=1, max_length=500)] | None = None
    status: Annotated[list[AlertStatus], Field(min_length=1)] | None = None
    severity: Annotated[list[Severity], Field(min_length=1)] | None = None
    jurisdiction: FilterList | None = None
    rule_id: FilterList | None = None
    # Role scoping, never a client's filter: True keeps the alerts of rules whose audience lists
    # communications (the comms role's scope).
    comms_visible: bool | None = None
    source: FilterList | None = None
    channel: FilterList | None = None
    assignee: FilterList | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    # Keyset order on (created_at, id); a cursor continues in the order of the page that gave it.
    order: Order = "newest"
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = None

    @field_validator("jurisdiction", mode="before")
    @classmethod
    def _upper_jurisdiction(cls, value: object) -> object:
        # Jurisdictions are stored upper-case (see policies.post.Post); "fr" should find "FR".
        if isinstance(value, list):
            return [v.upper() if isinstance(v, str) else v for v in value]
        return value

    @field_validator("since", "until")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    @model_validator(mode="after")
    def _check_range(self) -> AlertQuery:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError(
                f"since ({self.since.isoformat()}) must be earlier than until ({self.until.isoformat()})"
            )
        return self


class Page(BaseModel, Generic[T]):
    """One page of results; ``next_cursor`` is None on the last page."""

    data: list[T]
    next_cursor: str | None = None
