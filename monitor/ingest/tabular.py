"""Any CSV export, with a column mapping: ``--map id=Message ID,text=Body,author=Sender,...``.

Fields: ``id``, ``text`` and ``author`` are required; ``created_at`` (ISO 8601, RFC 822 or Unix
seconds), ``author_name``, ``handle``, ``email`` (only decides the employee flag), ``lang``, ``url``,
``thread_id`` and ``reply_to`` are optional. Post ids, thread and reply ids are prefixed by the channel
(``--channel``, ``csv`` by default): ``linkedin:8812``. A row without a ``created_at`` column mapped
gets the ingest time, so map it whenever the export has one (the manifest's hash depends on it).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from monitor.ingest.base import BadRecord, Context, Item, malformed, parse_time, platform_id, record_item

REQUIRED_FIELDS = ("id", "text", "author")
OPTIONAL_FIELDS = ("created_at", "author_name", "handle", "email", "lang", "url", "thread_id", "reply_to")


class MappingError(ValueError):
    """The --map option cannot be used; the message says how to write it."""


def parse_mapping(spec: str) -> dict[str, str]:
    """``field=column,...`` to {field: column}; column names may contain spaces, not commas."""
    mapping: dict[str, str] = {}
    for part in (piece for piece in spec.split(",") if piece.strip()):
        field, sep, column = part.partition("=")
        field = field.strip()
        if not sep or not column.strip():
            raise MappingError(f"--map: {part.strip()!r} is not FIELD=COLUMN")
        if field not in REQUIRED_FIELDS + OPTIONAL_FIELDS:
            raise MappingError(f"--map: unknown field {field!r}; fields are "
                               f"{', '.join(REQUIRED_FIELDS + OPTIONAL_FIELDS)}")
        mapping[field] = column.strip()
    missing = [field for field in REQUIRED_FIELDS if field not in mapping]
    if missing:
        raise MappingError(f"--map must name a column for {', '.join(missing)} "
                           "(e.g. --map id=ID,text=Message,author=Sender,created_at=Date)")
    return mapping


class _Lines:
    """Physical lines decoded one at a time: a byte that is not UTF-8 costs its own line, not the file.
    A bad line reads as blank (which the CSV reader skips) and is reported by number."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.bad: list[tuple[int, str]] = []

    def __iter__(self) -> Iterator[str]:
        for number, raw in enumerate(self._handle, start=1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                self.bad.append((number, f"byte {exc.start} is not valid UTF-8"))
                yield "\n"

    def reported(self, name: str) -> Iterator[Item]:
        while self.bad:
            number, detail = self.bad.pop(0)
            yield malformed(f"{name}:{number}", detail)


def read_csv(path: Path, context: Context, mapping: Mapping[str, str]) -> Iterator[Item]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield malformed(path.name, f"cannot read ({exc.strerror})")
        return
    with handle:
        lines = _Lines(handle)
        reader = csv.DictReader(lines)
        try:
            header = reader.fieldnames or []
        except csv.Error as exc:
            yield malformed(f"{path.name}:1", f"unreadable header ({exc})")
            return
        absent = [column for column in mapping.values() if column not in header]
        if absent or lines.bad:
            yield malformed(path.name, f"--map names columns the header lacks: {', '.join(absent)}"
                            if absent else "the header is not UTF-8")
            return
        while True:
            ref = f"{path.name}:{reader.line_num + 1}"  # the line the row starts on (cells may span lines)
            try:
                row = next(reader)
            except StopIteration:
                yield from lines.reported(path.name)
                return
            except csv.Error as exc:
                # The reader cannot resynchronise after a broken quote: the rest is unreadable.
                yield malformed(ref, f"unreadable row ({exc}); rows after it were not read")
                return
            yield from lines.reported(path.name)
            yield record_item(ref, _row, row, context, mapping)


def _row(ref: str, row: Mapping[str, str | None], context: Context, mapping: Mapping[str, str]) -> Item:
    def cell(field: str) -> str:
        return (row.get(mapping[field]) or "").strip() if field in mapping else ""

    for field in ("id", "author"):
        if not cell(field):
            raise BadRecord(f"empty {field} (column {mapping[field]!r})")

    def related(field: str) -> str | None:
        return platform_id(context.channel, cell(field)) if cell(field) else None

    handle = cell("handle")
    return context.post(
        ref,
        id=platform_id(context.channel, cell("id")),
        author=context.people.author(cell("author"), display_name=cell("author_name") or None,
                                     handle=handle or None, email=cell("email") or None),
        text=(row.get(mapping["text"]) or "").strip(),
        created_at=parse_time(cell("created_at")) if "created_at" in mapping else datetime.now(UTC),
        lang=cell("lang") or None,
        url=cell("url") or None,
        thread_id=related("thread_id"),
        reply_to=related("reply_to"),
    )
