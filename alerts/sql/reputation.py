"""The e-reputation windows' rows: their state (baselines, open windows, applied offsets) and the
per-window numbers the brand timeline is drawn from.

Several workers share one brand's state (a brand's posts arrive on every partition), so each state
row carries a version and is written only if it still has the version its writer read (optimistic
concurrency): a worker that lost the race gets :class:`ReputationConflict`, its batch is retried on
the fresh state, and no update is silently overwritten. Conflicts are rare because the aggregator
re-reads the versions (one small query) before every batch.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.sql.engine import StoreError, insert
from alerts.sql.schema import reputation_state_table, reputation_windows_table
from alerts.windows import WindowRow

WINDOW_VALUES = ("volume", "scored", "negatives", "compound_sum", "negative_terms")


class ReputationConflict(StoreError):
    """Another worker saved the same brand state since this one read it; retry the batch on fresh state."""


def _window_values(row: WindowRow) -> dict[str, Any]:
    values = dataclasses.asdict(row)
    values["negative_terms"] = json.dumps(row.negative_terms, sort_keys=True)
    return values


def _window_row(mapping: Mapping[Any, Any]) -> WindowRow:
    values = dict(mapping)
    values["negative_terms"] = json.loads(values["negative_terms"])
    return WindowRow(**values)


def load_state(connection: Connection) -> dict[str, tuple[dict[str, Any], int]]:
    c = reputation_state_table.c
    rows = connection.execute(sa.select(c.key, c.payload, c.version)).all()
    return {key: (json.loads(payload), version) for key, payload, version in rows}


def versions(connection: Connection) -> dict[str, int]:
    c = reputation_state_table.c
    return {key: version for key, version in connection.execute(sa.select(c.key, c.version))}


def save(
    connection: Connection,
    state: Mapping[str, dict[str, Any]],
    expected: Mapping[str, int],
    windows: Sequence[WindowRow],
) -> dict[str, int]:
    """Write state entries (each only if still at its ``expected`` version, 0 = absent) and upsert
    window rows. Returns the new versions."""
    now = datetime.now(UTC)
    c = reputation_state_table.c
    written: dict[str, int] = {}
    for key, payload in sorted(state.items()):  # one lock order for every writer
        version = expected.get(key, 0)
        text = json.dumps(payload, sort_keys=True)
        if version == 0:
            stmt = insert(connection, reputation_state_table).values(
                key=key, payload=text, version=1, updated_at=now
            )
            # RETURNING, not rowcount: with psycopg the rowcount of this insert was not 1 on success.
            done = connection.execute(
                stmt.on_conflict_do_nothing(index_elements=["key"]).returning(c.key)
            ).first()
        else:
            done = connection.execute(
                sa.update(reputation_state_table).where(c.key == key, c.version == version)
                .values(payload=text, version=version + 1, updated_at=now).returning(c.key)
            ).first()
        if done is None:
            raise ReputationConflict(
                f"reputation state {key!r} changed since version {version} was read "
                "(another worker saved it); the batch is retried on the fresh state"
            )
        written[key] = version + 1
    if windows:
        upsert = insert(connection, reputation_windows_table)
        connection.execute(
            upsert.on_conflict_do_update(
                index_elements=["brand", "jurisdiction", "source", "window_start"],
                set_={name: upsert.excluded[name] for name in WINDOW_VALUES},
            ),
            [_window_values(row) for row in windows],
        )
    return written


def windows(
    connection: Connection, brand: str, start: int, end: int, jurisdiction: str | None, source: str | None
) -> list[WindowRow]:
    c = reputation_windows_table.c
    in_range = (c.brand == brand, c.window_start >= start, c.window_start < end)
    query = _narrow(sa.select(reputation_windows_table).where(*in_range), jurisdiction, source)
    order = (c.window_start, c.jurisdiction, c.source)
    return [_window_row(row._mapping) for row in connection.execute(query.order_by(*order))]


def volumes(
    connection: Connection, start: int, end: int, jurisdiction: str | None, source: str | None
) -> dict[str, int]:
    c = reputation_windows_table.c
    query = sa.select(c.brand, sa.func.sum(c.volume)).where(c.window_start >= start, c.window_start < end)
    query = _narrow(query, jurisdiction, source)
    return {brand: int(total) for brand, total in connection.execute(query.group_by(c.brand))}


_Query = TypeVar("_Query", bound=sa.Select[Any])


def _narrow(query: _Query, jurisdiction: str | None, source: str | None) -> _Query:
    """The optional jurisdiction and source filters every read of the windows table offers."""
    c = reputation_windows_table.c
    if jurisdiction is not None:
        query = query.where(c.jurisdiction == jurisdiction)
    if source is not None:
        query = query.where(c.source == source)
    return query
