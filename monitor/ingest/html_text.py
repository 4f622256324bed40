"""HTML bodies (Teams, Mastodon, feed items) to the plain text detectors read, and the links in them.

Detectors match words and numbers, so markup goes and entities are decoded; block elements become line
breaks so that a phrase list never matches across two paragraphs. A link keeps its label and, when the
label is not already the address, gains the address in brackets: ``label (https://...)`` (a URL is
evidence too). Anchors whose label is a mention (``@alice``) or a hashtag stay as the label alone.
Script and style content is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

BLOCK_TAGS = frozenset({"p", "div", "br", "li", "ul", "ol", "tr", "table", "blockquote", "pre", "hr",
                        "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer"})
WHITESPACE = re.compile(r"\s+")
HIDDEN_TAGS = frozenset({"script", "style", "template", "head", "title"})


@dataclass(frozen=True)
class HtmlText:
    text: str
    links: list[str] = field(default_factory=list)


def html_to_text(html: str) -> HtmlText:
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    return HtmlText(_tidy("".join(parser.out)), parser.links)


def same_address(label: str, href: str) -> bool:
    """True when a link's visible label already is its address (with or without the scheme)."""
    def bare(value: str) -> str:
        return value.strip().split("://", 1)[-1].rstrip("/").lower()

    return bare(label) == bare(href)


def link_text(label: str, href: str) -> str:
    """How a link reads in the text: the address alone, a mention alone, or ``label (address)``."""
    label = label.strip()
    if not label or same_address(label, href):
        return href
    if label[0] in "@#":
        return label
    return f"{label} ({href})"


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: list[str] = []
        self._hidden = 0
        self._anchor: tuple[str, int] | None = None  # href and where its label starts in ``out``

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN_TAGS:
            self._hidden += 1
        elif tag in BLOCK_TAGS:
            self.out.append("\n")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self._anchor = (href, len(self.out)) if href.startswith(("http://", "https://", "mailto:")) \
                else None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in BLOCK_TAGS:
            self.out.append("\n")
        elif tag == "a" and self._anchor is not None:
            href, start = self._anchor
            self._anchor = None
            label = "".join(self.out[start:])
            del self.out[start:]
            rendered = link_text(label, href.removeprefix("mailto:"))
            if not label.strip().startswith(("@", "#")):
                self.links.append(href)
            self.out.append(rendered)

    def handle_data(self, data: str) -> None:
        # HTML whitespace, newlines included, is one space: only block elements break lines.
        if not self._hidden:
            self.out.append(WHITESPACE.sub(" ", data))


def _tidy(text: str) -> str:
    """Collapse the spaces left around line breaks and drop empty lines."""
    lines = (" ".join(line.replace("\xa0", " ").split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)
