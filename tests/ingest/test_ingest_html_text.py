"""HTML bodies to the text detectors read: blocks to lines, links kept, mentions as names."""

from __future__ import annotations

import pytest

from monitor.ingest.html_text import html_to_text


@pytest.mark.parametrize(("html", "text", "links"), [
    ("<p>One</p><p>Two<br>Three</p>", "One\nTwo\nThree", []),
    ('<a href="https://a.example/x">the report</a>', "the report (https://a.example/x)", ["https://a.example/x"]),
    ('<a href="https://a.example/x"><span class="invisible">https://</span>a.example/x</a>',
     "https://a.example/x", ["https://a.example/x"]),
    ('<a href="https://m.example/@bob" class="u-url mention">@<span>bob</span></a> hi', "@bob hi", []),
    ('<a href="https://m.example/tags/acme" class="mention hashtag">#<span>acme</span></a>', "#acme", []),
    ('<at id="0">Zoé Dupont</at>&nbsp;&amp; co', "Zoé Dupont & co", []),
    ("<div>a<script>alert(1)</script><style>p{}</style>b</div>", "ab", []),
    ('<a href="javascript:alert(1)">click</a>', "click", []),
    ("  spaced \n\t out  ", "spaced out", []),
])
def test_html_to_text(html: str, text: str, links: list[str]) -> None:
    rendered = html_to_text(html)
    assert (rendered.text, rendered.links) == (text, links)
