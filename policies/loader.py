"""Load the shipped packs plus an organisation's directory, check them, and compile one Plan per pack.

Pure and cheap to call again (hot reload): it reads the files, returns a new PolicySet, and shares no
state with the previous one. Every problem found is collected, then raised as one PolicyError.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from detectors.classifier import shipped_artefact_sha256
from policies.compiler import (
    CompiledRule,
    Plan,
    RetentionDefault,
    SpikeThresholds,
    build_plan,
    compile_rule,
)
from policies.errors import PolicyError, did_you_mean
from policies.packfile import PackFile
from policies.personal import PersonalMarkers
from policies.references import check_names, classifier_thresholds, walk
from policies.sampling import Population
from policies.sampling import resolve as resolve_sampling
from policies.schema import RuleSpec
from policies.validation import validation_errors
from policies.yamlsrc import line_of, load_yaml

SHIPPED_DIR = Path(__file__).resolve().parent / "packs"
_REPO_ROOT = SHIPPED_DIR.parent.parent
GLOBAL = "GLOBAL"


@dataclass
class _File:
    path: Path
    display: str
    raw: Any
    spec: PackFile
    shipped: bool
    # The packs Veille ships (not another release's, not an organisation's) must state every purpose.
    purpose_required: bool = False

    def line(self, *path: str | int) -> int | None:
        return line_of(self.raw, path)

    def error(self, path: Sequence[str | int], message: str, hint: str | None = None) -> PolicyError:
        return PolicyError(self.display, line_of(self.raw, path), message, hint)


@dataclass
class _Rule:
    spec: RuleSpec
    file: _File
    index: int

    @property
    def origin(self) -> str:
        return f"{self.file.display}:{self.file.line('rules', self.index)}"


@dataclass
class _Pack:
    """A pack with its overlays, then resolved along its `extends` chain."""

    id: str
    jurisdiction: str
    base: _File
    overlays: list[_File] = field(default_factory=list)
    parent: _Pack | None = None
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    list_origin: dict[str, str] = field(default_factory=dict)
    rules: dict[str, _Rule] = field(default_factory=dict)
    disabled: dict[str, str] = field(default_factory=dict)
    enabled: set[str] = field(default_factory=set)  # sandbox rules switched on here or in a parent
    spikes: SpikeThresholds = field(default_factory=SpikeThresholds)
    retention: RetentionDefault | None = None
    personal: PersonalMarkers = field(default_factory=PersonalMarkers)
    pseudonymise_authors: bool = False
    sampling: tuple[Population, ...] = ()

    @property
    def files(self) -> list[_File]:
        return [self.base, *self.overlays]


@dataclass(frozen=True)
class PolicySet:
    """Every pack, compiled: look a post's jurisdiction up with ``plan_for``."""

    version: str  # sha256 of all loaded files and the classifier model (short): recorded on every alert
    plans: Mapping[str, Plan]  # pack jurisdiction → plan
    covers: Mapping[str, str]  # other code → pack jurisdiction (e.g. DE → EU, UK → GB)
    files: tuple[str, ...] = ()
    extends: Mapping[str, str] = field(default_factory=dict)  # pack id → the pack id it extends
    model_sha256: str = ""  # the classifier artefact the version includes

    def chain(self, plan: Plan) -> tuple[str, ...]:
        """The pack ids ``plan`` inherits from, its own first (fr, eu, global)."""
        chain = [plan.pack]
        while chain[-1] in self.extends:
            chain.append(self.extends[chain[-1]])
        return tuple(chain)

    @property
    def jurisdictions(self) -> tuple[str, ...]:
        return tuple(self.plans)

    def plan_for(self, jurisdiction: str | None) -> Plan:
        """FR → the fr pack; an EU member without its own pack → eu; anything unknown → global."""
        code = (jurisdiction or GLOBAL).upper()
        plan = self.plans.get(code)
        if plan is None:
            plan = self.plans.get(self.covers.get(code, GLOBAL))
        if plan is None:
            plan = self.plans[GLOBAL]
        return plan

    def rules(self) -> Iterator[tuple[Plan, CompiledRule]]:
        """Each rule once, with the plan of the pack that defines it (where its tests run by default)."""
        by_pack = {plan.pack: plan for plan in self.plans.values()}
        seen: set[str] = set()
        for plan in self.plans.values():
            for rule in plan.rules:
                if rule.id not in seen:
                    seen.add(rule.id)
                    yield by_pack.get(rule.pack, plan), rule


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(_REPO_ROOT))
    except ValueError:
        return str(path)


