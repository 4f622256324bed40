"""Where the e-reputation windows live: two tables in the alert store's database and metadata,
created by Alembic revision 0003 (one schema, one migration chain, one engine shared with the alert
store). The rows and their optimistic concurrency are in :mod:`alerts.sql.reputation`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from alerts.sql import reputation
from alerts.sql.engine import open_engine
from alerts.windows import WindowRow


class ReputationStore:
    """Reads and writes the reputation tables (Alembic revision 0003) through the alert store's engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    @classmethod
    def open(cls, url: str) -> ReputationStore:
        """Migrate ``url`` like the alert store does and share its engine settings (WAL, timeouts)."""
        return cls(open_engine(url))

    def close(self) -> None:
        self._engine.dispose()

    def load_state(self) -> dict[str, tuple[dict[str, Any], int]]:
        """Every state entry with its version."""
        with self._engine.connect() as connection:
            return reputation.load_state(connection)

    def versions(self) -> dict[str, int]:
        with self._engine.connect() as connection:
            return reputation.versions(connection)

    def save(self, state: Mapping[str, dict[str, Any]], expected: Mapping[str, int],
             windows: Sequence[WindowRow]) -> dict[str, int]:
        """Write state entries (each only if still at its ``expected`` version, 0 = absent) and upsert
        window rows, in one transaction: all of a batch, or nothing. Returns the new versions;
        raises :class:`alerts.sql.reputation.ReputationConflict` when another worker saved first."""
        with self._engine.begin() as connection:
            return reputation.save(connection, state, expected, windows)

    def windows(self, brand: str, start: int, end: int, jurisdiction: str | None = None,
                source: str | None = None) -> list[WindowRow]:
        """Window rows of ``brand`` with ``start <= window_start < end`` (epoch seconds), oldest first,
        optionally of one jurisdiction (pack) and one source."""
        with self._engine.connect() as connection:
            return reputation.windows(connection, brand, start, end, jurisdiction, source)

    def volumes(self, start: int, end: int, jurisdiction: str | None = None,
                source: str | None = None) -> dict[str, int]:
        """Posts per brand with ``start <= window_start < end``: the share of voice."""
        with self._engine.connect() as connection:
            return reputation.volumes(connection, start, end, jurisdiction, source)
