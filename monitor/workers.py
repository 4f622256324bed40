"""Several worker processes in one consumer group (`veille run --workers N`): one per core.

Processes, not threads: the detectors are CPU-bound Python. ``spawn`` rather than ``fork`` so that no
Kafka client thread or database connection of the parent is inherited half-alive.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from monitor.process import configure_logging, die_with_parent
from monitor.settings import Settings

log = logging.getLogger(__name__)

STOP_GRACE_S = 60.0


def metrics_dir(settings: Settings) -> str:
    return str((settings.data_dir / "metrics").resolve())


def prepare_multiprocess_metrics(settings: Settings, count: int) -> str | None:
    """Point prometheus-client's multiprocess mode at ``data_dir/metrics`` (emptied) when it is needed.

    Needed when several workers share totals, or when the caller already enabled it (the API reads the
    same directory). Must happen before any child imports prometheus_client.
    """
    if count <= 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    directory = metrics_dir(settings)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    return directory


def _worker_main(settings: Settings, index: int) -> None:
    from monitor.runner import run_worker

    # A supervisor killed with SIGKILL cannot forward signals: do not outlive it.
    die_with_parent()
    configure_logging()
    if settings.metrics_port:
        # One port per worker: they cannot all bind the same one.
        settings = settings.model_copy(update={"metrics_port": settings.metrics_port + index})
    run_worker(settings)


def run_workers(settings: Settings, count: int) -> int:
    """Start ``count`` workers, forward SIGTERM/SIGINT to them, wait; non-zero if one died abnormally."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    prepare_multiprocess_metrics(settings, count)
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    processes: list[BaseProcess] = []

    def _forward(signum: int, _frame: FrameType | None) -> None:
        if not stopping.is_set():
            log.info("%s received: stopping %d workers", signal.Signals(signum).name, len(processes))
        stopping.set()
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, _forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(count):
            process = context.Process(target=_worker_main, args=(settings, index),
                                      name=f"veille-worker-{index}")
            process.start()
            processes.append(process)
            log.info("started worker %d (pid %s)", index, process.pid)
        failed = _wait(processes, stopping)
    finally:
        _stop_all(processes)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if failed else 0


def _wait(processes: list[BaseProcess], stopping: threading.Event) -> bool:
    """Until all have exited; a worker dying on its own (not asked to stop) stops the others too."""
    failed = False
    reaped: set[int] = set()
    while any(process.is_alive() for process in processes):
        for process in processes:
            process.join(timeout=0.2)
            if not process.is_alive() and process.pid is not None and process.pid not in reaped:
                reaped.add(process.pid)
                _mark_metrics_dead(process.pid)
            if not process.is_alive() and process.exitcode not in (0, None) and not failed:
                failed = True
                log.error("%s exited with code %s; stopping the others", process.name, process.exitcode)
                stopping.set()
                for other in processes:
                    if other.is_alive() and other.pid is not None:
                        os.kill(other.pid, signal.SIGTERM)
    for process in processes:
        if process.exitcode not in (0, None) and not failed:
            failed = True
            log.error("%s exited with code %s", process.name, process.exitcode)
    return failed


def _mark_metrics_dead(pid: int) -> None:
    """Drop a dead worker's live gauges (consumer lag) from the multiprocess aggregate."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _stop_all(processes: list[BaseProcess]) -> None:
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log.error("%s did not stop within %.0f s; killing it", process.name, STOP_GRACE_S)
            process.kill()
            process.join(timeout=5)
