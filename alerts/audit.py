"""The audit log: an append-only, hash-chained record of who saw or changed what.

Each entry's hash covers its own content and the previous entry's hash, so changing, deleting or
reordering any stored entry breaks the chain from that point on, and :func:`verify_chain` names the
first entry that no longer fits. Entries are written by :class:`alerts.store.SqlAlertStore` in the
same transaction as the change they record, under a lock, so the chain never forks.

This detects alteration by anyone who cannot recompute the whole chain after their edit. Deleting the
newest entries, or rewriting the whole chain, leaves a shorter or different chain that is valid in
itself: only a head recorded outside the database shows it. :class:`Checkpoint` is such a head (the
anchor file of :mod:`alerts.anchor`, or one an operator copied from ``veille audit head``), and
:func:`verify_chain` checks the chain against every checkpoint it is given.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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


class ChainHead(BaseModel):
    """The newest entry of a chain: its sequence number (the number of entries) and its hash."""

    model_config = ConfigDict(frozen=True)

    seq: int = Field(ge=0)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")

    def __str__(self) -> str:
        # The form `veille audit verify --expect-head` takes back.
        return f"{self.seq}:{self.hash}"


EMPTY_HEAD = ChainHead(seq=0, hash=GENESIS_HASH)


class Checkpoint(ChainHead):
    """A head recorded outside the database at ``at``: the chain must still reach it, unchanged."""

    seq: int = Field(ge=1)
    at: datetime | None = None


@dataclass(frozen=True)
class Anchor:
    """A checkpoint and where it was read from, for the message that names it."""

    checkpoint: Checkpoint
    where: str  # e.g. "anchor file /var/lib/veille/audit-anchor.jsonl line 12", "--expect-head"

    def describe(self) -> str:
        at = f" at {self.checkpoint.at.isoformat()}" if self.checkpoint.at is not None else ""
        return f"{self.where} recorded entry #{self.checkpoint.seq} (hash {self.checkpoint.hash[:16]}…{at})"


class ChainBroken(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"audit entry #{seq}: {reason}")
        self.seq = seq
        self.reason = reason


class ChainTruncated(ChainBroken):
    """The chain is intact in itself but ends before a checkpoint: its newest entries were deleted."""


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


def verify_chain(entries: Iterable[AuditEntry], anchors: Iterable[Anchor] = ()) -> ChainHead:
    """The head of the verified chain (its ``seq`` is the number of entries checked).

    Raises :class:`ChainBroken` at the first entry that does not fit, or that differs from a
    checkpoint, and :class:`ChainTruncated` when the chain ends before a checkpoint. ``entries`` is
    consumed once, oldest first, and never held: the caller may stream it.
    """
    by_seq: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        by_seq.setdefault(anchor.checkpoint.seq, []).append(anchor)
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
        for anchor in by_seq.get(entry.seq, ()):
            if anchor.checkpoint.hash != entry.hash:
                raise ChainBroken(
                    entry.seq,
                    f"does not match the checkpoint: {anchor.describe()}; the chain was rewritten "
                    "up to this entry",
                )
        prev = entry.hash
        expected_seq += 1
        count += 1
    beyond = [anchor for seq, found in by_seq.items() if seq > count for anchor in found]
    if beyond:
        last = max(beyond, key=lambda anchor: anchor.checkpoint.seq)
        first, newest = count + 1, last.checkpoint.seq
        missing = f"entry #{first} was" if newest == first else f"entries #{first} to #{newest} were"
        raise ChainTruncated(
            first, f"missing: the log ends at entry #{count} but {last.describe()}; {missing} deleted"
        )
    return ChainHead(seq=count, hash=prev)


class Actor(BaseModel):
    """Who did it: a token's name and role, or ``cli`` for an operator at the command line."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: str


CLI_ACTOR = Actor(name="cli", role="admin")
