"""Property-based tests: whatever the input, the policy loader and evidence masking keep their promises.

* The loader turns any YAML an organisation drops into its policies directory into a PolicySet or a
  PolicyError whose every problem names a file and a line; never another exception (a crash of `veille
  policies check`, or of a hot reload in a running worker).
* A masked excerpt never contains a character of a personal-data span, and evidence offsets stay
  inside the text, wherever the spans fall and however they overlap.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.evidence import build_evidence, masked_excerpt
from detectors.base import Finding
from policies import PolicyError, PolicySet, load_policy_set
from policies.loader import SHIPPED_DIR

# --- the policy loader ---

_TOP_KEYS = ["pack", "lists", "rules", "disable", "enable", "spikes", "tests", "oops"]
_PACK_KEYS = ["id", "jurisdiction", "overlay", "extends", "covers", "version", "description", "colour"]
_RULE_KEYS = ["id", "title", "description", "severity", "maturity", "sources", "when", "exceptions",
              "references", "remediation", "tags", "tests", "colour"]
_WHEN_KEYS = ["all", "any", "not", "pii", "sentiment", "lexicon", "pattern", "author", "channel", "near",
              "classifier", "bogus"]

_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True)
            | st.text(max_size=20) | st.sampled_from(["global", "eu", "fr", "GLOBAL", "FR", "high", "stable",
                                                    "confidentiality_markers", "EMAIL_ADDRESS", "internal"]))


def _values(keys: list[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        _scalars,
        lambda inner: (st.lists(inner, max_size=4)
                       | st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), inner, max_size=4)),
        max_leaves=12,
    )


_rule = st.dictionaries(st.sampled_from(_RULE_KEYS), _values(_WHEN_KEYS), max_size=8)
_pack_header = st.dictionaries(st.sampled_from(_PACK_KEYS), _scalars | st.lists(_scalars, max_size=3),
                               max_size=5)
_pack_file = st.fixed_dictionaries(
    {"pack": _pack_header},
    optional={
        "rules": st.lists(_rule, max_size=3) | _scalars,
        "lists": st.dictionaries(st.text(max_size=12), _values(["phrases", "extend", "description"]),
                                 max_size=3),
        "disable": _values(_RULE_KEYS), "enable": _values(_RULE_KEYS), "spikes": _values(["k", "min_volume"]),
        "oops": _scalars,
    },
)
# Raw text made of what YAML gives meaning to (syntax errors, anchors, tags, multi-documents) and of
# characters it refuses (NUL, other controls).
_YAML_CHARS = "{}[]:,-#&*!|>'\"%@`?\n\t  abcxyz019.\\" + "\x00\x07\x85\ufeff"
_yaml_text = st.text(alphabet=st.sampled_from(list(_YAML_CHARS)), max_size=200)
_SHIPPED = {path.name for path in SHIPPED_DIR.glob("*.yaml")}


def _load(text: str) -> None:
    with tempfile.TemporaryDirectory(prefix="veille-props-") as tmp:
        path = Path(tmp) / "acme.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            assert isinstance(load_policy_set(tmp), PolicySet)
        except PolicyError as refused:
            for error in refused.errors:
                assert Path(error.file).name in {path.name, *_SHIPPED}, f"unknown file in {error}"
                assert isinstance(error.line, int) and error.line >= 1, f"no line in: {error}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pack_file)
def test_any_pack_shaped_document_loads_or_is_refused_with_file_and_line(document: dict[str, Any]) -> None:
    _load(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_yaml_text)
def test_any_text_loads_or_is_refused_with_file_and_line(text: str) -> None:
    _load(text)


# --- masking ---

_PERSONAL = "0123456789@+"  # personal-data spans are drawn from these characters only
_plain = st.text(st.characters(blacklist_characters=_PERSONAL, blacklist_categories=("Cs",)), max_size=60)
_personal = st.text(st.sampled_from(_PERSONAL), min_size=1, max_size=30)


@st.composite
def _texts_with_findings(draw: st.DrawFn) -> tuple[str, list[Finding], list[Finding]]:
    """A text alternating plain and personal segments, a PII finding on each personal segment (some
    overlapping ones too), and findings of any detector anywhere to build evidence for."""
    text = ""
    sensitive: list[Finding] = []
    for _ in range(draw(st.integers(0, 6))):
        text += draw(_plain)
        segment = draw(_personal)
        start = len(text)
        text += segment
        kind = draw(st.sampled_from(["EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "FR_NIR"]))
        detector = draw(st.sampled_from(["pii", "pattern"]))
        # Sometimes two recognizers report overlapping spans of one segment.
        sensitive.append(Finding(detector, kind, start, start + len(segment), 0.9))
        if len(segment) > 2 and draw(st.booleans()):
            cut = draw(st.integers(1, len(segment) - 1))
            sensitive.append(Finding("pii", "PHONE_NUMBER", start, start + cut, 0.5))
            sensitive.append(Finding("pii", "CREDIT_CARD", start + cut - 1, start + len(segment), 0.5))
    text += draw(_plain)
    spans = st.tuples(st.integers(0, len(text)), st.integers(0, len(text))).map(sorted)
    evidence = [Finding(draw(st.sampled_from(["lexicon", "pattern", "pii", "sentiment"])), "kind", a, b, 0.7)
                for a, b in draw(st.lists(spans, max_size=5))]
    return text, sensitive, evidence


def _leaks(snippet: str) -> set[str]:
    return set(snippet) & set(_PERSONAL)


@settings(max_examples=400, deadline=None)
@given(_texts_with_findings(), st.data())
def test_a_masked_excerpt_never_shows_a_personal_character(case: Any, data: st.DataObject) -> None:
    text, sensitive, _ = case
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    excerpt = masked_excerpt(text, start, end, sensitive)
    assert not _leaks(excerpt), f"{excerpt!r} shows {_leaks(excerpt)}"


@settings(max_examples=400, deadline=None)
@given(_texts_with_findings())
def test_evidence_snippets_are_masked_and_offsets_stay_in_the_text(case: Any) -> None:
    text, sensitive, evidence = case
    for item in build_evidence(text, evidence, [*sensitive, *evidence]):
        assert 0 <= item.start <= item.end <= len(text)
        assert not _leaks(item.snippet), f"{item.snippet!r} shows {_leaks(item.snippet)}"
