"""review: lifecycle fields, grouping (occurrences), silences, comments, audit log, API tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the types: a revision must not change when alerts/store.py does.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Nullable additions only: SQLite adds them in place, existing rows need no backfill.
    op.add_column("alerts", sa.Column("assignee", sa.String(200), nullable=True))
    op.add_column("alerts", sa.Column("verdict", sa.String(32), nullable=True))
    op.add_column("alerts", sa.Column("ticket", sa.String(200), nullable=True))
    op.add_column("alerts", sa.Column("updated_at", _INSTANT, nullable=True))
    op.add_column("alerts", sa.Column("acknowledged_at", _INSTANT, nullable=True))
    op.add_column("alerts", sa.Column("closed_at", _INSTANT, nullable=True))
    op.add_column("alerts", sa.Column("anonymised_at", _INSTANT, nullable=True))
    op.add_column("alerts", sa.Column("last_seen_at", _INSTANT, nullable=True))
    # Server defaults fill the rows that exist when the revision runs.
    op.add_column(
        "alerts", sa.Column("occurrences", sa.Integer, nullable=False, server_default=sa.text("1"))
    )
    op.add_column(
        "alerts", sa.Column("silenced", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.create_index("ix_alerts_assignee", "alerts", ["assignee"])
    op.create_index("ix_alerts_group", "alerts", ["rule_id", "author_id", "created_at"])

    op.create_table(
        "alert_occurrences",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("alert_id", sa.String(64), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("post_id", sa.String(200), nullable=False),
        sa.Column("post_created_at", _INSTANT, nullable=False),
        sa.Column("created_at", _INSTANT, nullable=False),
    )
    op.create_index("ix_alert_occurrences_alert_id", "alert_occurrences", ["alert_id", "post_created_at"])

    op.create_table(
        "alert_comments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(64), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", _INSTANT, nullable=False),
    )
    op.create_index("ix_alert_comments_alert_id", "alert_comments", ["alert_id", "id"])

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", _INSTANT, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("before", _JSON, nullable=True),
        sa.Column("after", _JSON, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_target", "audit_log", ["target", "seq"])

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", _INSTANT, nullable=False),
        sa.Column("expires_at", _INSTANT, nullable=True),
        sa.Column("revoked_at", _INSTANT, nullable=True),
    )

    op.create_table(
        "silences",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("matchers", _JSON, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", _INSTANT, nullable=False),
        sa.Column("expires_at", _INSTANT, nullable=False),
    )
    op.create_index("ix_silences_expires_at", "silences", ["expires_at"])


def downgrade() -> None:
    op.drop_table("silences")
    op.drop_table("api_tokens")
    op.drop_table("audit_log")
    op.drop_table("alert_comments")
    op.drop_table("alert_occurrences")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_group")
        batch.drop_index("ix_alerts_assignee")
        for column in ("silenced", "occurrences", "last_seen_at", "anonymised_at", "closed_at", "acknowledged_at"):
            batch.drop_column(column)
        batch.drop_column("updated_at")
        batch.drop_column("ticket")
        batch.drop_column("verdict")
        batch.drop_column("assignee")
