"""X (Twitter) API v2 responses: the ``data`` / ``includes`` / ``errors`` envelope, read from files.

Input: one file or a folder of files, each a v2 response (search, timelines, lookups; ``.jsonl`` with
one response per line, as collectors store pages). A post object (``id``, ``text``, ``author_id``,
``created_at``, ``lang``, ``conversation_id``, ``referenced_tweets``, ``entities.urls``,
``note_tweet``, ``edit_history_tweet_ids``) becomes the post ``x:<id>``, its author found in
``includes.users`` (``id``, ``name``, ``username``).

Text: ``note_tweet.text`` when present (``text`` is then truncated), shortened ``t.co`` links replaced by
their ``expanded_url``, and the ``&amp;``/``&lt;``/``&gt;`` escapes decoded. ``conversation_id`` is the
thread (the id of its first post); a ``replied_to`` reference is ``reply_to``. Every edit of a post has
its own id on X, so each version is its own post; ``edit_of`` names the original. ``lang`` values that
are not ISO 639-1 (``und``, ``qme``, ``zxx``) leave the language unset. An entry of ``errors`` for a post
that is gone (``resource-not-found``) counts as deleted; other post errors count as malformed.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
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
    parse_time,
    platform_id,
    read_documents,
    record_item,
    text_of,
)


def read_x(path: Path, context: Context) -> Iterator[Item]:
    return read_documents(path, lambda document: _response(document, context))


def _response(document: Document, context: Context) -> Iterator[Item]:
    response = document.value
    # A page with no results has only ``meta``: nothing to read, nothing wrong.
    if isinstance(response, dict) and {"data", "errors", "meta"} & set(response):
        yield from response_items(document.ref, response, context)
    else:
        yield malformed(document.ref, "expected an X API v2 response ('data', 'errors', 'meta')")


def response_items(ref: str, response: Mapping[str, Any], context: Context) -> Iterator[Item]:
    includes = object_of(response.get("includes"))
    users = {user["id"]: user for user in includes.get("users") or []
             if isinstance(user, dict) and isinstance(user.get("id"), str)}
    data = response.get("data")
    posts = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    for position, post in enumerate(posts):
        yield record_item(f"{ref}.data[{position}]", _post, post, users, context)
    for position, error in enumerate(response.get("errors") or []):
        if isinstance(error, dict) and error.get("resource_type", "tweet") == "tweet":
            error_ref = f"{ref}.errors[{position}]"
            if str(error.get("type", "")).endswith("/resource-not-found"):
                yield Skipped(error_ref, SkipReason.DELETED)
            else:
                yield malformed(error_ref, str(error.get("title") or "API error")[:200])


def _post(ref: str, post: Any, users: Mapping[str, Mapping[str, Any]], context: Context) -> Item:
    if not isinstance(post, dict) or not isinstance(post.get("id"), str):
        raise BadRecord("a post must be an object with a string id")
    author_id = post.get("author_id")
    if not isinstance(author_id, str) or not author_id:
        raise BadRecord("author_id missing (request expansions=author_id)")
    user = users.get(author_id, {})
    username = text_of(user.get("username"))
    note = object_of(post.get("note_tweet"))
    text = text_of(note.get("text")) or text_of(post.get("text"))
    entities = note.get("entities") or post.get("entities") or {}
    links = []
    for url in entities.get("urls") or [] if isinstance(entities, dict) else []:
        if isinstance(url, dict) and url.get("url") and url.get("expanded_url"):
            text = text.replace(url["url"], url["expanded_url"])
            links.append(url["expanded_url"])
    conversation = post.get("conversation_id")
    replied = [reference["id"] for reference in post.get("referenced_tweets") or []
               if isinstance(reference, dict) and reference.get("type") == "replied_to"
               and reference.get("id")]
    history = post.get("edit_history_tweet_ids") or []
    post_id = platform_id("x", post["id"])
    return context.post(
        ref,
        id=post_id,
        author=context.people.author(author_id, display_name=text_of(user.get("name")) or None,
                                     handle=f"@{username}" if username else None),
        text=html.unescape(text),
        created_at=parse_time(post.get("created_at")),
        lang=post.get("lang"),
        url=f"https://x.com/{username or 'i/web'}/status/{post['id']}",
        thread_id=platform_id("x", conversation) if isinstance(conversation, str) else None,
        reply_to=platform_id("x", replied[0]) if replied else None,
        edit_of=platform_id("x", history[0]) if history and history[0] != post["id"] else None,
        links=links,
    )
