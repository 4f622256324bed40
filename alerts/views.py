"""Evidence views, aggregated: one audit entry per person, alert and window instead of one per request.

The first view of an alert by an actor is recorded at once (before the evidence is returned) and
opens a window; further views by the same actor inside the window are only counted, and one
``alert.view`` entry with ``after = {"count", "first_at", "last_at"}`` records them when the window
closes (a timer) or at the next view after it. Every view stays accounted for: an entry without a
count is one view, an entry with one is that many. A process killed outright loses the counts of its
open windows, never a first view.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.audit import Actor

# Open windows kept in memory at most; beyond, the oldest is closed early (its count written).
MAX_OPEN_WINDOWS = 10_000


@dataclass(frozen=True)
class ViewRecord:
    """One ``alert.view`` audit entry to write."""

    alert_id: str
    by: Actor
    at: datetime
    count: int | None = None  # None: this one view; n: n further views from first_at to last_at
    first_at: datetime | None = None
    last_at: datetime | None = None


@dataclass
class _Window:
    opened_at: datetime
    repeats: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None


@dataclass
class ViewWindows:
    """The open windows of one process; safe to share between threads. ``window`` zero: no aggregation."""

    window: timedelta
    max_open: int = MAX_OPEN_WINDOWS
    _open: dict[tuple[str, str, str], _Window] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def view(self, alert_id: str, by: Actor, now: datetime) -> list[ViewRecord]:
        """The entries to write now for this view (none when it is a repeat inside its window)."""
        first = ViewRecord(alert_id, by, now)
        if self.window <= timedelta(0):
            return [first]
        key = (by.name, by.role, alert_id)
        with self._lock:
            current = self._open.get(key)
            if current is not None and now < current.opened_at + self.window:
                current.repeats += 1
                current.first_at = current.first_at or now
                current.last_at = now
                return []
            out = []
            if current is not None:
                out.extend(self._close(key, now))
            elif len(self._open) >= self.max_open:
                out.extend(self._close(next(iter(self._open)), now))
            self._open[key] = _Window(opened_at=now)
            out.append(first)
            return out

    def closed(self, now: datetime) -> list[ViewRecord]:
        """The counts of the windows that ended by ``now`` (the timer's call)."""
        with self._lock:
            ended = [key for key, w in self._open.items() if now >= w.opened_at + self.window]
            return [record for key in ended for record in self._close(key, now)]

    def drain(self, now: datetime) -> list[ViewRecord]:
        """Every count still open (at shutdown)."""
        with self._lock:
            return [record for key in list(self._open) for record in self._close(key, now)]

    def _close(self, key: tuple[str, str, str], now: datetime) -> list[ViewRecord]:
        w = self._open.pop(key)
        if not w.repeats:
            return []
        name, role, alert_id = key
        return [ViewRecord(alert_id, Actor(name=name, role=role), now, w.repeats, w.first_at, w.last_at)]
