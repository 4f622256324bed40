"""What a reader asks the alert store for, and the page it gets back.

Pagination is keyset on ``(created_at desc, id desc)``: a cursor names the last alert of the previous
page, so pages stay stable while new alerts arrive (an offset would shift under a busy queue).
The cursor is opaque to clients (url-safe base64) and checked strictly on the way back in, so a
tampered or truncated cursor is a client error with a precise message, never a server error.

The alert stream follows changes the same way, on ``(changed_at, id)`` ascending: its event ids are
positions encoded like cursors (another version number, so neither is taken for the other).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Generic, Literal, NamedTuple, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from alerts.model import Alert, AlertKind, AlertStatus, QaStatus, Severity

T = TypeVar("T")

_CURSOR_VERSION = 1
_POSITION_VERSION = 2
# An alert id is a 32-character hash today; the bound only keeps a forged cursor from smuggling
# an arbitrarily large value into the query.
_MAX_CURSOR_ID = 128
_MAX_CURSOR_CHARS = 256
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")

FilterList = Annotated[list[str], Field(min_length=1, max_length=100)]
Order = Literal["newest", "oldest"]


def out_of_range(name: str, value: str) -> str:
    """Why an instant was refused; the API names the parameter as the client spelled it."""
    return (f"{name} is out of range: {value} is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z "
            "once converted to UTC")


def _in_utc(value: datetime, info: ValidationInfo) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 9999-12-31T23:59:59-01:00 parses, but is in year 10000 once in UTC: the client's mistake.
        raise PydanticCustomError(
            "instant_out_of_range",
            out_of_range(info.field_name or "instant", value.isoformat()),
            {"value": value.isoformat()},
        ) from None


# Every instant a client sends (filters, stream start, report ranges): timezone required, converted to
# UTC while validating, so that an instant past the calendar's ends is a 422 naming it, never a 500.
Instant = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class InvalidCursor(ValueError):
    """A cursor (or stream position) that this store did not hand out: garbage, truncated or edited."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid cursor: {reason}; pass back the next_cursor of a previous page unchanged")
        self.reason = reason


# Where the alert stream stands: the (changed_at, id) of the last change it passed. Keyset order, so
# a change is never skipped or repeated however many share one instant.
Position = tuple[datetime, str]


class Change(NamedTuple):
    """An alert as it is now, and its place in the order of changes."""

    alert: Alert
    position: Position


def encode_cursor(created_at: datetime, alert_id: str) -> str:
    """The cursor that resumes a listing right after the alert ``(created_at, alert_id)``."""
    return _encode(_CURSOR_VERSION, created_at, alert_id)


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """``(created_at, id)`` of the last alert of the previous page; raises :class:`InvalidCursor`."""
    return _decode(cursor, _CURSOR_VERSION)


def encode_position(position: Position) -> str:
    """The alert stream's event id: opaque to clients, who send it back as ``Last-Event-ID``."""
    return _encode(_POSITION_VERSION, *position)


def decode_position(event_id: str) -> Position:
    """The position an event id of the alert stream names; raises :class:`InvalidCursor`."""
    return _decode(event_id, _POSITION_VERSION)


def _encode(version: int, at: datetime, alert_id: str) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    # Integer microseconds: exact on both backends (no float or text round-trip of the instant).
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    raw = json.dumps([version, micros, alert_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(cursor: str, expected_version: int) -> tuple[datetime, str]:
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
    # A listing cursor is no stream position and vice versa: the version tells them apart.
    if version != expected_version or isinstance(version, bool):
        raise InvalidCursor(f"unsupported version {version!r}")
    if not isinstance(micros, int) or isinstance(micros, bool):
        raise InvalidCursor("timestamp is not an integer")
    if not isinstance(alert_id, str) or not 0 < len(alert_id) <= _MAX_CURSOR_ID:
        raise InvalidCursor("alert id is missing or too long")
    try:
        at = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise InvalidCursor("timestamp out of range") from None
    return at, alert_id


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
    qa: Annotated[list[QaStatus], Field(min_length=1)] | None = None
    kind: Annotated[list[AlertKind], Field(min_length=1)] | None = None
    population: FilterList | None = None
    since: Instant | None = None
    until: Instant | None = None
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
