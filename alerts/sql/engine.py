"""Opening the database: the engine (SQLite pragmas and WAL, or PostgreSQL), the schema upgrade to
the newest Alembic revision, and the translation of driver errors into :class:`StoreError`.

Messages never carry SQL or bound values: both may hold personal data.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any fixed 64-bit number: serialises concurrent schema upgrades across workers on PostgreSQL.
_PG_MIGRATION_LOCK = 0x7665_696C_6C65  # "veille"
_BACKENDS = ("sqlite", "postgresql")


class StoreError(Exception):
    """Root of every error the alert store raises."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or is locked beyond the timeout; retrying later may succeed."""


class StoreDataError(StoreError):
    """The database refused the values themselves (a data exception, a violated constraint, a size
    limit): the same values will be refused again, whereas other values may still be stored.

    ``code`` names the refusal without the values: the SQLSTATE on PostgreSQL, SQLite's error name.
    """

    def __init__(self, message: str, *, kind: str, code: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code

    @property
    def detail(self) -> str:
        """``kind`` and ``code`` only: safe in a DLQ header or a metric-free log line."""
        return f"{self.kind} ({self.code})"


class MigrationError(StoreError):
    """The schema could not be brought to the version this code needs."""


def open_engine(url: str) -> Engine:
    """Connect to ``url`` and upgrade its schema to the newest revision.

    Several workers may open the same database at once: the upgrade runs under a lock (SQLite
    write lock, PostgreSQL advisory lock), so exactly one of them migrates.
    """
    engine = _create_engine(url)
    try:
        _upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _create_engine(url: str) -> Engine:
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
    return engine


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


def _upgrade(engine: Engine) -> None:
    with writing(engine, "migrate") as connection:
        if not is_sqlite(connection):
            # Released at commit; the SQLite equivalent is BEGIN IMMEDIATE in writing().
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except sa.exc.DBAPIError:
            raise
        except Exception as exc:
            raise MigrationError(f"alembic upgrade to head failed: {exc}") from exc


def is_sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"


def row_by_id(
    connection: Connection, table: sa.Table, row_id: str, missing: Callable[[str], Exception], *,
    for_update: bool = False,
) -> sa.Row[Any]:
    """The row of ``table`` whose ``id`` is ``row_id``, or ``missing(row_id)`` raised. ``for_update``
    locks it until the transaction ends on PostgreSQL; SQLite's write transaction already holds the
    whole database."""
    statement = sa.select(table).where(table.c.id == row_id)
    if for_update and not is_sqlite(connection):
        statement = statement.with_for_update()
    row = connection.execute(statement).first()
    if row is None:
        raise missing(row_id)
    return row


def insert(connection: Connection, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT in the connection's dialect, which has ``ON CONFLICT`` on both backends."""
    return sqlite.insert(table) if is_sqlite(connection) else postgresql.insert(table)


@contextmanager
def reading(engine: Engine, operation: str) -> Iterator[Connection]:
    """A connection whose driver errors surface as :class:`StoreError` naming ``operation``."""
    with _translated(operation), engine.connect() as connection:
        yield connection


@contextmanager
def writing(engine: Engine, operation: str) -> Iterator[Connection]:
    """Like :func:`reading`, inside one transaction that holds the write lock from its start."""
    with _translated(operation), engine.connect() as connection:
        if is_sqlite(connection):
            connection = connection.execution_options(veille_write=True)
        with connection.begin():
            yield connection


# SQLSTATE classes about the values sent, not the server: data exception, integrity constraint
# violation, program limit exceeded (e.g. an index row or a JSON document too large).
_DATA_SQLSTATE_CLASSES = ("22", "23", "54")


@contextmanager
def _translated(operation: str) -> Iterator[None]:
    try:
        yield
    except sa.exc.DBAPIError as exc:
        code = _refusal_code(exc)
        if code is not None:
            kind = type(exc.orig).__name__
            raise StoreDataError(f"alert store {operation} refused the values: {_reason(exc)}",
                                 kind=kind, code=code) from exc
        if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
            raise StoreUnavailable(f"alert store unavailable during {operation}: {_reason(exc)}") from exc
        raise StoreError(f"alert store {operation} failed: {_reason(exc)}") from exc
    except sa.exc.DisconnectionError as exc:
        raise StoreUnavailable(f"alert store unavailable during {operation}: {_reason(exc)}") from exc
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"alert store {operation} failed: {_reason(exc)}") from exc


def _refusal_code(exc: sa.exc.DBAPIError) -> str | None:
    """The SQLSTATE (PostgreSQL) or error name (SQLite) when the database refused the values, else None."""
    original = exc.orig
    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(sqlstate, str):
        return f"SQLSTATE {sqlstate}" if sqlstate[:2] in _DATA_SQLSTATE_CLASSES else None
    if isinstance(exc, (sa.exc.DataError, sa.exc.IntegrityError)):
        # SQLite's refusals, and values psycopg refuses before sending them (a NUL in text).
        return getattr(original, "sqlite_errorname", None) or type(original).__name__
    return None


def ping_engine(engine: Engine) -> None:
    """Raise :class:`StoreUnavailable` unless the database answers a trivial query."""
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except sa.exc.SQLAlchemyError as exc:
        raise StoreUnavailable(f"alert store unavailable: {_reason(exc)}") from exc


def _reason(exc: sa.exc.SQLAlchemyError) -> str:
    """The driver's message without SQL or bound values (which may carry personal data)."""
    original = getattr(exc, "orig", None)
    if original is None:
        return type(exc).__name__
    message = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return f"{type(original).__name__}: {message}"[:300]
