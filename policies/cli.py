"""`veille policies ...`: check, test, explain and list the policy packs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from detectors.base import Detector, Finding
from policies.errors import PolicyError
from policies.loader import PolicySet, load_policy_set

app = typer.Typer(no_args_is_help=True, help="Validate, test, explain and list the policy packs.")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

PoliciesDir = Annotated[
    Path | None,
    typer.Option(
        "--policies-dir",
        help="an organisation's directory of extra packs and overlays",
        envvar="VEILLE_POLICIES_DIR",
    ),
]
Sandbox = Annotated[bool, typer.Option("--sandbox", help="also load sandbox rules")]


def _load(policies_dir: Path | None, sandbox: bool = False) -> PolicySet:
    try:
        return load_policy_set(policies_dir, include_sandbox=sandbox)
    except PolicyError as exc:
        for error in exc.errors:
            err.print(str(error), markup=False)
        err.print(f"{len(exc.errors)} error(s)", style="bold red")
        raise typer.Exit(1) from None


def _build_detectors() -> list[Detector]:
    from detectors.registry import build_detectors

    return list(build_detectors())


@app.command()
def check(policies_dir: PoliciesDir = None, sandbox: Sandbox = False) -> None:
    """Validate every pack (schema, names, inheritance, tests present); exit 1 with file:line errors."""
    policies = _load(policies_dir, sandbox)
    rules = sum(1 for _ in policies.rules())
    out.print(
        f"OK: {len(policies.files)} file(s), {len(policies.plans)} jurisdiction(s) "
        f"({', '.join(policies.jurisdictions)}), {rules} rule(s), version {policies.version}"
    )


@app.command("test")
def test_rules(
    rule: Annotated[list[str] | None, typer.Option("--rule", help="only this rule id (repeatable)")] = None,
    policies_dir: PoliciesDir = None,
    sandbox: Sandbox = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show passing cases too")] = False,
) -> None:
    """Run every rule's match / no_match posts through the real detectors; exit 1 on any failure."""
    from policies.runner import run_personal_tests, run_rule_tests

    policies = _load(policies_dir, sandbox)
    known = {r.id for _, r in policies.rules()}
    unknown = sorted(set(rule or ()) - known)
    if unknown:
        err.print(f"unknown rule id(s): {', '.join(unknown)}", markup=False)
        raise typer.Exit(2)
    results = run_rule_tests(policies, _build_detectors(), rule)
    if not rule:
        # Personal-message markers are tested like rules (pseudo-rule "personal:<pack>").
        results += run_personal_tests(policies)
    failed = [r for r in results if not r.passed]
    table = Table(title=f"policy tests (version {policies.version})")
    table.add_column("rule", no_wrap=True)
    for column in ("case", "jurisdiction", "result", "detail"):
        table.add_column(column, overflow="fold")
    for r in results:
        if r.passed and not verbose:
            continue
        table.add_row(
            r.rule_id,
            r.name,
            r.jurisdiction,
            "[green]pass[/]" if r.passed else "[red]FAIL[/]",
            r.detail if not r.passed else r.detail[:120],
        )
    if table.rows:
        out.print(table)
    rules = len({r.rule_id for r in results})
    summary = f"{len(results) - len(failed)}/{len(results)} cases passed across {rules} rule(s)"
    if failed:
        err.print(f"{summary}; {len(failed)} failed", style="bold red")
        raise typer.Exit(1)
    out.print(summary, style="green")


