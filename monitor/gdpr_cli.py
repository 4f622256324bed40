"""`veille gdpr ...`: the GDPR paperwork generated from the configuration, and subject requests.

``record`` (art. 30), ``dpia`` (art. 35 facts) and ``notice`` (L1222-4 information notice) read the
packs and settings in force each time (``monitor.gdpr``); ``subject`` answers an access request
(art. 15) and, with ``--erase``, an erasure request (art. 17) on the alert store.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from monitor.gdpr import ProcessingFacts, gather_facts
from monitor.gdpr_render import render_dpia, render_notice, render_record
from monitor.settings import Settings

gdpr_app = typer.Typer(
    help="GDPR records, DPIA facts and employee notice from the configuration; subject requests.",
    no_args_is_help=True,
)
Json = Annotated[bool, typer.Option("--json", help="the facts as JSON instead of Markdown")]


class Lang(StrEnum):
    FR = "fr"
    EN = "en"


def _facts() -> ProcessingFacts:
    from policies.errors import PolicyError
    from policies.loader import load_policy_set

    settings = Settings()
    try:
        policies = load_policy_set(settings.policies_dir)
    except PolicyError as exc:
        typer.echo(f"error: the packs do not load, fix them first:\n{exc}", err=True)
        raise typer.Exit(2) from None
    return gather_facts(settings, policies)


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
