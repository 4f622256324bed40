"""The audit anchor file: checkpoints of the audit chain's head, kept outside the database.

Deleting the newest audit entries, or rewriting the whole chain, leaves a chain that verifies on its
own (see :mod:`alerts.audit`). A process that appends audit entries (the API, the CLI) therefore
also appends its head ``{"seq", "hash", "at"}`` to this file: once ``every_entries`` entries were
added since its last checkpoint, once ``every_seconds`` passed with the head moved, and when it stops.
``veille audit verify`` then refuses a chain that is shorter than, or differs from, any line. Entries
appended after the newest checkpoint are covered only by the next one: that window is what the two
settings bound.

The file is JSON lines, opened with ``O_APPEND`` and fsync'd after each line (and its directory when
the file is created), so several processes on one host may share it and a line is on disk before
the writer goes on. Keep it where those who administer the database cannot rewrite it: another
volume or host, or ship it to a log store as it grows.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from alerts.audit import Anchor, ChainHead, Checkpoint

log = logging.getLogger(__name__)

_LINE_FORMAT = '{"seq": N, "hash": "<64 hex>", "at": "<ISO 8601>"}'
_TAIL_BYTES = 4096


class AnchorFileError(Exception):
    """The anchor file cannot be read or written, or one of its lines is not a checkpoint."""


def read_anchors(path: Path) -> list[Anchor]:
    """Every checkpoint of the file, each with the line it came from."""
    anchors = []
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    where = f"anchor file {path} line {number}"
                    anchors.append(Anchor(_checkpoint(line, where), where))
    except OSError as exc:
        raise AnchorFileError(f"cannot read the anchor file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise AnchorFileError(f"the anchor file {path} is not UTF-8 text: it is not an anchor file") from None
    return anchors


def _checkpoint(line: str, where: str) -> Checkpoint:
    try:
        return Checkpoint.model_validate_json(line)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "line"
        raise AnchorFileError(
            f"{where} is not a checkpoint ({field}: {first['msg']}): each line is {_LINE_FORMAT}; "
            "restore the line from a copy of the file (never drop it: it is what verify checks)"
        ) from None


class AuditAnchor:
    """Decides when a checkpoint is due and appends it to the file; safe to share between threads.

    A write that fails is logged, not raised: the audited change it follows is already committed,
    and the next observed head or timer tick tries again.
    """

    def __init__(
        self,
        path: Path,
        *,
        every_entries: int,
        every_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every_entries < 1 or every_seconds <= 0:
            raise ValueError("a checkpoint needs every_entries >= 1 and every_seconds > 0")
        self.path = path
        self._every_entries = every_entries
        self._every_seconds = every_seconds
        self._clock = clock
        self._lock = threading.Lock()
        _prepare(path)
        last = _last_checkpoint(path)
        self._last_seq = last.seq if last is not None else 0
        self._last_at = clock()

    def observe(self, head: ChainHead) -> None:
        """Called with the head after each audited commit: writes a checkpoint when one is due."""
        with self._lock:
            moved = head.seq - self._last_seq
            if moved >= self._every_entries or (moved > 0 and self._elapsed() >= self._every_seconds):
                self._write(head)

    def timer_due(self) -> bool:
        """Whether a quiet spell has lasted long enough to check the head again (one cheap read)."""
        with self._lock:
            return self._elapsed() >= self._every_seconds

    def checkpoint(self, head: ChainHead) -> None:
        """Write ``head`` unless it is already anchored (the timer and the final write at shutdown)."""
        with self._lock:
            if head.seq > self._last_seq:
                self._write(head)
            else:
                self._last_at = self._clock()

    def _elapsed(self) -> float:
        return self._clock() - self._last_at

    def _write(self, head: ChainHead) -> None:
        line = Checkpoint(seq=head.seq, hash=head.hash, at=datetime.now(UTC)).model_dump_json() + "\n"
        try:
            _append_line(self.path, line)
        except OSError as exc:
            log.error(
                "audit checkpoint of entry #%d not written to %s: %s; retried after the next audited "
                "change or tick", head.seq, self.path, exc.strerror,
            )
            return
        self._last_seq = head.seq
        self._last_at = self._clock()


def _prepare(path: Path) -> None:
    """Fail at start-up, not at the first checkpoint, when the file cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640))
        if created:
            _fsync_directory(path.parent)
    except OSError as exc:
        raise AnchorFileError(
            f"cannot open the audit anchor file {path} for appending: {exc.strerror}; "
            "check VEILLE_AUDIT_ANCHOR_FILE and the directory's permissions"
        ) from None


def _append_line(path: Path, line: str) -> None:
    # One write of one short line with O_APPEND: processes sharing the file never interleave lines.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_checkpoint(path: Path) -> Checkpoint | None:
    """The newest complete line, read from the end: a long file is not read whole at start-up."""
    with path.open("rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(0, size - _TAIL_BYTES))
        tail = file.read().decode("utf-8", errors="replace")
    for line in reversed(tail.splitlines()):
        try:
            return Checkpoint.model_validate_json(line)
        except ValidationError:
            continue  # a line cut by the tail window; verify reports any truly bad line
    return None
