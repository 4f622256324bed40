"""`veille tokens ...`, `veille audit ...` and `veille retention ...`: API tokens, the audit log and
retention, from the command line.

Both act on the database of the current settings (VEILLE_DATABASE_URL or the SQLite file under
VEILLE_DATA_DIR); changes are audited with the actor ``cli``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from alerts.anchor import AnchorFileError, read_anchors
from alerts.audit import CLI_ACTOR, Anchor, ChainBroken, ChainTruncated, Checkpoint
from alerts.retention import RetentionError, RetentionPolicy, RetentionRule, resolve
from alerts.store import SqlAlertStore, StoreError
from alerts.tokens import Role, TokenError, expiry
from monitor.settings import Settings
from policies.errors import PolicyError
from policies.loader import load_policy_set

tokens_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="Read and verify the hash-chained audit log.", no_args_is_help=True)
retention_app = typer.Typer(
    help="Anonymise or delete closed alerts past their jurisdiction's retention.", no_args_is_help=True
)


def open_store(*, changes: bool = True) -> SqlAlertStore:
    """The store of the current settings; a command that ``changes`` nothing writes no checkpoint
    (a verification must never anchor the very head it is checking)."""
    settings = Settings()
    audit = settings.audit_options if changes else None
    try:
        return SqlAlertStore.open(settings.resolved_database_url, audit=audit)
    except (StoreError, AnchorFileError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@tokens_app.command("create")
def create(
    role: Annotated[Role, typer.Option(help="what the token may do")],
    name: Annotated[str, typer.Option(help="who or what uses it; shown in the audit log")],
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, help="unset: VEILLE_TOKEN_EXPIRY_DAYS (90 by default)")
    ] = None,
    no_expiry: Annotated[
        bool,
        typer.Option("--no-expiry", help="never expires (service accounts); recorded in the audit log"),
    ] = False,
) -> None:
    """Create a token and print it once: only its SHA-256 is stored."""
    if no_expiry and expires_in_days is not None:
        typer.echo("error: --no-expiry and --expires-in-days exclude each other; pick one", err=True)
        raise typer.Exit(2)
    days = 0 if no_expiry else expires_in_days or Settings().token_expiry_days
    store = open_store()
    try:
        record, token = store.create_token(name, role, CLI_ACTOR, expires_at=expiry(days))
    except TokenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(token)
    until = f"until {record.expires_at.isoformat()}" if record.expires_at else "without expiry"
    typer.echo(
        f"token {record.id} ({record.name}, role {record.role.value}) is valid {until}; "
        "store it now: it cannot be shown again",
        err=True,
    )


@tokens_app.command("list")
def list_tokens(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every token (never the secret), with its state."""
    store = open_store(changes=False)
    try:
        records = store.list_tokens()
    finally:
        store.close()
    now = datetime.now(UTC)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
        return
    for r in records:
        state = "revoked" if r.revoked_at else ("expired" if not r.usable(now) else "active")
        expires = r.expires_at.isoformat() if r.expires_at else "never"
        typer.echo(f"{r.id}  {r.name:<30} {r.role.value:<9} {state:<8} expires {expires}")


@tokens_app.command("revoke")
def revoke(name_or_id: Annotated[str, typer.Argument(help="the token's name or id")]) -> None:
    """Revoke a token at once: the API refuses it from the next request on."""
    store = open_store()
    try:
        record = store.revoke_token(name_or_id, CLI_ACTOR)
    except TokenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"token {record.id} ({record.name}) revoked")


# The look-behind makes a match start only where a digit run starts: linear on any input.
_HEAD = re.compile(r"(?<![0-9])(?P<seq>[0-9]+):(?P<hash>[0-9a-f]{64})")


def _expected_head(value: str) -> Checkpoint:
    match = _HEAD.fullmatch(value.strip().lower())
    if match is None or int(match["seq"]) < 1:
        raise typer.BadParameter(
            "expected SEQ:HASH as printed by `veille audit head`, e.g. 42:3f9c…(64 hex digits)"
        )
    return Checkpoint(seq=int(match["seq"]), hash=match["hash"])


