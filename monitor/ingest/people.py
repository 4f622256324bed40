"""Who is an employee, and in which role and country: from a directory file or e-mail domains.

Rules such as FINRA 2210 match on ``author.role`` and the jurisdiction follows ``author.country``, so
the platforms' own user records (which know neither) are completed from the organisation's directory:
a CSV with a header naming at least one identity column (``id``, ``handle``, ``email``) and any of
``employee``, ``role``, ``country``. A row applies to an author whose platform id, handle (with or
without ``@``) or e-mail matches, case-insensitively. People listed are employees unless ``employee``
says otherwise. Without a row, an author whose e-mail domain is one of ``--employee-domains`` (or a
subdomain of one) is an employee.

Errors name the file and line, never a person.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from policies.post import Author

IDENTITY_COLUMNS = ("id", "handle", "email")
TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0"}
BOT_ROLE = "bot"


class DirectoryError(ValueError):
    """The directory file cannot be used; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class Person:
    is_employee: bool
    role: str
    country: str | None


def _key(value: str) -> str:
    return value.strip().lstrip("@").lower()


class Directory:
    """Looks authors up by platform id, handle or e-mail; an empty directory knows nobody."""

    def __init__(self, people: Mapping[str, Person] | None = None,
                 employee_domains: Iterable[str] = ()) -> None:
        self._people = {_key(key): person for key, person in (people or {}).items()}
        self._domains = tuple(domain.strip().lstrip("@").lower() for domain in employee_domains
                              if domain.strip())

    @classmethod
    def load(cls, path: Path | None, employee_domains: Iterable[str] = ()) -> Directory:
        return cls(read_directory(path) if path is not None else None, employee_domains)

    def lookup(self, *identities: str | None) -> Person | None:
        for identity in identities:
            if identity:
                person = self._people.get(_key(identity))
                if person is not None:
                    return person
        return None

    def is_employee_email(self, email: str | None) -> bool:
        if not email or "@" not in email:
            return False
        domain = email.rsplit("@", 1)[1].strip().lower()
        return any(domain == known or domain.endswith("." + known) for known in self._domains)

    def author(self, author_id: str, *, display_name: str | None = None, handle: str | None = None,
               email: str | None = None, bot: bool = False) -> Author:
        """The contract's Author. The e-mail only decides the employee flag: it is never copied."""
        person = self.lookup(author_id, handle, email)
        if person is not None:
            return Author(id=author_id, display_name=display_name, handle=handle,
                          is_employee=person.is_employee, role=person.role, country=person.country)
        if bot:
            return Author(id=author_id, display_name=display_name, handle=handle, role=BOT_ROLE)
        employee = self.is_employee_email(email)
        return Author(id=author_id, display_name=display_name, handle=handle, is_employee=employee,
                      role="employee" if employee else "public")


def read_directory(path: Path) -> dict[str, Person]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
            header = [name.strip().lower() for name in (rows[0].keys() if rows else [])]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DirectoryError(f"{path}: cannot read the directory ({type(exc).__name__}: {exc})") from None
    if rows and not any(column in header for column in IDENTITY_COLUMNS):
        raise DirectoryError(f"{path}: the header names no identity column; add one of "
                             f"{', '.join(IDENTITY_COLUMNS)}")
    people: dict[str, Person] = {}
    for line, row in enumerate(rows, start=2):
        fields = {str(name).strip().lower(): (value or "").strip() for name, value in row.items() if name}
        if not any(fields.get(column) for column in IDENTITY_COLUMNS):
            raise DirectoryError(f"{path}:{line}: the row has no {', '.join(IDENTITY_COLUMNS)} value")
        person = _person(path, line, fields)
        for column in IDENTITY_COLUMNS:
            if fields.get(column):
                people[fields[column]] = person
    return people


def _person(path: Path, line: int, fields: Mapping[str, str]) -> Person:
    flag = fields.get("employee", "").lower()
    if flag and flag not in TRUE_WORDS | FALSE_WORDS:
        raise DirectoryError(f"{path}:{line}: employee must be true or false (or yes/no, 1/0)")
    is_employee = flag not in FALSE_WORDS
    country = fields.get("country") or None
    if country is not None and not re.fullmatch(r"[A-Za-z]{2}", country):
        raise DirectoryError(f"{path}:{line}: country must be an ISO 3166-1 alpha-2 code such as FR")
    role = fields.get("role") or ("employee" if is_employee else "public")
    if len(role) > 64:
        raise DirectoryError(f"{path}:{line}: role is longer than 64 characters")
    return Person(is_employee, role, country.upper() if country else None)
