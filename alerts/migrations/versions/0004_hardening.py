"""hardening: ids sized from the post contract, a change clock for the stream, comms audience, outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: a revision must not change when alerts/sql/schema.py does.
_INSTANT = sa.DateTime(timezone=True)
_POST_ID = sa.String(256)  # policies.post.Post.id and Author.id allow 256 characters
# The rule-id markers that decided comms visibility before rules declared their audience.
_COMMS_MARKERS = ("brand", "reputation", "spike", "crisis")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # No batch (copy-and-rename) of `alerts` on SQLite: with foreign keys on, dropping the old copy
        # would cascade-delete every occurrence and comment. SQLite does not enforce VARCHAR lengths,
        # and it adds a NOT NULL column in place when the column has a constant default.
        op.add_column("alerts", sa.Column("changed_at", _INSTANT, nullable=False,
                                          server_default=sa.text("'1970-01-01 00:00:00.000000'")))
    else:
        op.alter_column("alerts", "post_id", type_=_POST_ID, existing_nullable=False)
        op.alter_column("alerts", "author_id", type_=_POST_ID, existing_nullable=False)
        op.alter_column("alert_occurrences", "post_id", type_=_POST_ID, existing_nullable=False)
        op.add_column("alerts", sa.Column("changed_at", _INSTANT, nullable=True))
    op.add_column("alerts", sa.Column("comms_visible", sa.Boolean, nullable=False, server_default=sa.false()))

    alerts = sa.table(
        "alerts",
        sa.column("changed_at", _INSTANT),
        sa.column("updated_at", _INSTANT),
        sa.column("created_at", _INSTANT),
        sa.column("rule_id", sa.String),
        sa.column("comms_visible", sa.Boolean),
    )
    op.execute(alerts.update().values(changed_at=sa.func.coalesce(alerts.c.updated_at, alerts.c.created_at)))
    op.execute(
        alerts.update()
        .where(sa.or_(*(alerts.c.rule_id.contains(marker) for marker in _COMMS_MARKERS)))
        .values(comms_visible=sa.true())
    )
    if not sqlite:
        op.alter_column("alerts", "changed_at", existing_type=_INSTANT, nullable=False)
    # The alert stream resumes on (changed_at, id): keyset, never a full scan and sort.
    op.create_index("ix_alerts_changed_at_id", "alerts", ["changed_at", "id"])

    # Outbox: one row per alert a sink must deliver, in commit order; each sink keeps its own cursor.
    op.create_table(
        "alert_outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("alert_id", sa.String(64), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("enqueued_at", _INSTANT, nullable=False),
    )
    op.create_table(
        "sink_cursors",
        sa.Column("sink", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", _INSTANT, nullable=True),
        sa.Column("delivered_at", _INSTANT, nullable=True),
        sa.Column("failing_since", _INSTANT, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.String(200), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("sink_cursors")
    op.drop_table("alert_outbox")
    op.drop_index("ix_alerts_changed_at_id", table_name="alerts")
    op.drop_column("alerts", "comms_visible")
    op.drop_column("alerts", "changed_at")
