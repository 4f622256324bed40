"""What every reader shares: the run's context, what a reader yields, ids, timestamps and JSON inputs.

A reader never raises on a bad record: it yields ``Skipped`` with a reference (file, index, platform
id; never the record's content), so that one malformed message costs that message only and the rest of
the export still goes through.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from monitor.ingest.people import Directory
from policies.post import Author, Post, Source, summarise_validation_error

ID_MAX_CHARS = 256  # Post.id's limit in the contract


class SkipReason(StrEnum):
    """Why a record read was not produced: the manifest's and the metrics' bounded reasons."""

    SYSTEM_MESSAGE = "system_message"
    DELETED = "deleted"
    EMPTY = "empty"
    DUPLICATE = "duplicate"
    MALFORMED = "malformed"


SKIP_REASONS = tuple(reason.value for reason in SkipReason)


@dataclass(frozen=True)
class Skipped:
    """A record left out. ``ref`` says where it is, ``detail`` what was wrong (field paths, parse
    errors); neither ever holds the record's text or personal data."""

    ref: str
    reason: SkipReason
    detail: str = ""


Item = Post | Skipped


class BadRecord(ValueError):
    """A record that does not follow its platform's format; the message names what is wrong."""


@dataclass(frozen=True)
class Context:
    """What the command line says about every post of a run."""

    source: Source
    channel: str
    jurisdiction: str | None = None
    people: Directory = field(default_factory=Directory)

    def post(self, ref: str, *, id: str, author: Author, text: str, created_at: datetime,
             lang: Any = None, url: str | None = None, **metadata: Any) -> Item:
        """The Post, or empty. ``metadata`` keys with no value are dropped (``thread_id=None``)."""
        if not text.strip():
            return Skipped(ref, SkipReason.EMPTY)
        kept = {key: value for key, value in metadata.items() if value not in (None, "", [], {})}
        return Post(id=id, source=self.source, channel=self.channel, author=author, text=text,
                    lang=language(lang), jurisdiction=self.jurisdiction, created_at=created_at,
                    url=url or None, metadata=kept)


Reader = Callable[[Path, Context], Iterator[Item]]


def platform_id(platform: str, *parts: str) -> str:
    """``platform:part:...``, stable across runs so that re-ingesting never duplicates an alert. An id
    longer than the contract allows becomes the hash of itself: still stable, still prefixed."""
    value = ":".join((platform, *parts))
    if len(value) <= ID_MAX_CHARS:
        return value
    return f"{platform}:sha256:{hashlib.sha256(value.encode()).hexdigest()}"


def parse_time(value: Any) -> datetime:
    """ISO 8601 / RFC 3339 (APIs, Atom), RFC 822 (RSS) or Unix seconds (Slack ``ts``); always aware."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str) or not value.strip():
        raise BadRecord("timestamp missing")
    text = value.strip()
    try:
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return datetime.fromtimestamp(float(text), UTC)
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise BadRecord(f"unreadable timestamp {text[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def optional_time(value: Any) -> str | None:
    """A timestamp kept in metadata (``edited_at``), ISO 8601; None when the record has none."""
    return parse_time(value).isoformat() if value else None


def language(tag: Any) -> str | None:
    """ISO 639-1 from a language tag ('en', 'en-US', 'fr_FR'); None for 'und', 'zxx' and the like."""
    if not isinstance(tag, str):
        return None
    primary = re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]
    return primary if re.fullmatch(r"[a-z]{2}", primary) else None


def text_of(value: Any) -> str:
    """A field that should hold text: anything else (missing, null, a number) reads as empty."""
    return value if isinstance(value, str) else ""


def object_of(value: Any) -> dict[str, Any]:
    """A field that should hold a JSON object: anything else reads as an empty one."""
    return value if isinstance(value, dict) else {}


def decode_json(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise BadRecord(f"byte {exc.start} is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise BadRecord(f"not valid JSON ({exc.msg}: line {exc.lineno} column {exc.colno})") from None


@dataclass(frozen=True)
class Document:
    ref: str
    value: Any


def json_documents(path: Path) -> Iterator[Document | Skipped]:
    """Every JSON document of a file or of a directory's ``*.json`` / ``*.jsonl`` files (sorted, so
    that pages come in order); a ``.jsonl`` file holds one document per line."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in {".json", ".jsonl"})
        root = path
    else:
        files, root = [path], path.parent
    for file in files:
        name = file.relative_to(root).as_posix()
        try:
            data = file.read_bytes()
        except OSError as exc:
            yield Skipped(name, SkipReason.MALFORMED, f"cannot read ({exc.strerror})")
            continue
        pieces = ([(f"{name}:{number}", line) for number, line in enumerate(data.splitlines(), start=1)
                   if line.strip()] if file.suffix == ".jsonl" else [(name, data)])
        for ref, piece in pieces:
            try:
                yield Document(ref, decode_json(piece))
            except BadRecord as exc:
                yield Skipped(ref, SkipReason.MALFORMED, str(exc))


def read_documents(path: Path, items: Callable[[Document], Iterator[Item]]) -> Iterator[Item]:
    """``items`` of every JSON document of ``path``; a document that is not JSON is malformed."""
    for document in json_documents(path):
        if isinstance(document, Skipped):
            yield document
        else:
            yield from items(document)


def malformed(ref: str, detail: str) -> Skipped:
    return Skipped(ref, SkipReason.MALFORMED, detail)


def record_item(ref: str, build: Callable[..., Item], *args: Any) -> Item:
    """``build(ref, *args)``, or the record as malformed when it breaks its platform's format or the
    post contract (a 300-character author id, a text over the limit)."""
    try:
        return build(ref, *args)
    except BadRecord as exc:
        return malformed(ref, str(exc))
    except ValidationError as exc:
        return malformed(ref, summarise_validation_error(exc))


def redact_url(url: str) -> str:
    """``url`` without user info, query or fragment: what identifies a source, never its credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
