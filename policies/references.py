"""A rule's names checked against what exists: lists, entity types, pattern names, classifier labels
(and, for the latter, the shipped model that scores them). Every problem is a located PolicyError."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from detectors.classifier import ARTEFACT_RESOURCE, ArtefactError, shipped_classifier
from policies.compiler import rule_conditions
from policies.errors import PolicyError, did_you_mean
from policies.names import CLASSIFIER_LABELS, ENTITY_NAMES, PATTERN_TYPES
from policies.schema import Condition, RuleSpec


class Located(Protocol):
    def error(self, path: Sequence[str | int], message: str, hint: str | None = None) -> PolicyError: ...


def walk(path: tuple[str | int, ...], cond: Condition) -> Iterator[tuple[tuple[str | int, ...], Condition]]:
    yield path, cond
    for key, children in (("all", cond.all_), ("any", cond.any_)):
        for i, child in enumerate(children or ()):
            yield from walk((*path, key, i), child)
    if cond.not_ is not None:
        yield from walk((*path, "not"), cond.not_)


def check_names(
    f: Located,
    path: tuple[str | int, ...],
    cond: Condition,
    prefix: str,
    lists: Mapping[str, object],
    errors: list[PolicyError],
) -> None:
    """Every name ``cond`` uses (list, entity, pattern, classifier label) exists, or a located error."""

    def unknown_list(name: str, at: tuple[str | int, ...]) -> None:
        if name not in lists:
            errors.append(
                f.error(at, f"{prefix}unknown list '{name}'", did_you_mean(name, lists, "Lists defined"))
            )

    if cond.lexicon is not None:
        for i, name in enumerate(cond.lexicon.lists):
            unknown_list(name, (*path, "lexicon", "lists", i))
    if cond.near is not None:
        unknown_list(cond.near.a, (*path, "near", "a"))
        if cond.near.b is not None:
            unknown_list(cond.near.b, (*path, "near", "b"))
    entity_paths: list[tuple[tuple[str | int, ...], list[str]]] = []
    if cond.pii is not None:
        entity_paths.append(((*path, "pii", "entities"), cond.pii.entities))
    if cond.near is not None and cond.near.entities is not None:
        entity_paths.append(((*path, "near", "entities"), cond.near.entities))
    for at, entities in entity_paths:
        for i, entity in enumerate(entities):
            if entity not in ENTITY_NAMES:
                errors.append(
                    f.error(
                        (*at, i),
                        f"{prefix}unknown entity type '{entity}'",
                        did_you_mean(entity, ENTITY_NAMES, "Entities known"),
                    )
                )
    if cond.classifier is not None and cond.classifier.label not in CLASSIFIER_LABELS:
        label = cond.classifier.label
        errors.append(
            f.error(
                (*path, "classifier", "label"),
                f"{prefix}unknown classifier label '{label}'",
                did_you_mean(label, CLASSIFIER_LABELS, "Labels known"),
            )
        )
    if cond.pattern is not None:
        for i, name in enumerate(cond.pattern.names):
            if name not in PATTERN_TYPES:
                errors.append(
                    f.error(
                        (*path, "pattern", "names", i),
                        f"{prefix}unknown pattern '{name}'",
                        did_you_mean(name, PATTERN_TYPES, "Patterns known"),
                    )
                )


def classifier_thresholds(rules: Iterable[RuleSpec], errors: list[PolicyError]) -> dict[str, float] | None:
    """The shipped model's thresholds, parsed only when some rule reads a classifier label."""
    used = {
        cond.classifier.label
        for rule in rules
        for cond in rule_conditions(rule)
        if cond.classifier is not None
    }
    if not used:
        return None
    try:
        model = shipped_classifier()
    except (ArtefactError, OSError) as exc:
        errors.append(
            PolicyError(f"detectors/{ARTEFACT_RESOURCE}", None, f"classifier model unusable: {exc}",
                        "rebuild it with `veille models train`")
        )
        return None
    missing = sorted(used - set(model.labels))
    if missing:
        errors.append(
            PolicyError(f"detectors/{ARTEFACT_RESOURCE}", None,
                        f"the classifier model has no label(s) {missing}",
                        "rebuild it with `veille models train` from a corpus with those labels")
        )
    return dict(model.thresholds)
