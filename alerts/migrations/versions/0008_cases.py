"""cases with items, notes and a legal hold

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# A migration is frozen in time: its own column types, not the live schema's.
_INSTANT = sa.DateTime(timezone=True)

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _INSTANT, nullable=False),
        sa.Column("updated_at", _INSTANT, nullable=False),
        sa.Column("held_at", _INSTANT, nullable=True),
        sa.Column("held_by", sa.String(200), nullable=True),
        sa.Column("hold_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_cases_status_updated_at", "cases", ["status", "updated_at"])
    op.create_table(
        "case_items",
        sa.Column(
            "case_id", sa.String(32), sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("alert_id", sa.String(64), primary_key=True),
        sa.Column("added_at", _INSTANT, nullable=False),
        sa.Column("added_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_case_items_alert_id", "case_items", ["alert_id"])
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "case_id", sa.String(32), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", _INSTANT, nullable=False),
    )
    op.create_index("ix_case_notes_case_id", "case_notes", ["case_id", "id"])


def downgrade() -> None:
    op.drop_table("case_notes")
    op.drop_table("case_items")
    op.drop_table("cases")
