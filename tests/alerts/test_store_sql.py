"""The alert store against real SQLite and real PostgreSQL: every test runs on both backends."""

from __future__ import annotations

import base64
import json
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from alerts.model import Alert, AlertStatus, Severity
from alerts.query import AlertQuery, InvalidCursor, encode_cursor
from alerts.sql.engine import MIGRATIONS_DIR, MigrationError, StoreError, StoreUnavailable
from alerts.store import SqlAlertStore

BASE_TIME = datetime(2024, 11, 5, 8, 30, tzinfo=UTC)
AlertFactory = Callable[..., Alert]


def _row_count(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text("select count(*) from alerts")).scalar_one())
    finally:
        engine.dispose()


def _newest_first(alerts: list[Alert]) -> list[str]:
    return [a.id for a in sorted(alerts, key=lambda a: (a.created_at, a.id), reverse=True)]


def _all_pages(store: SqlAlertStore, q: AlertQuery) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(1000):
        page = store.query(q.model_copy(update={"cursor": cursor}))
        assert len(page.data) <= q.limit
        seen.extend(a.id for a in page.data)
        cursor = page.next_cursor
        if cursor is None:
            return seen
        assert page.data, "a page with a next cursor must not be empty"
    raise AssertionError("pagination did not terminate")


# --- writing ---------------------------------------------------------------------------------


def test_add_many_returns_new_ids_in_order_and_replay_adds_nothing(
    store: SqlAlertStore, store_url: str, make_alert: AlertFactory
) -> None:
    batch = [make_alert() for _ in range(10)]

    assert store.add_many(batch) == [a.id for a in batch]
    assert store.add_many(batch) == []
    assert _row_count(store_url) == 10

    # A replayed poll batch that overlaps the previous one: only the truly new alerts count.
    newer = [make_alert() for _ in range(3)]
    mixed = [batch[4], newer[0], batch[0], newer[1], newer[2]]
    assert store.add_many(mixed) == [newer[0].id, newer[1].id, newer[2].id]
    assert _row_count(store_url) == 13


def test_add_many_keeps_first_of_duplicate_ids_in_one_batch(
    store: SqlAlertStore, make_alert: AlertFactory
) -> None:
    first = make_alert("p1", severity=Severity.LOW)
    again = make_alert("p1", severity=Severity.CRITICAL)
    assert first.id == again.id

    other = make_alert("p2")
    assert store.add_many([first, other, again]) == [first.id, other.id]
    stored = store.get(first.id)
    assert stored is not None
    assert stored.severity is Severity.LOW


def test_add_many_replay_does_not_overwrite_stored_alert(
    store: SqlAlertStore, make_alert: AlertFactory
) -> None:
    original = make_alert("p1", status=AlertStatus.OPEN)
    store.add_many([original])
    store.add_many([make_alert("p1", status=AlertStatus.CLOSED, rule_title="changed")])

    stored = store.get(original.id)
    assert stored is not None
    assert (stored.status, stored.rule_title) == (AlertStatus.OPEN, original.rule_title)


def test_concurrent_overlapping_batches_count_each_alert_once(
    store: SqlAlertStore, store_url: str, make_alert: AlertFactory
) -> None:
    # Two workers replaying overlapping records after a rebalance: every alert is "new" exactly once.
    alerts = [make_alert(f"p{i}") for i in range(120)]
    batches = [alerts[i : i + 60] for i in range(0, 120, 20)]  # each alert sits in up to 3 batches
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(store.add_many, batches))

    new_ids = [alert_id for result in results for alert_id in result]
    assert sorted(new_ids) == sorted(a.id for a in alerts)
    assert _row_count(store_url) == 120


def test_in_memory_sqlite_for_quick_tests(make_alert: AlertFactory) -> None:
    store = SqlAlertStore.open("sqlite://")
    try:
        alert = make_alert()
        assert store.add_many([alert]) == [alert.id]
        assert store.get(alert.id) == alert
    finally:
        store.close()


def test_add_many_of_nothing(store: SqlAlertStore) -> None:
    assert store.add_many([]) == []


def test_inserting_a_thousand_alerts_in_one_call_is_quick(
    store: SqlAlertStore, store_url: str, make_alert: AlertFactory
) -> None:
    batch = [make_alert(created_at=BASE_TIME + timedelta(milliseconds=i)) for i in range(1000)]
    started = time.perf_counter()
    new = store.add_many(batch)
    elapsed = time.perf_counter() - started

    assert len(new) == 1000
    assert _row_count(store_url) == 1000
    # Sanity bound only (measured ≈0.06 s on SQLite, ≈0.3 s on PostgreSQL on a shared 2-core box).
    assert elapsed < 5, f"1,000 alerts took {elapsed:.2f} s"


