"""What the Kafka loop costs: `veille run` against the pipeline alone and raw kafka-python, in one run.

    .venv/bin/python bench/pipeline.py --posts 20000 --broker tansu
    .venv/bin/python bench/pipeline.py --rss-posts 1000000      # adds the memory soak (about 15 min)

Starts an embedded broker and produces the generated posts once, then measures on those same records:

* raw consume: kafka-python alone polling them (same batch size as the worker), the loop's ceiling;
* pipeline alone: the same poll batches, decoded, through ``Pipeline.process`` in a fresh process
  (warmed up as `veille run` is, never twice in one process: warm caches would flatter it);
* `veille run --workers 1` and `--workers 2` (real child processes, fresh group and SQLite store each):
  steady state, from the first commit to the last (start-up and the group join left out);
* decoding alone: ``decode_post`` over the same records, in this process: the ceiling of any loop that
  validates its input before detecting (pattern-only runs can never pass it);
* pattern-only: `veille run` with packs reduced to pattern and lexicon rules (an overlay directory
  disabling every other rule), against the raw consume rate, and the pipeline alone on those packs;
* latency: posts produced at a fixed rate (500/s) into fresh topics while a worker runs; for every
  post that raises an alert, the time from its send to its alert being visible in the store (p50/p99);
* ``--rss-posts N``: N posts streamed through one worker; its resident memory (/proc) after warm-up and
  at the end.

The last line is machine-readable: ``loop_vs_pipeline=<ratio> pattern_only_vs_raw=<ratio> p99_ms=<ms>``.
Targets: loop_vs_pipeline >= 0.8, pattern_only_vs_raw >= 0.5, p99_ms < 1000.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# bench/ holds scripts named like the packages (bench/detectors.py): never let them shadow Veille's.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from kafka import KafkaConsumer, TopicPartition  # noqa: E402
from kafka.admin import KafkaAdminClient  # noqa: E402

from monitor.broker import EmbeddedBroker  # noqa: E402
from monitor.demo import child_env  # noqa: E402
from monitor.kafka_io import ensure_topics, make_producer, send_records  # noqa: E402
from monitor.pipeline import build_pipeline  # noqa: E402
from monitor.produce import topic_for_sources  # noqa: E402
from monitor.records import decode_post  # noqa: E402
from monitor.settings import Settings  # noqa: E402
from monitor.traffic import generate_posts  # noqa: E402
from policies import load_policy_set  # noqa: E402
from policies.post import Post  # noqa: E402

ASSIGNED = re.compile(r"partitions assigned: \S+\[")
RSS_WARMUP_SHARE = 0.1


class Bench:
    """One broker, one data directory; every measured run gets its own topics or group and store."""

    def __init__(self, broker: EmbeddedBroker, root: Path, poll_max_records: int) -> None:
        self.broker = broker
        self.root = root
        self.poll_max_records = poll_max_records
        self._admin = KafkaAdminClient(bootstrap_servers=[broker.bootstrap], client_id="veille-bench")

    def settings(self, label: str, *, prefix: str = "bench", **overrides: Any) -> Settings:
        data_dir = self.root / label
        data_dir.mkdir(parents=True, exist_ok=True)
        return Settings(
            _env_file=None, bootstrap_servers=[self.broker.bootstrap], data_dir=data_dir,
            input_topics=[f"{prefix}.posts.internal", f"{prefix}.posts.external"],
            dlq_topic=f"{prefix}.posts.dlq", alerts_topic=f"{prefix}.alerts", group_id=f"bench-{label}",
            session_timeout_ms=6000, heartbeat_interval_ms=1000, poll_max_records=self.poll_max_records,
            **overrides,
        )

    def committed(self, settings: Settings) -> int:
        offsets = self._admin.list_group_offsets({settings.group_id: None}).get(settings.group_id, {})
        return sum(meta.offset for meta in offsets.values() if meta.offset >= 0)

    def start_worker(self, settings: Settings, workers: int = 1) -> tuple[subprocess.Popen[bytes], Path]:
        env = child_env(settings) | {"VEILLE_POLL_MAX_RECORDS": str(settings.poll_max_records)}
        if settings.policies_dir is not None:
            env["VEILLE_POLICIES_DIR"] = str(settings.policies_dir)
        env.pop("PROMETHEUS_MULTIPROC_DIR")
        log_path = settings.data_dir / "run.log"
        with log_path.open("wb") as log:
            command = [sys.executable, "-m", "monitor.cli", "run", "--workers", str(workers)]
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        return process, log_path

    def steady_rate(self, settings: Settings, total: int, workers: int = 1) -> float:
        """`veille run` over ``total`` records already in the topics: posts/s from first commit to last."""
        process, log_path = self.start_worker(settings, workers)
        try:
            first_at: float | None = None
            first_done = done = 0
            while done < total:
                _check_alive(process, log_path)
                done = self.committed(settings)
                if done and first_at is None:
                    first_at, first_done = time.perf_counter(), done
                time.sleep(0.05)
            finished = time.perf_counter()
        finally:
            _stop(process)
        assert first_at is not None
        return (total - first_done) / (finished - first_at) if finished > first_at else float("inf")

    def close(self) -> None:
        self._admin.close()


def _check_alive(process: subprocess.Popen[bytes], log_path: Path) -> None:
    if process.poll() is not None:
        print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise SystemExit(f"veille run exited with {process.returncode}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(60)


def produce(settings: Settings, posts: Sequence[Post]) -> None:
    routing = topic_for_sources(settings)
    send_records(settings, [(routing[post.source], post.author.id.encode(), post.model_dump_json().encode())
                            for post in posts])


def raw_consume(settings: Settings, total: int) -> tuple[float, list[list[bytes]]]:
    """kafka-python alone, as the worker configures it: records/s, and the poll batches it got."""
    consumer = KafkaConsumer(bootstrap_servers=list(settings.bootstrap_servers), enable_auto_commit=False,
                             max_poll_records=settings.poll_max_records)
    try:
        tps = [TopicPartition(topic, p) for topic in settings.input_topics
               for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        batches: list[list[bytes]] = []
        count = 0
        started: float | None = None
        while count < total:
            polled = consumer.poll(timeout_ms=1000, max_records=settings.poll_max_records)
            if polled and started is None:
                started = time.perf_counter()
            batch = [record.value for records in polled.values() for record in records]
            if batch:
                batches.append(batch)
                count += len(batch)
        assert started is not None
        return count / (time.perf_counter() - started), batches
    finally:
        consumer.close()


def decode_rate(batches: Sequence[Sequence[bytes]], max_bytes: int) -> float:
    """Posts/s of ``decode_post`` alone over the poll batches: what validating the input costs, without
    detecting, storing or committing anything."""
    started = time.perf_counter()
    count = sum(1 for batch in batches for value in batch if decode_post(value, max_bytes))
    return count / (time.perf_counter() - started)


def pipeline_alone(batches: Sequence[Sequence[bytes]], settings: Settings, workdir: Path) -> float:
    """Posts/s of Pipeline.process over the same poll batches, in a fresh process as `veille run` is.

    The same process measured twice would lie: module-level caches (regex compilation, folding, the
    spaCy and classifier loads) stay warm from one repeat to the next, which no worker enjoys, and the
    loop's share would be misread as its own cost.
    """
    data = workdir / "batches.pickle"
    data.write_bytes(pickle.dumps([list(batch) for batch in batches]))
    env = child_env(settings)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if settings.policies_dir is not None:
        env["VEILLE_POLICIES_DIR"] = str(settings.policies_dir)
    command = [sys.executable, str(Path(__file__).resolve()), "--pipeline-alone-of", str(data)]
    answer = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if answer.returncode != 0:
        raise SystemExit(f"pipeline alone failed:\n{answer.stderr[-3000:]}")
    return float(answer.stdout.strip().splitlines()[-1])


def _pipeline_alone_here(data: Path) -> float:
    """The child's side of :func:`pipeline_alone`: decoded first, outside the timing, then processed."""
    settings = Settings()
    batches = pickle.loads(data.read_bytes())
    pipeline = build_pipeline(settings)
    decoded = [[decode_post(value, settings.max_record_bytes) for value in batch] for batch in batches]
    pipeline.warm_up()  # lazy model loads, as `veille run` does before joining the group
    started = time.perf_counter()
    for posts in decoded:
        pipeline.process(posts)
    return sum(len(posts) for posts in decoded) / (time.perf_counter() - started)


