"""Deleting the newest audit entries is caught: checkpoints of the chain's head kept outside the
database (the anchor file, or a head an operator recorded) must still be reached by the log.

Real SQLite and PostgreSQL, the real CLI, and a live API for the checkpoints it writes on its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from typer.testing import CliRunner

from alerts.audit import CLI_ACTOR
from alerts.model import Alert
from alerts.store import AuditOptions, SqlAlertStore
from alerts.tokens import Role
from api.app import create_app
from monitor.cli import app as veille
from monitor.settings import Settings

ServeApp = Callable[[FastAPI], AbstractContextManager[str]]


def _veille(url: str, *args: str, **env: str) -> Any:
    return CliRunner().invoke(veille, list(args), env={"VEILLE_DATABASE_URL": url, **env})


def _changes(store: SqlAlertStore, count: int, prefix: str = "t") -> None:
    """``count`` audited changes of one entry each."""
    for i in range(count):
        store.create_token(f"{prefix}-{i}", Role.OFFICER, CLI_ACTOR)


def _anchored_seqs(path: Path) -> list[int]:
    return [json.loads(line)["seq"] for line in path.read_text().splitlines()]


def test_deleting_the_newest_entries_is_caught_by_the_anchor_file(
    database_url: str, tmp_path: Path, sql: Callable[[str, str], None]
) -> None:
    anchor = tmp_path / "elsewhere" / "audit-anchor.jsonl"
    options = AuditOptions(anchor_file=anchor, anchor_every_entries=3, anchor_every_seconds=3600)
    store = SqlAlertStore.open(database_url, audit=options)
    _changes(store, 7)
    store.close()  # a process that stops anchors its last head as well
    assert _anchored_seqs(anchor) == [3, 6, 7]

    intact = _veille(database_url, "audit", "verify", "--anchor-file", str(anchor))
    assert intact.exit_code == 0, intact.stderr
    assert intact.stdout.splitlines()[0] == "audit log intact: 7 entries verified"
    assert f"checkpoints: 3 matched (anchor file {anchor})" in intact.stdout

    # Someone with database access removes the two newest entries: the rest still chains perfectly.
    sql(database_url, "delete from audit_log where seq >= 6")
    assert _veille(database_url, "audit", "verify").exit_code == 0  # the chain alone cannot tell
    truncated = _veille(database_url, "audit", "verify", "--anchor-file", str(anchor))
    assert truncated.exit_code == 1
    assert truncated.stderr.startswith(
        f"audit log TRUNCATED: audit entry #6: missing: the log ends at entry #5 but anchor file {anchor} "
        "line 3 recorded entry #7 (hash "
    )
    assert "entries #6 to #7 were deleted" in truncated.stderr
    # The setting names the same file when no option is given.
    by_setting = _veille(database_url, "audit", "verify", VEILLE_AUDIT_ANCHOR_FILE=str(anchor))
    assert by_setting.exit_code == 1 and "TRUNCATED" in by_setting.stderr

    # Writing new entries over the gap does not hide it: the new #6 is not the one anchored.
    refill = SqlAlertStore.open(database_url)
    _changes(refill, 2, prefix="cover")
    refill.close()
    rewritten = _veille(database_url, "audit", "verify", "--anchor-file", str(anchor))
    assert rewritten.exit_code == 1
    assert rewritten.stderr.startswith(
        f"audit log ALTERED: audit entry #6: does not match the checkpoint: anchor file {anchor} line 2 "
        "recorded entry #6"
    )


def test_deleting_the_newest_entries_is_caught_by_an_expected_head(
    database_url: str, sql: Callable[[str, str], None]
) -> None:
    store = SqlAlertStore.open(database_url)
    _changes(store, 5)
    store.close()
    head = _veille(database_url, "audit", "head")
    assert head.exit_code == 0
    recorded = head.stdout.strip()  # what an operator copies into a ticket
    seq, digest = recorded.split(":")
    assert seq == "5" and len(digest) == 64

    intact = _veille(database_url, "audit", "verify", "--expect-head", recorded)
    assert intact.exit_code == 0
    assert intact.stdout.splitlines() == [
        "audit log intact: 5 entries verified", f"head: {recorded}", "expected heads: 1 matched"
    ]

    sql(database_url, "delete from audit_log where seq = 5")
    truncated = _veille(database_url, "audit", "verify", "--expect-head", recorded)
    assert truncated.exit_code == 1
    assert truncated.stderr.strip() == (
        "audit log TRUNCATED: audit entry #5: missing: the log ends at entry #4 but --expect-head "
        f"recorded entry #5 (hash {digest[:16]}…); entry #5 was deleted"
    )


def test_unreadable_checkpoints_are_refused_with_a_fix(sqlite_url: str, tmp_path: Path) -> None:
    store = SqlAlertStore.open(sqlite_url)
    _changes(store, 1)
    store.close()
    bad_head = _veille(sqlite_url, "audit", "verify", "--expect-head", "7:not-a-hash")
    assert bad_head.exit_code == 2
    assert "expected SEQ:HASH as printed by `veille audit head`" in bad_head.stderr
    anchor = tmp_path / "anchor.jsonl"
    anchor.write_text('{"seq": 1, "hash": "' + "a" * 64 + '", "at": null}\n{"seq": "two"}\n')
    bad_file = _veille(sqlite_url, "audit", "verify", "--anchor-file", str(anchor))
    assert bad_file.exit_code == 2
    assert f"anchor file {anchor} line 2 is not a checkpoint (seq: " in bad_file.stderr
    assert "restore the line from a copy of the file" in bad_file.stderr


def _serve_anchored(
    url: str, anchor: Path, every_seconds: float, live_server: ServeApp
) -> tuple[SqlAlertStore, Callable[[], AbstractContextManager[str]]]:
    """A store and, to enter, a live API anchoring to ``anchor`` every ``every_seconds`` (never by count)."""
    settings = Settings(
        _env_file=None, audit_anchor_file=anchor, audit_anchor_every_entries=1000,
        audit_anchor_every_seconds=every_seconds,
    )  # fmt: skip
    store = SqlAlertStore.open(url, audit=settings.audit_options)
    return store, lambda: live_server(create_app(settings, store))


def test_the_api_anchors_a_quiet_head_on_a_timer_and_its_last_head_when_it_stops(
    sqlite_url: str,
    tmp_path: Path,
    seed: list[Alert],
    live_server: ServeApp,
) -> None:
    anchor = tmp_path / "audit-anchor.jsonl"
    store, serving = _serve_anchored(sqlite_url, anchor, 0.5, live_server)
    try:
        store.add_many(seed)
        store.create_token("officer-1", Role.OFFICER, CLI_ACTOR)  # entry #1, then nothing happens
        with serving():
            deadline = time.monotonic() + 10
            while not anchor.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _anchored_seqs(anchor) == [1]
    finally:
        store.close()

    store, serving = _serve_anchored(sqlite_url, anchor, 3600, live_server)
    try:
        token = store.create_token("officer-2", Role.OFFICER, CLI_ACTOR)[1]
        with serving() as url:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
                posted = client.post(f"/api/v1/alerts/{seed[2].id}/comments", json={"body": "note"})
                assert posted.status_code == 201
            assert _anchored_seqs(anchor) == [1]  # neither 1000 entries nor an hour yet
        assert _anchored_seqs(anchor) == [1, 3]  # the API stopped: its last head is anchored
        assert store.verify_audit().seq == 3
    finally:
        store.close()