# --- reading back ----------------------------------------------------------------------------


def test_get_round_trips_every_field(store: SqlAlertStore, make_alert: AlertFactory) -> None:
    alert = make_alert(
        "p1",
        origin={
            "topic": "t",
            "partition": 0,
            "offset": 7,
            "url": "https://x.example/p/1",
            "nested": {"a": [1]},
        },
        references=["GDPR art. 9", "CNIL délibération 2019-160"],
        explanation=["any", "lexicon insult.fr"],
        lang=None,
        remediation=None,
    )
    store.add_many([alert])

    assert store.get(alert.id) == alert
    assert store.get("no-such-alert") is None


def test_timestamps_come_back_aware_in_utc(store: SqlAlertStore, make_alert: AlertFactory) -> None:
    paris_summer = timezone(timedelta(hours=2))
    created = datetime(2025, 7, 14, 23, 30, 15, 123456, tzinfo=paris_summer)
    posted = datetime(2025, 7, 14, 20, 0, 0, 999999, tzinfo=timezone(timedelta(hours=-5)))
    aware = make_alert("aware", created_at=created, post_created_at=posted)
    naive = make_alert(
        "naive", created_at=datetime(2025, 7, 14, 10, 0), post_created_at=datetime(2025, 7, 14, 9)
    )
    store.add_many([aware, naive])

    got = store.get(aware.id)
    assert got is not None
    assert got.created_at.tzinfo is UTC and got.post_created_at.tzinfo is UTC
    assert got.created_at == created and got.created_at.hour == 21  # same instant, microseconds kept
    assert got.post_created_at == posted
    got_naive = store.get(naive.id)
    assert got_naive is not None
    assert got_naive.created_at == datetime(2025, 7, 14, 10, 0, tzinfo=UTC)  # naive is taken as UTC


# --- filters ---------------------------------------------------------------------------------


