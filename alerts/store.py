"""Where alerts live: SQLite by default, PostgreSQL in production, one schema managed by Alembic.

Writes are idempotent on ``Alert.id`` (a replayed Kafka record never duplicates an alert), so the
worker may commit offsets only after :meth:`AlertStore.add_many` returned.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool

from alerts import audit, lifecycle, retention, tokens
from alerts.audit import Actor, AuditEntry
from alerts.lifecycle import AlertNotFound, LifecycleError
from alerts.model import Alert, AlertStatus, Severity, Verdict
from alerts.query import AlertQuery, Page, decode_cursor, encode_cursor
from alerts.retention import RetentionPolicy, RetentionReport
from alerts.silences import Silence, SilenceNotFound, SilenceRequest
from alerts.tokens import ApiToken, Role, TokenError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any fixed 64-bit number: serialises concurrent schema upgrades across workers on PostgreSQL.
_PG_MIGRATION_LOCK = 0x7665_696C_6C65  # "veille"
# Serialises audit appends on PostgreSQL so the hash chain never forks (SQLite: BEGIN IMMEDIATE).
_PG_AUDIT_LOCK = 0x7665_696C_6C66
# A bulk action touches at most this many alerts: beyond, the caller narrows the filter.
MAX_BULK = 1000
MIN_JUSTIFICATION_CHARS = 10
# Columns analytics may group by: bounded sets (no author, post or free text).
ANALYTICS_FIELDS = (
    "rule_id", "jurisdiction", "severity", "status", "source", "channel", "verdict", "silenced"
)
_BACKENDS = ("sqlite", "postgresql")


class StoreError(Exception):
    """Root of every error the alert store raises."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or is locked beyond the timeout; retrying later may succeed."""


class MigrationError(StoreError):
    """The schema could not be brought to the version this code needs."""


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

