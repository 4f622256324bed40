"""sampling: review-queue items drawn at random, and the population of every item

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every row stored before was a rule's alert: the server default says so without rewriting them.
    op.add_column(
        "alerts", sa.Column("kind", sa.String(16), nullable=False, server_default=sa.text("'alert'"))
    )
    op.add_column("alerts", sa.Column("population", sa.String(64), nullable=True))
    op.create_index("ix_alerts_population_created_at", "alerts", ["population", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_population_created_at", table_name="alerts")
    op.drop_column("alerts", "population")
    op.drop_column("alerts", "kind")
