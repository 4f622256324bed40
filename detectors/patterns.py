"""Secrets and info-sec patterns: cloud keys, private keys, tokens, passwords, connection strings.

Each pattern is a regex plus, where the secret has one, a structural check (GitHub's CRC32
checksum, a JWT's decodable JSON header) or a Shannon-entropy floor that rejects placeholders
such as ``password: ********`` or ``AKIAXXXXXXXXXXXXXXXX``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from detectors.base import DetectorPlan, Finding, TextRecord
from detectors.config import DetectorConfig
from detectors.normalise import strip_invisible


def shannon_entropy(value: str) -> float:
    """Bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    length = len(value)
    return -sum(count / length * math.log2(count / length) for count in counts.values())


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def github_checksum_ok(token: str) -> bool:
    """GitHub's classic tokens end with the base62 CRC32 of the 30 random characters before it."""
    body = token.split("_", 1)[1]
    return len(body) == 36 and _base62(zlib.crc32(body[:30].encode()), 6) == body[30:]


def _jwt_ok(token: str) -> bool:
    header = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(decoded, dict) and "alg" in decoded


class SpanFinder(Protocol):
    """Where the secrets of one pattern are: the span of the secret in each match, left to right."""

    def spans(self, text: str) -> Iterator[tuple[int, int]]: ...


@dataclass(frozen=True, slots=True)
class Finditer:
    """A regex that cannot backtrack super-linearly; ``group`` is the secret."""

    regex: re.Pattern[str]
    group: int | str = 0

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        for match in self.regex.finditer(text):
            yield match.span(self.group)


@dataclass(frozen=True, slots=True)
class HeaderToFooter:
    """``header(?:[\\s\\S]*?footer)?`` without its quadratic cost.

    As a regex, the lazy scan restarts at every header and runs to the end of the text when no footer
    follows: n headers cost n scans. Here the first failed search for a footer settles it for every
    header after it.
    """

    header: re.Pattern[str]
    footer: re.Pattern[str]

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        position = 0
        no_footer_from = len(text) + 1
        while (match := self.header.search(text, position)) is not None:
            end = match.end()
            if end < no_footer_from:
                footer = self.footer.search(text, end)
                if footer is None:
                    no_footer_from = end
                else:
                    end = footer.end()
            yield match.start(), end
            position = max(end, match.start() + 1)


@dataclass(frozen=True, slots=True)
class Resumable:
    """``regex`` (its whole match is the secret), tried only where ``start`` matches.

    For a regex whose failure at one start proves that every start before the next ``barrier`` fails
    too (they would scan the same text for the same thing): a failed try resumes after that barrier
    instead of at the next start, so that no text is scanned twice. A try that fails before ``head``
    (what every match has right after its start) proves nothing: the next start is tried.
    """

    start: re.Pattern[str]
    regex: re.Pattern[str]
    barrier: re.Pattern[str]
    head: re.Pattern[str]  # what every match has after its start; failing here, a try proves nothing

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        position = 0
        while (start := self.start.search(text, position)) is not None:
            match = self.regex.match(text, start.start())
            if match is not None:
                yield match.span()
                position = max(match.end(), start.start() + 1)
            elif self.head.match(text, start.end()) is None:
                position = start.end()
            else:
                barrier = self.barrier.search(text, start.end())
                position = len(text) if barrier is None else barrier.end()


@dataclass(frozen=True, slots=True)
class SecretPattern:
    type: str
    name: str  # the recognizer name reported in findings
    finder: SpanFinder
    score: float
    min_entropy: float = 0.0
    # None = no opinion; True = confirmed (score 1.0); False = reject.
    check: Callable[[str], bool | None] | None = None
    # A literal that must be in the text for the regex to have a chance: a cheap prefilter.
    needles: tuple[str, ...] = ()


