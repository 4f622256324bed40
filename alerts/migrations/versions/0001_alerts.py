"""alerts table

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the types: a revision must not change when alerts/store.py does.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("rule_id", sa.String(200), nullable=False),
        sa.Column("rule_title", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("jurisdiction", sa.String(32), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("post_id", sa.String(200), nullable=False),
        sa.Column("author_id", sa.String(200), nullable=False),
        sa.Column("author_role", sa.String(64), nullable=False),
        sa.Column("lang", sa.String(16), nullable=True),
        sa.Column("post_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("evidence", _JSON, nullable=False),
        sa.Column("explanation", _JSON, nullable=False),
        sa.Column("remediation", sa.Text, nullable=True),
        sa.Column("references", _JSON, nullable=False),
        sa.Column("origin", _JSON, nullable=False),
    )
    op.create_index("ix_alerts_created_at_id", "alerts", ["created_at", "id"])
    op.create_index("ix_alerts_status_created_at_id", "alerts", ["status", "created_at", "id"])
    op.create_index("ix_alerts_severity", "alerts", ["severity"])
    op.create_index("ix_alerts_jurisdiction", "alerts", ["jurisdiction"])
    op.create_index("ix_alerts_rule_id", "alerts", ["rule_id"])
    op.create_index("ix_alerts_source", "alerts", ["source"])


def downgrade() -> None:
    op.drop_table("alerts")
