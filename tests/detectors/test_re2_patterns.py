"""Presidio's patterns moved to RE2 find exactly what ``regex`` finds; the others stay on ``regex``."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.catalogue import PATTERN_PII_ENTITIES
from detectors.pii import build_recognizers
from detectors.re2_patterns import Re2Regex, to_re2

FLAGS = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE


def _moved() -> list[tuple[str, str, int, Any]]:
    """(name, regex source, flags, RE2 engine) of every pattern the pii detector runs on RE2."""
    moved = []
    for recognizer in build_recognizers(PATTERN_PII_ENTITIES, ("FR", "GB", "US", "DE")):
        for pattern in getattr(recognizer, "patterns", ()):
            if isinstance(pattern.compiled_regex, Re2Regex):
                moved.append(
                    (
                        f"{recognizer.name}:{pattern.name}",
                        pattern.regex,
                        recognizer.global_regex_flags,
                        pattern.compiled_regex,
                    )
                )
    return moved


MOVED = _moved()


def _corpus() -> list[str]:
    texts = []
    for path in sorted(resources.files("policies").joinpath("corpus").iterdir()):
        if path.name.endswith(".jsonl"):
            texts += [
                json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line
            ]
    return texts


HAND_PICKED = [
    "voir https://intranet.example.com/doc et www.example.org/page?x=1.",
    "lien \"https://a.example.fr/x y\" et 'www2.test.io' puis http://foo.bar.baz.co.uk/p(1)",
    "İNFO.COM ınfo.com ſite.com K.com",  # characters whose case folding differs between engines
    "url\u00a0https://a.com/b\u00a0c and https://a.com/b\u2003c and https://a.com/\u0085x",
    "www١.example.com www12.a.com www1234.a.com",
    "a" * 300 + ".com " + "b." * 200 + "fr",
]

URL_PIECES = [
    "www",
    ".",
    "com",
    "fr",
    "co",
    "uk",
    "info",
    "http",
    "s",
    "://",
    "/",
    "?",
    "=",
    "a",
    "İ",
    "ı",
    "K",
    " ",
    "\u00a0",
    "\n",
    "'",
    '"',
    "-",
    "1",
    "٣",
    "é",
    "(",
    ")",
]


def test_the_url_recognizer_runs_on_re2() -> None:
    assert {name.split(":")[0] for name, *_ in MOVED} >= {"UrlRecognizer"}


@pytest.mark.parametrize(("name", "source", "flags", "engine"), MOVED, ids=[m[0] for m in MOVED])
def test_re2_finds_what_regex_finds(name: str, source: str, flags: int, engine: Re2Regex) -> None:
    reference = regex.compile(source, flags)
    for text in [*_corpus(), *HAND_PICKED]:
        assert [m.span() for m in engine.finditer(text)] == [m.span() for m in reference.finditer(text)], text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(URL_PIECES), max_size=40).map("".join))
def test_re2_finds_what_regex_finds_on_generated_text(text: str) -> None:
    for _, source, flags, engine in MOVED:
        assert [m.span() for m in engine.finditer(text)] == [
            m.span() for m in regex.finditer(source, text, flags)
        ]


@pytest.mark.parametrize(
    "source",
    [
        r"(?<![\w])x",
        r"x(?=y)",
        r"x(?!y)",
        r"(?<=a)x",
        r"\bx\b",
        r"\w+",
        r"(a)\1",
        r"a++",
        r"(?>a)",
        r"(?i:a)b",
        r"[\S]",
        r"\Z",
        r"a$",
    ],
)
def test_what_re2_cannot_do_exactly_stays_on_regex(source: str) -> None:
    assert to_re2(source, re.IGNORECASE) is None


def test_translation() -> None:
    space = r"\t\n\x{b}\x{c}\r \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
    assert to_re2(r"\d{2}\s[^\s]", 0) == rf"\p{{Nd}}{{2}}[{space}][^{space}]"
    assert to_re2(r"(?i)in[a-k]", regex.MULTILINE) == r"(?im)[iI\x{130}]n[a-k\x{130}]"
    assert to_re2(r"[xyz]\u00e9", 0) == r"[xyz]\x{00e9}"