@app.command()
def explain(
    text: Annotated[str, typer.Argument(help="the post text")],
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", "-j")] = "GLOBAL",
    source: Annotated[str, typer.Option("--source", help="internal or external")] = "external",
    channel: Annotated[str | None, typer.Option("--channel")] = None,
    role: Annotated[str, typer.Option("--role")] = "employee",
    is_employee: Annotated[bool, typer.Option("--employee/--not-employee")] = True,
    lang: Annotated[str | None, typer.Option("--lang")] = None,
    policies_dir: PoliciesDir = None,
    sandbox: Sandbox = False,
) -> None:
    """Which rules match this post and why: clauses, spans, exceptions, skipped detectors."""
    from policies.explain import explain_post
    from policies.runner import make_post

    if source not in ("internal", "external"):
        err.print(f"--source must be internal or external, not {source!r}", markup=False)
        raise typer.Exit(2)
    policies = _load(policies_dir, sandbox)
    post = make_post(
        text,
        jurisdiction=jurisdiction.upper(),
        source=source,
        channel=channel,
        role=role,
        is_employee=is_employee,
        lang=lang,
        post_id="explain",
    )
    result = explain_post(policies, _build_detectors(), post)
    plan = result.plan
    out.print(
        f"jurisdiction {jurisdiction.upper()} → pack {plan.pack} ({plan.jurisdiction}); "
        f"detectors in plan: {', '.join(sorted(plan.detector_plan.detectors)) or 'none'}"
        + (
            f"; skipped (no rule needs them): {', '.join(sorted(result.detectors_skipped))}"
            if result.detectors_skipped
            else ""
        ),
        markup=False,
    )
    for outcome in result.outcomes:
        if outcome.suppressed_by is not None:
            out.print(
                f"\n{outcome.rule_id}: would match, suppressed by exception '{outcome.suppressed_by}'",
                markup=False,
            )
            continue
        mode = " (shadow: incubating, no alert)" if outcome.shadow else ""
        out.print(
            f"\n[bold]{escape(outcome.rule_id)}[/] {escape(f'[{outcome.severity}]')} "
            f"{escape(outcome.title)}{mode}"
        )
        for clause in outcome.clauses:
            out.print(f"  because {clause}", markup=False)
        for f in outcome.findings:
            out.print(f"  {_describe(f, text)}", markup=False)
        if outcome.remediation:
            out.print(f"  remediation: {outcome.remediation}", markup=False)
    if not result.matched:
        out.print("\nno rule matches")
    for name, reason in sorted(plan.disabled.items()):
        out.print(f"(disabled in this pack: {name}: {reason})", markup=False, style="dim")


def _describe(finding: Finding, text: str) -> str:
    """One finding for `explain`: its span, or for a classifier label the phrases that drove it."""
    if finding.detector != "classifier":
        return f"span {finding.start}-{finding.end} {finding.detector}:{finding.type} " + repr(
            text[finding.start : finding.end]
        )
    phrases = ", ".join(
        f"{p['phrase']!r} {p['start']}-{p['end']} +{p['weight']:.2f}"
        for p in finding.extra.get("phrases", ())
    )
    return (
        f"classifier:{finding.type} score {finding.score:.2f}, model threshold "
        f"{finding.extra.get('threshold', 0.0):.2f}; phrases {phrases or '(none)'}"
    )


@app.command("list")
def list_rules(
    jurisdiction: Annotated[str | None, typer.Option("--jurisdiction", "-j")] = None,
    policies_dir: PoliciesDir = None,
    sandbox: Sandbox = False,
) -> None:
    """Rules per jurisdiction, with severity, maturity and the pack that defines them."""
    policies = _load(policies_dir, sandbox)
    plans = [policies.plan_for(jurisdiction)] if jurisdiction else list(policies.plans.values())
    for plan in plans:
        table = Table(
            title=f"{plan.jurisdiction} (pack {plan.pack}): {len(plan.rules)} rule(s), detectors "
            f"{', '.join(sorted(plan.detector_plan.detectors)) or 'none'}"
        )
        table.add_column("rule", no_wrap=True)
        for column in ("severity", "maturity", "sources", "from", "title"):
            table.add_column(column, overflow="fold")
        for rule in plan.rules:
            table.add_row(
                rule.id,
                rule.spec.severity,
                rule.spec.maturity,
                ",".join(rule.spec.sources),
                rule.pack,
                rule.spec.title,
            )
        for rule_id, reason in plan.disabled.items():
            table.add_row(rule_id, "-", "disabled", "-", "-", reason, style="dim")
        out.print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