def _gh_check(token: str) -> bool | None:
    # Fine-grained PATs (github_pat_) have no public checksum; classic ones do. An invalid checksum
    # is kept (score unchanged): real tokens pasted with a typo still leak most of the secret.
    if token.startswith("github_pat_"):
        return None
    return True if github_checksum_ok(token) else None


_I = re.IGNORECASE


def _rx(pattern: str, flags: int = 0, group: int = 0) -> Finditer:
    return Finditer(re.compile(pattern, flags), group)


# One part of "Server=...; ...; Password=...": a segment, without ";" or a line break.
_KV_KEY = r"\b(?:Server|Data Source|Host)="
_KV_SEGMENT = r"[^;\n]+;"
SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern("AWS_ACCESS_KEY", "AwsAccessKeyPattern",
                  _rx(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)[A-Z2-7]{16}(?![A-Z0-9])"),
                  0.8, min_entropy=2.5,
                  needles=("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "ANPA")),
    SecretPattern("AWS_SECRET_KEY", "AwsSecretKeyPattern",
                  _rx(r"aws_?secret_?(?:access_?)?key\W{0,5}([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])", _I, 1),
                  0.85, min_entropy=3.5, needles=("secret",)),
    SecretPattern("GCP_API_KEY", "GcpApiKeyPattern",
                  _rx(r"(?<![\w-])AIza[0-9A-Za-z_\-]{35}(?![\w-])"), 0.85, min_entropy=3.0,
                  needles=("AIza",)),
    SecretPattern("GCP_SERVICE_ACCOUNT_KEY", "GcpServiceAccountPattern",
                  _rx(r'"type"\s*:\s*"service_account"'), 0.9, needles=("service_account",)),
    SecretPattern("AZURE_KEY", "AzureStorageKeyPattern",
                  _rx(r"AccountKey=([A-Za-z0-9+/]{86}==)", group=1), 0.9, min_entropy=4.0,
                  needles=("AccountKey=",)),
    SecretPattern("AZURE_KEY", "AzureClientSecretPattern",
                  _rx(r"(?<![\w.~-])[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}(?![\w.~-])"), 0.8,
                  min_entropy=3.5, needles=("Q~",)),
    SecretPattern("AZURE_KEY", "AzureSasSignaturePattern",
                  _rx(r"[?&]sig=([A-Za-z0-9%+/]{40,}(?:%3D|=){0,2})", group=1), 0.75, min_entropy=3.5,
                  needles=("sig=",)),
    SecretPattern("PRIVATE_KEY", "PrivateKeyBlockPattern",
                  HeaderToFooter(re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----"),
                                 re.compile(r"-----END (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----")),
                  1.0, needles=("PRIVATE KEY",)),
    SecretPattern("GITHUB_TOKEN", "GithubTokenPattern",
                  _rx(r"(?<![A-Za-z0-9_])(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}"
                      r"|github_pat_[A-Za-z0-9_]{82})(?![A-Za-z0-9_])"),
                  0.85, min_entropy=3.0, check=_gh_check, needles=("gh", "github_pat_")),
    SecretPattern("SLACK_TOKEN", "SlackTokenPattern",
                  _rx(r"(?<![\w-])xox[abposr]-(?:\d+-)+[A-Za-z0-9]{16,}(?![\w-])"), 0.9,
                  min_entropy=3.0, needles=("xox",)),
    SecretPattern("SLACK_WEBHOOK", "SlackWebhookPattern",
                  _rx(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{20,}"),
                  0.95, needles=("hooks.slack.com",)),
    SecretPattern("JWT", "JwtPattern",
                  _rx(r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}(?![\w-])"),
                  0.85, check=_jwt_ok, needles=("eyJ",)),
    SecretPattern("PASSWORD_IN_TEXT", "PasswordInTextPattern",
                  _rx(r"(?:\b(?:passwords?|passwd|pwd|passcode|mot de passe|mdp)|\bpass)"
                      r"\s*(?:est\s*|is\s*)?[:=]\s*[\"']?([^\s\"',;]{4,})", _I, 1),
                  0.7, min_entropy=1.5,
                  needles=("pass", "pwd", "mot de passe", "mdp", "PASS", "Pass", "Mot de passe", "MDP", "Pwd",
                           "PWD", "Mdp")),
    SecretPattern("CONNECTION_STRING", "UrlConnectionStringPattern",
                  _rx(r"\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?|mssql"
                      r"|sqlserver|oracle|jdbc:[a-z]+)://[^\s:@/]+:([^\s@/]+)@[^\s/]+[^\s]*", _I),
                  0.9, needles=("://",)),
    # Every "Host=" of a failed line would rescan the line to its end (quadratic) and fail the same
    # way: after a failure, the next try starts past the next line break or empty segment.
    SecretPattern("CONNECTION_STRING", "KeyValueConnectionStringPattern",
                  Resumable(start=re.compile(_KV_KEY, _I),
                            regex=re.compile(rf"{_KV_KEY}{_KV_SEGMENT}(?:{_KV_SEGMENT})*?\s*(?:Password|Pwd)=([^;\s]+)",
                                             _I),
                            barrier=re.compile(r"\n|;(?=;)"),
                            head=re.compile(r"[^;\n]")),
                  0.85, needles=("=",)),
)

_PLACEHOLDER = re.compile(r"^(?:x+|\*+|\.+|<[^>]*>|\{[^}]*\}|\$\{?[A-Za-z_]+\}?|%[A-Za-z_]+%|"
                          r"(?:your|my|the)?_?(?:password|secret|pass|mdp)s?)$", _I)


class PatternDetector:
    """Secret patterns; only the ones the plan names run, each behind a substring prefilter."""

    name: ClassVar[str] = "pattern"

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self._config = config
        self._allow = frozenset(item.casefold() for item in config.allow_list) if config else frozenset()
        self._by_plan: dict[frozenset[str], tuple[SecretPattern, ...]] = {}

    def _patterns(self, wanted: frozenset[str]) -> tuple[SecretPattern, ...]:
        patterns = self._by_plan.get(wanted)
        if patterns is None:
            patterns = tuple(pattern for pattern in SECRET_PATTERNS if pattern.type in wanted)
            self._by_plan[wanted] = patterns
        return patterns

    def detect(self, posts: Sequence[TextRecord], plan: DetectorPlan) -> list[list[Finding]]:
        patterns = self._patterns(plan.patterns)
        if not patterns:
            return [[] for _ in posts]
        return [self.scan(post.text, patterns) for post in posts]

    def scan(self, text: str, patterns: Sequence[SecretPattern] = SECRET_PATTERNS) -> list[Finding]:
        """Findings on ``text``; a zero-width character inside a secret does not hide it."""
        visible = strip_invisible(text)
        return visible.original(self._scan(visible.text, patterns))

    def _scan(self, text: str, patterns: Sequence[SecretPattern]) -> list[Finding]:
        found: list[Finding] = []
        for pattern in patterns:
            if pattern.needles and not any(needle in text for needle in pattern.needles):
                continue
            for start, end in pattern.finder.spans(text):
                secret = text[start:end]
                if pattern.type == "PASSWORD_IN_TEXT" and _PLACEHOLDER.match(secret):
                    continue
                if pattern.min_entropy and shannon_entropy(secret) < pattern.min_entropy:
                    continue
                score = pattern.score
                if pattern.check is not None:
                    verdict = pattern.check(secret)
                    if verdict is False:
                        continue
                    if verdict:
                        score = 1.0
                if secret.casefold() in self._allow:
                    continue
                if self._config is not None and score < self._config.threshold(pattern.type):
                    continue
                found.append(Finding("pattern", pattern.type, start, end, score, pattern.name))
        found.sort(key=lambda finding: (finding.start, finding.end))
        return found