def _pack_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def load_policy_set(
    extra_dir: Path | str | None = None,
    *,
    include_sandbox: bool = False,
    shipped_dir: Path | str | None = None,
) -> PolicySet:
    """Shipped packs plus ``extra_dir`` (an organisation's own packs and overlays). Raises PolicyError.

    ``shipped_dir`` stands in for the shipped packs (a backtest of another release's packs).
    """
    errors: list[PolicyError] = []
    base_dir = SHIPPED_DIR if shipped_dir is None else Path(shipped_dir)
    if not base_dir.is_dir():
        raise PolicyError(
            str(base_dir), None, "packs directory not found", "pass a directory of *.yaml packs"
        )
    paths = [(p, True) for p in _pack_files(base_dir)]
    if extra_dir is not None:
        extra = Path(extra_dir)
        if not extra.is_dir():
            raise PolicyError(
                str(extra),
                None,
                "policies directory not found",
                "pass an existing directory of *.yaml packs or overlays",
            )
        paths += [(p, False) for p in _pack_files(extra)]

    digest = hashlib.sha256()
    files: list[_File] = []
    for path, shipped in paths:
        display = _display(path)
        data = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + data + b"\0")
        try:
            raw = load_yaml(data.decode("utf-8"), display)
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            errors.append(
                PolicyError(display, line, f"not UTF-8 (byte {exc.start})", "save the file as UTF-8")
            )
            continue
        except PolicyError as exc:
            errors.append(exc)
            continue
        if raw is None:
            errors.append(
                PolicyError(display, 1, "empty file", "start with 'pack: {id: ..., jurisdiction: ...}'")
            )
            continue
        try:
            spec = PackFile.model_validate(raw)
        except ValidationError as exc:
            errors.extend(validation_errors(display, raw, exc))
            continue
        files.append(_File(path, display, raw, spec, shipped, shipped and base_dir == SHIPPED_DIR))

    model_sha256 = shipped_artefact_sha256()
    digest.update(b"classifier\0" + model_sha256.encode() + b"\0")
    packs = _assemble(files, errors)
    if not errors:
        for pack in _order(packs, errors):
            _resolve(pack, errors)
    rules = [rule for f in files for rule in f.spec.rules]
    thresholds = classifier_thresholds(rules, errors) if not errors else None
    if errors:
        raise PolicyError.collect(errors)

    plans: dict[str, Plan] = {}
    covers: dict[str, str] = {}
    depth_of: dict[str, int] = {}
    for pack in packs.values():
        compiled = [
            compile_rule(
                rule.spec,
                pack.lists,
                rule.origin,
                rule.file.spec.pack.overlay or rule.file.spec.pack.id,
                thresholds,
            )
            for rule in pack.rules.values()
            if rule.spec.maturity != "sandbox" or include_sandbox or rule.spec.id in pack.enabled
        ]
        plans[pack.jurisdiction] = build_plan(
            pack.jurisdiction, pack.id, compiled, pack.lists, pack.disabled, pack.spikes, thresholds,
            pack.retention,
            personal=pack.personal, pseudonymise_authors=pack.pseudonymise_authors,
            sampling=pack.sampling,
        )
        depth_of[pack.jurisdiction] = _depth(pack)
        for code in pack.base.spec.pack.covers:
            # The most specific pack wins: an organisation's "nordics" pack extending eu takes DK from eu.
            current = covers.get(code)
            if current is None or _depth(pack) > depth_of[current]:
                covers[code] = pack.jurisdiction
    if GLOBAL not in plans:
        raise PolicyError(
            _display(base_dir),
            None,
            "no pack with jurisdiction GLOBAL",
            "restore policies/packs/global.yaml",
        )
    extends = {pack.id: pack.parent.id for pack in packs.values() if pack.parent is not None}
    return PolicySet(
        digest.hexdigest()[:12], plans, covers, tuple(f.display for f in files), extends, model_sha256
    )


def _depth(pack: _Pack) -> int:
    return 0 if pack.parent is None else 1 + _depth(pack.parent)


