"""Real processes for the fault tests: `veille run` / `veille api` children, a private PostgreSQL cluster.

Everything here is started for real and killed for real; nothing is simulated. The shared PostgreSQL
server on 5432 is never touched: a test that stops the database starts its own cluster.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from kafka import KafkaConsumer, TopicPartition

from monitor.broker import free_port
from monitor.demo import child_env
from monitor.kafka_io import committed_offsets, send_records
from monitor.pipeline import Pipeline, build_pipeline
from monitor.produce import topic_for_sources
from monitor.settings import Settings
from policies.post import Post

REPUTATION_RULE_PREFIX = "reputation-"
WaitUntil = Callable[[Callable[[], bool], float, str], None]  # the `wait_until` fixture (tests/conftest.py)


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment `veille run` / `veille api` children get: the test's topics, group and store."""
    env = child_env(settings) | {
        "VEILLE_POLL_MAX_RECORDS": str(settings.poll_max_records),
        "VEILLE_POLL_TIMEOUT_MS": str(settings.poll_timeout_ms),
        "VEILLE_MAX_RECORD_BYTES": str(settings.max_record_bytes),
    }
    # One worker per test: the multiprocess metrics directory only matters for `--workers N`.
    env.pop("PROMETHEUS_MULTIPROC_DIR")
    env.update(extra)
    return env


class Child:
    """One `veille ...` child process, its output in a log file the test reads back."""

    def __init__(self, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as handle:
            self.process = subprocess.Popen([sys.executable, "-m", "monitor.cli", *args], env=dict(env),
                                            stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, chars: int = 4000) -> str:
        return self.output()[-chars:]

    def rss_bytes(self) -> int:
        """Resident memory from /proc (VmRSS), 0 once the process is gone."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except FileNotFoundError:
            return 0
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        return int(match.group(1)) * 1024 if match else 0

    def kill(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM, then wait; SIGKILL (and fail) if it does not exit in time."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"no exit within {timeout_s:.0f} s of SIGTERM:\n{self.tail()}") from None


@pytest.fixture
def children() -> Iterator[Callable[[list[str], Mapping[str, str], Path], Child]]:
    """``children(args, env, log)`` starts a child; whatever is still running at the end is killed."""
    started: list[Child] = []

    def start(args: list[str], env: Mapping[str, str], log: Path) -> Child:
        child = Child(args, env, log)
        started.append(child)
        return child

    yield start
    for child in started:
        with contextlib.suppress(Exception):
            child.kill()


def stored_hits(database_url: str) -> Counter[tuple[str, str]]:
    """(post id, rule id) of every stored policy alert, counted: a duplicate shows as a count of 2.

    E-reputation alerts are left out: they come from windows over many posts, not from one post's
    rules, so `veille scan` (which has no windows) cannot find them.
    """
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("select post_id, rule_id from alerts")).all()
    finally:
        engine.dispose()
    return Counter((post_id, rule_id) for post_id, rule_id in rows
                   if not rule_id.startswith(REPUTATION_RULE_PREFIX))


def metric_total(metrics_url: str, family: str) -> float:
    text = httpx.get(metrics_url, timeout=5).text
    return sum(float(match.group(1)) for match in
               re.finditer(rf"^{family}(?:\{{[^}}]*\}})? (\S+)$", text, re.M))


# --- a private PostgreSQL cluster, to stop and start at will ---


def _postgres_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not candidates:
        pytest.fail("no PostgreSQL server under /usr/lib/postgresql/*/bin (Debian package postgresql)")
    return candidates[-1].parent


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of its own on a free port: stopping it disturbs no one else."""

    bin_dir: Path
    data_dir: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout_s: float = 60.0) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            # initdb and the server refuse to run as root.
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    root = Path(tempfile.mkdtemp(prefix="veille-faults-pg-"))
    data_dir = root / "data"
    data_dir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data_dir, "postgres")
    cluster = PrivatePostgres(_postgres_bin(), data_dir, free_port(), root / "server.log")
    try:
        cluster._run("initdb", "-D", str(data_dir), "-A", "trust", "-U", "postgres", "--no-sync")
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def produce(settings: Settings, posts: Iterable[Post]) -> dict[TopicPartition, int]:
    """Send posts as `veille produce` does; each written partition's end offset (last offset + 1)."""
    routing = topic_for_sources(settings)
    return send_records(settings, [(routing[post.source], post.author.id.encode(),
                                    post.model_dump_json().encode()) for post in posts])


def merge_ends(*ends: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
    merged: dict[TopicPartition, int] = {}
    for mapping in ends:
        for tp, end in mapping.items():
            merged[tp] = max(merged.get(tp, 0), end)
    return merged


def read_topic(settings: Settings, topic: str, timeout_s: float = 120.0) -> list[Any]:
    """Every record of ``topic`` (no group: plain assignment), records of up to 32 MB included."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
                             max_partition_fetch_bytes=32 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=2000)
            if not batches and records:
                return records  # the topic's whole content: writers flush before committing
            for batch in batches.values():
                records.extend(batch)
        raise AssertionError(f"reading {topic} took over {timeout_s:.0f} s ({len(records)} records so far)")
    finally:
        consumer.close()


class FaultKit:
    """The helpers above, handed out by the ``fault`` fixture (test directories are not packages)."""

    def __init__(self, wait_until: WaitUntil) -> None:
        self.wait_until = wait_until

    def wait_committed(self, settings: Settings, ends: Mapping[TopicPartition, int], timeout_s: float,
                       child: Child | None = None, note: str = "") -> None:
        def done() -> bool:
            if child is not None and not child.alive():
                code = child.process.returncode
                raise AssertionError(f"the worker exited with {code}{note}:\n{child.tail()}")
            committed = committed_offsets(settings)
            return all(committed.get(tp) == end for tp, end in ends.items())

        self.wait_until(done, timeout_s, f"committed offsets to reach {dict(ends)}{note}")

    worker_env = staticmethod(worker_env)
    committed_offsets = staticmethod(committed_offsets)
    stored_hits = staticmethod(stored_hits)
    metric_total = staticmethod(metric_total)
    produce = staticmethod(produce)
    produce_raw = staticmethod(send_records)
    read_topic = staticmethod(read_topic)
    merge_ends = staticmethod(merge_ends)


@pytest.fixture
def fault(wait_until: WaitUntil) -> FaultKit:
    return FaultKit(wait_until)


@pytest.fixture(scope="session")
def pipeline() -> Pipeline:
    """The shipped packs and detectors, as `veille run` builds them: what the stored alerts should be."""
    return build_pipeline(Settings(_env_file=None))
