"""review levels: four-eyes closures awaiting approval and the QA sample of closed alerts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "four_eyes", "closed_by", "approval_verdict", "approval_ticket", "approval_requested_by", "qa_status",
)


def upgrade() -> None:
    # Alerts stored before came from rules without the key: no four eyes, nothing awaiting approval or QA.
    # Nullable columns and a server default: adding them copies no table.
    op.add_column("alerts", sa.Column("four_eyes", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("alerts", sa.Column("closed_by", sa.String(200), nullable=True))
    op.add_column("alerts", sa.Column("approval_verdict", sa.String(32), nullable=True))
    op.add_column("alerts", sa.Column("approval_ticket", sa.String(200), nullable=True))
    op.add_column("alerts", sa.Column("approval_requested_by", sa.String(200), nullable=True))
    op.add_column("alerts", sa.Column("qa_status", sa.String(16), nullable=True))
    op.create_index("ix_alerts_qa_status", "alerts", ["qa_status"])


def downgrade() -> None:
    op.drop_index("ix_alerts_qa_status", table_name="alerts")
    for column in reversed(_COLUMNS):
        op.drop_column("alerts", column)
