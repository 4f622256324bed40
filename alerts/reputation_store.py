"""Where the e-reputation windows live: their state (baselines, open windows, applied offsets) and
the per-window numbers the brand timeline is drawn from.

Two tables in the alert store's database and metadata, created by Alembic revision 0003: one
schema, one migration chain, one engine shared with the alert store.

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
from sqlalchemy.dialects import postgresql, sqlite

from alerts.store import SqlAlertStore, StoreError, metadata
from alerts.windows import WindowRow


class ReputationConflict(StoreError):
    """Another worker saved the same brand state since this one read it; retry the batch on fresh state."""


state_table = sa.Table(
    "reputation_state",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

windows_table = sa.Table(
    "reputation_windows",
    metadata,
    sa.Column("brand", sa.String(64), primary_key=True),
    sa.Column("jurisdiction", sa.String(16), primary_key=True),
    sa.Column("source", sa.String(16), primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True),  # epoch seconds, UTC
    sa.Column("volume", sa.Integer, nullable=False),
    sa.Column("scored", sa.Integer, nullable=False),
    sa.Column("negatives", sa.Integer, nullable=False),
    sa.Column("compound_sum", sa.Float, nullable=False),
    # JSON {word: negative posts using it}, at most MAX_TERMS_PER_WINDOW words: no text, no names.
    sa.Column("negative_terms", sa.Text, nullable=False),
    sa.Index("ix_reputation_windows_brand_start", "brand", "window_start"),
)


WINDOW_VALUES = ("volume", "scored", "negatives", "compound_sum", "negative_terms")


def _window_values(row: WindowRow) -> dict[str, Any]:
    values = dataclasses.asdict(row)
    values["negative_terms"] = json.dumps(row.negative_terms, sort_keys=True)
    return values


def _window_row(mapping: Mapping[Any, Any]) -> WindowRow:
    values = dict(mapping)
    values["negative_terms"] = json.loads(values["negative_terms"])
    return WindowRow(**values)


class ReputationStore:
    """Reads and writes the reputation tables (Alembic revision 0003) through the alert store's engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    @classmethod
    def open(cls, url: str) -> ReputationStore:
        """Migrate ``url`` like the alert store does and share its engine settings (WAL, timeouts)."""
        return cls(SqlAlertStore.open(url).engine)

    def close(self) -> None:
        self._engine.dispose()

    def load_state(self) -> dict[str, tuple[dict[str, Any], int]]:
        """Every state entry with its version."""
        c = state_table.c
        with self._engine.connect() as connection:
            rows = connection.execute(sa.select(c.key, c.payload, c.version)).all()
        return {key: (json.loads(payload), version) for key, payload, version in rows}

    def versions(self) -> dict[str, int]:
        c = state_table.c
        with self._engine.connect() as connection:
            return {key: version for key, version in connection.execute(sa.select(c.key, c.version))}

    def save(self, state: Mapping[str, dict[str, Any]], expected: Mapping[str, int],
             windows: Sequence[WindowRow]) -> dict[str, int]:
        """Write state entries (each only if still at its ``expected`` version, 0 = absent) and upsert
        window rows, in one transaction: all of a batch, or nothing. Returns the new versions."""
        now = datetime.now(UTC)
        c = state_table.c
        written: dict[str, int] = {}
        with self._engine.begin() as connection:
            for key, payload in sorted(state.items()):  # one lock order for every writer
                version = expected.get(key, 0)
                text = json.dumps(payload, sort_keys=True)
                if version == 0:
                    stmt = self._insert(state_table).values(key=key, payload=text, version=1, updated_at=now)
                    # RETURNING, not rowcount: with psycopg the rowcount of this insert was not 1 on success.
                    done = connection.execute(
                        stmt.on_conflict_do_nothing(index_elements=["key"]).returning(c.key)
                    ).first()
                else:
                    done = connection.execute(
                        sa.update(state_table).where(c.key == key, c.version == version)
                        .values(payload=text, version=version + 1, updated_at=now).returning(c.key)
                    ).first()
                if done is None:
                    raise ReputationConflict(
                        f"reputation state {key!r} changed since version {version} was read "
                        "(another worker saved it); the batch is retried on the fresh state"
                    )
                written[key] = version + 1
            if windows:
                stmt = self._insert(windows_table)
                connection.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["brand", "jurisdiction", "source", "window_start"],
                        set_={c: stmt.excluded[c] for c in WINDOW_VALUES},
                    ),
                    [_window_values(row) for row in windows],
                )
        return written

    def windows(self, brand: str, start: int, end: int, jurisdiction: str | None = None,
                source: str | None = None) -> list[WindowRow]:
        """Window rows of ``brand`` with ``start <= window_start < end`` (epoch seconds), oldest first,
        optionally of one jurisdiction (pack) and one source."""
        c = windows_table.c
        in_range = (c.brand == brand, c.window_start >= start, c.window_start < end)
        query = _narrow(sa.select(windows_table).where(*in_range), jurisdiction, source)
        with self._engine.connect() as connection:
            order = (c.window_start, c.jurisdiction, c.source)
            return [_window_row(row._mapping) for row in connection.execute(query.order_by(*order))]

    def volumes(self, start: int, end: int, jurisdiction: str | None = None,
                source: str | None = None) -> dict[str, int]:
        """Posts per brand with ``start <= window_start < end``: the share of voice."""
        c = windows_table.c
        query = sa.select(c.brand, sa.func.sum(c.volume)).where(c.window_start >= start, c.window_start < end)
        query = _narrow(query, jurisdiction, source)
        with self._engine.connect() as connection:
            return {brand: int(total) for brand, total in connection.execute(query.group_by(c.brand))}


_Query = TypeVar("_Query", bound=sa.Select[Any])


def _narrow(query: _Query, jurisdiction: str | None, source: str | None) -> _Query:
    """The optional jurisdiction and source filters every read of the windows table offers."""
    c = windows_table.c
    if jurisdiction is not None:
        query = query.where(c.jurisdiction == jurisdiction)
    if source is not None:
        query = query.where(c.source == source)
    return query
