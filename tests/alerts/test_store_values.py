"""Whatever a valid post holds can be stored, on SQLite and PostgreSQL alike; what the database still
refuses is a StoreDataError naming the SQLSTATE, never the values."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from alerts.model import Alert, Evidence, alert_id
from alerts.sql.schema import alerts_table, occurrences_table
from alerts.sql.values import REPLACEMENT, storable
from alerts.store import SqlAlertStore, StoreDataError
from policies.post import Author, Post

AlertFactory = Callable[..., Alert]


def _contract_max(model: type[Post] | type[Author], field: str) -> int:
    (limit,) = [meta.max_length for meta in model.model_fields[field].metadata if hasattr(meta, "max_length")]
    return int(limit)


@pytest.mark.parametrize(("column", "model", "field"), [
    (alerts_table.c.post_id, Post, "id"),
    (occurrences_table.c.post_id, Post, "id"),
    (alerts_table.c.author_id, Author, "id"),
    (alerts_table.c.channel, Post, "channel"),
    (alerts_table.c.author_role, Author, "role"),
    # The post's own jurisdiction is 2 letters or GLOBAL; the author's country stands in for it.
    (alerts_table.c.jurisdiction, Author, "country"),
])
def test_columns_a_post_reaches_are_sized_from_its_contract(
    column: sa.Column[Any], model: Any, field: str
) -> None:
    length = getattr(column.type, "length", None)
    assert length is None or length >= _contract_max(model, field), f"{column} is shorter than {field}"


def _hostile(make_alert: AlertFactory, post_id: str, **overrides: Any) -> Alert:
    """An alert carrying, from its post, every value PostgreSQL refuses as such."""
    snippet = "écrivez à [EMAIL] \x00 demain"
    evidence = Evidence(detector="pii", type="EMAIL_ADDRESS", start=10, end=27, score=0.95,
                        snippet=snippet, span="jean\x00@example.org", personal=True)
    fields: dict[str, Any] = {
        "author_id": "u\x00" + "x" * 254,
        "channel": "c" * 64,
        "author_role": "r" * 64,
        "jurisdiction": "J" * 32,
        "evidence": [evidence],
        "origin": {"topic": "t", "partition": 0, "offset": 1, "thread_id": "th\x00read",
                   "nested": {"k\x00ey": ["v\x00", 1.5, math.nan, math.inf, -math.inf]}},
    }
    fields.update(overrides)
    return make_alert(post_id, **fields)


def test_a_post_s_hostile_values_are_stored_and_read_back_replaced(
    store: SqlAlertStore, make_alert: AlertFactory,
) -> None:
    post_id = "p\x00" + "i" * 254  # 256 characters, the contract's longest
    alert = _hostile(make_alert, post_id)
    assert store.add_many([alert]) == [alert.id]
    assert store.add_many([alert]) == [], "a replay is still a no-op: the id is the original post's"

    stored = store.get(alert.id)
    assert stored is not None
    assert stored.post_id == "p" + REPLACEMENT + "i" * 254
    assert stored.author_id == "u" + REPLACEMENT + "x" * 254
    assert (stored.channel, stored.author_role, stored.jurisdiction) == ("c" * 64, "r" * 64, "J" * 32)
    (evidence,) = stored.evidence
    # One character for one: offsets into the post text stay right.
    assert evidence.snippet == alert.evidence[0].snippet.replace("\x00", REPLACEMENT)
    assert evidence.span == "jean" + REPLACEMENT + "@example.org"
    assert stored.origin["thread_id"] == "th" + REPLACEMENT + "read"
    assert stored.origin["nested"] == {"k" + REPLACEMENT + "ey": ["v" + REPLACEMENT, 1.5, "NaN", "Infinity",
                                                                    "-Infinity"]}
    assert [o["post_id"] for o in store.occurrences(alert.id)] == [stored.post_id]


def test_grouping_finds_the_author_whose_id_held_a_nul(store_url: str, make_alert: AlertFactory) -> None:
    store = SqlAlertStore.open(store_url, group_window=timedelta(hours=1))
    try:
        first = _hostile(make_alert, "p-1")
        second = _hostile(make_alert, "p-2", post_created_at=first.post_created_at + timedelta(minutes=5))
        assert store.add_many([first]) == [first.id]
        assert store.add_many([second]) == [second.id]
        grouped = store.get(first.id)
        assert grouped is not None and grouped.occurrences == 2
    finally:
        store.close()


def test_values_the_database_refuses_fail_the_call_with_the_sqlstate_only(
    store: SqlAlertStore, store_url: str, make_alert: AlertFactory,
    refuse_post_ids: Callable[[str, str], None],
) -> None:
    refuse_post_ids(store_url, "poison")
    good, bad = make_alert("fine-1"), make_alert("poison-secret-value")
    with pytest.raises(StoreDataError) as raised:
        store.add_many([good, bad])
    expected = "SQLSTATE 23514" if store_url.startswith("postgresql") else "SQLITE_CONSTRAINT_TRIGGER"
    assert raised.value.code == expected
    assert raised.value.detail == f"{raised.value.kind} ({expected})"
    assert "poison-secret-value" not in str(raised.value)
    assert store.get(good.id) is None, "nothing of a refused call is stored"
    assert store.add_many([good]) == [good.id]


def test_storable_returns_clean_values_themselves() -> None:
    clean: dict[str, Any] = {"a": ["b", 1, 2.5, None, {"c": "d"}]}
    assert storable(clean) is clean
    assert storable("a\ud800b") == "a" + REPLACEMENT + "b"
    assert alert_id("p\x00", "r") != alert_id("p" + REPLACEMENT, "r"), "ids come from the original post id"
