"""What the alert stream follows: the store's changes in ``(changed_at, id)`` order, and how many
streams each token holds open.

A writer stamps ``changed_at`` inside its transaction but others may commit in between, so a change
can become visible slightly behind a reader's position (several workers on PostgreSQL, a clock
step). :class:`ChangeFeed` pages forward from its position and also looks :data:`LOOKBACK` behind it
for changes it has not passed yet, remembering what it passed within that window. A stream resumed
with ``Last-Event-ID`` starts strictly after that position: it repeats nothing, and can only miss a
change whose transaction was still open when the client's last event was sent.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from alerts.query import Change, Position
from alerts.store import SqlAlertStore

LOOKBACK = timedelta(seconds=10)
PAGE_SIZE = 500


class ChangeFeed:
    """One stream's place in the store's changes. Not thread-safe: one stream, one feed."""

    def __init__(self, store: SqlAlertStore, floor: Position) -> None:
        self._store = store
        # Nothing at or before the floor is sent: the stream's start, or the client's Last-Event-ID.
        self._floor = floor
        # Everything up to here was passed (sent, or withheld from this role).
        self.position = floor
        # Positions passed within LOOKBACK, so that a late change is sent once and only once.
        self._passed: set[Position] = set()

    def late(self) -> list[Change]:
        """Changes that became visible behind the position since the last call."""
        now = datetime.now(UTC)
        horizon = max(self._floor, (now - LOOKBACK, ""))
        self._passed = {p for p in self._passed if p > horizon}
        if horizon >= self.position:
            return []
        changes = self._store.unseen_changes(horizon, self.position, self._passed)
        self._passed.update(change.position for change in changes)
        return changes

    def next_page(self) -> list[Change]:
        """The next changes after the position, at most :data:`PAGE_SIZE`; [] once caught up."""
        changes = self._store.changes_after(self.position, limit=PAGE_SIZE)
        if changes:
            self.position = changes[-1].position
            # Only what the next look behind can reach: a stream catching up on a day of changes
            # must not remember them all.
            recent = datetime.now(UTC) - LOOKBACK
            self._passed.update(change.position for change in changes if change.position[0] >= recent)
        return changes


class TooManyStreams(Exception):
    pass


class StreamSlots:
    """Open alert streams per token, in this process, at most ``per_token`` each."""

    def __init__(self, per_token: int) -> None:
        self.per_token = per_token
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def acquire(self, token_id: str) -> StreamSlot:
        """A slot for one more stream of ``token_id``; raises :class:`TooManyStreams` when it has all."""
        with self._lock:
            if self._open[token_id] >= self.per_token:
                raise TooManyStreams(token_id)
            self._open[token_id] += 1
        return StreamSlot(self, token_id)

    def _release(self, token_id: str) -> None:
        with self._lock:
            self._open[token_id] -= 1
            if self._open[token_id] <= 0:
                del self._open[token_id]


class StreamSlot:
    """One stream's hold on its token's slots; releasing twice is harmless."""

    def __init__(self, slots: StreamSlots, token_id: str) -> None:
        self._slots = slots
        self._token_id = token_id
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots._release(self._token_id)
