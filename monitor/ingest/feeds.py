"""RSS 2.0 and Atom (RFC 4287) feed items: reviews, news, forums. From files, or polled from a URL.

XML from the internet is parsed with defusedxml's defaults, written with the standard library's expat:
entity declarations and external entities are refused (no "billion laughs", no reading local files),
so a hostile feed is a malformed record and nothing more.

RSS 2.0: an ``<item>`` (``title``, ``link``, ``description``, ``author``, ``guid``, ``pubDate``; the
common ``content:encoded`` and ``dc:creator`` extensions too) becomes the post ``rss:<guid>`` (else its
link; else a hash of title and description), language from the channel's ``<language>``.
Atom: an ``<entry>`` (``id``, ``title``, ``updated``, ``published``, ``author`` with ``name``, ``email``,
``uri`` (inherited from the feed), ``content`` / ``summary`` of type ``text``, ``html`` or ``xhtml``,
``link rel="alternate"``, ``xml:lang``) becomes ``atom:<id>``; a threading extension
``thr:in-reply-to`` (RFC 4685) gives ``reply_to``, and a tombstone ``at:deleted-entry`` (RFC 6721) counts
as deleted. The text is the title, then the body as text (HTML bodies through ``html_text``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from monitor.ingest.base import (
    BadRecord,
    Context,
    Item,
    Skipped,
    SkipReason,
    malformed,
    parse_time,
    platform_id,
    record_item,
)
from monitor.ingest.html_text import HtmlText, html_to_text
from policies.post import Author

ATOM = "{http://www.w3.org/2005/Atom}"
THREADING = "{http://purl.org/syndication/thread/1.0}"
TOMBSTONES = "{http://purl.org/atompub/tombstones/1.0}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DUBLIN_CORE = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

FeedItems = Callable[[bytes, str, Context], Iterator[Item]]


def parse_xml(data: bytes) -> Element:
    """An ElementTree from bytes, refusing entity declarations and external entities."""
    builder = TreeBuilder()
    parser = expat.ParserCreate(namespace_separator=" ")

    def qualified(name: str) -> str:
        namespace, _, local = name.rpartition(" ")
        return f"{{{namespace}}}{local}" if namespace else local

    def refuse(*_args: object) -> NoReturn:
        raise BadRecord("entity declarations and external entities are refused in feeds")

    parser.StartElementHandler = lambda name, attrs: builder.start(
        qualified(name), {qualified(key): value for key, value in attrs.items()})
    parser.EndElementHandler = lambda name: builder.end(qualified(name))
    parser.CharacterDataHandler = builder.data
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise BadRecord(f"not well-formed XML ({expat.errors.messages[exc.code]} at line {exc.lineno} "
                        f"column {exc.offset})") from None
    return builder.close()


def read_rss(path: Path, context: Context) -> Iterator[Item]:
    yield from _read_files(path, context, rss_items)


def read_atom(path: Path, context: Context) -> Iterator[Item]:
    yield from _read_files(path, context, atom_items)


def _read_files(path: Path, context: Context, items: FeedItems) -> Iterator[Item]:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        ref = file.relative_to(path).as_posix() if path.is_dir() else file.name
        try:
            data = file.read_bytes()
        except OSError as exc:
            yield malformed(ref, f"cannot read ({exc.strerror})")
            continue
        yield from items(data, ref, context)


def _root(data: bytes, ref: str, expected: str) -> Element | Skipped:
    try:
        root = parse_xml(data)
    except BadRecord as exc:
        return malformed(ref, str(exc))
    if root.tag != expected:
        return malformed(ref, f"expected a <{expected.rpartition('}')[2]}> document, found "
                              f"<{root.tag.rpartition('}')[2]}>")
    return root


def rss_items(data: bytes, ref: str, context: Context) -> Iterator[Item]:
    root = _root(data, ref, "rss")
    if isinstance(root, Skipped):
        yield root
        return
    channel = root.find("channel")
    if channel is None:
        yield malformed(ref, "<rss> without <channel>")
        return
    feed_host = urlsplit(_text(channel, "link")).hostname or "feed"
    for position, item in enumerate(channel.iter("item")):
        yield record_item(f"{ref}:item[{position}]", _rss_item, item, channel, feed_host, context)


def _rss_item(ref: str, item: Element, channel: Element, feed_host: str, context: Context) -> Item:
    title, link = _text(item, "title"), _text(item, "link")
    body = html_to_text(_text(item, f"{CONTENT}encoded") or _text(item, "description"))
    key = _text(item, "guid") or link or _digest(title, body.text)
    email, name = _address(_text(item, "author"))
    creator = _text(item, f"{DUBLIN_CORE}creator") or name
    author_id = email or creator or f"rss:{feed_host}"
    published = _text(item, "pubDate") or _text(channel, "pubDate")
    post_id = platform_id("rss", key)
    return context.post(
        ref,
        id=post_id,
        author=context.people.author(author_id, display_name=creator or None, email=email or None),
        text="\n".join(part for part in (title, body.text) if part),
        created_at=parse_time(published) if published else datetime.now(UTC),
        lang=_text(channel, "language") or None,
        url=link or None,
        links=body.links,
    )


def atom_items(data: bytes, ref: str, context: Context) -> Iterator[Item]:
    feed = _root(data, ref, f"{ATOM}feed")
    if isinstance(feed, Skipped):
        yield feed
        return
    feed_author = feed.find(f"{ATOM}author")
    for position, _ in enumerate(feed.iter(f"{TOMBSTONES}deleted-entry")):
        yield Skipped(f"{ref}:deleted-entry[{position}]", SkipReason.DELETED)
    for position, entry in enumerate(feed.iter(f"{ATOM}entry")):
        yield record_item(f"{ref}:entry[{position}]", _atom_entry, entry, feed, feed_author, context)


def _atom_entry(ref: str, entry: Element, feed: Element, feed_author: Element | None,
                context: Context) -> Item:
    entry_id = _text(entry, f"{ATOM}id")
    if not entry_id:
        raise BadRecord("<entry> without <id>")
    title = _construct_text(entry.find(f"{ATOM}title")).text
    body_element = entry.find(f"{ATOM}content")
    body = _construct_text(body_element if body_element is not None else entry.find(f"{ATOM}summary"))
    author = entry.find(f"{ATOM}author")
    link = next((element.get("href", "") for element in entry.iter(f"{ATOM}link")
                 if element.get("rel", "alternate") == "alternate"), "")
    parent = entry.find(f"{THREADING}in-reply-to")
    post_id = platform_id("atom", entry_id)
    return context.post(
        ref,
        id=post_id,
        author=_atom_author(author if author is not None else feed_author, context),
        text="\n".join(part for part in (title, body.text) if part),
        created_at=parse_time(_text(entry, f"{ATOM}published") or _text(entry, f"{ATOM}updated")),
        lang=entry.get(XML_LANG) or feed.get(XML_LANG),
        url=link or None,
        reply_to=platform_id("atom", parent.get("ref", "")) if parent is not None and parent.get("ref")
        else None,
        links=body.links,
    )


def _atom_author(author: Element | None, context: Context) -> Author:
    if author is None:
        raise BadRecord("<entry> without <author>, and the feed names none")
    name, email, uri = (_text(author, f"{ATOM}{part}") for part in ("name", "email", "uri"))
    author_id = email or uri or name
    if not author_id:
        raise BadRecord("<author> without name, email or uri")
    return context.people.author(author_id, display_name=name or None, email=email or None)


def _construct_text(element: Element | None) -> HtmlText:
    """An Atom text construct: ``type`` text (default), html (escaped markup) or xhtml (a div)."""
    if element is None:
        return HtmlText("")
    kind = element.get("type", "text")
    if kind == "html":
        return html_to_text(element.text or "")
    if kind == "xhtml":
        return HtmlText(" ".join("".join(element.itertext()).split()))
    return HtmlText(" ".join((element.text or "").split()))


def _text(parent: Element, tag: str) -> str:
    element = parent.find(tag)
    return (element.text or "").strip() if element is not None else ""


def _address(value: str) -> tuple[str, str]:
    """RSS ``<author>`` is 'email (Name)', e.g. ``lawyer@boyer.net (Lawyer Boyer)``: (email, name)."""
    head, _, tail = value.partition("(")
    if "@" in head and " " not in head.strip():
        return head.strip(), tail.rstrip(")").strip()
    return "", value.strip()


def _digest(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
