"""privacy: each alert's purpose, and whether its author is shown as a pseudonym

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Alerts stored before have no purpose (they keep what they kept) and show their author as before.
    op.add_column("alerts", sa.Column("purpose", sa.String(32), nullable=True))
    op.add_column(
        "alerts", sa.Column("author_pseudonymised", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("alerts", "author_pseudonymised")
    op.drop_column("alerts", "purpose")
