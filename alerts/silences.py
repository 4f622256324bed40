"""Silences, Alertmanager-style: matchers that mute alerts for a while, with an author and a reason.

A silence never drops an alert: silenced hits are still stored and counted (marking them is the
worker's job, with :meth:`Silence.matches`). Silences expire by themselves at ``expires_at``;
expiring one early sets ``expires_at`` to now, so the list keeps its history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from alerts.model import Alert
from policies.post import ID_MAX_CHARS

MAX_SILENCE = timedelta(days=90)


class Matchers(BaseModel):
    """Exact matches, combined with AND; at least one is required (a silence on everything is refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str | None = Field(default=None, min_length=1, max_length=200)
    jurisdiction: str | None = Field(default=None, min_length=1, max_length=32)
    channel: str | None = Field(default=None, min_length=1, max_length=200)
    author_id: str | None = Field(default=None, min_length=1, max_length=ID_MAX_CHARS)

    @model_validator(mode="after")
    def _not_empty(self) -> Matchers:
        if not self.model_dump(exclude_none=True):
            raise ValueError(
                "a silence needs at least one matcher: rule_id, jurisdiction, channel or author_id"
            )
        return self

    def matches(self, alert: Alert) -> bool:
        wanted = self.model_dump(exclude_none=True)
        return all(getattr(alert, name) == value for name, value in wanted.items())


class SilenceRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "matchers": {"rule_id": "fr.pii.email", "channel": "teams-hr"},
                    "reason": "HR mailbox migration this week",
                    "expires_at": "2025-03-08T00:00:00Z",
                }
            ]
        },
    )

    matchers: Matchers
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: AwareDatetime

    @model_validator(mode="after")
    def _future(self) -> SilenceRequest:
        now = datetime.now(UTC)
        if self.expires_at <= now:
            raise ValueError("expires_at must be in the future")
        if self.expires_at - now > MAX_SILENCE:
            raise ValueError(f"expires_at must be within {MAX_SILENCE.days} days; renew the silence instead")
        return self


class SilenceNotFound(LookupError):
    def __init__(self, silence_id: str) -> None:
        super().__init__(f"silence {silence_id!r} not found")


class Silence(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    matchers: Matchers
    author: str
    reason: str
    created_at: datetime
    expires_at: datetime

    def active(self, now: datetime | None = None) -> bool:
        return self.expires_at > (now or datetime.now(UTC))

    def matches(self, alert: Alert, now: datetime | None = None) -> bool:
        return self.active(now) and self.matchers.matches(alert)