@audit_app.command("head")
def head() -> None:
    """Print the newest entry as SEQ:HASH: record it outside the database (a ticket, a safe) and give
    it back to `veille audit verify --expect-head` to prove no entry was deleted since."""
    store = open_store(changes=False)
    try:
        current = store.audit_head()
    finally:
        store.close()
    typer.echo(str(current))
    typer.echo(f"audit log head: entry #{current.seq} (read {datetime.now(UTC).isoformat()})", err=True)


@audit_app.command("verify")
def verify(
    expect_head: Annotated[
        list[str] | None,
        typer.Option(help="SEQ:HASH from `veille audit head`: the log must still reach it; repeatable"),
    ] = None,
    anchor_file: Annotated[
        Path | None,
        typer.Option(help="checkpoints to check the log against (default: VEILLE_AUDIT_ANCHOR_FILE)"),
    ] = None,
) -> None:
    """Recompute the hash chain and check it against the recorded heads; print the verified head.

    Exit 1 naming the first altered entry, or the entries missing when the log is shorter than, or
    differs from, a checkpoint; exit 2 when a checkpoint cannot be read.
    """
    expected = [Anchor(_expected_head(value), "--expect-head") for value in expect_head or ()]
    anchored: list[Anchor] = []
    path = anchor_file or Settings().audit_anchor_file
    if path is not None:
        if anchor_file is None and not path.exists():
            typer.echo(f"note: VEILLE_AUDIT_ANCHOR_FILE {path} does not exist yet: no checkpoint", err=True)
        else:
            try:
                anchored = read_anchors(path)
            except AnchorFileError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
    store = open_store(changes=False)
    try:
        verified = store.verify_audit([*expected, *anchored])
    except ChainBroken as exc:
        kind = "TRUNCATED" if isinstance(exc, ChainTruncated) else "ALTERED"
        typer.echo(f"audit log {kind}: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"audit log intact: {verified.seq} entries verified")
    typer.echo(f"head: {verified}")
    if expected:
        typer.echo(f"expected heads: {len(expected)} matched")
    if path is not None and anchored:
        typer.echo(f"checkpoints: {len(anchored)} matched (anchor file {path})")


@audit_app.command("list")
def list_entries(
    target: Annotated[str | None, typer.Option(help="e.g. alert:<id> or token:<id>")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """Audit entries as JSON lines, oldest first."""
    store = open_store(changes=False)
    try:
        entries = store.audit_entries(target=target, limit=limit)
    finally:
        store.close()
    for entry in entries:
        typer.echo(entry.model_dump_json())


def _retention(settings: Settings) -> tuple[RetentionPolicy, list[RetentionRule]]:
    """The packs' periods (and the organisation's overlays), VEILLE_RETENTION_DAYS winning when set;
    exit 2 naming the file and line of a bad pack, or the bad setting."""
    try:
        policies = load_policy_set(settings.policies_dir)
    except PolicyError as exc:
        for error in exc.errors:
            typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        return resolve(policies, settings.retention_overrides, settings.retention_mode)
    except RetentionError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@retention_app.command("policy")
def retention_policy(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Each jurisdiction's retention: days after closing, mode, the rule behind it, and what overrode
    the pack's default (an overlay, VEILLE_RETENTION_DAYS)."""
    _, rules = _retention(Settings())
    if as_json:
        typer.echo(json.dumps([rule.model_dump() for rule in rules], indent=2))
        return
    typer.echo(f"{'jurisdiction':<12} {'days':>6}  {'mode':<9} {'overridden by':<40} source")
    for rule in rules:
        days = str(rule.days) if rule.days is not None else "keep"
        where = rule.overridden_by or "-"
        covers = f" (also {', '.join(rule.covers)})" if rule.covers else ""
        typer.echo(f"{rule.jurisdiction:<12} {days:>6}  {rule.mode:<9} {where:<40} {rule.source}{covers}")


@retention_app.command("apply")
def apply_retention(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what is due, change nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Apply the retention policy (`veille retention policy`) now and say what was done and what a
    legal hold kept (audited)."""
    policy, _ = _retention(Settings())
    store = open_store()
    try:
        report = store.apply_retention(policy, CLI_ACTOR, dry_run=dry_run)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps({**report.model_dump(), "total": report.total, "held": report.held}))
    else:
        typer.echo(report.summary())
