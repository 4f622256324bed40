"""evidence bounded per alert: how many spans the rule matched on

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for the alerts stored before: they kept every span, so the count is their evidence's length
    # (alerts.model.AlertBase fills it in when reading). Adding a nullable column copies no table.
    op.add_column("alerts", sa.Column("evidence_total", sa.Integer, nullable=True))


def downgrade() -> None:
    op.drop_column("alerts", "evidence_total")
