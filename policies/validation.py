"""Pydantic's schema errors on a pack file, rendered as PolicyErrors a policy author can act on.

Each names the file and line, the rule it is in, and how to fix it: the allowed keys for an unknown
key, the expected form for a malformed id or code.
"""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from policies.errors import PolicyError, did_you_mean
from policies.packfile import PackFile
from policies.yamlsrc import line_of


def validation_errors(display: str, raw: Any, exc: ValidationError) -> list[PolicyError]:
    """One located PolicyError per schema violation, each with a fix hint where one is known."""
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # A document that is one bare scalar has no line of its own: it starts the file.
        line = line_of(raw, loc) or 1
        prefix = _rule_prefix(raw, loc)
        kind = err["type"]
        # Name the field only when the error is about the field itself, not something nested in it.
        key = loc[-1] if loc and isinstance(loc[-1], str) and loc[-1] in _FIELD_NAMES else None
        if kind == "extra_forbidden":
            name = str(loc[-1])
            allowed = _allowed_keys(loc[:-1])
            message = f"{prefix}unknown key '{name}'"
            hint = did_you_mean(name, allowed, "Allowed keys") if allowed else "remove it"
            if name in _KEY_HINTS:
                hint = f"{_KEY_HINTS[name]}. Allowed keys: {', '.join(sorted(allowed))}"
        elif kind == "missing":
            message = f"{prefix}missing required key '{loc[-1]}'"
            hint = f"add '{loc[-1]}:'"
        elif kind == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            message = f"{prefix}invalid {key or 'value'} {err.get('input')!r}"
            hint = f"use one of {expected}"
        elif kind == "string_pattern_mismatch":
            message = f"{prefix}invalid {key or 'value'} {err.get('input')!r}"
            hint = _PATTERN_HINTS.get(str(key), f"it must match {err.get('ctx', {}).get('pattern')}")
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            message = f"{prefix}expected a mapping (key: value), got {type(err.get('input')).__name__}"
            hint = (
                "a test post is a text, or a mapping such as {text: ..., source: internal}"
                if "match" in loc or "no_match" in loc
                else "see policies/README.md for the format"
            )
        elif kind == "value_error":
            message = f"{prefix}{key + ': ' if key else ''}{err['msg'].removeprefix('Value error, ')}"
            hint = None
        else:
            message = f"{prefix}{key + ': ' if key else ''}{err['msg'].lower()}"
            hint = None
            if kind.endswith("_type") and key:
                hint = f"check the type of '{key}' (see policies/README.md for the format)"
        out.append(PolicyError(display, line, message, hint))
    return out


_PATTERN_HINTS = {
    "id": "ids are lowercase words and digits joined by hyphens, e.g. acme-confidential-external "
    "(pack ids may also use underscores)",
    "jurisdiction": "use an ISO 3166-1 alpha-2 code in capitals (FR, GB, US), EU or GLOBAL",
    "extends": "use the id of another pack, e.g. eu",
    "overlay": "use the id of the pack to amend, e.g. global",
    "name": "exception names are lower_snake_case",
    "lang": "use an ISO 639-1 code in lowercase, e.g. fr",
    "population": "population names are lower_snake_case, at most 64 characters, e.g. us_reps_external",
}

# Keys people reach for by analogy with the detectors' names, and where they belong instead.
_KEY_HINTS = {
    "ner": "NER entities are a pii predicate: 'pii: {entities: [PERSON]}'",
    "presidio": "Presidio entities are a pii predicate: 'pii: {entities: [EMAIL_ADDRESS]}'",
    "patterns": "use 'pattern: [AWS_ACCESS_KEY, ...]'",
    "source": "sources are a rule key: 'sources: [external]'",
    "sources": "sources are a rule key, not a condition: 'sources: [external]' next to 'when:'",
}


def _rule_prefix(raw: Any, loc: tuple[Any, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "sampling" and isinstance(loc[1], int):
        try:
            name = raw["sampling"][loc[1]].get("population")
        except (AttributeError, IndexError, KeyError, TypeError):
            name = None
        return f"sampling population {name}: " if isinstance(name, str) else f"sampling[{loc[1]}]: "
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        try:
            rule_id = raw["rules"][loc[1]].get("id")
        except (AttributeError, IndexError, KeyError, TypeError):
            rule_id = None
        return f"rule {rule_id}: " if isinstance(rule_id, str) else f"rules[{loc[1]}]: "
    return ""


def _model_fields(model: type[BaseModel]) -> dict[str, Any]:
    return {(info.alias or name): info.annotation for name, info in model.model_fields.items()}


def _collect_field_names() -> frozenset[str]:
    names: set[str] = set()
    stack: list[Any] = [PackFile]
    seen: set[Any] = set()
    while stack:
        tp = stack.pop()
        if tp in seen:
            continue
        seen.add(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            for alias, annotation in _model_fields(tp).items():
                names.add(alias)
                stack.append(annotation)
        else:
            stack.extend(get_args(tp))
    return frozenset(names)


_FIELD_NAMES = _collect_field_names()


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the schema accepts at ``loc``: the fix hint for an unknown key."""
    current: Any = PackFile
    for element in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = _model_fields(current)
            if element in fields:
                current = fields[element]
            continue  # pydantic's own location tags
        origin = get_origin(current)
        if origin is list and isinstance(element, int):
            current = get_args(current)[0]
        elif origin is dict and isinstance(element, str):
            current = get_args(current)[1]
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(_model_fields(current))
    return []


def _unwrap(tp: Any) -> Any:
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp
