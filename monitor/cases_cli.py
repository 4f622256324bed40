"""`veille cases ...`: cases, legal holds and exports for counsel, from the command line.

Acts on the database of the current settings, audited with the actor ``cli`` (or ``--by NAME`` where
a person must be named: an export that reveals personal data).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from alerts.audit import CLI_ACTOR, Actor, ChainBroken
from alerts.case_export import ExportInvalid, verify_export
from alerts.cases import Case, CaseStatus
from alerts.lifecycle import LifecycleError
from alerts.store import SqlAlertStore
from monitor.admin_cli import open_store

cases_app = typer.Typer(
    help="Group alerts and samples into cases, place legal holds, export a case for counsel.",
    no_args_is_help=True,
)

CaseArg = Annotated[str, typer.Argument(help="the case id (`veille cases list`)")]
ItemIds = Annotated[list[str], typer.Argument(help="alert or sample ids")]


def _fail(exc: Exception, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code)


@contextmanager
def _working(*, changes: bool = True) -> Iterator[SqlAlertStore]:
    """The store, closed after; a case rule refused exits 1 with its message."""
    store = open_store(changes=changes)
    try:
        yield store
    except LifecycleError as exc:
        raise _fail(exc) from None
    finally:
        store.close()


def _line(case: Case) -> str:
    hold = f"HELD since {case.held_at.date().isoformat()}" if case.held_at else "no hold"
    items = f"{case.item_count:>5} items"
    return f"{case.id}  {case.status.value:<6} {hold:<22} {items}  {case.owner:<20} {case.title}"


@cases_app.command("list")
def list_cases(
    status: Annotated[CaseStatus | None, typer.Option(help="only open or closed cases")] = None,
    held: Annotated[
        bool | None, typer.Option("--held/--not-held", help="only cases with/without a hold")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Cases, most recently changed first."""
    with _working(changes=False) as store:
        found = store.list_cases(status=status, held=held)
    if as_json:
        listed = [c.model_dump(mode="json", exclude={"items", "notes"}) for c in found]
        typer.echo(json.dumps(listed, indent=2))
        return
    for case in found:
        typer.echo(_line(case))