@pytest.fixture
def varied(store: SqlAlertStore, make_alert: AlertFactory) -> list[Alert]:
    severities = list(Severity)
    statuses = list(AlertStatus)
    jurisdictions = ["FR", "EU", "GLOBAL"]
    rules = ["fr.pii.email", "eu.secrets.key", "global.insult"]
    sources = ["internal", "external"]
    alerts = [
        make_alert(
            rule_id=rules[i % 3],
            severity=severities[i % 5],
            status=statuses[(i // 2) % 5],
            jurisdiction=jurisdictions[(i // 3) % 3],
            source=sources[i % 2],
            created_at=BASE_TIME + timedelta(minutes=i),
        )
        for i in range(60)
    ]
    store.add_many(alerts)
    return alerts


FILTERS: list[tuple[str, dict[str, object], Callable[[Alert], bool]]] = [
    ("status", {"status": [AlertStatus.OPEN]}, lambda a: a.status is AlertStatus.OPEN),
    (
        "status-many",
        {"status": ["acknowledged", "escalated"]},
        lambda a: a.status in {AlertStatus.ACKNOWLEDGED, AlertStatus.ESCALATED},
    ),
    (
        "severity",
        {"severity": ["critical", "high"]},
        lambda a: a.severity in {Severity.CRITICAL, Severity.HIGH},
    ),
    ("jurisdiction", {"jurisdiction": ["fr"]}, lambda a: a.jurisdiction == "FR"),
    ("rule_id", {"rule_id": ["eu.secrets.key"]}, lambda a: a.rule_id == "eu.secrets.key"),
    ("source", {"source": ["external"]}, lambda a: a.source == "external"),
    (
        "combined",
        {"status": ["open", "in_review"], "source": ["internal"], "jurisdiction": ["FR", "EU"]},
        lambda a: (
            a.status in {AlertStatus.OPEN, AlertStatus.IN_REVIEW}
            and a.source == "internal"
            and a.jurisdiction in {"FR", "EU"}
        ),
    ),
    ("no-match", {"rule_id": ["does.not.exist"]}, lambda a: False),
    ("none", {}, lambda a: True),
]


@pytest.mark.parametrize(("name", "filters", "predicate"), FILTERS, ids=[f[0] for f in FILTERS])
def test_query_and_count_apply_each_filter(
    store: SqlAlertStore,
    varied: list[Alert],
    name: str,
    filters: dict[str, object],
    predicate: Callable[[Alert], bool],
) -> None:
    expected = _newest_first([a for a in varied if predicate(a)])
    assert name == "none" or 0 <= len(expected) < len(varied)  # the filter must discriminate

    q = AlertQuery.model_validate({**filters, "limit": 500})
    assert [a.id for a in store.query(q).data] == expected
    assert store.count(q) == len(expected)


def test_time_range_since_inclusive_until_exclusive(store: SqlAlertStore, varied: list[Alert]) -> None:
    since, until = BASE_TIME + timedelta(minutes=10), BASE_TIME + timedelta(minutes=20)
    expected = _newest_first([a for a in varied if since <= a.created_at < until])
    assert len(expected) == 10

    q = AlertQuery(since=since, until=until, limit=500)
    assert [a.id for a in store.query(q).data] == expected
    assert store.count(q) == 10

    # The same instants written in another zone select the same alerts.
    tokyo = timezone(timedelta(hours=9))
    q_tokyo = AlertQuery(since=since.astimezone(tokyo), until=until.astimezone(tokyo), limit=500)
    assert [a.id for a in store.query(q_tokyo).data] == expected

    assert store.count(AlertQuery(since=BASE_TIME + timedelta(minutes=59))) == 1
    assert store.count(AlertQuery(until=BASE_TIME)) == 0
    assert store.count(AlertQuery(until=BASE_TIME + timedelta(microseconds=1))) == 1


def test_count_ignores_limit_and_cursor(store: SqlAlertStore, varied: list[Alert]) -> None:
    first = store.query(AlertQuery(limit=3))
    assert first.next_cursor is not None
    assert store.count(AlertQuery(limit=3, cursor=first.next_cursor)) == len(varied)


def test_count_open_by_severity(store: SqlAlertStore, make_alert: AlertFactory) -> None:
    assert store.count_open_by_severity() == {s.value: 0 for s in Severity}
    store.add_many(
        [make_alert(severity=Severity.HIGH) for _ in range(3)]
        + [make_alert(severity=Severity.LOW)]
        + [make_alert(severity=Severity.CRITICAL, status=AlertStatus.CLOSED) for _ in range(2)]
        + [make_alert(severity=Severity.HIGH, status=AlertStatus.ACKNOWLEDGED)]
    )
    assert store.count_open_by_severity() == {"info": 0, "low": 1, "medium": 0, "high": 3, "critical": 0}


# --- pagination ------------------------------------------------------------------------------


def test_pagination_with_ties_loses_and_repeats_nothing(
    store: SqlAlertStore, make_alert: AlertFactory
) -> None:
    # 23 alerts over only 4 distinct instants: page boundaries fall inside runs of equal created_at.
    alerts = [make_alert(created_at=BASE_TIME + timedelta(seconds=i % 4)) for i in range(23)]
    store.add_many(alerts)

    for limit in (1, 2, 5, 7, 23, 500):
        assert _all_pages(store, AlertQuery(limit=limit)) == _newest_first(alerts), f"limit={limit}"


def test_pagination_with_filter_and_exact_multiple(store: SqlAlertStore, varied: list[Alert]) -> None:
    q = AlertQuery(source=["internal"], limit=5)
    expected = _newest_first([a for a in varied if a.source == "internal"])
    assert len(expected) == 30  # an exact multiple of the page size: the last page has no next cursor

    assert _all_pages(store, q) == expected
    last = store.query(q.model_copy(update={"cursor": encode_cursor(varied[5].created_at, varied[5].id)}))
    assert last.next_cursor is None


def test_pages_are_stable_while_newer_alerts_arrive(store: SqlAlertStore, make_alert: AlertFactory) -> None:
    older = [make_alert(created_at=BASE_TIME + timedelta(seconds=i)) for i in range(6)]
    store.add_many(older)
    first = store.query(AlertQuery(limit=3))
    store.add_many([make_alert(created_at=BASE_TIME + timedelta(hours=1)) for _ in range(4)])

    second = store.query(AlertQuery(limit=3, cursor=first.next_cursor))
    assert [a.id for a in first.data + second.data] == _newest_first(older)
    assert second.next_cursor is None


def _forged(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "AAAA",
        "x" * 1000,
        "",
        _forged({"t": 1, "i": "a"}),
        _forged([2, 0, "a"]),
        _forged([1, "0", "a"]),
        _forged([1, 0, ""]),
        _forged([1, 0, 5]),
        _forged([1, 10**30, "a"]),
        _forged([True, 0, "a"]),
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
    ],
)
def test_invalid_cursor_is_a_client_error(store: SqlAlertStore, varied: list[Alert], cursor: str) -> None:
    with pytest.raises(InvalidCursor, match="invalid cursor") as caught:
        store.query(AlertQuery(cursor=cursor))
    assert isinstance(caught.value, ValueError)
    assert "next_cursor" in str(caught.value)


# --- opening, migrations, health -------------------------------------------------------------


def test_open_twice_runs_migrations_once_and_keeps_data(store_url: str, make_alert: AlertFactory) -> None:
    first = SqlAlertStore.open(store_url)
    alert = make_alert()
    first.add_many([alert])
    first.close()

    second = SqlAlertStore.open(store_url)
    try:
        assert second.get(alert.id) == alert
    finally:
        second.close()
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(sa.text("select version_num from alembic_version")).scalars().all()
    finally:
        engine.dispose()
    # One row, at the newest revision: the upgrade ran once, to head.
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert versions == [head]


def test_open_refuses_a_database_migrated_by_newer_code(store_url: str) -> None:
    SqlAlertStore.open(store_url).close()
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("update alembic_version set version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(MigrationError, match="9999"):
        SqlAlertStore.open(store_url)


def test_sqlite_uses_wal_and_creates_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "veille.db"
    store = SqlAlertStore.open(f"sqlite:///{path}")
    try:
        assert path.exists()
        with store._engine.connect() as connection:
            assert connection.execute(sa.text("pragma journal_mode")).scalar_one() == "wal"
            assert connection.execute(sa.text("pragma foreign_keys")).scalar_one() == 1
            assert connection.execute(sa.text("pragma busy_timeout")).scalar_one() >= 1000
    finally:
        store.close()


def _open_and_insert(url: str, post_id: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    from alerts.model import alert_id

    barrier.wait(timeout=30)
    store = SqlAlertStore.open(url)
    try:
        alert = Alert(
            id=alert_id(post_id, "r"),
            rule_id="r",
            rule_title="t",
            severity=Severity.LOW,
            jurisdiction="FR",
            source="internal",
            channel="c",
            post_id=post_id,
            author_id="a",
            author_role="employee",
            post_created_at=BASE_TIME,
            policy_version="1",
        )
        assert store.add_many([alert]) == [alert.id]
    finally:
        store.close()


def test_concurrent_open_from_several_processes(store_url: str) -> None:
    # fork: the children need this module's function, which importlib import mode cannot pickle by name.
    context = multiprocessing.get_context("fork")
    workers = 4
    barrier = context.Barrier(workers)
    processes = [
        context.Process(target=_open_and_insert, args=(store_url, f"post-{n}", barrier))
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * workers
    assert _row_count(store_url) == workers


def test_ping(store: SqlAlertStore) -> None:
    store.ping()


@pytest.mark.postgres
def test_ping_raises_store_unavailable_when_database_is_gone(
    postgres_server_url: str, postgres_url: str
) -> None:
    store = SqlAlertStore.open(postgres_url)
    try:
        store.ping()
        admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            name = sa.make_url(postgres_url).database
            connection.execute(sa.text(f'drop database "{name}" with (force)'))
        admin.dispose()
        with pytest.raises(StoreUnavailable, match="unavailable"):
            store.ping()
        with pytest.raises(StoreUnavailable):
            store.count(AlertQuery())
    finally:
        store.close()


@pytest.mark.postgres
def test_open_unreachable_server_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable) as caught:
        SqlAlertStore.open("postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2")
    assert isinstance(caught.value, StoreError)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a database URL"),
        ("postgresql+psycopg://u:secret@h:port/db", "not a database URL"),
        ("sqlite+nodriver:///x.db", "cannot create a database engine"),
        ("mysql://u@h/db", "unsupported database 'mysql'"),
    ],
)
def test_open_bad_url_is_a_clear_store_error(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as caught:
        SqlAlertStore.open(url)
    assert "secret" not in str(caught.value)


def test_open_sqlite_where_a_file_blocks_the_directory(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("")
    with pytest.raises(StoreError, match="cannot create the SQLite directory"):
        SqlAlertStore.open(f"sqlite:///{tmp_path / 'blocker' / 'veille.db'}")
