"""Upgrading a database that already holds alerts keeps every row and fills the new columns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from alerts.sql.engine import MIGRATIONS_DIR
from alerts.sql.schema import metadata
from alerts.store import SqlAlertStore

_CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
_UPDATED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _upgrade(url: str, revision: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def _seed_at_0003(url: str) -> None:
    _upgrade(url, "0003")
    engine = sa.create_engine(url)
    common = {
        "rule_title": "t", "severity": "high", "status": "open", "jurisdiction": "FR", "source": "internal",
        "channel": "teams", "author_id": "u-1", "author_role": "employee", "lang": "fr",
        "post_created_at": _CREATED, "created_at": _CREATED, "policy_version": "v", "evidence": "[]",
        "explanation": "[]", "references": "[]", "origin": "{}", "occurrences": 1, "silenced": False,
    }
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                'insert into alerts (id, rule_id, post_id, updated_at, rule_title, severity, status, '
                'jurisdiction, source, channel, author_id, author_role, lang, post_created_at, created_at, '
                'policy_version, evidence, explanation, "references", origin, occurrences, silenced) values '
                "(:id, :rule_id, :post_id, :updated_at, :rule_title, :severity, :status, :jurisdiction, "
                ":source, :channel, :author_id, :author_role, :lang, :post_created_at, :created_at, "
                ":policy_version, :evidence, :explanation, :references, :origin, :occurrences, :silenced)"
            ), [
                {**common, "id": "a-internal", "rule_id": "fr-nir-in-post", "post_id": "p-1",
                 "updated_at": None},
                {**common, "id": "a-brand", "rule_id": "global-brand-negative-spike", "post_id": "p-2",
                 "updated_at": _UPDATED},
            ])
            connection.execute(sa.text(
                "insert into alert_occurrences (id, alert_id, post_id, post_created_at, created_at) "
                "values ('o-1', 'a-internal', 'p-1', :at, :at)"), {"at": _CREATED})
            connection.execute(sa.text(
                "insert into alert_comments (alert_id, author, body, created_at) "
                "values ('a-internal', 'officer', 'kept', :at)"), {"at": _CREATED})
    finally:
        engine.dispose()


@pytest.fixture
def seeded_url(store_url: str) -> str:
    if store_url.startswith("sqlite"):
        Path(store_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    _seed_at_0003(store_url)
    return store_url


def test_upgrade_to_head_keeps_rows_and_fills_new_columns(seeded_url: str) -> None:
    store = SqlAlertStore.open(seeded_url)  # upgrades to head, as a worker or the API does on start
    try:
        with store.engine.connect() as connection:
            rows = {row.id: row for row in connection.execute(
                sa.text("select id, changed_at, comms_visible from alerts"))}
            occurrences = connection.execute(sa.text("select count(*) from alert_occurrences")).scalar_one()
            comments = connection.execute(sa.text("select body from alert_comments")).scalars().all()
        assert set(rows) == {"a-internal", "a-brand"}
        # Every occurrence and comment survives: a copy-and-rename of `alerts` would cascade-delete them.
        assert occurrences == 1
        assert comments == ["kept"]
        assert store.get("a-internal") is not None
        # changed_at is the last change: updated_at where there was one, else created_at.
        assert str(rows["a-internal"].changed_at).startswith("2026-11-01 09:00")
        assert str(rows["a-brand"].changed_at).startswith("2026-11-02 09:00")
        # Comms visibility keeps what the old rule-id markers decided.
        assert bool(rows["a-brand"].comms_visible) is True
        assert bool(rows["a-internal"].comms_visible) is False
    finally:
        store.close()


def test_ids_as_long_as_the_contract_allows_fit(seeded_url: str) -> None:
    store = SqlAlertStore.open(seeded_url)
    try:
        with store.engine.begin() as connection:
            connection.execute(
                sa.text("update alerts set post_id = :id, author_id = :id where id = 'a-brand'"),
                {"id": "x" * 256},
            )
        with store.engine.connect() as connection:
            assert connection.execute(sa.text("select length(post_id) from alerts where id = 'a-brand'")
                                      ).scalar_one() == 256
    finally:
        store.close()


def test_migrated_schema_matches_the_table_the_store_uses(store: SqlAlertStore, store_url: str) -> None:
    # Catches a column or index added to alerts/sql/schema.py without a migration (or the reverse).
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as connection:
            options = {"compare_type": _compare_type} if connection.dialect.name == "sqlite" else {}
            diff = compare_metadata(MigrationContext.configure(connection, opts=options), metadata)
    finally:
        engine.dispose()
    assert diff == []


def _compare_type(context: MigrationContext, inspected: Any, metadata_column: Any,
                  inspected_type: Any, metadata_type: Any) -> bool | None:
    """SQLite does not enforce VARCHAR lengths (revision 0004 widens ids on PostgreSQL only, where a
    table copy is not needed): a length alone is no difference there. Everything else: Alembic decides."""
    if isinstance(inspected_type, sa.String) and isinstance(metadata_type, sa.String):
        return type(inspected_type.as_generic()) is not type(metadata_type.as_generic())
    return None
