"""Secret patterns: each with a leaking example, a near miss, and its structural or entropy check."""

from __future__ import annotations

import base64
import json
import re
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.catalogue import PATTERN_TYPES
from detectors.config import DetectorConfig
from detectors.patterns import (
    SECRET_PATTERNS,
    PatternDetector,
    SpanFinder,
    github_checksum_ok,
    shannon_entropy,
)
from detectors.registry import make_plan

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _github_token(random30: str) -> str:
    number, digits = zlib.crc32(random30.encode()), ""
    while number:
        number, rest = divmod(number, 62)
        digits = _B62[rest] + digits
    return "ghp_" + random30 + digits.rjust(6, "0")


def _jwt() -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    signature = "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': '1234567890', 'name': 'x'})}.{signature}"


GH = _github_token("Zx8Kq2LmN4pR7sT1vW3yB6cD9fG0hJ")
AZURE_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi\n-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("type_", "text", "expected", "min_score"),
    [
        ("AWS_ACCESS_KEY", "key=AKIAIOSFODNN7EXAMPLE done", "AKIAIOSFODNN7EXAMPLE", 0.8),
        (
            "AWS_SECRET_KEY",
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            0.85,
        ),
        (
            "GCP_API_KEY",
            "maps key AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
            "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
            0.85,
        ),
        (
            "GCP_SERVICE_ACCOUNT_KEY",
            '{"type": "service_account", "project_id": "x"}',
            '"type": "service_account"',
            0.9,
        ),
        (
            "AZURE_KEY",
            f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={AZURE_ACCOUNT_KEY};",
            AZURE_ACCOUNT_KEY,
            0.9,
        ),
        ("PRIVATE_KEY", f"oops\n{PEM}\n", PEM, 1.0),
        ("GITHUB_TOKEN", f"token {GH} pushed", GH, 1.0),
        (
            "SLACK_TOKEN",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            0.9,
        ),
        (
            "SLACK_WEBHOOK",
            "https://hooks.slack.com/services/T024BE7LD/B01ABCDEF12/Xk2mP9qR4sT7vW1yZ3bC5dF8",
            "https://hooks.slack.com/services/T024BE7LD/B01ABCDEF12/Xk2mP9qR4sT7vW1yZ3bC5dF8",
            0.95,
        ),
        ("JWT", f"Authorization: Bearer {_jwt()}", _jwt(), 1.0),
        ("PASSWORD_IN_TEXT", "le mot de passe : Soleil2024! pour le wifi", "Soleil2024!", 0.7),
        ("PASSWORD_IN_TEXT", "Password=Tr0ub4dor&3", "Tr0ub4dor&3", 0.7),
        (
            "CONNECTION_STRING",
            "DATABASE_URL=postgresql://app:s3cr3tPw@db.internal:5432/prod",
            "postgresql://app:s3cr3tPw@db.internal:5432/prod",
            0.9,
        ),
        (
            "CONNECTION_STRING",
            "Server=tcp:sql1;Database=crm;User Id=sa;Password=Pa55w0rd!;",
            "Server=tcp:sql1;Database=crm;User Id=sa;Password=Pa55w0rd!",
            0.85,
        ),
    ],
)
def test_secret_found(type_, text, expected, min_score) -> None:
    findings = PatternDetector().scan(text)
    matched = [(f.type, text[f.start : f.end], f.score) for f in findings if f.type == type_]
    assert [value for _, value, _ in matched] == [expected]
    assert matched[0][2] >= min_score


@pytest.mark.parametrize(
    ("type_", "text"),
    [
        ("AWS_ACCESS_KEY", "AKIAXXXXXXXXXXXXXXXX"),  # entropy too low: a placeholder
        ("AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLEX"),  # too long
        ("GITHUB_TOKEN", "ghp_short"),
        (
            "JWT",
            "eyJub3Rqc29uIjoxfQxx.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36",
        ),  # header has no alg
        ("PASSWORD_IN_TEXT", "password: ********"),
        ("PASSWORD_IN_TEXT", "mot de passe: <votre_mdp>"),
        ("PASSWORD_IN_TEXT", "I forgot my password again"),
        ("CONNECTION_STRING", "see https://example.com/path"),
        ("PRIVATE_KEY", "-----BEGIN PUBLIC KEY-----"),
    ],
)
def test_near_misses(type_, text) -> None:
    assert [f for f in PatternDetector().scan(text) if f.type == type_] == []


def test_github_checksum() -> None:
    assert github_checksum_ok(GH)
    assert not github_checksum_ok(GH[:-1] + ("A" if GH[-1] != "A" else "B"))
    # A token with a wrong checksum is still reported, at the pattern's lower score.
    broken = GH[:-1] + ("A" if GH[-1] != "A" else "B")
    assert [f.score for f in PatternDetector().scan(broken)] == [0.85]


def test_entropy() -> None:
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == 2.0


def test_plan_selects_patterns(make_post) -> None:
    post = make_post("AKIAIOSFODNN7EXAMPLE and password: Soleil2024!")
    detector = PatternDetector()
    only_aws = detector.detect([post], make_plan("FR", patterns={"AWS_ACCESS_KEY"}))[0]
    assert [f.type for f in only_aws] == ["AWS_ACCESS_KEY"]
    assert all(f.detector == "pattern" for f in only_aws)
    assert detector.detect([post], make_plan("FR", pii_entities={"EMAIL_ADDRESS"})) == [[]]


def test_every_type_has_a_pattern() -> None:
    assert {p.type for p in SECRET_PATTERNS} == PATTERN_TYPES


def test_allow_list_and_threshold() -> None:
    config = DetectorConfig(
        allow_list=frozenset({"AKIAIOSFODNN7EXAMPLE"}), score_thresholds={"PASSWORD_IN_TEXT": 0.9}
    )
    findings = PatternDetector(config).scan("AKIAIOSFODNN7EXAMPLE password: Soleil2024!")
    assert findings == []


# The private-key block and key=value connection string were regexes that scan quadratically on hostile
# text (tests/faults/test_regex_linear.py); their linear finders must find what those regexes found.
_OLD_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[\s\S]*?-----END (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----)?"
)
_OLD_KEY_VALUE = re.compile(
    r"\b(?:Server|Data Source|Host)=[^;\n]+;(?:[^;\n]+;)*?\s*(?:Password|Pwd)=([^;\s]+)", re.IGNORECASE
)
_PRIVATE_KEY_PIECES = ["-----BEGIN ", "-----END ", "RSA ", "A ", "PRIVATE KEY", " BLOCK", "-----", "x", "\n"]
_KEY_VALUE_PIECES = ["Host=", "host=", "Server=", "Data Source=", "Password=", "pwd=", "Pwd", "a", "é", ";",
                     ";", " ", "\n", "=", "_", "xHost="]


def _finder(name: str) -> SpanFinder:
    return next(pattern.finder for pattern in SECRET_PATTERNS if pattern.name == name)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_PRIVATE_KEY_PIECES), max_size=30).map("".join))
def test_private_key_finder_finds_what_the_regex_found(text: str) -> None:
    expected = [match.span() for match in _OLD_PRIVATE_KEY.finditer(text)]
    assert list(_finder("PrivateKeyBlockPattern").spans(text)) == expected


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_KEY_VALUE_PIECES), max_size=30).map("".join))
def test_key_value_finder_finds_what_the_regex_found(text: str) -> None:
    expected = [match.span() for match in _OLD_KEY_VALUE.finditer(text)]
    assert list(_finder("KeyValueConnectionStringPattern").spans(text)) == expected