@cases_app.command("show")
def show(case_id: CaseArg, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A case with its items, notes and hold."""
    with _working(changes=False) as store:
        case = store.get_case(case_id)
    if as_json:
        typer.echo(case.model_dump_json(indent=2))
        return
    typer.echo(_line(case))
    if case.held_at is not None:
        typer.echo(f"legal hold by {case.held_by} at {case.held_at.isoformat()}: {case.hold_reason}")
    for item in case.items:
        typer.echo(f"  item {item.alert_id}  added {item.added_at.isoformat()} by {item.added_by}")
    for note in case.notes:
        typer.echo(f"  note #{note.id} {note.created_at.isoformat()} {note.author}: {note.body}")


@cases_app.command("create")
def create(
    title: Annotated[str, typer.Option(help="the matter, e.g. 'Front-running review Q1'")],
    owner: Annotated[str, typer.Option(help="who runs the case")],
) -> None:
    """Open a case; prints its id."""
    with _working() as store:
        case = store.create_case(title, owner, CLI_ACTOR)
    typer.echo(case.id)


@cases_app.command("add")
def add(case_id: CaseArg, alert_ids: ItemIds) -> None:
    """Add alerts (or samples) to a case."""
    with _working() as store:
        added = store.add_case_items(case_id, alert_ids, CLI_ACTOR)
    typer.echo(f"case {case_id}: {len(added)} added, {len(set(alert_ids)) - len(added)} already in")


@cases_app.command("remove")
def remove(case_id: CaseArg, alert_ids: ItemIds) -> None:
    """Remove items from a case (refused while it is under legal hold)."""
    with _working() as store:
        removed = store.remove_case_items(case_id, alert_ids, CLI_ACTOR)
    typer.echo(f"case {case_id}: {len(removed)} removed")


@cases_app.command("note")
def note(case_id: CaseArg, body: Annotated[str, typer.Argument(help="the note's text")]) -> None:
    """Add a note to a case."""
    with _working() as store:
        added = store.add_case_note(case_id, body, CLI_ACTOR)
    typer.echo(f"case {case_id}: note #{added.id} added")


@cases_app.command("close")
def close(case_id: CaseArg) -> None:
    """Close a case (a legal hold stays until released)."""
    with _working() as store:
        case = store.update_case(case_id, CLI_ACTOR, status=CaseStatus.CLOSED)
    typer.echo(_line(case))


Reason = Annotated[str, typer.Option(help="why (recorded in the audit log), e.g. the matter or request")]


@cases_app.command("hold")
def hold(case_id: CaseArg, reason: Reason) -> None:
    """Place a legal hold: retention keeps every item of the case until it is released."""
    with _working() as store:
        case = store.hold_case(case_id, reason, CLI_ACTOR)
    typer.echo(f"case {case.id}: legal hold placed on {case.item_count} items")


@cases_app.command("release")
def release(case_id: CaseArg, reason: Reason) -> None:
    """Release a legal hold: the items are subject to retention again."""
    with _working() as store:
        case = store.release_case(case_id, reason, CLI_ACTOR)
    typer.echo(f"case {case.id}: legal hold released ({case.item_count} items)")


@cases_app.command("export")
def export(
    case_id: CaseArg,
    output: Annotated[Path, typer.Option(help="the zip to write, e.g. case.zip")],
    reveal: Annotated[
        bool, typer.Option("--reveal", help="include the raw personal-data spans (audited per item)")
    ] = False,
    justification: Annotated[
        str | None, typer.Option(help="why the spans are revealed (with --reveal)")
    ] = None,
    by: Annotated[str | None, typer.Option(help="who reveals: a person's name (with --reveal)")] = None,
) -> None:
    """Write the case as a zip for counsel or a regulator: manifest, CSV load file, one JSON per item.

    The export is an audit entry carrying the manifest's SHA-256: `veille cases verify` proves later
    that the zip was not altered.
    """
    if reveal != (justification is not None) or reveal != (by is not None):
        usage = "--reveal needs --justification TEXT and --by NAME (and they need --reveal)"
        raise _fail(ValueError(usage), 2)
    if output.exists():
        raise _fail(ValueError(f"{output} exists: choose another --output (no export is overwritten)"), 2)
    actor = Actor(name=by, role=CLI_ACTOR.role) if by is not None else CLI_ACTOR
    with _working() as store:
        result = store.export_case(case_id, actor, justification=justification)
    output.write_bytes(result.data)
    numbers = result.manifest["control_numbers"]
    typer.echo(
        f"{output}: {result.manifest['item_count']} items ({numbers['first']}..{numbers['last']}), "
        f"evidence {result.manifest['evidence']}"
    )
    typer.echo(f"manifest sha256: {result.manifest_sha256} (recorded in the audit log)")


@cases_app.command("verify")
def verify(path: Annotated[Path, typer.Argument(help="an export written by `veille cases export`")]) -> None:
    """Check an export: its files against the manifest, the manifest against the audit log.

    Recomputes every file's SHA-256, finds the export's audit entry by the manifest's hash and
    verifies the audit chain; exit 1 naming what does not match.
    """
    try:
        manifest, digest = verify_export(path.read_bytes())
    except OSError as exc:
        raise _fail(exc, 2) from None
    except ExportInvalid as exc:
        typer.echo(f"export ALTERED: {exc}", err=True)
        raise typer.Exit(1) from None
    case_id = (manifest.get("case") or {}).get("id")
    store = open_store(changes=False)
    try:
        entries = store.export_entries(digest, case_id=case_id)
        head = store.verify_audit()
    except ChainBroken as exc:
        typer.echo(f"audit log ALTERED: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    if not entries:
        typer.echo(
            f"export NOT RECORDED: no case.export audit entry of case {case_id} carries manifest "
            f"sha256 {digest}: the manifest was altered, or the zip comes from another database",
            err=True,
        )
        raise typer.Exit(1)
    entry = entries[0]
    typer.echo(f"files intact: {len(manifest['files'])} files match the manifest")
    typer.echo(
        f"manifest sha256 {digest} recorded in audit entry #{entry.seq} ({entry.at.isoformat()}, "
        f"{entry.actor}); audit chain intact ({head.seq} entries)"
    )
