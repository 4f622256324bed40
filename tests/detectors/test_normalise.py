"""A policy phrase hidden by encoding is still found, and its span is what was written.

Zero-width characters and soft hyphens inside a word, letters of other scripts drawn like Latin ones,
compatibility forms (fullwidth, mathematical, small capitals) and letter-spacing, in English and
French; and what must not match: ordinary text with one-letter words, initials, another script.
Secrets and personal data split by a zero-width space are found too.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.lexicon import LexiconMatcher
from detectors.normalise import (
    CONFUSABLES,
    FOLD_CACHE_ENTRIES,
    FOLD_CACHE_MAX_CHARS,
    INVISIBLE,
    _fold_views,
    _fold_views_cached,
    fold,
    fold_views,
    strip_invisible,
)
from detectors.patterns import PatternDetector
from detectors.registry import make_plan

LISTS = {
    "confidentiality_markers": ("confidential", "strictly confidential", "ne pas diffuser", "confidentiel"),
    "insider": ("délit d'initié", "insider trading"),
    "second_person": ("u", "you"),
    "short": ("iam", "jrr", "abc", "ama"),
}
MATCHER = LexiconMatcher(LISTS)


def _found(text: str) -> list[tuple[str, str]]:
    return [(f.extra["phrase"], text[f.start : f.end]) for f in MATCHER.match(text)]


@pytest.mark.parametrize(
    ("text", "phrase", "written"),
    [
        ("This is confi\u200bdential.", "confidential", "confi\u200bdential"),
        ("Document confi\u200cden\u200dtiel, merci", "confidentiel", "confi\u200cden\u200dtiel"),
        ("c\u2060o\ufeffnfidential report", "confidential", "c\u2060o\ufeffnfidential"),
        ("ne pas dif\u00adfuser", "ne pas diffuser", "ne pas dif\u00adfuser"),
        ("\u202econfidential\u202c memo", "confidential", "confidential"),
        ("сопfidential (Cyrillic с, о, п)", "confidential", "сопfidential"),
        ("CΟΝFΙDΕΝΤΙΑL (Greek capitals)", "confidential", "CΟΝFΙDΕΝΤΙΑL"),
        ("strictly соnfidеntiаl", "strictly confidential", "strictly соnfidеntiаl"),
        ("ｃｏｎｆｉｄｅｎｔｉａｌ", "confidential", "ｃｏｎｆｉｄｅｎｔｉａｌ"),
        ("𝐜𝐨𝐧𝐟𝐢𝐝𝐞𝐧𝐭𝐢𝐚𝐥 stuff", "confidential", "𝐜𝐨𝐧𝐟𝐢𝐝𝐞𝐧𝐭𝐢𝐚𝐥"),
        ("ᴄᴏɴꜰɪᴅᴇɴᴛɪᴀʟ", "confidential", "ᴄᴏɴꜰɪᴅᴇɴᴛɪᴀʟ"),
        ("this is c o n f i d e n t i a l ok", "confidential", "c o n f i d e n t i a l"),
        ("C.O.N.F.I.D.E.N.T.I.A.L.", "confidential", "C.O.N.F.I.D.E.N.T.I.A.L"),
        ("c-o-n-f-i-d-e-n-t-i-e-l !", "confidentiel", "c-o-n-f-i-d-e-n-t-i-e-l"),
        (
            "c . o . n . f . i . d . e . n . t . i . e . l",
            "confidentiel",
            "c . o . n . f . i . d . e . n . t . i . e . l",
        ),
        (
            "s t r i c t l y   c o n f i d e n t i a l",
            "strictly confidential",
            "s t r i c t l y   c o n f i d e n t i a l",
        ),
        ("ne pas d i f f u s e r", "ne pas diffuser", "ne pas d i f f u s e r"),
        ("un d é l i t d'initié", "délit d'initié", "d é l i t d'initié"),
        ("i n s i d e r  t r a d i n g", "insider trading", "i n s i d e r  t r a d i n g"),
    ],
)
def test_hidden_phrase_is_found_with_its_written_span(text: str, phrase: str, written: str) -> None:
    assert (phrase, written) in _found(text)


@pytest.mark.parametrize(
    "text",
    [
        "I A M here",  # three one-letter words: not letter-spacing
        "I am a manager",
        "J. R. R. Tolkien wrote it",  # initials
        "J.R.R. Tolkien",
        "plan A or plan B, a b c",
        "iamb pentameter and a mama",
        "сор и мама",  # Russian words
        "a, b, c",
    ],
)
def test_ordinary_spaced_text_makes_no_phrase(text: str) -> None:
    assert [phrase for phrase, _ in _found(text) if phrase in LISTS["short"]] == []


def test_joining_letters_does_not_hide_the_words_that_were_there() -> None:
    # "x y u" could be read "xyu": "u" must still be found on its own.
    assert ("u", "u") in _found("x y z u suck")


def test_letter_spacing_needs_one_separator_throughout() -> None:
    assert _found("c o-n.f i d e n t i a l") == []


def test_fold_keeps_a_map_to_the_original() -> None:
    text = "Ré\u200bsumé ＣＯＮ"
    folded, index = fold(text)
    assert folded == "resume con"
    assert index is not None
    assert "".join(text[i] for i in index) == "Résumé ＣＯＮ"


def test_views_are_one_unless_letters_are_spaced() -> None:
    assert len(fold_views("an ordinary sentence")) == 1
    views = fold_views("the c o n f i d e n t i a l note")
    assert [view.text for view in views] == ["the c o n f i d e n t i a l note", "the confidential note"]


def test_the_invisible_set_is_every_format_character_and_the_blank_ones() -> None:
    format_characters = {chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"}
    invisible = {chr(c) for c in range(0x110000) if INVISIBLE.match(chr(c))}
    assert format_characters <= invisible
    blank = {
        "\u034f",
        "\u115f",
        "\u1160",
        "\u3164",
        "\uffa0",
        *map(chr, range(0xFE00, 0xFE10)),
        *map(chr, range(0xE0100, 0xE01F0)),
    }
    newer_format_characters = set(map(chr, range(0x13439, 0x13440)))  # Cf since Unicode 15
    assert invisible - format_characters <= blank | newer_format_characters


def test_lookalikes_are_letters_of_other_scripts_mapped_to_one_latin_letter() -> None:
    for char, latin in CONFUSABLES.items():
        assert len(latin) == 1 and latin.isascii() and latin.isalpha()
        assert not char.isascii()
        assert unicodedata.name(char).split()[0] in {"CYRILLIC", "GREEK", "LATIN"}


def test_a_secret_split_by_a_zero_width_space_is_found_at_its_written_span() -> None:
    text = "key AKIA\u200bIOSFODNN7EXAMPLE done"
    findings = PatternDetector().scan(text)
    assert [(f.type, text[f.start : f.end]) for f in findings] == [
        ("AWS_ACCESS_KEY", "AKIA\u200bIOSFODNN7EXAMPLE")
    ]


def test_an_email_split_by_zero_width_characters_is_found(pii_detector, make_post) -> None:
    text = "écrivez à jean.dupont\u200b@\u200dexample.fr svp"
    plan = make_plan("FR", pii_entities={"EMAIL_ADDRESS"})
    findings = pii_detector.detect([make_post(text)], plan)[0]
    assert [text[f.start : f.end] for f in findings] == ["jean.dupont\u200b@\u200dexample.fr"]


def test_text_without_invisible_characters_is_left_alone() -> None:
    assert strip_invisible("plain text").index is None
    assert strip_invisible("a\u200bb").text == "ab"


_HIDERS = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u2066"]
_LOOKALIKE = {latin: char for char, latin in CONFUSABLES.items()}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["", *_HIDERS]), st.booleans()), min_size=12, max_size=12),
    st.sampled_from(["", "Note: ", "voir le document "]),
    st.sampled_from(["", ".", " merci", ", ne pas diffuser"]),
)
def test_any_mix_of_invisible_and_look_alike_characters_is_seen_through(
    hiding: list[tuple[str, bool]], before: str, after: str
) -> None:
    word = "".join(
        (_LOOKALIKE.get(letter, letter) if swap else letter) + hider
        for letter, (hider, swap) in zip("confidential", hiding, strict=True)
    ).rstrip("".join(_HIDERS))
    text = before + word + after
    spans = [text[f.start : f.end] for f in MATCHER.match(text) if f.extra["phrase"] == "confidential"]
    assert spans == [word]


def test_folding_is_cached_for_short_texts_only_and_cached_views_equal_fresh_ones() -> None:
    short = "Ｇｕａｒａｎｔｅｅｄ r e t u r n s, d\u200bm me"
    assert fold_views(short) is fold_views(short), "a second reader of the same post folds nothing again"
    assert fold_views(short) == _fold_views(short)
    long = "ａ b c " * (FOLD_CACHE_MAX_CHARS // 6 + 1)
    before = _fold_views_cached.cache_info().currsize
    assert fold_views(long) == _fold_views(long)
    assert _fold_views_cached.cache_info().currsize == before, "long texts are not kept"
    for n in range(FOLD_CACHE_ENTRIES + 10):
        fold_views(f"post {n}")
    assert _fold_views_cached.cache_info().currsize == FOLD_CACHE_ENTRIES, "bounded"
