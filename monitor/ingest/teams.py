"""Microsoft Teams channel and chat messages, as Microsoft Graph returns them, read from files.

Input: one file or a folder of files, each a Graph response page (``value``: an array of ``chatMessage``
objects, ``@odata.nextLink`` when more pages follow; the folder's files are read in name order) or a
single ``chatMessage``. Messages listed with ``$expand=replies`` carry their replies in ``replies``.

A ``chatMessage`` (``id``, ``replyToId``, ``messageType``, ``createdDateTime``, ``lastEditedDateTime``,
``deletedDateTime``, ``subject``, ``body.contentType``/``body.content``, ``from.user`` or
``from.application``, ``channelIdentity.channelId`` or ``chatId``, ``mentions``, ``webUrl``) becomes the
post ``teams:<channel or chat id>:<message id>``. Its HTML body becomes text (``<at>`` mentions keep the
name shown). In a channel every root message starts a thread and replies carry ``replyToId``: both give
``thread_id``, replies also ``reply_to``. ``messageType`` other than ``message`` (``systemEventMessage``,
``chatEvent``, ``typing``) is a system message; a set ``deletedDateTime`` means deleted. Both are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from monitor.ingest.base import (
    BadRecord,
    Context,
    Document,
    Item,
    Skipped,
    SkipReason,
    malformed,
    object_of,
    optional_time,
    parse_time,
    platform_id,
    read_documents,
    record_item,
    text_of,
)
from monitor.ingest.html_text import html_to_text
from policies.post import Author


def read_teams(path: Path, context: Context) -> Iterator[Item]:
    return read_documents(path, lambda document: _page(document, context))


def _page(document: Document, context: Context) -> Iterator[Item]:
    page = object_of(document.value)
    if isinstance(page.get("value"), list):
        for position, message in enumerate(page["value"]):
            yield from _with_replies(f"{document.ref}[{position}]", message, context)
    elif "messageType" in page:
        yield from _with_replies(document.ref, page, context)
    else:
        yield malformed(document.ref, "expected a Graph page with a 'value' array, or a chatMessage")


def _with_replies(ref: str, message: Any, context: Context) -> Iterator[Item]:
    yield record_item(ref, _message, message, context)
    replies = message.get("replies") if isinstance(message, dict) else None
    for position, reply in enumerate(replies if isinstance(replies, list) else []):
        yield from _with_replies(f"{ref}.replies[{position}]", reply, context)


def _message(ref: str, message: Any, context: Context) -> Item:
    if not isinstance(message, dict) or not isinstance(message.get("id"), str):
        raise BadRecord("a chatMessage must be an object with a string id")
    if message.get("messageType", "message") != "message":
        return Skipped(ref, SkipReason.SYSTEM_MESSAGE)
    if message.get("deletedDateTime"):
        return Skipped(ref, SkipReason.DELETED)
    channel = object_of(message.get("channelIdentity"))
    conversation = text_of(channel.get("channelId")) or text_of(message.get("chatId"))
    if not conversation:
        raise BadRecord("neither channelIdentity.channelId nor chatId")
    post_id = platform_id("teams", conversation, message["id"])
    reply_to = message.get("replyToId")
    parent = platform_id("teams", conversation, reply_to) if isinstance(reply_to, str) and reply_to \
        else None
    body = object_of(message.get("body"))
    content = text_of(body.get("content"))
    if body.get("contentType", "text") == "html":
        rendered = html_to_text(content)
        text, links = rendered.text, rendered.links
    else:
        text, links = content.strip(), []
    subject = text_of(message.get("subject")).strip()
    return context.post(
        post_id,
        id=post_id,
        author=_author(message.get("from"), context),
        text=f"{subject}\n{text}" if subject and text else subject or text,
        created_at=parse_time(message.get("createdDateTime")),
        url=text_of(message.get("webUrl")) or None,
        thread_id=parent or (post_id if channel else None),
        reply_to=parent,
        conversation=conversation,
        edited_at=optional_time(message.get("lastEditedDateTime")),
        links=links,
    )


def _author(sender: Any, context: Context) -> Author:
    """``from.user`` is a person; ``from.application`` a bot or connector."""
    identities = object_of(sender)
    for kind in ("user", "application"):
        identity = identities.get(kind)
        if isinstance(identity, dict) and isinstance(identity.get("id"), str) and identity["id"]:
            return context.people.author(identity["id"],
                                         display_name=text_of(identity.get("displayName")) or None,
                                         bot=kind == "application")
    raise BadRecord("from.user missing")
