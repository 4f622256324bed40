"""Reconciliation: every record read is produced or skipped for a reason, and the hash is the output's."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from monitor.ingest.manifest import Manifest, RecentIds, Reconciler
from monitor.ingest.people import Directory
from monitor.ingest.run import JsonlOutput, ingest_path
from monitor.ingest.slack import read_slack
from policies.post import Source


def _run(ingest_kit: Any, people: Directory, out: Path) -> Manifest:
    context = ingest_kit.context_for("slack", Source.INTERNAL, people)
    reconciler = Reconciler(Manifest(format="slack", input="slack", output=str(out)))
    with out.open("wb") as handle:
        return ingest_path(read_slack, ingest_kit.DATA / "slack", context, reconciler, JsonlOutput(handle))


def test_read_equals_produced_plus_skipped_and_the_hash_is_the_files(
    ingest_kit: Any, people: Directory, tmp_path: Path,
) -> None:
    out = tmp_path / "posts.jsonl"
    manifest = _run(ingest_kit, people, out)
    assert manifest.read == manifest.produced + sum(manifest.skipped.values()) == 15
    assert manifest.produced == 8 == len(out.read_text().splitlines())
    assert manifest.skipped == {"system_message": 2, "deleted": 2, "empty": 1, "duplicate": 0, "malformed": 2}
    assert manifest.content_sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest.first_timestamp is not None and manifest.last_timestamp is not None
    assert (manifest.first_timestamp.isoformat(), manifest.last_timestamp.isoformat()) == (
        "2024-03-04T09:01:00.000200+00:00", "2024-03-07T08:00:00.000100+00:00")
    assert [entry.ref for entry in manifest.malformed] == ["trading-desk/2024-03-06.json",
                                                           "trading-desk/2024-03-07.json[0]"]
    assert manifest.acknowledged is None  # nothing to acknowledge without --produce


def test_re_ingesting_gives_the_same_ids_bytes_and_hash(
    ingest_kit: Any, people: Directory, tmp_path: Path,
) -> None:
    first = _run(ingest_kit, people, tmp_path / "a.jsonl")
    second = _run(ingest_kit, people, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert first.content_sha256 == second.content_sha256


def test_the_manifest_never_holds_post_text_or_personal_data(
    ingest_kit: Any, people: Directory, tmp_path: Path,
) -> None:
    manifest = _run(ingest_kit, people, tmp_path / "posts.jsonl")
    manifest.write(tmp_path / "manifest.json")
    written = (tmp_path / "manifest.json").read_text(encoding="utf-8")
    assert json.loads(written)["produced"] == 8
    for secret in ("2 69 05 49 588 157 80", "risk-free", "Zoé", "zoe.dupont@acme-bank.fr", "Bob Smith"):
        assert secret not in written


def test_a_restored_checkpoint_forgets_what_was_counted_after_it() -> None:
    from policies.post import Author, Post

    post = Post(id="x:1", source=Source.EXTERNAL, channel="x", author=Author(id="a"), text="hello")
    reconciler = Reconciler(Manifest(format="x", input="-", output="-"), seen=RecentIds(capacity=2))
    checkpoint = reconciler.checkpoint()
    assert list(reconciler.admit([post])) == [post]
    reconciler.restore(checkpoint)
    assert (reconciler.manifest.read, reconciler.manifest.produced) == (0, 0)
    assert list(reconciler.admit([post, post])) == [post]  # produced again, then a duplicate
    assert reconciler.manifest.skipped["duplicate"] == 1


def test_recent_ids_are_bounded_oldest_out() -> None:
    recent = RecentIds(["a", "b", "c"], capacity=2)
    assert recent.newest() == ["b", "c"] and "a" not in recent
