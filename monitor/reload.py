"""Hot reload of the policy packs between batches, on SIGHUP or when a pack file changes.

A reload happens only between two batches, so a batch is always evaluated by one consistent policy
version and no record is lost or evaluated twice. A pack that fails validation is refused: the previous
version stays active, the error is logged (file and line, never post content) and counted.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from monitor.metrics import Metrics
from policies import PolicyError, PolicySet, load_policy_set

log = logging.getLogger(__name__)


def pack_files(extra_dir: Path | None) -> list[Path]:
    import policies

    roots = [Path(policies.__file__).parent / "packs"]
    if extra_dir is not None:
        roots.append(extra_dir)
    return sorted(path for root in roots if root.is_dir() for path in root.rglob("*.y*ml"))


def _fingerprint(paths: list[Path]) -> tuple[tuple[str, int, int], ...]:
    result = []
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        result.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(result)


class PolicyReloader:
    """Decides when to reload and does it; the run loop calls ``poll()`` between batches."""

    def __init__(
        self,
        extra_dir: Path | None,
        metrics: Metrics | None = None,
        *,
        loader: Callable[[Path | None], PolicySet] = load_policy_set,
        check_interval_s: float = 2.0,
    ) -> None:
        self._extra_dir = extra_dir
        self._metrics = metrics
        self._loader = loader
        self._check_interval_s = check_interval_s
        self._requested = threading.Event()
        self._fingerprint = _fingerprint(pack_files(extra_dir))
        self._last_check = 0.0

    def request(self) -> None:
        """Ask for a reload at the next batch boundary (what SIGHUP does)."""
        self._requested.set()

    def install_sighup(self) -> None:
        if hasattr(signal, "SIGHUP") and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGHUP, lambda _signum, _frame: self.request())

    def _files_changed(self, now: float) -> bool:
        if now - self._last_check < self._check_interval_s:
            return False
        self._last_check = now
        current = _fingerprint(pack_files(self._extra_dir))
        if current != self._fingerprint:
            self._fingerprint = current
            return True
        return False

    def poll(self, now: float) -> PolicySet | None:
        """A freshly loaded policy set when a reload was due and succeeded, else None."""
        if not (self._requested.is_set() or self._files_changed(now)):
            return None
        self._requested.clear()
        try:
            policies = self._loader(self._extra_dir)
        except PolicyError as exc:
            log.error("policy reload refused, previous packs stay active: %s", exc)
            if self._metrics is not None:
                self._metrics.policy_reload_errors.inc()
            return None
        log.info("policy packs reloaded: version %s", policies.version)
        return policies
