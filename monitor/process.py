"""What every process Veille starts shares: the logging set-up, and for a child, dying with its parent."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import sys
import threading
from types import FrameType

_PR_SET_PDEATHSIG = 1
log = logging.getLogger(__name__)


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # kafka-python logs every connection attempt at INFO: noise for operators.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    # Alembic announces every migration context at INFO, in every worker that opens the store.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs every request's full URL at INFO, and httpcore its headers at DEBUG: a webhook path or a
    # polled feed's query can carry a secret, so neither may log below WARNING, even with --verbose.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def die_with_parent() -> None:
    """SIGTERM this process when the thread that started it dies, even by SIGKILL.

    Call it in the child: between fork and exec (``preexec_fn``) or first thing in a spawned process.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT ask the process to finish what it is doing (a batch, a delivery) and stop
    cleanly (main thread only)."""

    def _handler(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("%s received: finishing the work in hand", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