# Mirror of migrations/versions: a schema change needs a new revision there as well.
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
    sa.Column("post_id", sa.String(200), nullable=False),
    sa.Column("author_id", sa.String(200), nullable=False),
    sa.Column("author_role", sa.String(64), nullable=False),
    sa.Column("lang", sa.String(16), nullable=True),
    sa.Column("post_created_at", UtcDateTime(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("evidence", _JSON, nullable=False),
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
)

# One row per rule hit (its id is the hit's alert_id(post, rule)): keeps replays idempotent when
# several hits are grouped into one alert, and lists the posts of a grouped alert.
occurrences_table = sa.Table(
    "alert_occurrences",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("alert_id", sa.String(64), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("post_id", sa.String(200), nullable=False),
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

_SCALARS = (
    "id",
    "rule_id",
    "rule_title",
    "severity",
    "status",
    "jurisdiction",
    "source",
    "channel",
    "post_id",
    "author_id",
    "author_role",
    "lang",
    "post_created_at",
    "created_at",
    "policy_version",
    "remediation",
    "assignee",
    "verdict",
    "ticket",
    "updated_at",
    "acknowledged_at",
    "closed_at",
    "anonymised_at",
    "last_seen_at",
    "occurrences",
    "silenced",
)
_JSON_FIELDS = ("evidence", "explanation", "references", "origin")


class AlertStore(Protocol):
    def add_many(self, alerts: Sequence[Alert]) -> list[str]:
        """Insert alerts in one transaction; returns the ids that were not stored before."""
        ...

    def get(self, alert_id: str) -> Alert | None: ...

    def query(self, q: AlertQuery) -> Page[Alert]: ...

    def count(self, q: AlertQuery) -> int: ...

    def count_open_by_severity(self) -> dict[str, int]: ...

    def publishable(self, alert_ids: Sequence[str]) -> set[str]: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def _to_row(alert: Alert) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(alert, name) for name in _SCALARS}
    row["severity"] = alert.severity.value
    row["status"] = alert.status.value
    row.update(alert.model_dump(mode="json", include=set(_JSON_FIELDS)))
    return row


def _from_row(row: sa.Row[Any]) -> Alert:
    return Alert.model_validate(row._asdict())


def _filters(q: AlertQuery) -> list[sa.ColumnElement[bool]]:
    c = alerts_table.c
    where: list[sa.ColumnElement[bool]] = []
    if q.status:
        where.append(c.status.in_([s.value for s in q.status]))
    if q.severity:
        where.append(c.severity.in_([s.value for s in q.severity]))
    if q.jurisdiction:
        where.append(c.jurisdiction.in_(q.jurisdiction))
    if q.rule_id:
        where.append(c.rule_id.in_(q.rule_id))
    if q.rule_id_contains:
        where.append(sa.or_(*(c.rule_id.contains(part, autoescape=True) for part in q.rule_id_contains)))
    if q.source:
        where.append(c.source.in_(q.source))
    if q.since is not None:
        where.append(c.created_at >= q.since)
    if q.until is not None:
        where.append(c.created_at < q.until)
    return where


def _is_sqlite_file(url: URL) -> bool:
    database = url.database or ""
    return database not in ("", ":memory:") and not database.startswith("file:")


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """Switch to WAL (persistent, once per file), retrying while another process holds a lock.

    Changing the journal mode needs an exclusive lock and SQLite reports SQLITE_BUSY at once,
    without waiting out busy_timeout, when several workers open a new database together.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.002
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
    if mode not in ("wal", "memory"):
        # E.g. a network file system without shared memory: still correct, only less concurrent.
        log.warning("SQLite journal mode is %s, not wal: readers will block the writer", mode)


def _install_sqlite_pragmas(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below): the sqlite3 module's legacy mode would skip it for
        # SELECT and DDL, breaking transactional migrations and repeatable reads.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first, so that switching to WAL waits for a concurrent opener.
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            _enable_wal(cursor)
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
        # writes can fail at once with SQLITE_BUSY instead of waiting out busy_timeout.
        mode = "IMMEDIATE" if connection.get_execution_options().get("veille_write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


class SqlAlertStore:
    """:class:`AlertStore` on SQLAlchemy Core; safe to share between threads of one process."""

    def __init__(self, engine: Engine, *, group_window: timedelta | None = None) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        # None or zero: every hit is its own alert (grouping off).
        self._group_window = group_window if group_window and group_window > timedelta(0) else None

    @property
    def engine(self) -> Engine:
        """Shared with the stores of the same database's other tables (e-reputation windows)."""
        return self._engine

    @classmethod
    def open(cls, url: str, *, group_window: timedelta | None = None) -> SqlAlertStore:
        """Connect to ``url`` and upgrade its schema to the newest revision.

        ``group_window``: hits of one rule by one author whose posts are that close in time become
        one alert (``occurrences`` counts them); None keeps one alert per hit.

        Several workers may open the same database at once: the upgrade runs under a lock (SQLite
        write lock, PostgreSQL advisory lock), so exactly one of them migrates.
        """
        try:
            parsed = sa.make_url(url)
        except (sa.exc.ArgumentError, ValueError):
            # The URL itself is not repeated: it may carry a password.
            raise StoreError(
                "not a database URL: expected sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB"
            ) from None
        backend = parsed.get_backend_name()
        if backend not in _BACKENDS:
            raise StoreError(f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://")
        kwargs: dict[str, Any] = {"hide_parameters": True}  # bound values may hold personal data
        if backend == "sqlite":
            if _is_sqlite_file(parsed):
                directory = Path(parsed.database or "").expanduser().parent
                try:
                    directory.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(
                        f"cannot create the SQLite directory {directory}: {exc.strerror}"
                    ) from None
                kwargs["connect_args"] = {"check_same_thread": False}
            else:
                # One shared connection, or every pooled connection would see its own empty database.
                kwargs.update(connect_args={"check_same_thread": False}, poolclass=StaticPool)
        else:
            kwargs.update(pool_pre_ping=True)
        try:
            engine = sa.create_engine(parsed, **kwargs)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot create a database engine: {exc}") from None
        if backend == "sqlite":
            _install_sqlite_pragmas(engine)
        store = cls(engine, group_window=group_window)
        try:
            store._upgrade()
        except BaseException:
            engine.dispose()
            raise
        return store

    def _upgrade(self) -> None:
        with self._errors("migrate"), self._write() as connection:
            if not self._sqlite:
                # Released at commit; the SQLite equivalent is BEGIN IMMEDIATE in _write().
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
            try:
                command.upgrade(_alembic_config(connection), "head")
            except sa.exc.DBAPIError:
                raise
            except Exception as exc:
                raise MigrationError(f"alembic upgrade to head failed: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._engine.connect() as connection:
            if self._sqlite:
                connection = connection.execution_options(veille_write=True)
            with connection.begin():
                yield connection

    @contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError) as exc:
            raise StoreUnavailable(f"alert store unavailable during {operation}: {_reason(exc)}") from exc
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"alert store {operation} failed: {_reason(exc)}") from exc

    def add_many(self, alerts: Sequence[Alert]) -> list[str]:
        """Store the hits in one transaction; returns the ids (``Alert.id``, one per hit) not stored
        before, whether the hit became an alert or an occurrence of a grouped one.

        A hit matching an active silence is stored all the same, with ``silenced`` set.
        """
        if not alerts:
            return []
        # Keep the first of duplicate ids in one batch, and the caller's order in the answer.
        by_id: dict[str, Alert] = {}
        for alert in alerts:
            by_id.setdefault(alert.id, alert)
        now = datetime.now(UTC)
        with self._errors("add_many"), self._write() as connection:
            o = occurrences_table.c
            # A hit grouped into another alert has no alerts row of its own: its occurrence row is
            # what makes the replay of that hit a no-op.
            seen = set(connection.scalars(sa.select(o.id).where(o.id.in_(list(by_id)))))
            fresh = [a for i, a in by_id.items() if i not in seen]
            silences = self._active_silences(connection, now)
            if silences:
                fresh = [
                    a.model_copy(update={"silenced": True}) if any(s.matches(a, now) for s in silences) else a
                    for a in fresh
                ]
            if self._group_window is None:
                inserted = self._insert_alerts(connection, fresh, now)
            else:
                inserted = self._insert_grouped(connection, fresh, now, self._group_window)
        return [alert_id for alert_id in by_id if alert_id in inserted]

    def _insert_alerts(self, connection: Connection, alerts: Sequence[Alert], now: datetime) -> set[str]:
        if not alerts:
            return set()
        insert = postgresql.insert if not self._sqlite else sqlite_dialect.insert
        rows = [_to_row(a) for a in alerts]
        statement = (
            insert(alerts_table).on_conflict_do_nothing(index_elements=["id"]).returning(alerts_table.c.id)
        )
        inserted = set(connection.scalars(statement, rows))
        occurrences = [_occurrence(a, a.id, now) for a in alerts if a.id in inserted]
        if occurrences:
            connection.execute(
                insert(occurrences_table).on_conflict_do_nothing(index_elements=["id"]), occurrences
            )
        return inserted

    def _insert_grouped(
        self, connection: Connection, alerts: Sequence[Alert], now: datetime, window: timedelta
    ) -> set[str]:
        """Each hit joins the newest open-or-in-review alert of its rule and author whose hits span
        its post time within ``window``, or starts a new alert.

        Post times, not arrival times, decide: a replay groups exactly as the first run did. Posts of
        one author share a Kafka partition (keyed by author), so one worker groups them.
        """
        insert = postgresql.insert if not self._sqlite else sqlite_dialect.insert
        c = alerts_table.c
        inserted: set[str] = set()
        # Process in post time order so that a batch groups the same whatever its internal order.
        for alert in sorted(alerts, key=lambda a: (a.post_created_at, a.id)):
            at = alert.post_created_at
            target = connection.execute(
                sa.select(c.id, c.post_created_at, c.last_seen_at)
                .where(
                    c.rule_id == alert.rule_id,
                    c.author_id == alert.author_id,
                    c.status != AlertStatus.CLOSED.value,
                    c.id != alert.id,
                    sa.func.coalesce(c.last_seen_at, c.post_created_at) >= at - window,
                    c.post_created_at <= at + window,
                )
                .order_by(c.created_at.desc(), c.id.desc())
                .limit(1)
            ).first()
            if target is None:
                inserted |= self._insert_alerts(connection, [alert], now)
                continue
            added = connection.execute(
                insert(occurrences_table)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(occurrences_table.c.id),
                [_occurrence(alert, target.id, now)],
            ).first()
            if added is None:
                continue
            # last_seen_at stays None while the alert has only its own hit (the stored alert then
            # equals the one given to add_many).
            last_seen = max(target.last_seen_at or target.post_created_at, at)
            connection.execute(
                sa.update(alerts_table)
                .where(c.id == target.id)
                .values(occurrences=c.occurrences + 1, last_seen_at=last_seen)
            )
            inserted.add(alert.id)
        return inserted

    def _active_silences(self, connection: Connection, now: datetime) -> list[Silence]:
        s = silences_table.c
        rows = connection.execute(sa.select(silences_table).where(s.expires_at > now))
        return [Silence.model_validate(row._asdict()) for row in rows]

    def publishable(self, alert_ids: Sequence[str]) -> set[str]:
        """Of these hit ids, those to notify the sinks about: stored as an alert of their own and not
        silenced. A hit grouped into another alert was notified with that alert; a silenced one is
        kept for the record, not paged."""
        if not alert_ids:
            return set()
        c = alerts_table.c
        with self._errors("publishable"), self._engine.connect() as connection:
            query = sa.select(c.id).where(c.id.in_(list(alert_ids)), c.silenced.is_(False))
            return set(connection.scalars(query))

    def occurrences(self, alert_id: str) -> list[dict[str, Any]]:
        """The hits grouped into ``alert_id`` (its own first), oldest post first."""
        o = occurrences_table.c
        with self._errors("occurrences"), self._engine.connect() as connection:
            exists = sa.select(alerts_table.c.id).where(alerts_table.c.id == alert_id)
            if connection.execute(exists).first() is None:
                raise AlertNotFound(alert_id)
            statement = (
                sa.select(o.id, o.post_id, o.post_created_at, o.created_at)
                .where(o.alert_id == alert_id)
                .order_by(o.post_created_at, o.id)
            )
            return [row._asdict() for row in connection.execute(statement)]

    def get(self, alert_id: str) -> Alert | None:
        with self._errors("get"), self._engine.connect() as connection:
            row = connection.execute(sa.select(alerts_table).where(alerts_table.c.id == alert_id)).first()
        return _from_row(row) if row is not None else None

    def query(self, q: AlertQuery) -> Page[Alert]:
        """Newest first; raises :class:`alerts.query.InvalidCursor` for a cursor it did not issue."""
        c = alerts_table.c
        where = _filters(q)
        if q.cursor is not None:
            after_created_at, after_id = decode_cursor(q.cursor)
            where.append(
                sa.or_(
                    c.created_at < after_created_at,
                    sa.and_(c.created_at == after_created_at, c.id < after_id),
                )
            )
        statement = (
            sa.select(alerts_table)
            .where(*where)
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(q.limit + 1)
        )
        with self._errors("query"), self._engine.connect() as connection:
            rows = connection.execute(statement).all()
        data = [_from_row(row) for row in rows[: q.limit]]
        next_cursor = None
        if len(rows) > q.limit:
            last = data[-1]
            next_cursor = encode_cursor(last.created_at, last.id)
        return Page[Alert](data=data, next_cursor=next_cursor)

    def changed_since(self, since: datetime, *, limit: int = 500) -> list[Alert]:
        """Alerts created or changed by a review at or after ``since``, oldest change first."""
        c = alerts_table.c
        changed = sa.func.coalesce(c.updated_at, c.created_at)
        statement = (
            sa.select(alerts_table)
            .where(sa.or_(c.created_at >= since, c.updated_at >= since))
            .order_by(changed, c.id)
            .limit(limit)
        )
        with self._errors("changed_since"), self._engine.connect() as connection:
            return [_from_row(row) for row in connection.execute(statement)]

    def count(self, q: AlertQuery) -> int:
        statement = sa.select(sa.func.count()).select_from(alerts_table).where(*_filters(q))
        with self._errors("count"), self._engine.connect() as connection:
            return int(connection.execute(statement).scalar_one())

    def count_open_by_severity(self) -> dict[str, int]:
        """Every severity as a key (zero when none are open), so a gauge never loses a series."""
        c = alerts_table.c
        statement = (
            sa.select(c.severity, sa.func.count())
            .where(c.status == AlertStatus.OPEN.value)
            .group_by(c.severity)
        )
        counts = {severity.value: 0 for severity in Severity}
        with self._errors("count_open_by_severity"), self._engine.connect() as connection:
            for severity, n in connection.execute(statement):
                counts[severity] = int(n)
        return counts

    # --- review lifecycle (rules in alerts.lifecycle; every change is audited in its transaction) ---

    def transition(
        self,
        alert_id: str,
        to: AlertStatus,
        by: Actor,
        reason: str | None = None,
        *,
        verdict: Verdict | None = None,
        ticket: str | None = None,
        comment: str | None = None,
    ) -> Alert:
        """Move one alert to ``to`` (and add ``comment``, in the same transaction); raises
        :class:`alerts.lifecycle.IllegalTransition` (with the allowed statuses),
        :class:`LifecycleError` or :class:`AlertNotFound`."""
        if comment is not None:
            lifecycle.check_text("comment", comment, lifecycle.MAX_COMMENT_CHARS, required=True)
        with self._errors("transition"), self._write() as connection:
            self._lock_audit(connection)
            alert = self._transition(connection, alert_id, to, by, reason, verdict, ticket)
            if comment is not None:
                self._comment(connection, alert_id, comment, by)
            return alert

    def _transition(
        self,
        connection: Connection,
        alert_id: str,
        to: AlertStatus,
        by: Actor,
        reason: str | None,
        verdict: Verdict | None,
        ticket: str | None,
    ) -> Alert:
        alert = self._get_for_update(connection, alert_id)
        lifecycle.check_transition(alert_id, alert.status, to, verdict=verdict, reason=reason, ticket=ticket)
        now = datetime.now(UTC)
        # Reopening clears the conclusion: precision counts only alerts that are closed now.
        values: dict[str, Any] = {
            "status": to.value,
            "verdict": verdict.value if verdict is not None else None,
            "ticket": ticket,
            "updated_at": now,
            # Time to acknowledge counts from creation to the first move out of open, whatever it is.
            "acknowledged_at": alert.acknowledged_at or now,
            "closed_at": now if to is AlertStatus.CLOSED else None,
        }
        connection.execute(sa.update(alerts_table).where(alerts_table.c.id == alert_id).values(**values))
        before = {"status": alert.status.value, "verdict": alert.verdict, "ticket": alert.ticket}
        after = {"status": to.value, "verdict": values["verdict"], "ticket": ticket, "reason": reason}
        self._append_audit(connection, by, "alert.transition", f"alert:{alert_id}", before, after, now)
        return alert.model_copy(update={**values, "status": to, "verdict": verdict})

    def assign(self, alert_id: str, assignee: str | None, by: Actor) -> Alert:
        """Give the alert to ``assignee`` (a reviewer's name), or unassign it with None."""
        if assignee is not None:
            lifecycle.check_text("assignee", assignee, lifecycle.MAX_NAME_CHARS, required=True)
        with self._errors("assign"), self._write() as connection:
            self._lock_audit(connection)
            return self._assign(connection, alert_id, assignee, by)

    def _assign(self, connection: Connection, alert_id: str, assignee: str | None, by: Actor) -> Alert:
        alert = self._get_for_update(connection, alert_id)
        now = datetime.now(UTC)
        connection.execute(
            sa.update(alerts_table)
            .where(alerts_table.c.id == alert_id)
            .values(assignee=assignee, updated_at=now)
        )
        self._append_audit(
            connection, by, "alert.assign", f"alert:{alert_id}", {"assignee": alert.assignee},
            {"assignee": assignee}, now,
        )
        return alert.model_copy(update={"assignee": assignee, "updated_at": now})

    def comment(self, alert_id: str, body: str, by: Actor) -> dict[str, Any]:
        lifecycle.check_text("body", body, lifecycle.MAX_COMMENT_CHARS, required=True)
        with self._errors("comment"), self._write() as connection:
            self._lock_audit(connection)
            self._get_for_update(connection, alert_id)
            return self._comment(connection, alert_id, body, by)

    def _comment(self, connection: Connection, alert_id: str, body: str, by: Actor) -> dict[str, Any]:
        now = datetime.now(UTC)
        comment_id = connection.execute(
            sa.insert(comments_table)
            .values(alert_id=alert_id, author=by.name, body=body, created_at=now)
            .returning(comments_table.c.id)
        ).scalar_one()
        # The audit keeps who commented when, not the text: it may quote personal data.
        self._append_audit(
            connection, by, "alert.comment", f"alert:{alert_id}", None,
            {"comment_id": comment_id, "chars": len(body)}, now,
        )
        return {"id": comment_id, "alert_id": alert_id, "author": by.name, "body": body, "created_at": now}

    def comments(self, alert_id: str) -> list[dict[str, Any]]:
        c = comments_table.c
        statement = sa.select(c.id, c.alert_id, c.author, c.body, c.created_at).where(c.alert_id == alert_id)
        with self._errors("comments"), self._engine.connect() as connection:
            exists = sa.select(alerts_table.c.id).where(alerts_table.c.id == alert_id)
            if connection.execute(exists).first() is None:
                raise AlertNotFound(alert_id)
            return [row._asdict() for row in connection.execute(statement.order_by(c.id))]

    def bulk_transition(
        self,
        q: AlertQuery,
        to: AlertStatus,
        by: Actor,
        reason: str | None = None,
        *,
        verdict: Verdict | None = None,
        ticket: str | None = None,
        comment: str | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        """Apply one transition to every alert matching ``q`` (not its cursor or limit), all or none
        stored in one transaction; returns ``(changed ids, {skipped id: why})``."""
        changed: list[str] = []
        skipped: dict[str, str] = {}
        with self._errors("bulk_transition"), self._write() as connection:
            self._lock_audit(connection)
            for alert_id in self._bulk_ids(connection, q):
                try:
                    self._transition(connection, alert_id, to, by, reason, verdict, ticket)
                except LifecycleError as exc:
                    skipped[alert_id] = str(exc)
                    continue
                if comment is not None:
                    self._comment(connection, alert_id, comment, by)
                changed.append(alert_id)
        return changed, skipped

    def bulk_assign(self, q: AlertQuery, assignee: str | None, by: Actor) -> list[str]:
        if assignee is not None:
            lifecycle.check_text("assignee", assignee, lifecycle.MAX_NAME_CHARS, required=True)
        with self._errors("bulk_assign"), self._write() as connection:
            self._lock_audit(connection)
            ids = self._bulk_ids(connection, q)
            for alert_id in ids:
                self._assign(connection, alert_id, assignee, by)
        return ids

    def _bulk_ids(self, connection: Connection, q: AlertQuery) -> list[str]:
        c = alerts_table.c
        ids = list(
            connection.scalars(
                sa.select(c.id).where(*_filters(q)).order_by(c.created_at, c.id).limit(MAX_BULK + 1)
            )
        )
        if len(ids) > MAX_BULK:
            raise LifecycleError(
                f"the filter matches more than {MAX_BULK} alerts; narrow it (status, rule, since...)"
            )
        return ids

    def _get_for_update(self, connection: Connection, alert_id: str) -> Alert:
        statement = sa.select(alerts_table).where(alerts_table.c.id == alert_id)
        if not self._sqlite:
            statement = statement.with_for_update()
        row = connection.execute(statement).first()
        if row is None:
            raise AlertNotFound(alert_id)
        return _from_row(row)

    def reveal(
        self, alert_id: str, justification: str, by: Actor, *, index: int | None = None
    ) -> list[dict[str, Any]]:
        """The raw personal-data spans of one alert (or only evidence ``index``), audited with the
        justification; raises :class:`LifecycleError` for a blank justification or a bad index."""
        lifecycle.check_text("justification", justification, lifecycle.MAX_COMMENT_CHARS, required=True)
        if len(justification.strip()) < MIN_JUSTIFICATION_CHARS:
            raise LifecycleError(
                f"justification must say why in at least {MIN_JUSTIFICATION_CHARS} characters"
            )
        with self._errors("reveal"), self._write() as connection:
            self._lock_audit(connection)
            alert = self._get_for_update(connection, alert_id)
            personal = [(i, e) for i, e in enumerate(alert.evidence) if e.personal and e.span is not None]
            if index is not None:
                if not 0 <= index < len(alert.evidence):
                    count = len(alert.evidence)
                    raise LifecycleError(
                        f"index {index} is out of range: alert {alert_id!r} has {count} evidence items"
                    )
                personal = [(i, e) for i, e in personal if i == index]
            revealed = [
                {"index": i, "detector": e.detector, "type": e.type, "text": e.span} for i, e in personal
            ]
            # The audit records which spans were shown and why, never the spans themselves.
            self._append_audit(
                connection, by, "alert.reveal", f"alert:{alert_id}", None,
                {"justification": justification, "evidence": [r["index"] for r in revealed]},
                datetime.now(UTC),
            )
        return revealed

    # --- audit log (chain rules in alerts.audit) ---

    def record_view(self, alert_id: str, by: Actor) -> None:
        """Append "``by`` viewed the evidence of ``alert_id``"."""
        with self._errors("record_view"), self._write() as connection:
            self._lock_audit(connection)
            now = datetime.now(UTC)
            self._append_audit(connection, by, "alert.view", f"alert:{alert_id}", None, None, now)

    def _lock_audit(self, connection: Connection) -> None:
        # Taken first in every audited transaction, so writers queue instead of deadlocking.
        if not self._sqlite:
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_AUDIT_LOCK)))

    def _append_audit(
        self,
        connection: Connection,
        by: Actor,
        action: str,
        target: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        at: datetime,
    ) -> None:
        a = audit_table.c
        last = connection.execute(sa.select(a.seq, a.hash).order_by(a.seq.desc()).limit(1)).first()
        seq, prev = (last.seq + 1, last.hash) if last is not None else (1, audit.GENESIS_HASH)
        # Stored and hashed at microsecond precision in UTC, so the hash survives the round trip.
        at = at.astimezone(UTC)
        digest = audit.entry_hash(
            prev, seq=seq, at=at, actor=by.name, role=by.role, action=action, target=target,
            before=before, after=after,
        )
        connection.execute(
            sa.insert(audit_table).values(
                seq=seq, at=at, actor=by.name, role=by.role, action=action, target=target,
                before=before, after=after, prev_hash=prev, hash=digest,
            )
        )

    def audit_entries(
        self, *, target: str | None = None, after_seq: int = 0, limit: int | None = 100
    ) -> list[AuditEntry]:
        """Oldest first, from ``after_seq`` on (pagination by sequence number)."""
        a = audit_table.c
        statement = sa.select(audit_table).where(a.seq > after_seq).order_by(a.seq)
        if target is not None:
            statement = statement.where(a.target == target)
        if limit is not None:
            statement = statement.limit(limit)
        with self._errors("audit_entries"), self._engine.connect() as connection:
            return [AuditEntry.model_validate(row._asdict()) for row in connection.execute(statement)]

    def verify_audit(self) -> int:
        """Entries checked; raises :class:`alerts.audit.ChainBroken` naming the first bad entry."""
        return audit.verify_chain(self.audit_entries(limit=None))

    # --- API tokens (format and hashing in alerts.tokens) ---

    def create_token(
        self,
        name: str,
        role: Role,
        by: Actor,
        *,
        expires_at: datetime | None = None,
        token: str | None = None,
    ) -> tuple[ApiToken, str]:
        """``(stored token, the token itself)``: the caller shows the token once; only its hash is kept.

        ``token`` installs a given token (the bootstrap admin token) instead of a random one.
        """
        tokens.check_name(name)
        token_id, token = tokens.new_token() if token is None else tokens.token_from_secret(token)
        now = datetime.now(UTC)
        record = ApiToken(id=token_id, name=name, role=role, created_at=now, expires_at=expires_at)
        with self._errors("create_token"), self._write() as connection:
            self._lock_audit(connection)
            taken = connection.execute(
                sa.select(tokens_table.c.id).where(
                    sa.or_(tokens_table.c.name == name, tokens_table.c.id == token_id)
                )
            ).first()
            if taken is not None:
                raise TokenError(f"a token named {name!r} (or with id {token_id}) exists; pick another name")
            connection.execute(
                sa.insert(tokens_table).values(
                    id=token_id, name=name, role=role.value, secret_sha256=tokens.digest(token),
                    created_at=now, expires_at=expires_at,
                )
            )
            self._append_audit(
                connection, by, "token.create", f"token:{token_id}", None,
                {"name": name, "role": role.value, "expires_at": _iso(expires_at)},
                now,
            )
        return record, token

    def ensure_token(self, name: str, role: Role, token: str, by: Actor) -> ApiToken:
        """Install ``token`` under ``name`` unless that exact token is already stored (idempotent)."""
        existing = self.authenticate(token)
        if existing is not None:
            return existing
        return self.create_token(name, role, by, token=token)[0]

    def list_tokens(self) -> list[ApiToken]:
        t = tokens_table.c
        statement = sa.select(*_TOKEN_FIELDS).order_by(t.created_at)
        with self._errors("list_tokens"), self._engine.connect() as connection:
            return [ApiToken.model_validate(row._asdict()) for row in connection.execute(statement)]

    def revoke_token(self, name_or_id: str, by: Actor) -> ApiToken:
        t = tokens_table.c
        now = datetime.now(UTC)
        with self._errors("revoke_token"), self._write() as connection:
            self._lock_audit(connection)
            row = connection.execute(
                sa.select(*_TOKEN_FIELDS).where(sa.or_(t.name == name_or_id, t.id == name_or_id))
            ).first()
            if row is None:
                raise TokenError(f"no token named {name_or_id!r} (or with that id); see `veille tokens list`")
            record = ApiToken.model_validate(row._asdict())
            if record.revoked_at is not None:
                return record
            connection.execute(sa.update(tokens_table).where(t.id == record.id).values(revoked_at=now))
            self._append_audit(
                connection, by, "token.revoke", f"token:{record.id}", {"revoked_at": None},
                {"revoked_at": now.isoformat()}, now,
            )
        return record.model_copy(update={"revoked_at": now})

    def authenticate(self, token: str) -> ApiToken | None:
        """The stored token for ``token`` (even if revoked or expired: the caller checks), else None."""
        token_id = tokens.parse(token)
        if token_id is None:
            return None
        t = tokens_table.c
        with self._errors("authenticate"), self._engine.connect() as connection:
            row = connection.execute(
                sa.select(*_TOKEN_FIELDS, t.secret_sha256).where(t.id == token_id)
            ).first()
        if row is None or not tokens.same_digest(row.secret_sha256, tokens.digest(token)):
            return None
        fields = row._asdict()
        del fields["secret_sha256"]
        return ApiToken.model_validate(fields)

    # --- silences (rules in alerts.silences) ---

    def create_silence(self, request: SilenceRequest, by: Actor) -> Silence:
        now = datetime.now(UTC)
        silence = Silence(
            id=secrets.token_hex(8), matchers=request.matchers, author=by.name, reason=request.reason,
            created_at=now, expires_at=request.expires_at,
        )
        row = silence.model_dump(mode="json")
        row.update(created_at=now, expires_at=silence.expires_at)
        with self._errors("create_silence"), self._write() as connection:
            self._lock_audit(connection)
            connection.execute(sa.insert(silences_table).values(**row))
            after = {
                "matchers": row["matchers"], "reason": request.reason, "expires_at": _iso(request.expires_at)
            }
            self._append_audit(connection, by, "silence.create", f"silence:{silence.id}", None, after, now)
        return silence

    def list_silences(self, *, active_only: bool = True) -> list[Silence]:
        s = silences_table.c
        statement = sa.select(silences_table).order_by(s.created_at, s.id)
        if active_only:
            statement = statement.where(s.expires_at > datetime.now(UTC))
        with self._errors("list_silences"), self._engine.connect() as connection:
            return [Silence.model_validate(row._asdict()) for row in connection.execute(statement)]

    def expire_silence(self, silence_id: str, by: Actor) -> Silence:
        """End a silence now (kept in the list with its new expiry, for the record)."""
        s = silences_table.c
        now = datetime.now(UTC)
        with self._errors("expire_silence"), self._write() as connection:
            self._lock_audit(connection)
            row = connection.execute(sa.select(silences_table).where(s.id == silence_id)).first()
            if row is None:
                raise SilenceNotFound(silence_id)
            silence = Silence.model_validate(row._asdict())
            if not silence.active(now):
                return silence
            connection.execute(sa.update(silences_table).where(s.id == silence_id).values(expires_at=now))
            self._append_audit(
                connection, by, "silence.expire", f"silence:{silence_id}",
                {"expires_at": _iso(silence.expires_at)}, {"expires_at": _iso(now)}, now,
            )
        return silence.model_copy(update={"expires_at": now})

    # --- retention (rules in alerts.retention) ---

    def apply_retention(
        self, policy: RetentionPolicy, by: Actor, *, now: datetime | None = None, dry_run: bool = False
    ) -> RetentionReport:
        """Anonymise or delete closed alerts past their jurisdiction's age, in one transaction,
        one audit entry per alert; an alert already anonymised is not counted again."""
        now = now or datetime.now(UTC)
        c = alerts_table.c
        named, default = policy.cutoffs(now)
        closed_at = sa.func.coalesce(c.closed_at, c.updated_at, c.created_at)
        due = [sa.and_(c.jurisdiction == j, closed_at < cutoff) for j, cutoff in named.items()]
        if default is not None:
            due.append(sa.and_(c.jurisdiction.not_in(list(named)), closed_at < default))
        report = RetentionReport(mode=policy.mode, dry_run=dry_run)
        if not due:
            return report
        where = [c.status == AlertStatus.CLOSED.value, sa.or_(*due)]
        if policy.mode == "anonymise":
            where.append(c.anonymised_at.is_(None))
        with self._errors("apply_retention"), self._write() as connection:
            self._lock_audit(connection)
            rows = connection.execute(sa.select(c.id, c.jurisdiction, c.evidence).where(*where)).all()
            for row in rows:
                report.by_jurisdiction[row.jurisdiction] = report.by_jurisdiction.get(row.jurisdiction, 0) + 1
                if dry_run:
                    continue
                target = alerts_table.c.id == row.id
                if policy.mode == "delete":
                    # Explicit, not only ON DELETE CASCADE: SQLite enforces it only with the pragma.
                    connection.execute(sa.delete(comments_table).where(comments_table.c.alert_id == row.id))
                    connection.execute(
                        sa.delete(occurrences_table).where(occurrences_table.c.alert_id == row.id)
                    )
                    connection.execute(sa.delete(alerts_table).where(target))
                else:
                    values = retention.anonymised_values(list(row.evidence))
                    anonymise = sa.update(alerts_table).where(target).values(anonymised_at=now, **values)
                    connection.execute(anonymise)
                    connection.execute(
                        sa.update(occurrences_table)
                        .where(occurrences_table.c.alert_id == row.id)
                        .values(post_id=retention.ANONYMISED)
                    )
                    connection.execute(
                        sa.update(comments_table)
                        .where(comments_table.c.alert_id == row.id)
                        .values(body=retention.ANONYMISED)
                    )
                self._append_audit(
                    connection, by, f"retention.{policy.mode}", f"alert:{row.id}", None,
                    {"jurisdiction": row.jurisdiction}, now,
                )
        return report

    # --- analytics (counts only: no content, so the ops role may read them) ---

    def count_by(self, field: str, q: AlertQuery) -> dict[str, int]:
        """Alerts matching ``q`` (cursor and limit ignored) per value of one column."""
        if field not in ANALYTICS_FIELDS:
            raise ValueError(f"cannot count by {field!r}: use one of {', '.join(ANALYTICS_FIELDS)}")
        column = alerts_table.c[field]
        statement = sa.select(column, sa.func.count()).where(*_filters(q)).group_by(column).order_by(column)
        with self._errors("count_by"), self._engine.connect() as connection:
            return {_label(value): int(n) for value, n in connection.execute(statement)}

    def count_over_time(self, field: str, bucket: str, q: AlertQuery) -> dict[datetime, dict[str, int]]:
        """Alerts matching ``q`` per ``bucket`` ("hour" or "day", UTC, by ``created_at``) and value."""
        if field not in ANALYTICS_FIELDS:
            raise ValueError(f"cannot count by {field!r}: use one of {', '.join(ANALYTICS_FIELDS)}")
        if bucket not in ("hour", "day"):
            raise ValueError(f"bucket {bucket!r}: use hour or day")
        c = alerts_table.c
        if self._sqlite:
            # Stored as fixed-width naive UTC text: truncating the text truncates the instant.
            pattern = "%Y-%m-%d %H:00:00" if bucket == "hour" else "%Y-%m-%d 00:00:00"
            start: sa.ColumnElement[Any] = sa.func.strftime(pattern, c.created_at)
        else:
            start = sa.func.date_trunc(bucket, sa.func.timezone("UTC", c.created_at))
        column = c[field]
        statement = (
            sa.select(start.label("start"), column, sa.func.count())
            .where(*_filters(q))
            .group_by(start, column)
            .order_by(start, column)
        )
        result: dict[datetime, dict[str, int]] = {}
        with self._errors("count_over_time"), self._engine.connect() as connection:
            for at, value, n in connection.execute(statement):
                instant = datetime.fromisoformat(at) if isinstance(at, str) else at
                instant = instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
                result.setdefault(instant, {})[_label(value)] = int(n)
        return result

    def review_durations(self, q: AlertQuery) -> dict[str, list[float]]:
        """Seconds from creation to acknowledgement, and to closing, of the alerts matching ``q``."""
        c = alerts_table.c
        statement = sa.select(c.created_at, c.acknowledged_at, c.closed_at).where(
            *_filters(q), c.acknowledged_at.is_not(None)
        )
        durations: dict[str, list[float]] = {"acknowledge": [], "close": []}
        with self._errors("review_durations"), self._engine.connect() as connection:
            for created, acknowledged, closed in connection.execute(statement):
                # A producer clock ahead of ours could give a negative age: count it as immediate.
                durations["acknowledge"].append(max(0.0, (acknowledged - created).total_seconds()))
                if closed is not None:
                    durations["close"].append(max(0.0, (closed - created).total_seconds()))
        return durations

    def precision_by_rule(self, q: AlertQuery) -> dict[str, dict[str, int]]:
        """Per rule: alerts closed with a verdict, and how many of each verdict."""
        c = alerts_table.c
        statement = (
            sa.select(c.rule_id, c.verdict, sa.func.count())
            .where(*_filters(q), c.status == AlertStatus.CLOSED.value, c.verdict.is_not(None))
            .group_by(c.rule_id, c.verdict)
        )
        result: dict[str, dict[str, int]] = {}
        with self._errors("precision_by_rule"), self._engine.connect() as connection:
            for rule_id, verdict, n in connection.execute(statement):
                result.setdefault(rule_id, {v.value: 0 for v in Verdict})[verdict] = int(n)
        return result

    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the database answers a trivial query."""
        try:
            with self._engine.connect() as connection:
                connection.execute(sa.text("select 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise StoreUnavailable(f"alert store unavailable: {_reason(exc)}") from exc

    def close(self) -> None:
        self._engine.dispose()


def _label(value: object) -> str:
    # JSON-style booleans ("silenced"), so the API answers true/false, not Python's True/False.
    return str(value).lower() if isinstance(value, bool) else str(value)


def _occurrence(alert: Alert, group_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": alert.id, "alert_id": group_id, "post_id": alert.post_id,
        "post_created_at": alert.post_created_at, "created_at": now,
    }


_TOKEN_FIELDS = tuple(
    tokens_table.c[name] for name in ("id", "name", "role", "created_at", "expires_at", "revoked_at")
)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _reason(exc: sa.exc.SQLAlchemyError) -> str:
    """The driver's message without SQL or bound values (which may carry personal data)."""
    original = getattr(exc, "orig", None)
    if original is None:
        return type(exc).__name__
    message = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return f"{type(original).__name__}: {message}"[:300]


if TYPE_CHECKING:

    def _conforms(store: SqlAlertStore) -> AlertStore:
        return store


__all__ = [
    "AlertStore",
    "MigrationError",
    "SqlAlertStore",
    "StoreError",
    "StoreUnavailable",
    "UtcDateTime",
    "alerts_table",
    "audit_table",
    "comments_table",
    "metadata",
    "occurrences_table",
    "silences_table",
    "tokens_table",
]
