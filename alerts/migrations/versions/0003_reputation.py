"""reputation: per-brand window numbers and the aggregator's state

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reputation_state",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "reputation_windows",
        sa.Column("brand", sa.String(64), primary_key=True),
        sa.Column("jurisdiction", sa.String(16), primary_key=True),
        sa.Column("source", sa.String(16), primary_key=True),
        sa.Column("window_start", sa.BigInteger, primary_key=True),
        sa.Column("volume", sa.Integer, nullable=False),
        sa.Column("scored", sa.Integer, nullable=False),
        sa.Column("negatives", sa.Integer, nullable=False),
        sa.Column("compound_sum", sa.Float, nullable=False),
        sa.Column("negative_terms", sa.Text, nullable=False),
    )
    op.create_index("ix_reputation_windows_brand_start", "reputation_windows", ["brand", "window_start"])


def downgrade() -> None:
    op.drop_index("ix_reputation_windows_brand_start", table_name="reputation_windows")
    op.drop_table("reputation_windows")
    op.drop_table("reputation_state")
