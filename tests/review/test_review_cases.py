"""Case exports for counsel, over HTTP and at the command line, checked as a recipient would.

What counsel receives must prove itself: each file's SHA-256 in the manifest, the manifest's SHA-256
in the hash-chained audit log. So a changed, added or removed file, or a rewritten manifest, must be
caught by `veille cases verify`, and personal data must stay masked unless an audited reveal with a
justification was made for the export.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from alerts.audit import Actor
from alerts.case_export import MANIFEST
from alerts.model import AlertStatus, Verdict
from alerts.store import SqlAlertStore
from alerts.tokens import Role
from monitor.cli import app as veille
from tests.review.conftest import RAW_EMAIL, SEED

OFFICER = Actor(name="officer-1", role="officer")
PII_ALERTS = [SEED[2].id, SEED[3].id]  # fr.pii.email, eu.pii.phone: both carry RAW_EMAIL as a span


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rezip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return out.getvalue()


def test_export_over_http_is_a_verifiable_masked_zip_for_officers_only(
    live: Callable[..., Any], database_url: str
) -> None:
    app = live(database_url)
    officer = app.client(Role.OFFICER)
    case = officer.post("/api/v1/cases", json={"title": "Matter 2026-17", "owner": "c.dupont"}).json()
    # Added in the reverse of their storage order: control numbers follow storage, not addition.
    added = officer.post(f"/api/v1/cases/{case['id']}/items", json={"alert_ids": PII_ALERTS[::-1]})
    assert added.status_code == 200 and sorted(added.json()["changed"]) == sorted(PII_ALERTS)
    app.store.transition(PII_ALERTS[0], AlertStatus.CLOSED, OFFICER, verdict=Verdict.BENIGN,
                         comment="Customer's own address, shared on purpose.")
    officer.post(f"/api/v1/cases/{case['id']}/notes", json={"body": "Counsel asked for Q1."})

    for role in (Role.COMMS, Role.OPS):
        refused = app.client(role).post(f"/api/v1/cases/{case['id']}/export", json={})
        assert refused.status_code == 403, role
        assert app.client(role).get("/api/v1/cases").status_code == 403

    response = officer.post(f"/api/v1/cases/{case['id']}/export", json={})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    files = _files(response.content)
    digest = hashlib.sha256(files[MANIFEST]).hexdigest()
    assert response.headers["x-veille-manifest-sha256"] == digest

    manifest = json.loads(files[MANIFEST])
    assert manifest["item_count"] == 2 and manifest["evidence"] == "masked"
    assert manifest["control_numbers"] == {"first": "VEILLE-000001", "last": "VEILLE-000002"}
    assert manifest["exporter"] == {"name": "officer-1", "role": "officer"}
    for name, expected in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == expected, name
    assert set(files) == {MANIFEST, *manifest["files"]}

    rows = list(csv.DictReader(io.StringIO(files["loadfile.csv"].decode())))
    assert [r["control_number"] for r in rows] == ["VEILLE-000001", "VEILLE-000002"]
    assert [r["alert_id"] for r in rows] == PII_ALERTS  # SEED[2] was stored before SEED[3]
    assert all(r["kind"] == "alert" for r in rows)
    first = json.loads(files[rows[0]["file"]])
    assert first["control_number"] == "VEILLE-000001" and first["alert"]["status"] == "closed"
    assert [c["body"] for c in first["comments"]] == ["Customer's own address, shared on purpose."]
    assert [e["action"] for e in first["review_history"]] == ["alert.transition", "alert.comment"]
    assert all(e["target"] == f"alert:{PII_ALERTS[0]}" for e in first["audit"])
    # Masked: the raw address is in no file, and no evidence item carries a span.
    assert not any(RAW_EMAIL.encode() in body for body in files.values())
    assert all("span" not in e for e in first["alert"]["evidence"])

    entry = app.store.export_entries(digest, case_id=case["id"])
    assert len(entry) == 1 and entry[0].actor == "officer-1"
    assert entry[0].after is not None and entry[0].after["alert_ids"] == PII_ALERTS
    app.store.verify_audit()


def test_export_reveal_needs_a_justification_and_audits_each_item(
    live: Callable[..., Any], sqlite_url: str
) -> None:
    app = live(sqlite_url)
    officer = app.client(Role.OFFICER)
    case = officer.post("/api/v1/cases", json={"title": "Regulator request", "owner": "c.dupont"}).json()
    officer.post(f"/api/v1/cases/{case['id']}/items", json={"alert_ids": PII_ALERTS})
    short = officer.post(f"/api/v1/cases/{case['id']}/export", json={"reveal_justification": "asked"})
    assert short.status_code == 422 and "justification" in short.json()["detail"]
    assert app.store.export_entries("0" * 64) == []

    why = "FCA information request 2026/044 under FSMA s.165"
    revealed = officer.post(f"/api/v1/cases/{case['id']}/export", json={"reveal_justification": why})
    assert revealed.status_code == 200
    files = _files(revealed.content)
    assert json.loads(files[MANIFEST])["evidence"] == "revealed"
    assert all(RAW_EMAIL.encode() in files[f"items/VEILLE-00000{n}.json"] for n in (1, 2))
    for alert_id in PII_ALERTS:
        entries = app.store.audit_entries(target=f"alert:{alert_id}")
        reveals = [e for e in entries if e.action == "alert.reveal"]
        assert len(reveals) == 1 and reveals[0].after is not None
        assert reveals[0].after["justification"] == why and reveals[0].actor == "officer-1"

    missing = officer.post("/api/v1/cases/0123456789ab/export", json={})
    assert missing.status_code == 404 and "0123456789ab" in missing.json()["detail"]
    unknown = officer.post(f"/api/v1/cases/{case['id']}/items", json={"alert_ids": ["nope"]})
    assert unknown.status_code == 404 and "'nope'" in unknown.json()["detail"]
    extra = officer.post(f"/api/v1/cases/{case['id']}/hold", json={"reason": "x" * 20, "until": "never"})
    assert extra.status_code == 422


@pytest.fixture
def cli_case(live: Callable[..., Any], sqlite_url: str, tmp_path: Path) -> tuple[dict[str, str], str]:
    app = live(sqlite_url)
    case = app.store.create_case("Matter 2026-17", "c.dupont", OFFICER)
    app.store.add_case_items(case.id, PII_ALERTS, OFFICER)
    return {"VEILLE_DATABASE_URL": sqlite_url, "VEILLE_DATA_DIR": str(tmp_path)}, case.id


def test_cli_export_verifies_and_every_kind_of_tampering_is_caught(
    cli_case: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, case_id = cli_case
    runner = CliRunner()
    out = tmp_path / "case.zip"
    made = runner.invoke(veille, ["cases", "export", case_id, "--output", str(out)], env=env)
    assert made.exit_code == 0, made.output
    assert "2 items (VEILLE-000001..VEILLE-000002), evidence masked" in made.output
    ok = runner.invoke(veille, ["cases", "verify", str(out)], env=env)
    assert ok.exit_code == 0, ok.output
    assert "files intact: 3 files match the manifest" in ok.output and "audit chain intact" in ok.output

    again = runner.invoke(veille, ["cases", "export", case_id, "--output", str(out)], env=env)
    assert again.exit_code == 2 and "exists" in again.output

    files = _files(out.read_bytes())
    item = "items/VEILLE-000002.json"
    changed = {**files, item: files[item].replace(b'"high"', b'"low"')}
    assert changed[item] != files[item]
    cases = {
        "altered item": (changed, f"export ALTERED: {item}: SHA-256 differs"),
        "removed item": ({k: v for k, v in files.items() if k != item}, f"{item} is listed in the manifest"),
        "added file": ({**files, "items/VEILLE-000003.json": b"{}"}, "not listed in the manifest"),
    }
    # The manifest rewritten to match the altered item: every file checks, the audit log does not.
    manifest = json.loads(files[MANIFEST])
    manifest["files"][item] = hashlib.sha256(changed[item]).hexdigest()
    rewritten = {**changed, MANIFEST: json.dumps(manifest).encode()}
    cases["rewritten manifest"] = (rewritten, "export NOT RECORDED")
    for what, (content, message) in cases.items():
        path = tmp_path / f"{what}.zip"
        path.write_bytes(_rezip(content))
        result = runner.invoke(veille, ["cases", "verify", str(path)], env=env)
        assert result.exit_code == 1, what
        assert message in result.output, (what, result.output)


def test_cli_reveal_names_the_person_and_hold_commands_report(
    cli_case: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, case_id = cli_case
    runner = CliRunner()
    out = str(tmp_path / "revealed.zip")
    half = runner.invoke(veille, ["cases", "export", case_id, "--output", out, "--reveal"], env=env)
    assert half.exit_code == 2 and "--justification TEXT and --by NAME" in half.output
    full = runner.invoke(
        veille,
        ["cases", "export", case_id, "--output", out, "--reveal", "--justification",
         "SEC subpoena 2026-0117, counsel's request", "--by", "m.martin"],
        env=env,
    )
    assert full.exit_code == 0, full.output
    assert runner.invoke(veille, ["cases", "verify", out], env=env).exit_code == 0

    held = runner.invoke(veille, ["cases", "hold", case_id, "--reason", "Litigation hold 2026-17"], env=env)
    assert held.exit_code == 0 and "legal hold placed on 2 items" in held.output
    shown = runner.invoke(veille, ["cases", "list", "--held"], env=env)
    assert case_id in shown.output and "HELD" in shown.output
    store = SqlAlertStore.open(env["VEILLE_DATABASE_URL"])
    try:
        for alert_id in PII_ALERTS:
            store.transition(alert_id, AlertStatus.CLOSED, OFFICER, verdict=Verdict.BENIGN)
    finally:
        store.close()
    due_now = {**env, "VEILLE_RETENTION_DAYS": '{"*": 0, "FR": 0}'}
    dry = runner.invoke(veille, ["retention", "apply", "--dry-run"], env=due_now)
    assert dry.exit_code == 0, dry.output
    assert f"legal hold: 2 due alerts would be kept (FR: 2; case {case_id}: 2)" in dry.output
    report = json.loads(runner.invoke(veille, ["retention", "apply", "--json"], env=due_now).stdout)
    assert report["total"] == 0 and report["held"] == 2 and report["held_by_case"] == {case_id: 2}
    refused = runner.invoke(veille, ["cases", "remove", case_id, PII_ALERTS[0]], env=env)
    assert refused.exit_code == 1 and "release the hold" in refused.output
    unknown = runner.invoke(veille, ["cases", "show", "nope"], env=env)
    assert unknown.exit_code == 1 and "case 'nope' not found" in unknown.output


def test_case_lifecycle_over_http_with_holds_that_block_removal(
    live: Callable[..., Any], database_url: str
) -> None:
    app = live(database_url)
    officer, admin = app.client(Role.OFFICER), app.client(Role.ADMIN)
    created = officer.post("/api/v1/cases", json={"title": "Matter 2026-17", "owner": "c.dupont"})
    assert created.status_code == 201
    case_id = created.json()["id"]
    officer.post(f"/api/v1/cases/{case_id}/items", json={"alert_ids": PII_ALERTS})
    short = officer.post(f"/api/v1/cases/{case_id}/hold", json={"reason": "legal"})
    assert short.status_code == 422 and "at least 10 characters" in short.json()["detail"]
    held = admin.post(f"/api/v1/cases/{case_id}/hold", json={"reason": "Litigation hold, matter 2026-17"})
    assert held.status_code == 200 and held.json()["held_by"] == "admin-1"
    blocked = officer.delete(f"/api/v1/cases/{case_id}/items/{PII_ALERTS[0]}")
    assert blocked.status_code == 422 and "release the hold" in blocked.json()["detail"]
    closed = officer.patch(f"/api/v1/cases/{case_id}", json={"status": "closed"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert closed.json()["held_at"] is not None  # closing keeps the hold
    assert [c["id"] for c in officer.get("/api/v1/cases", params={"held": True}).json()] == [case_id]
    reason = {"reason": "Matter settled, counsel agreed"}
    released = officer.post(f"/api/v1/cases/{case_id}/release", json=reason)
    assert released.status_code == 200 and released.json()["held_at"] is None
    removed = officer.delete(f"/api/v1/cases/{case_id}/items/{PII_ALERTS[0]}")
    assert removed.status_code == 200 and removed.json() == {"changed": [PII_ALERTS[0]]}
    shown = officer.get(f"/api/v1/cases/{case_id}").json()
    assert [i["alert_id"] for i in shown["items"]] == [PII_ALERTS[1]] and shown["item_count"] == 1
    actors = {(e.action, e.actor) for e in app.store.audit_entries(target=f"case:{case_id}", limit=None)}
    assert ("case.hold", "admin-1") in actors and ("case.release", "officer-1") in actors
    assert ("case.remove_items", "officer-1") in actors and ("case.update", "officer-1") in actors


def test_cli_case_commands_work_a_case_end_to_end(cli_case: tuple[dict[str, str], str]) -> None:
    env, _ = cli_case
    runner = CliRunner()
    create = ["cases", "create", "--title", "Desk chat review", "--owner", "m.martin"]
    made = runner.invoke(veille, create, env=env)
    assert made.exit_code == 0, made.output
    case_id = made.stdout.strip()
    added = runner.invoke(veille, ["cases", "add", case_id, *PII_ALERTS, PII_ALERTS[0]], env=env)
    assert added.exit_code == 0 and "2 added, 0 already in" in added.output
    unknown = runner.invoke(veille, ["cases", "add", case_id, "no-such-alert"], env=env)
    assert unknown.exit_code == 1 and "alert 'no-such-alert' not found" in unknown.output
    assert runner.invoke(veille, ["cases", "note", case_id, "Desk head interviewed."], env=env).exit_code == 0
    assert runner.invoke(veille, ["cases", "close", case_id], env=env).exit_code == 0
    shown = json.loads(runner.invoke(veille, ["cases", "show", case_id, "--json"], env=env).stdout)
    assert shown["status"] == "closed" and shown["owner"] == "m.martin" and shown["item_count"] == 2
    assert [n["body"] for n in shown["notes"]] == ["Desk head interviewed."]
    listed = runner.invoke(veille, ["cases", "list", "--status", "closed"], env=env)
    assert listed.exit_code == 0 and case_id in listed.output and "Desk chat review" in listed.output
