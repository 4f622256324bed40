"""Slack workspace and channel exports, as a ZIP or an unpacked folder.

The layout is Slack's export: ``users.json`` (user objects: ``id``, ``name``, ``real_name``, ``is_bot``,
``profile.display_name``, ``profile.real_name``, ``profile.email``), ``channels.json`` (``id``, ``name``;
exports with private data add ``groups.json``, ``mpims.json`` and ``dms.json``, whose folders are named by
id), and one folder per conversation holding one ``YYYY-MM-DD.json`` array of message objects per day.

A message (``type: message``, ``ts``, ``user``, ``text``, optional ``subtype``, ``thread_ts``, ``edited``)
becomes one post ``slack:<conversation id>:<ts>``: ``ts`` is unique in a conversation and never changes,
so re-ingesting an export never duplicates an alert. ``thread_ts`` names the thread (its parent's id);
a reply also gets ``reply_to``. The export holds each message's latest text, with ``edited`` saying when
it changed. Only subtypes that carry someone's words are produced (``bot_message`` as a bot author);
joins, leaves, topic changes and other system subtypes are skipped, as are deleted messages
(``tombstone``, ``message_deleted``) and change events (the export already has the edited text).

Text is Slack's mrkdwn: ``<@U…>`` mentions become ``@display name``, ``<#C…|name>`` ``#name``,
``<!here>`` ``@here``, ``<url|label>`` ``label (url)``; then ``&amp;``, ``&lt;``, ``&gt;`` are decoded.
"""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from monitor.ingest.base import (
    BadRecord,
    Context,
    Item,
    Skipped,
    SkipReason,
    decode_json,
    malformed,
    object_of,
    optional_time,
    parse_time,
    platform_id,
    record_item,
    text_of,
)
from monitor.ingest.html_text import link_text
from policies.post import Author

CONTENT_SUBTYPES = frozenset({None, "bot_message", "thread_broadcast", "me_message", "file_share"})
DELETED_SUBTYPES = frozenset({"tombstone", "message_deleted"})
CONVERSATION_LISTS = ("channels.json", "groups.json", "mpims.json", "dms.json")
MRKDWN_TOKEN = re.compile(r"<([^<>\n]+)>")


