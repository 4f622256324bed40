"""Errors a policy author can act on: every one names the file, the line and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class PolicyError(ValueError):
    """A policy pack problem, located. ``str()`` is ``file:line: message — how to fix``.

    The loader collects every problem it finds before raising, so one run of ``veille policies check``
    shows them all: the raised error then carries the individual ones in ``errors`` and its text lists
    them one per line. A single problem carries itself in ``errors``.
    """

    def __init__(
        self,
        file: str,
        line: int | None,
        message: str,
        hint: str | None = None,
        *,
        errors: Sequence[PolicyError] | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.message = message
        self.hint = hint
        self.errors: tuple[PolicyError, ...] = tuple(errors) if errors else (self,)
        super().__init__(self._text())

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def _text(self) -> str:
        if len(self.errors) > 1 or self.errors[0] is not self:
            return f"{len(self.errors)} policy error(s):\n" + "\n".join(str(e) for e in self.errors)
        return f"{self.location}: {self.message}" + (f" — {self.hint}" if self.hint else "")

    @classmethod
    def collect(cls, errors: Sequence[PolicyError]) -> PolicyError:
        """One error listing all of ``errors``; its own file/line/message are the first one's."""
        if len(errors) == 1:
            return errors[0]
        first = errors[0]
        return cls(first.file, first.line, first.message, first.hint, errors=errors)


def did_you_mean(name: str, known: Iterable[str], what: str) -> str:
    """A fix hint: the closest known name if there is one, and the full list (bounded) otherwise."""
    known = sorted(set(known))
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    shown = ", ".join(known[:40]) + (", ..." if len(known) > 40 else "") if known else "(none)"
    if close:
        return f"did you mean '{close[0]}'? {what}: {shown}"
    return f"{what}: {shown}"
