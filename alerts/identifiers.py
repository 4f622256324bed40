"""Identifiers found by a cheap pattern pass over any text, masked by type: the last line of defence
for text shown to a reader who must never see personal data (the comms role).

The detectors flag personal data only where a rule needed them on the post: an e-reputation rule
runs no PII recognizer, so an address in its excerpt was never flagged. This pass does not depend on
them. It masks every e-mail address, ``x@y`` or ``@handle``, phone-like number (7 to 15 digits, ISO
dates spared) and URL with a path, query or fragment, and it over-masks on purpose.

Linear time on any input: the ``@`` scan looks at most a bounded number of characters around each
``@``, and the regular expressions have bounded quantifiers and start only where a run of their
characters starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MAX_LOCAL_PART = 64
MAX_DOMAIN = 253
MAX_HANDLE = 30

_PHONE = re.compile(r"(?<![\w+])(?!\d{4}-\d{2}-\d{2})\+?\d(?:[ .()/-]{0,2}\d){6,14}(?!\d)")
_URL_CHARS = r"[^\s<>\"'()\[\]{}|\\^`]"
# With a scheme or www., or a bare host followed by a path (linkedin.com/in/someone).
_URL = re.compile(
    r"(?<![\w/.@-])(?:[Hh][Tt][Tt][Pp][Ss]?://|[Ww][Ww][Ww]\.|(?:[\w-]{1,63}\.){1,10}[A-Za-z]{2,24}(?=/))"
    + _URL_CHARS
    + "{1,2048}"
)
_ELLIPSIS = "…"
_URL_TRAILING = ".,;:!?*"


def mask_excerpt(excerpt: str) -> str:
    """An excerpt (``…`` where it was cut) with its identifiers masked, then the word next to each cut
    dropped: it may be the rest of a cut address or profile path (``…users/jdoe``), which no pattern
    can recognise. A word of context is the price."""
    masked = mask_identifiers(excerpt)
    if masked.startswith(_ELLIPSIS) and masked[1:2].strip():
        first_space = re.search(r"\s", masked)
        masked = _ELLIPSIS + (masked[first_space.start() :] if first_space else "")
    if len(masked) > 1 and masked.endswith(_ELLIPSIS) and masked[-2:-1].strip():
        last_space = max(masked.rfind(" "), masked.rfind("\n"), masked.rfind("\t"))
        masked = (masked[: last_space + 1] if last_space > 0 else "") + _ELLIPSIS
    return masked


def mask_identifiers(text: str) -> str:
    """``text`` with every identifier replaced by its type label (``[EMAIL_ADDRESS]``...)."""
    spans = sorted((*_urls(text), *_at_signs(text), *_phones(text)))
    if not spans:
        return text
    pieces: list[str] = []
    cursor = 0
    for start, end, label in spans:
        if end <= cursor:
            continue  # inside an identifier already masked
        if start >= cursor:
            pieces.append(text[cursor:start])
            pieces.append(f"[{label}]")
        cursor = max(cursor, end)
    pieces.append(text[cursor:])
    return "".join(pieces)


def _local(char: str) -> bool:
    return char.isalnum() or char in "._%+-'"


def _domain(char: str) -> bool:
    return char.isalnum() or char in ".-_"


def _at_signs(text: str) -> Iterator[tuple[int, int, str]]:
    """E-mail addresses (``local@domain.tld``), and any other ``@name`` (handles, ``user@host``)."""
    at = text.find("@")
    while at != -1:
        start = at
        while start > max(0, at - MAX_LOCAL_PART) and _local(text[start - 1]):
            start -= 1
        end = at + 1
        limit = min(len(text), at + 1 + MAX_DOMAIN)
        while end < limit and _domain(text[end]):
            end += 1
        name = text[at + 1 : end].rstrip(".-")
        if name:
            kind = "EMAIL_ADDRESS" if start < at and "." in name.strip(".") else "HANDLE"
            yield start, at + 1 + len(name), kind
        at = text.find("@", at + 1)


def _phones(text: str) -> Iterator[tuple[int, int, str]]:
    for match in _PHONE.finditer(text):
        yield match.start(), match.end(), "PHONE_NUMBER"


def _urls(text: str) -> Iterator[tuple[int, int, str]]:
    """URLs that point past a site's home page: a path, query or fragment may name a person."""
    for match in _URL.finditer(text):
        url = match.group().rstrip(_URL_TRAILING)
        rest = url.split("://", 1)[-1]
        cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i != -1), default=len(rest))
        if rest[cut:].strip("/"):
            yield match.start(), match.start() + len(url), "URL"