class _Export:
    """The files of an export, from a ZIP or a folder, by path relative to the export's root (the
    folder holding ``users.json`` / ``channels.json``, which a ZIP may nest one level down)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip = zipfile.ZipFile(path) if path.is_file() else None
        names = (self._zip.namelist() if self._zip is not None
                 else [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()])
        roots = [name.rsplit("/", 1)[0] + "/" if "/" in name else ""
                 for name in names if PurePosixPath(name).name in {"users.json", "channels.json"}]
        self._root = min(roots, key=len) if roots else ""
        self.names = sorted(name[len(self._root):] for name in names
                            if name.startswith(self._root) and not name.endswith("/"))

    def read(self, name: str) -> bytes:
        if self._zip is not None:
            return self._zip.read(self._root + name)
        return (self.path / self._root / name).read_bytes()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def read_slack(path: Path, context: Context) -> Iterator[Item]:
    try:
        export = _Export(path)
    except (OSError, zipfile.BadZipFile) as exc:
        yield malformed(path.name, f"not a Slack export folder or ZIP ({type(exc).__name__})")
        return
    try:
        problems: list[Skipped] = []
        users = _index(export, "users.json", problems)
        folders: dict[str, dict[str, Any]] = {}
        for list_name in CONVERSATION_LISTS:
            for conversation in _index(export, list_name, problems).values():
                folder = conversation["id"] if list_name == "dms.json" else conversation.get("name")
                folders[str(folder or conversation["id"])] = conversation
        yield from problems
        for name in export.names:
            folder, _, day = name.rpartition("/")
            if not folder or "/" in folder or not day.endswith(".json"):
                continue
            yield from _read_day(export, name, folders.get(folder, {"id": folder, "name": folder}),
                                 users, folders, context)
    finally:
        export.close()


def _index(export: _Export, list_name: str, problems: list[Skipped]) -> dict[str, dict[str, Any]]:
    """``users.json`` and the conversation lists, by id; a missing list is simply empty."""
    if list_name not in export.names:
        return {}
    try:
        entries = decode_json(export.read(list_name))
    except BadRecord as exc:
        problems.append(malformed(list_name, str(exc)))
        return {}
    if not isinstance(entries, list):
        problems.append(malformed(list_name, "expected a JSON array"))
        return {}
    index: dict[str, dict[str, Any]] = {}
    for position, entry in enumerate(entries):
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            index[entry["id"]] = entry
        else:
            problems.append(malformed(f"{list_name}[{position}]", "entry without a string id"))
    return index


def _read_day(export: _Export, name: str, conversation: Mapping[str, Any],
              users: Mapping[str, Mapping[str, Any]], folders: Mapping[str, Mapping[str, Any]],
              context: Context) -> Iterator[Item]:
    try:
        messages = decode_json(export.read(name))
    except BadRecord as exc:
        yield malformed(name, str(exc))
        return
    if not isinstance(messages, list):
        yield malformed(name, "expected a JSON array of messages")
        return
    channel_names = {str(c.get("id")): str(c.get("name") or c.get("id")) for c in folders.values()}
    for position, message in enumerate(messages):
        yield record_item(f"{name}[{position}]", _message, message, conversation, users, channel_names,
                          context)


def _message(ref: str, message: Any, conversation: Mapping[str, Any],
             users: Mapping[str, Mapping[str, Any]], channel_names: Mapping[str, str],
             context: Context) -> Item:
    if not isinstance(message, dict):
        raise BadRecord("a message must be a JSON object")
    ts = message.get("ts")
    if not isinstance(ts, str) or not re.fullmatch(r"\d+(?:\.\d+)?", ts):
        raise BadRecord("ts missing or not a Slack timestamp")
    subtype = message.get("subtype")
    if message.get("type", "message") != "message":
        return Skipped(ref, SkipReason.SYSTEM_MESSAGE)
    if subtype in DELETED_SUBTYPES:
        return Skipped(ref, SkipReason.DELETED)
    if subtype not in CONTENT_SUBTYPES:
        return Skipped(ref, SkipReason.SYSTEM_MESSAGE)
    conversation_id = str(conversation.get("id"))
    post_id = platform_id("slack", conversation_id, ts)
    thread_ts = message.get("thread_ts")
    thread_id = platform_id("slack", conversation_id, thread_ts) if isinstance(thread_ts, str) else None
    edited = message.get("edited")
    return context.post(
        post_id,
        id=post_id,
        author=_author(message, users, context),
        text=decode_mrkdwn(text_of(message.get("text")), users, channel_names),
        created_at=parse_time(ts),
        thread_id=thread_id,
        reply_to=thread_id if thread_ts != ts else None,
        conversation=f"#{conversation.get('name') or conversation_id}",
        edited_at=optional_time(edited.get("ts")) if isinstance(edited, dict) else None,
    )


def _author(message: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], context: Context) -> Author:
    if message.get("subtype") == "bot_message" or ("bot_id" in message and "user" not in message):
        bot_id = text_of(message.get("bot_id")) or text_of(message.get("username")) or "bot"
        return context.people.author(bot_id, display_name=text_of(message.get("username")) or None,
                                     bot=True)
    user_id = message.get("user")
    if not isinstance(user_id, str) or not user_id:
        raise BadRecord("user missing")
    # users.json first; a message's own user_profile covers users missing from it (other workspaces).
    user = users.get(user_id) or object_of(message.get("user_profile"))
    name = text_of(user.get("name"))
    return context.people.author(
        user_id,
        display_name=display_name(user) or None,
        handle=f"@{name}" if name else None,
        email=text_of(object_of(user.get("profile")).get("email")) or None,
        bot=user.get("is_bot") is True,
    )


def display_name(user: Mapping[str, Any]) -> str:
    profile = object_of(user.get("profile"))
    # users.json nests the names in ``profile``; a message's ``user_profile`` has them flat.
    for value in (profile.get("display_name"), profile.get("real_name"), user.get("display_name"),
                  user.get("real_name"), user.get("name")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def decode_mrkdwn(text: str, users: Mapping[str, Mapping[str, Any]],
                  channel_names: Mapping[str, str]) -> str:
    """Slack's markup to the text a reader sees. Labels are decoded once, with the rest of the text."""

    def token(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            return "@" + (display_name(users.get(target[1:], {})) or label or target[1:])
        if target.startswith("#"):
            return "#" + (label or channel_names.get(target[1:], target[1:]))
        if target.startswith("!"):
            return label or "@" + target[1:].split("^", 1)[0]
        return link_text(label, target.removeprefix("mailto:"))

    # One pass, after the tokens: Slack escapes '&' itself, so '&amp;lt;' stays the text '&lt;'.
    return html.unescape(MRKDWN_TOKEN.sub(token, text))