def _assemble(files: list[_File], errors: list[PolicyError]) -> dict[str, _Pack]:
    packs: dict[str, _Pack] = {}
    jurisdictions: dict[str, _File] = {}
    for f in files:
        header = f.spec.pack
        if header.overlay is not None:
            continue
        assert header.jurisdiction is not None
        if header.id in packs:
            errors.append(
                f.error(
                    ("pack", "id"),
                    f"pack '{header.id}' is already defined in {packs[header.id].base.display}",
                    "to amend a shipped pack, use 'pack: {id: <yours>, overlay: "
                    f"{header.id}}}' instead of redefining it",
                )
            )
            continue
        if header.jurisdiction in jurisdictions:
            errors.append(
                f.error(
                    ("pack", "jurisdiction"),
                    f"jurisdiction {header.jurisdiction} already has "
                    f"a pack ({jurisdictions[header.jurisdiction].display})",
                    "one pack per jurisdiction: use an overlay to amend it",
                )
            )
            continue
        jurisdictions[header.jurisdiction] = f
        packs[header.id] = _Pack(header.id, header.jurisdiction, f)
    for f in files:
        target = f.spec.pack.overlay
        if target is None:
            continue
        if target not in packs:
            errors.append(
                f.error(
                    ("pack", "overlay"),
                    f"overlay of unknown pack '{target}'",
                    did_you_mean(target, packs, "Packs defined"),
                )
            )
            continue
        packs[target].overlays.append(f)
    for pack in packs.values():
        parent = pack.base.spec.pack.extends
        if parent is None:
            continue
        if parent not in packs:
            errors.append(
                pack.base.error(
                    ("pack", "extends"),
                    f"pack '{pack.id}' extends unknown pack '{parent}'",
                    did_you_mean(parent, packs, "Packs defined"),
                )
            )
        else:
            pack.parent = packs[parent]
    return packs


def _order(packs: dict[str, _Pack], errors: list[PolicyError]) -> list[_Pack]:
    """Parents before children; a cycle is an error."""
    ordered: list[_Pack] = []
    state: dict[str, int] = {}

    def visit(pack: _Pack, chain: list[str]) -> None:
        if state.get(pack.id) == 2:
            return
        if state.get(pack.id) == 1:
            cycle = " → ".join([*chain[chain.index(pack.id) :], pack.id])
            errors.append(
                pack.base.error(
                    ("pack", "extends"),
                    f"inheritance cycle: {cycle}",
                    "a pack must not extend itself, directly or not",
                )
            )
            return
        state[pack.id] = 1
        if pack.parent is not None:
            visit(pack.parent, [*chain, pack.id])
        state[pack.id] = 2
        ordered.append(pack)

    for pack in packs.values():
        visit(pack, [])
    return ordered if not errors else []


