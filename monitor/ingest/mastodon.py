"""Mastodon statuses, as the REST API returns them: from files, or polled from a timeline URL.

Input: one file or a folder of files, each a page of a timeline (a JSON array of Status entities) or
one Status. A Status (``id``, ``created_at``, ``in_reply_to_id``, ``content`` in HTML, ``spoiler_text``,
``language``, ``visibility``, ``url``, ``uri``, ``edited_at``, ``account`` with ``id``, ``username``,
``acct``, ``display_name``, ``bot``; ``reblog`` for a boost) becomes the post
``mastodon:<instance>:<id>``.

Status ids are local to the server that returned them, hence the instance in the id: the polled URL's
host, or for files the host of a local account (its ``acct`` has no domain) in the page. A boost
is read as the status it boosts, so a post boosted ten times is produced once (the other times are
duplicates). ``in_reply_to_id`` gives ``reply_to``; a status does not name its thread's root (the
``/api/v1/statuses/:id/context`` endpoint does), so there is no ``thread_id``. The author id is the full
``user@instance`` address, stable across servers. A content warning (``spoiler_text``) is read as the
first line of the text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.ingest.base import (
    BadRecord,
    Context,
    Document,
    Item,
    malformed,
    optional_time,
    parse_time,
    platform_id,
    read_documents,
    record_item,
    text_of,
)
from monitor.ingest.html_text import html_to_text


def read_mastodon(path: Path, context: Context) -> Iterator[Item]:
    return read_documents(path, lambda document: _page(document, context))


def _page(document: Document, context: Context) -> Iterator[Item]:
    value = document.value
    statuses = value if isinstance(value, list) else [value] if isinstance(value, dict) else None
    if statuses is None:
        yield malformed(document.ref, "expected an array of statuses or one status")
    else:
        yield from status_items(document.ref, statuses, instance_of(statuses), context)


def instance_of(statuses: Sequence[Any]) -> str:
    """The server a page of statuses came from, when only the page is known (see the docstring)."""
    fallback = ""
    for status in statuses:
        account = status.get("account") if isinstance(status, dict) else None
        if not isinstance(account, dict):
            continue
        host = urlsplit(text_of(account.get("url"))).hostname or ""
        if host and "@" not in text_of(account.get("acct")):
            return host
        fallback = fallback or urlsplit(text_of(status.get("uri"))).hostname or ""
    return fallback or "unknown"


def status_items(ref: str, statuses: Sequence[Any], instance: str, context: Context) -> Iterator[Item]:
    """One page of statuses. Timelines list the newest first; posts are produced oldest first."""
    for position in reversed(range(len(statuses))):
        yield record_item(f"{ref}[{position}]", _status, statuses[position], instance, context)


def _status(ref: str, status: Any, instance: str, context: Context) -> Item:
    if isinstance(status, dict) and isinstance(status.get("reblog"), dict):
        status = status["reblog"]
    if not isinstance(status, dict) or not isinstance(status.get("id"), str):
        raise BadRecord("a status must be an object with a string id")
    account = status.get("account")
    if not isinstance(account, dict) or not text_of(account.get("acct")):
        raise BadRecord("account.acct missing")
    acct = account["acct"] if "@" in account["acct"] else f"{account['acct']}@{instance}"
    rendered = html_to_text(text_of(status.get("content")))
    warning = text_of(status.get("spoiler_text")).strip()
    post_id = platform_id("mastodon", instance, status["id"])
    parent = status.get("in_reply_to_id")
    return context.post(
        post_id,
        id=post_id,
        author=context.people.author(acct, display_name=text_of(account.get("display_name")) or None,
                                     handle=f"@{acct}", bot=account.get("bot") is True),
        text="\n".join(part for part in (warning, rendered.text) if part),
        created_at=parse_time(status.get("created_at")),
        lang=status.get("language"),
        url=text_of(status.get("url")) or text_of(status.get("uri")) or None,
        reply_to=platform_id("mastodon", instance, parent) if isinstance(parent, str) else None,
        visibility=text_of(status.get("visibility")) or None,
        edited_at=optional_time(status.get("edited_at")),
        links=rendered.links,
    )
