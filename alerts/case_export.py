"""A case exported for counsel or a regulator: one zip that anyone can check was not altered.

Layout (``FORMAT``)::

    manifest.json          case, export time, exporter, item count, control-number range,
                           whether evidence was revealed (and why), SHA-256 of every other file
    loadfile.csv           one row per item: its control number (VEILLE-000001, ...), ids, file, hash
    items/VEILLE-000001.json   one document per item: the alert or sample, its comments, the audit
                           entries that concern it (its review history among them)

Control numbers follow a stable order (when the item was stored, then its id), so exporting the same
case twice numbers it the same way. The export is audited (``case.export``) with the SHA-256 of
``manifest.json``: since the manifest holds the hash of every file, that one audit entry, in the
hash-chained log, proves later that no file of the zip was changed, added or removed
(:func:`verify_export`, ``veille cases verify``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

FORMAT = "veille-case-export/1"
MANIFEST = "manifest.json"
LOAD_FILE = "loadfile.csv"
CONTROL_PREFIX = "VEILLE-"
LOAD_FILE_COLUMNS = (
    "control_number", "alert_id", "kind", "rule_id", "severity", "jurisdiction", "status", "verdict",
    "created_at", "file", "sha256",
)
# A fixed timestamp inside the zip: the same content gives the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class ExportInvalid(ValueError):
    """The zip is not an intact export; the message names the file and what is wrong."""


def control_number(position: int) -> str:
    """1 → ``VEILLE-000001``: fixed width so the numbers sort as text the way they count."""
    return f"{CONTROL_PREFIX}{position:06d}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_bytes(document: Any) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode()


@dataclass(frozen=True)
class Export:
    data: bytes  # the zip
    manifest: dict[str, Any]
    manifest_sha256: str


def build_export(
    case: dict[str, Any],
    items: Sequence[dict[str, Any]],
    *,
    exporter: dict[str, str],
    exported_at: datetime,
    justification: str | None,
) -> Export:
    """``items`` in control-number order, each ``{"alert": {...}, "kind": ..., ...}``; a
    ``justification`` means the evidence was revealed (the caller audited the reveal)."""
    files: dict[str, bytes] = {}
    rows: list[dict[str, str]] = []
    for position, item in enumerate(items, start=1):
        number = control_number(position)
        name = f"items/{number}.json"
        body = _json_bytes({"control_number": number, **item})
        files[name] = body
        alert = item["alert"]
        rows.append(
            {
                "control_number": number,
                "alert_id": alert["id"],
                "kind": item.get("kind", "alert"),
                "rule_id": alert.get("rule_id", ""),
                "severity": alert.get("severity", ""),
                "jurisdiction": alert.get("jurisdiction", ""),
                "status": alert.get("status", ""),
                "verdict": alert.get("verdict") or "",
                "created_at": str(alert.get("created_at", "")),
                "file": name,
                "sha256": sha256(body),
            }
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=LOAD_FILE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    files[LOAD_FILE] = out.getvalue().encode()
    manifest = {
        "format": FORMAT,
        "case": case,
        "exported_at": exported_at.isoformat(),
        "exporter": exporter,
        "item_count": len(items),
        "control_numbers": {
            "first": control_number(1) if items else None,
            "last": control_number(len(items)) if items else None,
        },
        "evidence": "revealed" if justification is not None else "masked",
        "reveal_justification": justification,
        "files": {name: sha256(body) for name, body in sorted(files.items())},
    }
    manifest_bytes = _json_bytes(manifest)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, body in [(MANIFEST, manifest_bytes), *sorted(files.items())]:
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_TIME), body, zipfile.ZIP_DEFLATED)
    return Export(buffer.getvalue(), manifest, sha256(manifest_bytes))


def verify_export(data: bytes) -> tuple[dict[str, Any], str]:
    """``(manifest, its SHA-256)`` when every file matches the manifest and none was added or removed;
    raises :class:`ExportInvalid` naming the first file that does not. The manifest's own hash is
    checked against the audit log by the caller (:meth:`alerts.store.SqlAlertStore.export_entry`)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ExportInvalid(f"not a zip file ({exc})") from None
    with archive:
        names = archive.namelist()
        if len(set(names)) != len(names):
            raise ExportInvalid("a file name appears twice in the zip: it was altered")
        if MANIFEST not in names:
            raise ExportInvalid(f"{MANIFEST} is missing: not a Veille case export")
        manifest_bytes = archive.read(MANIFEST)
        try:
            manifest = json.loads(manifest_bytes)
            listed: dict[str, str] = dict(manifest["files"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ExportInvalid(f"{MANIFEST} is not a manifest ({type(exc).__name__})") from None
        if manifest.get("format") != FORMAT:
            raise ExportInvalid(f"{MANIFEST}: format {manifest.get('format')!r}, expected {FORMAT!r}")
        extra = sorted(set(names) - set(listed) - {MANIFEST})
        if extra:
            raise ExportInvalid(f"{extra[0]} is not listed in the manifest: a file was added")
        for name, expected in sorted(listed.items()):
            if name not in names:
                raise ExportInvalid(f"{name} is listed in the manifest but missing: a file was removed")
            if sha256(archive.read(name)) != expected:
                raise ExportInvalid(f"{name}: SHA-256 differs from the manifest: the file was altered")
    if manifest.get("item_count") != sum(1 for name in listed if name.startswith("items/")):
        raise ExportInvalid(f"{MANIFEST}: item_count does not match the item files")
    return manifest, sha256(manifest_bytes)