def _resolve(pack: _Pack, errors: list[PolicyError]) -> None:
    if pack.parent is not None:
        pack.lists = dict(pack.parent.lists)
        pack.list_origin = dict(pack.parent.list_origin)
        pack.rules = dict(pack.parent.rules)
        pack.disabled = dict(pack.parent.disabled)
        pack.enabled = set(pack.parent.enabled)
        pack.spikes = pack.parent.spikes
        pack.retention = pack.parent.retention
        pack.personal = pack.parent.personal.own()
        pack.pseudonymise_authors = pack.parent.pseudonymise_authors
    own: list[_Rule] = []
    for f in pack.files:
        pack.enabled.update(f.spec.enable)
        if f.spec.spikes is not None:
            pack.spikes = pack.spikes.merged(f.spec.spikes.k, f.spec.spikes.min_volume)
        if f.spec.retention is not None:
            origin = f"{f.display}:{f.line('retention')}"
            spec = f.spec.retention
            # An overlay that lengthens a regulatory period still answers to the regulation.
            was_required = pack.retention is not None and pack.retention.required
            required = spec.required if spec.required is not None else was_required
            pack.retention = RetentionDefault(spec.days, spec.source, origin, f.shipped, required)
        if f.spec.personal is not None:
            pack.personal = pack.personal.merged(f.spec.personal, f"{f.display}:{f.line('personal')}")
        if f.spec.pseudonymise_authors is not None:
            pack.pseudonymise_authors = f.spec.pseudonymise_authors
        for name, list_spec in f.spec.lists.items():
            inherited = pack.lists.get(name, ())
            phrases = tuple(list_spec.phrases) if list_spec.phrases is not None else inherited
            if list_spec.extend:
                phrases = tuple(dict.fromkeys((*phrases, *list_spec.extend)))
            pack.lists[name] = phrases
            pack.list_origin.setdefault(name, f"{f.display}:{f.line('lists', name)}")
        for index, rule_spec in enumerate(f.spec.rules):
            if rule_spec.id in pack.rules:
                first = pack.rules[rule_spec.id]
                errors.append(
                    f.error(
                        ("rules", index, "id"),
                        f"rule id '{rule_spec.id}' is already defined at {first.origin}",
                        "rule ids are unique across packs: disable the inherited rule "
                        "('disable: [{id: ..., reason: ...}]') and add yours under a new id",
                    )
                )
                continue
            rule = _Rule(rule_spec, f, index)
            pack.rules[rule_spec.id] = rule
            own.append(rule)
    for f in pack.files:
        for index, disable in enumerate(f.spec.disable):
            if disable.id not in pack.rules:
                errors.append(
                    f.error(
                        ("disable", index, "id"),
                        f"cannot disable unknown rule '{disable.id}'",
                        did_you_mean(disable.id, pack.rules, "Rules defined"),
                    )
                )
                continue
            del pack.rules[disable.id]
            pack.disabled[disable.id] = disable.reason
        for index, rule_id in enumerate(f.spec.enable):
            target = pack.rules.get(rule_id)
            if target is None or target.spec.maturity != "sandbox":
                errors.append(
                    f.error(
                        ("enable", index),
                        f"'{rule_id}' is not a sandbox rule of this pack",
                        "'enable' lists sandbox rules to load; stable and incubating rules are always loaded",
                    )
                )
    for rule in own:
        _check_rule(rule, pack, errors)
    parent_populations = pack.parent.sampling if pack.parent else ()
    pack.sampling = resolve_sampling(parent_populations, _populations(pack, errors))


def _populations(pack: _Pack, errors: list[PolicyError]) -> list[Population]:
    """The populations a pack's own files define (base, then overlays), each name once: two files of
    one pack setting one population's rate would leave the rate to file order."""
    out: dict[str, Population] = {}
    for f in pack.files:
        for index, spec in enumerate(f.spec.sampling):
            origin = f"{f.display}:{f.line('sampling', index)}"
            first = out.get(spec.population)
            if first is not None:
                errors.append(
                    f.error(
                        ("sampling", index, "population"),
                        f"sampling population '{spec.population}' is already defined at {first.origin}",
                        "define each population once per pack: change its rate where it is defined, "
                        "or give this one another name",
                    )
                )
                continue
            out[spec.population] = Population.from_spec(spec, origin)
    return list(out.values())


def _check_rule(rule: _Rule, pack: _Pack, errors: list[PolicyError]) -> None:
    spec, f, base = rule.spec, rule.file, ("rules", rule.index)
    prefix = f"rule {spec.id}: "
    if spec.maturity == "stable":
        if not spec.tests.match or not spec.tests.no_match:
            missing = " and ".join(
                k for k, v in (("match", spec.tests.match), ("no_match", spec.tests.no_match)) if not v
            )
            errors.append(
                f.error(
                    (*base, "tests") if "tests" in f.raw["rules"][rule.index] else (*base, "id"),
                    f"{prefix}a stable rule needs 'match' and 'no_match' tests (missing: {missing})",
                    "add 'tests: {match: [...], no_match: [...]}' with at least one post "
                    "each, or set 'maturity: incubating'",
                )
            )
        if not spec.references:
            errors.append(
                f.error(
                    (*base, "id"),
                    f"{prefix}a stable rule needs 'references'",
                    "cite the regulation, policy or URL the rule encodes",
                )
            )
    if spec.purpose is None and f.purpose_required:
        errors.append(
            f.error(
                (*base, "id"),
                f"{prefix}a shipped rule needs 'purpose' (GDPR art. 5(1)(b): what its alerts are for)",
                "add 'purpose: regulatory_supervision', 'information_security' or 'reputation'",
            )
        )
    conditions = [((*base, "when"), spec.when)] + [
        ((*base, "exceptions", i, "when"), e.when) for i, e in enumerate(spec.exceptions)
    ]
    for path, cond in conditions:
        for sub_path, sub in walk(path, cond):
            check_names(f, sub_path, sub, prefix, pack.lists, errors)
