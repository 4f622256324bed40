"""Every table of the Veille database, alerts and reputation alike, in one ``metadata``.

Mirror of ``alerts/migrations/versions``: a schema change needs a new revision there as well
(``tests/alerts/test_store_sql.py`` compares the two).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from policies.post import ID_MAX_CHARS


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An instant: stored in UTC, always returned timezone-aware in UTC.

    SQLite has no time zones: values are stored as naive UTC text in a fixed-width format, so text
    order is time order and keyset comparisons stay correct. Naive input is taken as UTC, as
    ``policies.post.Post`` does.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

metadata = sa.MetaData()

# Sized from the post contract: a column any shorter than what a valid post may hold refuses it
# (tests/alerts/test_store_values.py checks every column a post's values reach).
POST_ID_CHARS = ID_MAX_CHARS

alerts_table = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("rule_id", sa.String(200), nullable=False),
    sa.Column("rule_title", sa.Text, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("jurisdiction", sa.String(32), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(200), nullable=False),
    sa.Column("post_id", sa.String(POST_ID_CHARS), nullable=False),
    sa.Column("author_id", sa.String(POST_ID_CHARS), nullable=False),
    sa.Column("author_role", sa.String(64), nullable=False),
    sa.Column("lang", sa.String(16), nullable=True),
    sa.Column("post_created_at", UtcDateTime(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("evidence", _JSON, nullable=False),
    # Spans the rule matched on, of which `evidence` keeps a bounded part (revision 0005); null before.
    sa.Column("evidence_total", sa.Integer, nullable=True),
    sa.Column("explanation", _JSON, nullable=False),
    sa.Column("remediation", sa.Text, nullable=True),
    sa.Column("references", _JSON, nullable=False),
    sa.Column("origin", _JSON, nullable=False),
    sa.Column("assignee", sa.String(200), nullable=True),
    sa.Column("verdict", sa.String(32), nullable=True),
    sa.Column("ticket", sa.String(200), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=True),
    sa.Column("acknowledged_at", UtcDateTime(), nullable=True),
    sa.Column("closed_at", UtcDateTime(), nullable=True),
    sa.Column("anonymised_at", UtcDateTime(), nullable=True),
    sa.Column("last_seen_at", UtcDateTime(), nullable=True),
    sa.Column("occurrences", sa.Integer, nullable=False, server_default=sa.text("1")),
    sa.Column("silenced", sa.Boolean, nullable=False, server_default=sa.false()),
    # Set on insert and on every change: the alert stream resumes on (changed_at, id).
    sa.Column("changed_at", UtcDateTime(), nullable=False),
    # The rule's declared audience includes communications (revision 0004).
    sa.Column("comms_visible", sa.Boolean, nullable=False, server_default=sa.false()),
    # Review-queue items drawn by sampling are rows here too (revision 0006): "alert" or "sample".
    sa.Column("kind", sa.String(16), nullable=False, server_default=sa.text("'alert'")),
    # The sampling population the post belonged to (a pack's name, never personal data); null if none.
    sa.Column("population", sa.String(64), nullable=True),
    # Review levels (revision 0007, rules in alerts.levels): four eyes and the QA sample.
    sa.Column("four_eyes", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("closed_by", sa.String(200), nullable=True),
    sa.Column("approval_verdict", sa.String(32), nullable=True),
    sa.Column("approval_ticket", sa.String(200), nullable=True),
    sa.Column("approval_requested_by", sa.String(200), nullable=True),
    sa.Column("qa_status", sa.String(16), nullable=True),
    # The rule's purpose and the pack's pseudonymise_authors when stored (revision 0009).
    sa.Column("purpose", sa.String(32), nullable=True),
    sa.Column("author_pseudonymised", sa.Boolean, nullable=False, server_default=sa.false()),
    # Newest-first listing and its keyset cursor; the status one also serves "open, newest first".
    sa.Index("ix_alerts_created_at_id", "created_at", "id"),
    sa.Index("ix_alerts_status_created_at_id", "status", "created_at", "id"),
    sa.Index("ix_alerts_severity", "severity"),
    sa.Index("ix_alerts_jurisdiction", "jurisdiction"),
    sa.Index("ix_alerts_rule_id", "rule_id"),
    sa.Index("ix_alerts_source", "source"),
    sa.Index("ix_alerts_assignee", "assignee"),
    # Grouping looks up the newest alert of one rule by one author.
    sa.Index("ix_alerts_group", "rule_id", "author_id", "created_at"),
    sa.Index("ix_alerts_changed_at_id", "changed_at", "id"),
    # The supervision report reads a period's items per population.
    sa.Index("ix_alerts_population_created_at", "population", "created_at"),
    # The second level's QA queue (qa=pending).
    sa.Index("ix_alerts_qa_status", "qa_status"),
)

# One row per rule hit (its id is the hit's alert_id(post, rule)): keeps replays idempotent when
# several hits are grouped into one alert, and lists the posts of a grouped alert.
occurrences_table = sa.Table(
    "alert_occurrences",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("alert_id", sa.String(64), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("post_id", sa.String(POST_ID_CHARS), nullable=False),
    sa.Column("post_created_at", UtcDateTime(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index("ix_alert_occurrences_alert_id", "alert_id", "post_created_at"),
)

comments_table = sa.Table(
    "alert_comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.String(64), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index("ix_alert_comments_alert_id", "alert_id", "id"),
)

audit_table = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(200), nullable=False),
    sa.Column("before", _JSON, nullable=True),
    sa.Column("after", _JSON, nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_log_target", "target", "seq"),
)

tokens_table = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=True),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
)

silences_table = sa.Table(
    "silences",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("matchers", _JSON, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Index("ix_silences_expires_at", "expires_at"),
)

# E-reputation (revision 0003): the aggregator's state and the per-window numbers.
reputation_state_table = sa.Table(
    "reputation_state",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

reputation_windows_table = sa.Table(
    "reputation_windows",
    metadata,
    sa.Column("brand", sa.String(64), primary_key=True),
    sa.Column("jurisdiction", sa.String(16), primary_key=True),
    sa.Column("source", sa.String(16), primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True),  # epoch seconds, UTC
    sa.Column("volume", sa.Integer, nullable=False),
    sa.Column("scored", sa.Integer, nullable=False),
    sa.Column("negatives", sa.Integer, nullable=False),
    sa.Column("compound_sum", sa.Float, nullable=False),
    # JSON {word: negative posts using it}, at most MAX_TERMS_PER_WINDOW words: no text, no names.
    sa.Column("negative_terms", sa.Text, nullable=False),
    sa.Index("ix_reputation_windows_brand_start", "brand", "window_start"),
)

# Outbox (revision 0004): the alerts each sink must deliver, in commit order. Rows are written in the
# transaction that stores the alert, so delivery never depends on the Kafka commit and vice versa.
outbox_table = sa.Table(
    "alert_outbox",
    metadata,
    # INTEGER on SQLite: only an INTEGER PRIMARY KEY is the rowid alias that autoincrements.
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("alert_id", sa.String(64), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("enqueued_at", UtcDateTime(), nullable=False),
)

# One row per sink: how far it delivered, who holds the delivery lease, and how it is failing.
sink_cursors_table = sa.Table(
    "sink_cursors",
    metadata,
    sa.Column("sink", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
    sa.Column("delivered_at", UtcDateTime(), nullable=True),
    sa.Column("failing_since", UtcDateTime(), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("last_error", sa.String(200), nullable=True),
)

# Cases (revision 0008): alerts (and samples, which are alerts of kind "sample") grouped for an
# investigation, with notes and a legal hold. A hold is on while `held_at` is set; its history (who
# placed and released it, why) is in the audit log.
cases_table = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("held_at", UtcDateTime(), nullable=True),
    sa.Column("held_by", sa.String(200), nullable=True),
    sa.Column("hold_reason", sa.Text, nullable=True),
    sa.Index("ix_cases_status_updated_at", "status", "updated_at"),
)

# No foreign key to alerts on purpose: an item must not vanish with its alert's deletion, and
# retention never deletes an alert of a held case anyway (alerts.sql.retention).
case_items_table = sa.Table(
    "case_items",
    metadata,
    sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("alert_id", sa.String(64), primary_key=True),
    sa.Column("added_at", UtcDateTime(), nullable=False),
    sa.Column("added_by", sa.String(200), nullable=False),
    # Retention asks "is this alert under any hold?": looked up by alert.
    sa.Index("ix_case_items_alert_id", "alert_id"),
)

case_notes_table = sa.Table(
    "case_notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index("ix_case_notes_case_id", "case_id", "id"),
)
