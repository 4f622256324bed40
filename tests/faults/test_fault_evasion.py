"""Invisible characters, look-alike letters and spacing must not hide a policy phrase.

The phrase is matched on a normalised copy of the text, and the finding's span points into the
original text, so that the evidence shows what was written.
"""

from __future__ import annotations

import pytest

from monitor.pipeline import Pipeline
from policies.post import Post

PHRASE = "strictly confidential"
RULE = "global-confidential-marker-external"


@pytest.mark.parametrize(
    "written",
    [
        pytest.param("strictly con\u200bfiden\u200dtial\u2060", id="zero-width-characters"),
        pytest.param("strictly confi\u00addential", id="soft-hyphen"),
        pytest.param("strictly c\u043enfidenti\u0430l", id="cyrillic-homoglyphs"),
        pytest.param("s t r i c t l y  c o n f i d e n t i a l", id="letter-spacing"),
        pytest.param("STRICTLY\u00a0CONFIDENTIAL", id="case-and-no-break-space"),
        pytest.param("\u202dstrictly confidential\u202c", id="bidi-override"),
    ],
)
def test_an_obfuscated_phrase_raises_the_same_alert_with_its_span_on_the_original(
    pipeline: Pipeline, written: str
) -> None:
    text = f"Please keep this {written} until Monday."
    post = Post.model_validate({"id": "evasion-1", "source": "external", "channel": "x",
                                "author": {"id": "u-1", "country": "GB"}, "text": text})
    (result,) = pipeline.process([post])
    assert RULE in {alert.rule_id for alert in result.alerts}, f"{written!r} hid the phrase {PHRASE!r}"
    spans = [text[f.start : f.end] for f in result.findings
             if f.detector == "lexicon" and f.type == "confidentiality_markers"]
    core = written.strip("\u202d\u202c")
    assert any(core in span or span in core for span in spans if span.strip()), (
        f"the finding's span {spans} does not point at {written!r} in the original text"
    )
