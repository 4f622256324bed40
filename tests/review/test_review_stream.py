"""The alert stream over live HTTP: it ends once its token is revoked or expired, a token holds a
bounded number of streams, Last-Event-ID resumes exactly after the event, and a burst larger than a
page arrives whole. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from alerts.audit import CLI_ACTOR
from alerts.model import Alert
from alerts.sql import alerts as alert_rows
from alerts.sql.schema import alerts_table
from alerts.tokens import Role

PATH = "/api/v1/alerts/stream"
POLL_SECONDS = 1.0  # api.routes.stream.POLL_SECONDS: a poll, plus the slack of a busy test machine
ONE_POLL = POLL_SECONDS + 1.5


@dataclass
class Event:
    kind: str
    id: str
    data: dict[str, Any]


@dataclass
class Reader:
    """Reads one stream in a thread: its events, whether it started, when and how it ended."""

    events: list[Event] = field(default_factory=list)
    connected: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    ended_at: float | None = None
    status: int | None = None
    error: str | None = None  # the connection broke instead of ending cleanly


def read_stream(url: str, token: str, headers: dict[str, str] | None = None, quiet: float = 30.0) -> Reader:
    """Start reading; the reader stops when the server ends the stream or after ``quiet`` seconds
    without a byte (the server pings every 15 s only)."""
    reader = Reader()

    def run() -> None:
        timeout = httpx.Timeout(10, read=quiet)
        auth = {"Authorization": f"Bearer {token}", **(headers or {})}
        try:
            with httpx.Client(base_url=url, timeout=timeout) as client, client.stream(
                "GET", PATH, headers=auth
            ) as response:
                reader.status = response.status_code
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    reader.connected.set()
                    if line.startswith(":"):
                        continue
                    if line:
                        name, _, value = line.partition(": ")
                        fields[name] = value
                        continue
                    if fields:  # a blank line ends an event (or a comment, which has no fields)
                        reader.events.append(Event(fields["event"], fields["id"], json.loads(fields["data"])))
                    fields = {}
        except httpx.ReadTimeout:
            pass
        except httpx.TransportError as exc:
            reader.error = repr(exc)
        finally:
            reader.ended_at = time.monotonic()
            reader.connected.set()
            reader.ended.set()

    threading.Thread(target=run, daemon=True).start()
    assert reader.connected.wait(10), "the stream did not start"
    return reader


def wait_for(reader: Reader, count: int, timeout: float = 20) -> list[Event]:
    deadline = time.monotonic() + timeout
    while len(reader.events) < count and time.monotonic() < deadline and not reader.ended.is_set():
        time.sleep(0.02)
    assert len(reader.events) >= count, f"got {len(reader.events)} events of {count}"
    return reader.events


def test_a_revoked_token_loses_its_stream_within_one_poll(
    live: Callable[[str], Any], database_url: str, alert_factory: Callable[..., Alert]
) -> None:
    app = live(database_url)
    _, token = app.store.create_token("watcher", Role.OFFICER, CLI_ACTOR)
    reader = read_stream(app.url, token)
    first = alert_factory(20, "fr.pii.email", personal=True)
    app.store.add_many([first])
    assert [e.data["id"] for e in wait_for(reader, 1)] == [first.id]

    app.store.revoke_token("watcher", CLI_ACTOR)
    revoked_at = time.monotonic()
    app.store.add_many([alert_factory(21, "fr.pii.email", personal=True)])  # never sent
    assert reader.ended.wait(ONE_POLL + 1), "the stream outlived its revoked token"
    assert reader.ended_at is not None and reader.ended_at - revoked_at < ONE_POLL
    closed = reader.events[-1]
    assert (closed.kind, closed.data) == (
        "closed", {"detail": "token 'watcher' was revoked; ask an admin for a new one"}
    )
    assert [e.kind for e in reader.events] == ["new", "closed"] and reader.error is None
    # Reconnecting (as a browser's EventSource does) is refused outright.
    retry = read_stream(app.url, token, {"Last-Event-ID": closed.id})
    assert retry.ended.wait(5) and retry.status == 401 and retry.events == []


def test_an_expired_token_loses_its_stream_within_one_poll(
    live: Callable[[str], Any], database_url: str
) -> None:
    app = live(database_url)
    expires_at = datetime.now(UTC) + timedelta(seconds=2)
    _, token = app.store.create_token("brief", Role.COMMS, CLI_ACTOR, expires_at=expires_at)
    reader = read_stream(app.url, token)
    assert not reader.ended.wait(1), "the stream ended before its token expired"
    assert reader.ended.wait(2 + ONE_POLL), "the stream outlived its expired token"
    assert reader.ended_at is not None
    expired = time.monotonic() - (datetime.now(UTC) - expires_at).total_seconds()
    assert reader.ended_at - expired < ONE_POLL
    [closed] = reader.events
    detail = f"token 'brief' expired at {expires_at.isoformat()}"
    assert (closed.kind, closed.data) == ("closed", {"detail": detail}) and reader.error is None


def test_a_token_holds_three_streams_and_the_fourth_is_refused(
    live: Callable[[str], Any], database_url: str
) -> None:
    app = live(database_url)
    officer = app.tokens[Role.OFFICER]
    with ExitStack() as open_streams:
        client = open_streams.enter_context(httpx.Client(base_url=app.url, timeout=10))
        auth = {"Authorization": f"Bearer {officer}"}
        streams = [open_streams.enter_context(client.stream("GET", PATH, headers=auth)) for _ in range(3)]
        assert [s.status_code for s in streams] == [200, 200, 200]

        fourth = client.get(PATH, headers=auth)
        assert fourth.status_code == 429
        assert fourth.json() == {
            "detail": "token 'officer-1' already has 3 alert streams open, the most allowed "
            "(VEILLE_API_STREAMS_PER_TOKEN); close one before opening another"
        }
        # Another token has its own slots.
        admin = open_streams.enter_context(
            client.stream("GET", PATH, headers={"Authorization": f"Bearer {app.tokens[Role.ADMIN]}"})
        )
        assert admin.status_code == 200

        streams[0].close()
        # The server notices the closed connection at its next poll and gives the slot back.
        deadline = time.monotonic() + ONE_POLL + 2
        while (again := _status(client, auth)) == 429 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert again == 200


def _status(client: httpx.Client, headers: dict[str, str]) -> int:
    with client.stream("GET", PATH, headers=headers) as response:
        return response.status_code


def test_last_event_id_resumes_exactly_after_that_event(
    live: Callable[[str], Any], database_url: str, alert_factory: Callable[..., Alert]
) -> None:
    app = live(database_url)
    officer = app.tokens[Role.OFFICER]
    first, second, third = (alert_factory(30 + i, "fr.pii.email", personal=True) for i in range(3))
    reader = read_stream(app.url, officer, quiet=3)
    app.store.add_many([first])
    app.store.add_many([second])
    sent = wait_for(reader, 2)
    assert [(e.kind, e.data["id"]) for e in sent] == [("new", first.id), ("new", second.id)]
    assert reader.ended.wait(10)  # the reader hung up (3 s without a byte)

    # While nobody listens: a new alert, then a change to the first one.
    app.store.add_many([third])
    app.store.assign(first.id, "c.dupont", CLI_ACTOR)

    resumed = read_stream(app.url, officer, {"Last-Event-ID": sent[1].id}, quiet=3)
    assert resumed.ended.wait(15)
    assert [(e.kind, e.data["id"]) for e in resumed.events] == [("new", third.id), ("changed", first.id)]
    assert resumed.events[1].data["assignee"] == "c.dupont"

    earlier = read_stream(app.url, officer, {"Last-Event-ID": sent[0].id}, quiet=3)
    assert earlier.ended.wait(15)
    assert [(e.kind, e.data["id"]) for e in earlier.events] == [
        ("new", second.id), ("new", third.id), ("changed", first.id)
    ]


def test_a_change_committed_behind_the_stream_is_sent_once_and_not_again_on_resume(
    live: Callable[[str], Any], database_url: str, alert_factory: Callable[..., Alert]
) -> None:
    app = live(database_url)
    officer = app.tokens[Role.OFFICER]
    ahead = alert_factory(40, "fr.pii.email", personal=True)
    behind = alert_factory(41, "eu.pii.phone", personal=True)
    reader = read_stream(app.url, officer, quiet=3)
    app.store.add_many([ahead])
    [sent] = wait_for(reader, 1)
    # A writer (another worker) stamped `behind` before `ahead` was stored, and committed after the
    # stream had passed `ahead`: its change appears behind the stream's position.
    c = alerts_table.c
    with app.store.engine.begin() as connection:
        stamp = connection.execute(sa.select(c.changed_at).where(c.id == ahead.id)).scalar_one()
        # Just behind: the stream started a few milliseconds before `ahead`, and sends nothing older.
        alert_rows.add_many(connection, [behind], stamp - timedelta(microseconds=1), None)
    assert reader.ended.wait(15)
    assert [(e.kind, e.data["id"]) for e in reader.events] == [("new", ahead.id), ("new", behind.id)]
    # Its event carries the stream's position, not its own: resuming from it repeats nothing.
    assert reader.events[1].id == sent.id
    resumed = read_stream(app.url, officer, {"Last-Event-ID": reader.events[1].id}, quiet=3)
    assert resumed.ended.wait(15) and resumed.events == []


def test_a_last_event_id_the_stream_did_not_send_is_refused(
    live: Callable[[str], Any], database_url: str
) -> None:
    app = live(database_url)
    client = app.client(Role.OFFICER)
    listing_cursor = "WzEsMTc0MDgxNjAwMDAwMDAwMCwiYWJjIl0"  # a page cursor of GET /alerts
    for bad, reason in (
        ("not base64!", "only url-safe base64 characters (A-Z a-z 0-9 - _) are allowed"),
        (listing_cursor, "unsupported version 1"),
    ):
        response = client.get(PATH, headers={"Last-Event-ID": bad})
        assert response.status_code == 400
        assert response.json() == {
            "detail": f"Last-Event-ID is not valid: {reason}; send back the id of an event this stream "
            "sent, unchanged, or reconnect without it"
        }


def test_a_burst_of_1200_changes_in_one_poll_arrives_whole(
    live: Callable[[str], Any], database_url: str, alert_factory: Callable[..., Alert]
) -> None:
    app = live(database_url)
    reader = read_stream(app.url, app.tokens[Role.OFFICER])
    now = datetime.now(UTC)
    burst = [
        alert_factory(1000 + i, "fr.pii.email", personal=False).model_copy(update={"created_at": now})
        for i in range(1200)
    ]
    app.store.add_many(burst)  # one transaction: 1,200 changes at one instant
    events = wait_for(reader, 1200, timeout=60)
    assert sorted(e.data["id"] for e in events) == sorted(a.id for a in burst)
    assert {e.kind for e in events} == {"new"}
    time.sleep(ONE_POLL)
    assert len(reader.events) == 1200  # and nothing twice
