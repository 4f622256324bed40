"""`veille gdpr ...`: the GDPR paperwork generated from the configuration, and subject requests.

``record`` (art. 30), ``dpia`` (art. 35 facts) and ``notice`` (L1222-4 information notice) read the
packs and settings in force each time (``monitor.gdpr``); ``subject`` answers an access request
(art. 15) and, with ``--erase``, an erasure request (art. 17) on the alert store.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from alerts.anchor import AnchorFileError
from alerts.audit import CLI_ACTOR, Actor
from alerts.lifecycle import LifecycleError
from alerts.model import Alert
from alerts.privacy import author_pseudonym
from alerts.store import SqlAlertStore, StoreError
from alerts.subjects import Regime, decide
from monitor.gdpr import ProcessingFacts, gather_facts, regulatory_minimum
from monitor.gdpr_render import render_dpia, render_notice, render_record
from monitor.settings import Settings
from policies.loader import PolicySet, load_policy_set

gdpr_app = typer.Typer(
    help="GDPR records, DPIA facts and employee notice from the configuration; subject requests.",
    no_args_is_help=True,
)
Json = Annotated[bool, typer.Option("--json", help="the facts as JSON instead of Markdown")]


class Lang(StrEnum):
    FR = "fr"
    EN = "en"


def _facts() -> ProcessingFacts:
    settings = Settings()
    return gather_facts(settings, _policies(settings))


@gdpr_app.command()
def record(as_json: Json = False) -> None:
    """The record of processing activities (GDPR art. 30) of the monitoring as configured."""
    facts = _facts()
    typer.echo(facts.model_dump_json(indent=2) if as_json else render_record(facts))


@gdpr_app.command()
def dpia(as_json: Json = False) -> None:
    """The facts a data protection impact assessment (art. 35) needs: the record, plus what is monitored
    on which channels, sampling, and who can reveal what."""
    facts = _facts()
    typer.echo(facts.model_dump_json(indent=2) if as_json else render_dpia(facts))


@gdpr_app.command()
def notice(lang: Annotated[Lang, typer.Option("--lang", help="fr or en")] = Lang.FR) -> None:
    """The information notice employees receive before monitoring starts (Code du travail L1222-4)."""
    typer.echo(render_notice(_facts(), lang.value))


# --- a data subject's requests ---


def _regime(policies: PolicySet) -> Regime:
    """The regulation whose retention covers an alert's jurisdiction (through its pack: PR → US)."""
    return lambda jurisdiction: regulatory_minimum(policies, jurisdiction)


@gdpr_app.command()
def subject(
    author_id: Annotated[str, typer.Argument(help="the person's author id, as the sources give it")],
    erase: Annotated[bool, typer.Option("--erase", help="anonymise what may be (art. 17)")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="the request, e.g. its reference")] = None,
    by: Annotated[str | None, typer.Option("--by", help="who decided the erasure (audited)")] = None,
    as_json: Json = False,
) -> None:
    """Everything about one person (access, art. 15): alerts and samples, comments, audit entries; with
    --erase, anonymise it where no legal hold or regulatory retention applies (art. 17), audited."""
    if erase and (not reason or not by):
        typer.echo("error: --erase needs --reason (the request and why) and --by (who decided)", err=True)
        raise typer.Exit(2)
    settings = Settings()
    ids = [author_id]
    if settings.pseudonym_key is not None:
        # Reputation alerts store only the pseudonym (alerts.privacy.MINIMISATION).
        ids.append(author_pseudonym(settings.pseudonym_key.get_secret_value().encode(), author_id))
    store = _open_store(settings)
    try:
        found = store.subject_items(ids)
        answer: dict[str, Any] = {
            "author_id": author_id,
            "alerts": [_public(a) for a in found["alerts"]],
            "comments": found["comments"],
            "audit": [e.model_dump(mode="json") for e in found["audit"]],
        }
        if erase:
            assert reason is not None and by is not None
            alerts = found["alerts"]
            held = store.held_alert_ids([a.id for a in alerts])
            decisions = decide(alerts, held, _regime(_policies(settings)), datetime.now(UTC))
            try:
                store.erase_subject(decisions, reason, Actor(name=by, role=CLI_ACTOR.role))
            except LifecycleError as exc:
                typer.echo(f"error: --reason: {exc}", err=True)
                raise typer.Exit(2) from None
            answer["erasure"] = [{"alert_id": d.alert_id, "erased": d.erase, "reason": d.reason}
                                 for d in decisions]
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(answer, indent=2, default=str, ensure_ascii=False))
        return
    typer.echo(f"{len(answer['alerts'])} alerts or samples, {len(answer['comments'])} comments, "
               f"{len(answer['audit'])} audit entries about {author_id}")
    for alert in answer["alerts"]:
        typer.echo(f"  {alert['kind']} {alert['id']} {alert['rule_id']} {alert['jurisdiction']} "
                   f"{alert['status']} {alert['created_at']}")
    for decision in answer.get("erasure", []):
        verb = "erased" if decision["erased"] else "kept"
        typer.echo(f"  {verb} {decision['alert_id']}: {decision['reason']}")


def _public(alert: Alert) -> dict[str, Any]:
    """The copy an access request gets: the alert without raw spans, and whether it is a sample."""
    data = alert.model_dump(mode="json")
    data["evidence"] = [{k: v for k, v in e.items() if k != "span"} for e in data["evidence"]]
    # Samples are alert rows of another kind once sampling lands; every row here is an alert until then.
    data["kind"] = data.get("kind", "alert")
    return data


def _policies(settings: Settings) -> PolicySet:
    from policies.errors import PolicyError

    try:
        return load_policy_set(settings.policies_dir)
    except PolicyError as exc:
        typer.echo(f"error: the packs do not load, fix them first:\n{exc}", err=True)
        raise typer.Exit(2) from None


def _open_store(settings: Settings) -> SqlAlertStore:
    try:
        return SqlAlertStore.open(settings.resolved_database_url, audit=settings.audit_options)
    except (StoreError, AnchorFileError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
