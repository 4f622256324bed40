"""Verifying the audit log streams it: memory stays flat from 5,000 to 50,000 entries, on both backends."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from alerts.audit import GENESIS_HASH, entry_hash
from alerts.sql.schema import audit_table
from alerts.store import SqlAlertStore

_START = datetime(2025, 1, 1, tzinfo=UTC)


def _append_entries(store: SqlAlertStore, first: int, count: int, prev: str) -> str:
    """A valid chain continued by ``count`` entries written in bulk (the store would take one
    transaction each); returns the new head's hash."""
    rows = []
    for seq in range(first, first + count):
        at = _START + timedelta(seconds=seq)
        fields = {"seq": seq, "at": at, "actor": "officer-1", "role": "officer", "action": "alert.view",
                  "target": f"alert:{seq:032x}", "before": None, "after": {"count": seq % 7 + 1}}
        digest = entry_hash(prev, **fields)
        rows.append({**fields, "prev_hash": prev, "hash": digest})
        prev = digest
    with store.engine.begin() as connection:
        for offset in range(0, len(rows), 5000):
            connection.execute(sa.insert(audit_table), rows[offset : offset + 5000])
    return prev


def _peak_bytes_of_verify(store: SqlAlertStore) -> tuple[int, int]:
    tracemalloc.start()
    try:
        head = store.verify_audit()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return head.seq, peak


def test_verify_streams_the_log_in_bounded_memory(store: SqlAlertStore) -> None:
    prev = _append_entries(store, 1, 5_000, GENESIS_HASH)
    count, small = _peak_bytes_of_verify(store)
    assert count == 5_000
    _append_entries(store, 5_001, 45_000, prev)
    count, large = _peak_bytes_of_verify(store)
    assert count == 50_000
    print(f"verify peak: {small / 1e6:.2f} MB for 5,000 entries, {large / 1e6:.2f} MB for 50,000")
    # Ten times the entries, the same working set: one batch of rows at a time.
    assert large < 1.5 * small + 1_000_000
    assert large < 8_000_000
