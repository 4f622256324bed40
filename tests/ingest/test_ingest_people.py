"""The directory of people and the employee domains decide employee flag, role and country."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.ingest.people import Directory, DirectoryError


def test_rows_match_by_id_handle_or_email_case_insensitively(ingest_kit: Any) -> None:
    people = Directory.load(ingest_kit.DATA / "people.csv")
    by_id = people.author("U03BOBSMTH", display_name="Bob Smith")
    assert (by_id.is_employee, by_id.role, by_id.country) == (True, "registered_rep", "US")
    by_handle = people.author("U02ETIENNE", handle="@Etienne.Lefevre")
    assert (by_handle.is_employee, by_handle.role, by_handle.country) == (True, "employee", "FR")
    by_email = people.author("U04CAROLCL", email="Carol@Client-Corp.example")
    assert (by_email.is_employee, by_email.role, by_email.country) == (False, "customer", "GB")


def test_domains_apply_to_people_the_directory_does_not_list() -> None:
    people = Directory(employee_domains=["acme-bank.fr", " @acme-securities.com "])
    assert people.author("1", email="a@acme-bank.fr").role == "employee"
    assert people.author("2", email="b@paris.acme-bank.fr").is_employee  # a subdomain
    assert not people.author("3", email="c@notacme-bank.fr").is_employee
    assert people.author("4", email="d@acme-securities.com").is_employee
    assert people.author("5").role == "public"
    assert people.author("6", email="x@acme-bank.fr", bot=True).role == "bot"


@pytest.mark.parametrize(("text", "message"), [
    ("name,role\nAlice,employee\n", "names no identity column; add one of id, handle, email"),
    ("id,employee\nU1,maybe\n", r"people.csv:2: employee must be true or false"),
    ("id,country\nU1,France\n", r"people.csv:2: country must be an ISO 3166-1 alpha-2 code"),
    ("id,handle,role\n,,employee\n", r"people.csv:2: the row has no id, handle, email value"),
])
def test_errors_name_the_file_line_and_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DirectoryError, match=message):
        Directory.load(path)
