"""Where alerts live: SQLite by default, PostgreSQL in production, one schema managed by Alembic.

Writes are idempotent on ``Alert.id`` (a replayed Kafka record never duplicates an alert), so the
worker may commit offsets only after :meth:`AlertStore.add_many` returned.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool

from alerts.model import Alert, AlertStatus, Severity
from alerts.query import AlertQuery, Page, decode_cursor, encode_cursor

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any fixed 64-bit number: serialises concurrent schema upgrades across workers on PostgreSQL.
_PG_MIGRATION_LOCK = 0x7665_696C_6C65  # "veille"
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
    ``monitor.post.Post`` does.
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
    # Newest-first listing and its keyset cursor; the status one also serves "open, newest first".
    sa.Index("ix_alerts_created_at_id", "created_at", "id"),
    sa.Index("ix_alerts_status_created_at_id", "status", "created_at", "id"),
    sa.Index("ix_alerts_severity", "severity"),
    sa.Index("ix_alerts_jurisdiction", "jurisdiction"),
    sa.Index("ix_alerts_rule_id", "rule_id"),
    sa.Index("ix_alerts_source", "source"),
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

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"

    @classmethod
    def open(cls, url: str) -> SqlAlertStore:
        """Connect to ``url`` and upgrade its schema to the newest revision.

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
        store = cls(engine)
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
        if not alerts:
            return []
        # Keep the first of duplicate ids in one batch, and the caller's order in the answer.
        by_id: dict[str, dict[str, Any]] = {}
        for alert in alerts:
            if alert.id not in by_id:
                by_id[alert.id] = _to_row(alert)
        rows = list(by_id.values())
        insert = postgresql.insert if not self._sqlite else sqlite_dialect.insert
        statement = (
            insert(alerts_table).on_conflict_do_nothing(index_elements=["id"]).returning(alerts_table.c.id)
        )
        with self._errors("add_many"), self._write() as connection:
            inserted = set(connection.scalars(statement, rows))
        return [row["id"] for row in rows if row["id"] in inserted]

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

    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the database answers a trivial query."""
        try:
            with self._engine.connect() as connection:
                connection.execute(sa.text("select 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise StoreUnavailable(f"alert store unavailable: {_reason(exc)}") from exc

    def close(self) -> None:
        self._engine.dispose()


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
    "metadata",
]
