"""`veille scan` through the real CLI: the stable output format, plan vs all modes, bad lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"


def veille(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=300
    )


def read_jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_scan_gives_the_expected_jsonl(tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    result = veille("scan", str(DATA / "scan_input.jsonl"), "--output", str(output), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert read_jsonl(output.read_text()) == read_jsonl((DATA / "scan_expected.jsonl").read_text())
    assert "scanned 4 posts, 3 alerts" in result.stderr


def test_expected_file_says_what_a_reviewer_expects() -> None:
    by_post = {row["post_id"]: row for row in read_jsonl((DATA / "scan_expected.jsonl").read_text())}
    assert [a["rule_id"] for a in by_post["s-1"]["alerts"]] == ["global-confidential-marker-external"]
    assert by_post["s-2"]["alerts"] == [{"rule_id": "fr-nir-in-post", "severity": "critical"}]
    assert by_post["s-3"] == {"post_id": "s-3", "jurisdiction": "GB", "findings": [], "alerts": []}
    # The classifier reads the pasted key as confidential material shared: a second opinion, no alert.
    assert [f["type"] for f in by_post["s-4"]["findings"]] == ["confidential_sharing", "AWS_ACCESS_KEY"]


def test_detect_all_finds_a_superset_with_the_same_alerts() -> None:
    plan = read_jsonl(veille("scan", str(DATA / "scan_input.jsonl"), "--no-progress").stdout)
    every = read_jsonl(
        veille("scan", str(DATA / "scan_input.jsonl"), "--no-progress", "--detect", "all").stdout
    )
    for plan_row, all_row in zip(plan, every, strict=True):
        assert plan_row["alerts"] == all_row["alerts"]
        plan_findings = {json.dumps(f, sort_keys=True) for f in plan_row["findings"]}
        all_findings = {json.dumps(f, sort_keys=True) for f in all_row["findings"]}
        assert plan_findings <= all_findings
    # Every post in a language with a sentiment model gets exactly one whole-post sentiment finding.
    for row in every:
        assert sum(1 for f in row["findings"] if f["detector"] == "sentiment") == 1


def test_invalid_lines_are_reported_with_their_number_and_the_rest_scanned(tmp_path: Path) -> None:
    good = (DATA / "scan_input.jsonl").read_text().splitlines()
    source = tmp_path / "mixed.jsonl"
    source.write_text("\n".join([good[0], "{not json", '{"id": "x", "source": "moon"}', good[3]]) + "\n")
    result = veille("scan", str(source), "--no-progress")
    assert result.returncode == 1
    assert f"{source}:2: skipped" in result.stderr
    assert f"{source}:3: skipped, source:" in result.stderr
    assert [row["post_id"] for row in read_jsonl(result.stdout)] == ["s-1", "s-4"]


def test_schema_commands_print_json_schemas() -> None:
    post_schema = json.loads(veille("schema", "post").stdout)
    assert post_schema["title"] == "Post"
    scan_schema = json.loads(veille("schema", "scan").stdout)
    assert scan_schema["required"] == ["post_id", "jurisdiction", "findings", "alerts"]


def test_scan_leaves_personal_posts_out_like_the_worker(tmp_path: Path) -> None:
    leak = "quick fix: export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE and rerun the job"
    posts = [
        {"id": f"p-{name}", "source": "internal", "channel": "teams", "jurisdiction": "FR", "text": text,
         "author": {"id": "u-1", "is_employee": True, "role": "employee"}}
        for name, text in (("marked", "[PERSO] " + leak), ("plain", leak))
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(post) + "\n" for post in posts))
    result = veille("scan", str(source), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert [row["post_id"] for row in read_jsonl(result.stdout)] == ["p-plain"]
    assert "scanned 1 posts, 1 alerts" in result.stderr
    assert "1 personal posts left unanalysed" in result.stderr
