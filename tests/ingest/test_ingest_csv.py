"""CSV with a column mapping: the expected posts, clear mapping errors, rows named by line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.ingest.base import SkipReason
from monitor.ingest.manifest import Manifest, Reconciler
from monitor.ingest.people import Directory
from monitor.ingest.tabular import MappingError, parse_mapping, read_csv
from policies.post import Source

MAPPING = ("id=Comment ID,text=Comment,author=Member,author_name=Member Name,email=Member Email,"
           "created_at=Posted At,lang=Language,url=Link,reply_to=In Reply To")


def test_the_export_gives_the_expected_posts_field_by_field(ingest_kit: Any, people: Directory) -> None:
    context = ingest_kit.context_for("linkedin", Source.EXTERNAL, people)
    reconciler = Reconciler(Manifest(format="csv", input="linkedin-comments.csv", output="-"))
    items = read_csv(ingest_kit.DATA / "csv" / "linkedin-comments.csv", context, parse_mapping(MAPPING))
    ingest_kit.assert_posts_equal(list(reconciler.admit(items)), ingest_kit.expected_posts("csv"))
    manifest = reconciler.manifest
    assert manifest.skipped == {"system_message": 0, "deleted": 0, "empty": 1, "duplicate": 1, "malformed": 2}
    # A row is named by the line it starts on (li-7002's comment spans lines 3 and 4).
    assert [(entry.ref, entry.detail) for entry in manifest.malformed] == [
        ("linkedin-comments.csv:6", "empty id (column 'Comment ID')"),
        ("linkedin-comments.csv:7", "unreadable timestamp 'yesterday'"),
    ]


@pytest.mark.parametrize(("spec", "message"), [
    ("id=ID,text=Body", "--map must name a column for author"),
    ("id=ID,text=Body,author=From,colour=Red", "unknown field 'colour'"),
    ("id=ID,text,author=From", "'text' is not FIELD=COLUMN"),
])
def test_mapping_errors_say_how_to_fix_them(spec: str, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        parse_mapping(spec)


def test_columns_missing_from_the_header_stop_the_file(ingest_kit: Any, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("ID,Body\n1,hello\n", encoding="utf-8")
    (item,) = read_csv(path, ingest_kit.context_for("csv", Source.EXTERNAL),
                       parse_mapping("id=ID,text=Body,author=From"))
    assert (item.ref, item.reason, item.detail) == (
        "export.csv", SkipReason.MALFORMED, "--map names columns the header lacks: From")


def test_a_line_that_is_not_utf8_costs_that_line_only(ingest_kit: Any, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"ID,Body,From\n1,hello,a\n2,caf\xe9,b\n3,\xc3\xa9t\xc3\xa9,c\n")
    items = list(read_csv(path, ingest_kit.context_for("csv", Source.EXTERNAL),
                          parse_mapping("id=ID,text=Body,author=From")))
    assert [getattr(item, "id", None) or (item.ref, item.detail) for item in items] == [
        "csv:1", ("export.csv:3", "byte 5 is not valid UTF-8"), "csv:3"]


def test_a_row_breaking_the_post_contract_is_malformed_not_fatal(ingest_kit: Any, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(f"ID,Body,From\n1,hello,{'a' * 300}\n2,{'x' * 100_001},b\n3,fine,c\n", encoding="utf-8")
    items = list(read_csv(path, ingest_kit.context_for("csv", Source.EXTERNAL),
                          parse_mapping("id=ID,text=Body,author=From")))
    assert [getattr(item, "id", None) or (item.ref, item.detail) for item in items] == [
        ("export.csv:2", "id: String should have at most 256 characters"),
        ("export.csv:3", "text: String should have at most 100000 characters"),
        "csv:3"]
