"""Cases: alerts and samples grouped for an investigation, with notes and a legal hold.

A case has a title, an owner, a status (open or closed) and items (alert ids; a sample is an alert of
kind ``sample``, so it joins a case the same way). A **legal hold** on a case keeps every item as it
is: retention (:mod:`alerts.retention`) neither anonymises nor deletes an alert that is an item of a
held case, whatever its age, until the hold is released. A hold outlives the case's closing: closing
an investigation is not the end of a litigation, so only an explicit release ends it.

Pure rules here; :mod:`alerts.sql.cases` applies them and audits every change (``case.*`` entries,
target ``case:<id>``).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from alerts.lifecycle import MAX_COMMENT_CHARS, MAX_NAME_CHARS, LifecycleError, check_text

MAX_TITLE_CHARS = 200
# Bounds an export (built in memory) and an "add" request; a bigger matter is split into cases.
MAX_CASE_ITEMS = 10_000
MIN_HOLD_REASON_CHARS = 10


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CaseNotFound(LifecycleError, LookupError):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"case {case_id!r} not found; `veille cases list` shows the case ids")
        self.case_id = case_id


class CaseNote(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    author: str
    body: str
    created_at: datetime


class CaseItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    alert_id: str
    added_at: datetime
    added_by: str


class Case(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    owner: str
    status: CaseStatus = CaseStatus.OPEN
    created_at: datetime
    updated_at: datetime
    held_at: datetime | None = Field(default=None, description="legal hold placed; null: no hold")
    held_by: str | None = None
    hold_reason: str | None = None
    item_count: int = 0
    items: list[CaseItem] = Field(default_factory=list, description="oldest first; filled by get only")
    notes: list[CaseNote] = Field(default_factory=list, description="oldest first; filled by get only")

    @property
    def held(self) -> bool:
        return self.held_at is not None


def new_case_id() -> str:
    return secrets.token_hex(6)


def check_title(title: str) -> None:
    check_text("title", title, MAX_TITLE_CHARS, required=True)


def check_owner(owner: str) -> None:
    check_text("owner", owner, MAX_NAME_CHARS, required=True)


def check_note(body: str) -> None:
    check_text("body", body, MAX_COMMENT_CHARS, required=True)


def check_hold_reason(reason: str) -> None:
    """A hold stops the erasure a regulation or a data subject may ask for: its reason is kept for
    whoever must justify it later (a matter, a regulator's request), not a placeholder."""
    check_text("reason", reason, MAX_COMMENT_CHARS, required=True)
    if len(reason.strip()) < MIN_HOLD_REASON_CHARS:
        raise LifecycleError(
            f"reason must say why the hold is placed or released in at least {MIN_HOLD_REASON_CHARS} "
            "characters (e.g. the matter or the request it answers)"
        )


def check_item_ids(alert_ids: list[str]) -> None:
    if not alert_ids:
        raise LifecycleError("give at least one alert id")
    if len(alert_ids) > MAX_CASE_ITEMS:
        raise LifecycleError(f"at most {MAX_CASE_ITEMS} alert ids at once; split the request")
    for alert_id in alert_ids:
        check_text("alert id", alert_id, 64, required=True)
