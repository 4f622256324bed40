"""Repeated views of one alert by one token make one audit entry with a count, over real HTTP.

The first view is written at once; repeats inside the window are counted in memory and written as one
``alert.view`` entry when the window closes (or the API stops); a view after the window starts anew.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from alerts.audit import CLI_ACTOR
from alerts.model import Alert
from alerts.store import SqlAlertStore
from alerts.tokens import Role
from api.app import create_app
from monitor.settings import Settings

ServeApp = Callable[[FastAPI], AbstractContextManager[str]]


@contextmanager
def _api(url: str, seed: list[Alert], window_seconds: int, live_server: ServeApp) -> Iterator[Any]:
    """``(store, {role: client})`` while a live API with this view window serves ``seed``."""
    settings = Settings(_env_file=None, audit_view_window_seconds=window_seconds)
    store = SqlAlertStore.open(url, audit=settings.audit_options)
    with ExitStack() as stack:
        stack.callback(store.close)
        store.add_many(seed)
        tokens = {role: store.create_token(f"{role.value}-1", role, CLI_ACTOR)[1] for role in Role}
        base = stack.enter_context(live_server(create_app(settings, store)))
        clients = {
            role: stack.enter_context(
                httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            )
            for role, token in tokens.items()
        }
        yield store, clients


def _views(store: SqlAlertStore, alert_id: str) -> list[tuple[str, Any]]:
    entries = store.audit_entries(target=f"alert:{alert_id}", limit=None)
    return [(e.actor, e.after) for e in entries if e.action == "alert.view"]


def test_repeated_views_make_one_entry_then_one_with_their_count(
    database_url: str, seed: list[Alert], live_server: ServeApp
) -> None:
    alert = seed[2].id
    with _api(database_url, seed, 600, live_server) as (store, clients):
        for _ in range(20):
            assert clients[Role.OFFICER].get(f"/api/v1/alerts/{alert}").status_code == 200
        assert clients[Role.ADMIN].get(f"/api/v1/alerts/{alert}").status_code == 200
        # Twenty-one requests, two entries: one per person; the repeats wait for the window to close.
        assert _views(store, alert) == [("officer-1", None), ("admin-1", None)]
    # The API stopped: the officer's 19 repeats are written, with when they happened.
    views = _views(store, alert)
    assert [(actor, after and after["count"]) for actor, after in views] == [
        ("officer-1", None), ("admin-1", None), ("officer-1", 19)
    ]  # fmt: skip
    after = views[2][1]
    assert after["first_at"] <= after["last_at"]
    assert store.verify_audit().seq == len(Role) + 3


def test_a_view_after_the_window_is_a_new_entry(
    sqlite_url: str, seed: list[Alert], live_server: ServeApp
) -> None:
    alert = seed[2].id
    with _api(sqlite_url, seed, 2, live_server) as (store, clients):
        officer = clients[Role.OFFICER]
        officer.get(f"/api/v1/alerts/{alert}")
        officer.get(f"/api/v1/alerts/{alert}")  # a repeat inside the window
        time.sleep(2.3)
        officer.get(f"/api/v1/alerts/{alert}")
        assert [after and after["count"] for _, after in _views(store, alert)] == [None, 1, None]
        deadline = time.monotonic() + 10
        officer.get(f"/api/v1/alerts/{alert}")  # counted in the second window...
        while len(_views(store, alert)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        # ...and written by the API's timer once that window closed, with no further request.
        assert [after and after["count"] for _, after in _views(store, alert)] == [None, 1, None, 1]
