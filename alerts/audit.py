"""The audit log: an append-only, hash-chained record of who saw or changed what.

Each entry's hash covers its own content and the previous entry's hash, so changing, deleting or
reordering any stored entry breaks the chain from that point on, and :func:`verify_chain` names the
first entry that no longer fits. Entries are written by :class:`alerts.store.SqlAlertStore` in the
same transaction as the change they record, under a lock, so the chain never forks.

This detects alteration by anyone who cannot recompute the whole chain after their edit; anchoring
the latest hash outside the database (e.g. printing it in a ticket) also covers a full rewrite.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

GENESIS_HASH = "0" * 64


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    prev_hash: str
    hash: str


class ChainBroken(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"audit entry #{seq}: {reason}")
        self.seq = seq
        self.reason = reason


def _instant(at: datetime) -> str:
    # Microsecond precision in UTC: both backends give that back unchanged.
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> str:
    # Canonical JSON (sorted keys, no spaces): JSONB reorders keys, the hash must not care.
    body = json.dumps(
        [seq, _instant(at), actor, role, action, target, before, after],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def verify_chain(entries: Iterable[AuditEntry]) -> int:
    """The number of entries checked; raises :class:`ChainBroken` at the first one that does not fit."""
    prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for entry in entries:
        if entry.seq != expected_seq:
            raise ChainBroken(
                entry.seq, f"expected entry #{expected_seq} here: entries were deleted or inserted"
            )
        if entry.prev_hash != prev:
            raise ChainBroken(
                entry.seq, "does not link to the previous entry (previous entry altered or removed)"
            )
        recomputed = entry_hash(
            prev,
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            role=entry.role,
            action=entry.action,
            target=entry.target,
            before=entry.before,
            after=entry.after,
        )
        if recomputed != entry.hash:
            raise ChainBroken(entry.seq, "content does not match its hash (entry altered)")
        prev = entry.hash
        expected_seq += 1
        count += 1
    return count


class Actor(BaseModel):
    """Who did it: a token's name and role, or ``cli`` for an operator at the command line."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: str


CLI_ACTOR = Actor(name="cli", role="admin")
