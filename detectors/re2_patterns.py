"""Presidio's patterns run by RE2 (linear time) wherever RE2 finds exactly what ``regex`` would.

Presidio runs its patterns with the ``regex`` module, which backtracks. Most of them cannot backtrack
far (bounded repeats, checked by ``tests/faults/test_regex_linear.py``), but some can: the URL
recognizer's ``[a-z0-9.\\-]{1,253}[.](?:com|...)`` tries some thousand top-level domains at up to 253
positions from every start, minutes on a 100 KB run of dots. RE2 scans it once.

RE2 has no lookaround, backreference, possessive quantifier or Unicode ``\\b``/``\\w``; a pattern
using one stays on ``regex``. The rest is translated so that both engines find the same spans:
``\\d`` is Unicode's decimal digits, ``\\s`` Unicode's white space, and under case-insensitivity
"i" also matches "İ" as ``regex`` does. Presidio reads ``Pattern.compiled_regex`` when it was
compiled with the recognizer's flags; the recognizer gets its own copies of the patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import re2

from detectors._presidio import Pattern

# What ``regex`` calls white space (Unicode White_Space), in RE2's notation.
_WHITESPACE = (
    r"\t\n\x{b}\x{c}\r \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
)
_SUPPORTED_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.UNICODE
# ``regex`` folds "İ" (U+0130) to "i" under IGNORECASE; RE2 does not.
_DOTTED_I = r"\x{130}"
# Escaped punctuation means the character itself in both engines.
_PUNCTUATION = frozenset(".-\\/()[]{}*+?|^$&~#%!\"',:;<=>@` ")
_CONTROLS = {"n": "\n", "r": "\r", "t": "\t", "f": "\f", "v": "\v"}


class _Unsupported(Exception):
    """The pattern uses what RE2 lacks or would read differently: it stays on ``regex``."""


def _escape(pattern: str, position: int, in_class: bool) -> tuple[str, str | None, int]:
    """The RE2 text of the escape at ``position``, the one character it stands for (if one), and
    the position after it."""
    code = pattern[position + 1 : position + 2]
    after = position + 2
    if code == "d":
        return r"\p{Nd}", None, after
    if code == "D" and not in_class:
        return r"\P{Nd}", None, after
    if code == "s":
        return (_WHITESPACE if in_class else f"[{_WHITESPACE}]"), None, after
    if code == "S" and not in_class:
        return f"[^{_WHITESPACE}]", None, after
    if code in ("x", "u", "U"):
        digits = pattern[after : after + {"x": 2, "u": 4, "U": 8}[code]]
        if not re.fullmatch(r"[0-9a-fA-F]{2}|[0-9a-fA-F]{4}|[0-9a-fA-F]{8}", digits):
            raise _Unsupported(code)
        return f"\\x{{{digits}}}", chr(int(digits, 16)), after + len(digits)
    if code in _CONTROLS:
        return "\\" + code, _CONTROLS[code], after
    if code and code in _PUNCTUATION:
        return "\\" + code, code, after
    raise _Unsupported(code)  # \b \w \B \W backreferences \A \Z \p ...


def _class(pattern: str, position: int, ignore_case: bool) -> tuple[str, int]:
    """The RE2 text of the character class opening at ``position``, and the position after it."""
    position += 1
    negated = pattern.startswith("^", position)
    position += negated
    members: list[tuple[str, str | None]] = []  # RE2 text, the one character it stands for (if one)
    while position < len(pattern) and (pattern[position] != "]" or not members):
        char = pattern[position]
        if char == "\\":
            text, single, position = _escape(pattern, position, in_class=True)
            members.append((text, single))
        else:
            members.append(("\\" + char if char in "[]" else char, char))
            position += 1
    if position >= len(pattern):
        raise _Unsupported("unterminated class")
    body = "".join(text for text, _ in members)
    if ignore_case and _has_i(members):
        body += _DOTTED_I
    return f"[{'^' if negated else ''}{body}]", position + 1


def _has_i(members: list[tuple[str, str | None]]) -> bool:
    for index, (text, single) in enumerate(members):
        if single in ("i", "I"):
            return True
        if text == "-" and 0 < index < len(members) - 1:
            low, high = members[index - 1][1], members[index + 1][1]
            if low is not None and high is not None and (low <= "i" <= high or low <= "I" <= high):
                return True
    return False


def _translate(pattern: str, flags: int) -> str:
    ignore_case = bool(flags & re.IGNORECASE)
    out: list[str] = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "\\":
            text, _, position = _escape(pattern, position, in_class=False)
            out.append(text)
            continue
        if char == "[":
            text, position = _class(pattern, position, ignore_case)
            out.append(text)
            continue
        if char == "(" and pattern.startswith("(?", position):
            name = re.match(r"\(\?P<\w+>", pattern[position:])
            if name:
                out.append(name.group())
                position += name.end()
                continue
            if not pattern.startswith("(?:", position):
                raise _Unsupported("(?")  # lookaround, atomic group, scoped flags, comment
        if char in "*+?}" and pattern.startswith("+", position + 1):
            raise _Unsupported("possessive")
        if char == "$" and not flags & re.MULTILINE:
            raise _Unsupported("$")  # also before a final newline in ``regex``, not in RE2
        out.append(f"[iI{_DOTTED_I}]" if ignore_case and char in "iI" else char)
        position += 1
    return "".join(out)


def to_re2(pattern: str, flags: int) -> str | None:
    """``pattern`` (``regex`` syntax, ``flags``) in RE2 syntax with the same matches, or None."""
    inline = re.match(r"\(\?([a-zA-Z]+)\)", pattern)
    if inline:
        letters = inline.group(1)
        if set(letters) - set("imsu"):
            return None
        flags |= sum(getattr(re, letter.upper()) for letter in letters)
        pattern = pattern[inline.end() :]
    if flags & ~_SUPPORTED_FLAGS:
        return None
    try:
        translated = _translate(pattern, flags)
    except _Unsupported:
        return None
    prefix = "".join(
        letter
        for flag, letter in ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))
        if flags & flag
    )
    candidate = f"(?{prefix}){translated}" if prefix else translated
    try:
        re2.compile(candidate)
    except re2.error:
        return None
    return candidate


class Re2Regex:
    """What Presidio calls on a compiled pattern (``finditer``), done by RE2."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled = re2.compile(pattern)

    def finditer(self, text: str, timeout: float | None = None) -> Iterator[Any]:
        # No timeout: RE2 runs in time linear in the text.
        return self._compiled.finditer(text)


def use_re2(recognizer: Any) -> None:
    """Give ``recognizer`` (a PatternRecognizer) RE2 copies of the patterns RE2 can run."""
    flags = recognizer.global_regex_flags
    patterns: list[Any] = []
    for pattern in recognizer.patterns:
        translated = to_re2(pattern.regex, flags)
        if translated is None:
            patterns.append(pattern)
            continue
        copy: Any = Pattern(pattern.name, pattern.regex, pattern.score)
        copy.compiled_regex = Re2Regex(translated)
        copy.compiled_with_flags = flags
        patterns.append(copy)
    recognizer.patterns = patterns