def pattern_only_dir(directory: Path) -> Path:
    """Overlays disabling every shipped rule that needs more than the pattern and lexicon detectors."""
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    disabled: dict[str, list[str]] = {}
    for _plan, rule in load_policy_set().rules():
        if rule.detectors - {"pattern", "lexicon"}:
            disabled.setdefault(rule.pack, []).append(rule.id)
    for pack, ids in disabled.items():
        document = {"pack": {"id": f"{pack}-pattern-only", "overlay": pack},
                    "disable": [{"id": rule_id, "reason": "bench: pattern and lexicon rules only"}
                                for rule_id in ids]}
        (directory / f"{pack}-pattern-only.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return directory


def _wait_assigned(process: subprocess.Popen[bytes], log_path: Path, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not ASSIGNED.search(log_path.read_text(errors="replace")):
        _check_alive(process, log_path)
        if time.monotonic() > deadline:
            raise SystemExit(f"the worker had no partition after {timeout_s:.0f} s")
        time.sleep(0.05)


def latency(bench: Bench, posts: Sequence[Post], rate: float) -> list[float]:
    """Seconds from each alert-raising post's send to its alert in the store, at ``rate`` posts/s."""
    settings = bench.settings("latency", prefix="latency")
    ensure_topics(settings, partitions=4)
    process, log_path = bench.start_worker(settings)
    try:
        _wait_assigned(process, log_path)
        sent_at: dict[str, float] = {}
        seen_at: dict[str, float] = {}
        producing = threading.Event()
        producing.set()

        def send() -> None:
            routing = topic_for_sources(settings)
            producer = make_producer(settings, linger_ms=0)
            started = time.perf_counter()
            for index, post in enumerate(posts):
                delay = started + index / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                sent_at[post.id] = time.perf_counter()
                producer.send(routing[post.source], key=post.author.id.encode(),
                              value=post.model_dump_json().encode())
            producer.flush()
            producer.close()
            producing.clear()

        sender = threading.Thread(target=send, name="bench-producer")
        sender.start()
        database = settings.data_dir / "veille.db"
        last_row = 0
        quiet_since: float | None = None
        while producing.is_set() or quiet_since is None or time.perf_counter() - quiet_since < 3.0:
            _check_alive(process, log_path)
            rows = _new_alerts(database, last_row)
            now = time.perf_counter()
            for row_id, post_id in rows:
                last_row = max(last_row, row_id)
                seen_at.setdefault(post_id, now)
            if not producing.is_set():
                quiet_since = quiet_since if quiet_since is not None and not rows else now
            time.sleep(0.01)
        sender.join()
    finally:
        _stop(process)
    return [seen_at[post_id] - sent_at[post_id] for post_id in seen_at if post_id in sent_at]


def _new_alerts(database: Path, after_row: int) -> list[tuple[int, str]]:
    if not database.exists():
        return []
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as connection:
            query = "select rowid, post_id from alerts where rowid > ?"
            return connection.execute(query, (after_row,)).fetchall()
    except sqlite3.OperationalError:  # the table does not exist yet, or the writer holds the lock
        return []


def rss_soak(bench: Bench, base: Sequence[Post], total: int) -> tuple[int, int]:
    """``total`` posts (copies of ``base`` with new ids) through one worker: RSS after warm-up, at the end."""
    settings = bench.settings("rss", prefix="rss")
    ensure_topics(settings, partitions=4)
    process, log_path = bench.start_worker(settings)
    warm_rss = 0
    try:
        sent = 0
        round_ = 0
        while sent < total:
            _check_alive(process, log_path)
            done = bench.committed(settings)
            if not warm_rss and done >= total * RSS_WARMUP_SHARE:
                warm_rss = _rss(process.pid)
                print(f"  RSS after warm-up ({done:,} posts): {warm_rss / 2**20:.0f} MiB", flush=True)
            if sent - done > 5 * len(base):
                time.sleep(0.5)  # keep the backlog bounded: the producer must not outrun the worker
                continue
            chunk = [post.model_copy(update={"id": f"{post.id}-{round_}"}) for post in base][: total - sent]
            produce(settings, chunk)
            sent += len(chunk)
            round_ += 1
        while bench.committed(settings) < total:
            _check_alive(process, log_path)
            time.sleep(0.5)
        end_rss = _rss(process.pid)
    finally:
        _stop(process)
    return warm_rss, end_rss


def _rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) * 1024 if match else 0


def _timed(label: str, run: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = run()
    print(f"  ({label} took {time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    return result


def _best(label: str, repeat: int, measure: Callable[[int], float]) -> float:
    """The best of ``repeat`` runs of ``measure(run)``: on a shared machine, the least disturbed one."""
    return max(_timed(label, lambda run=run: measure(run)) for run in range(repeat))


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--broker", choices=["tansu", "noida"], default="tansu")
    parser.add_argument("--poll-max-records", type=int,
                        default=Settings.model_fields["poll_max_records"].default,
                        help="records per poll, for every measurement (default: the worker's)")
    parser.add_argument("--latency-rate", type=float, default=500.0, help="posts/s for the latency run")
    parser.add_argument("--latency-posts", type=int, default=10_000)
    parser.add_argument("--rss-posts", type=int, default=0, help="also stream this many posts and report RSS")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of each rate measurement; the best is kept (shared machines are noisy)")
    parser.add_argument("--pipeline-alone-of", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pipeline_alone_of is not None:
        print(_pipeline_alone_here(args.pipeline_alone_of))
        return 0

    posts = list(generate_posts(args.posts, seed=42))
    print(f"{args.posts:,} generated posts, broker {args.broker}, batches of {args.poll_max_records}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="veille-bench-") as tmp, EmbeddedBroker(args.broker) as broker:
        bench = Bench(broker, Path(tmp), args.poll_max_records)
        try:
            shared = bench.settings("produce")
            ensure_topics(shared, partitions=4)
            started = time.perf_counter()
            produce(shared, posts)
            total = len(posts)
            print(f"produced {total:,} posts in {time.perf_counter() - started:.1f} s")

            best = f"best of {args.repeat}"
            raw, batches = max((raw_consume(shared, total) for _ in range(args.repeat)), key=lambda r: r[0])
            print(f"raw kafka-python consume: {raw:,.0f} records/s ({best})")
            decoding = decode_rate(batches, shared.max_record_bytes)
            print(f"decoding alone (decode_post, same records): {decoding:,.0f} posts/s "
                  f"({decoding / raw:.2f} of raw consume: the ceiling of any loop that validates its input)")
            alone = _best("pipeline alone", args.repeat, lambda _: pipeline_alone(batches, shared, Path(tmp)))
            print(f"pipeline alone, same {len(batches)} poll batches: {alone:,.0f} posts/s ({best})")
            one = _best("1 worker", args.repeat,
                        lambda run: bench.steady_rate(bench.settings(f"w1-{run}"), total))
            print(f"veille run --workers 1, steady state: {one:,.0f} posts/s "
                  f"({one / alone:.2f} of the pipeline; {best})")
            two = _timed("2 workers", lambda: bench.steady_rate(bench.settings("w2"), total, workers=2))
            print(f"veille run --workers 2, steady state: {two:,.0f} posts/s")
            patterns = pattern_only_dir(Path(tmp) / "pattern-only-policies")
            pattern_one = _best("pattern-only", args.repeat, lambda run: bench.steady_rate(
                bench.settings(f"patterns-{run}", policies_dir=patterns), total))
            print(f"pattern-only packs, veille run --workers 1: {pattern_one:,.0f} posts/s "
                  f"({pattern_one / raw:.2f} of raw consume; {best})")
            pattern_alone = _best("pattern-only pipeline alone", args.repeat, lambda _: pipeline_alone(
                batches, shared.model_copy(update={"policies_dir": patterns}), Path(tmp)))
            print(f"pattern-only packs, pipeline alone: {pattern_alone:,.0f} posts/s "
                  f"({pattern_alone / raw:.2f} of raw consume: the pattern-only loop's ceiling; "
                  f"the loop reaches {pattern_one / pattern_alone:.2f} of it)")
            latencies = _timed("latency", lambda: latency(
                bench, list(generate_posts(args.latency_posts, seed=43)), args.latency_rate))
            p50, p99 = (_percentile(latencies, share) * 1000 for share in (0.5, 0.99))
            print(f"produce-to-stored-alert at {args.latency_rate:.0f} posts/s: {len(latencies)} alerts, "
                  f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(latencies) * 1000:.0f} ms, "
                  f"mean {statistics.fmean(latencies) * 1000:.0f} ms")
            if args.rss_posts:
                warm, end = rss_soak(bench, posts, args.rss_posts)
                print(f"RSS over {args.rss_posts:,} posts: {warm / 2**20:.0f} MiB after warm-up, "
                      f"{end / 2**20:.0f} MiB at the end ({(end - warm) / warm:+.1%})")
        finally:
            bench.close()
    print(f"loop_vs_pipeline={one / alone:.2f} pattern_only_vs_raw={pattern_one / raw:.2f} p99_ms={p99:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
