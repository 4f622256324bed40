"""Throughput of `veille run` end to end: generated posts in Kafka -> alerts stored -> offsets committed.

    .venv/bin/python bench/run_loop.py --posts 10000 --workers 1 --broker tansu

Starts an embedded broker, produces the posts first (so the loop, not the producer, is measured), runs
the real `veille run` command as a child process against a fresh SQLite store, and polls the group's
committed offsets. Prints the steady-state rate (first commit to last) and, for comparison, the same
posts through the pipeline alone in this process (the ceiling the Kafka loop should approach).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    # bench/ holds scripts named like the packages (bench/detectors.py): never let them shadow Veille's.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    from monitor.broker import EmbeddedBroker
    from monitor.demo import child_env
    from monitor.kafka_io import committed_offsets, ensure_topics
    from monitor.pipeline import build_pipeline
    from monitor.produce import produce_posts
    from monitor.settings import Settings
    from monitor.traffic import generate_posts

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--broker", choices=["tansu", "noida"], default="tansu")
    parser.add_argument("--poll-max-records", type=int, default=500)
    args = parser.parse_args()

    posts = list(generate_posts(args.posts, seed=42))
    with tempfile.TemporaryDirectory(prefix="veille-bench-") as tmp, EmbeddedBroker(args.broker) as broker:
        settings = Settings(bootstrap_servers=[broker.bootstrap], data_dir=Path(tmp), group_id="bench",
                            session_timeout_ms=6000, heartbeat_interval_ms=1000,
                            poll_max_records=args.poll_max_records)
        ensure_topics(settings, partitions=4)
        started = time.perf_counter()
        produce_posts(settings, posts)
        produce_s = time.perf_counter() - started
        print(f"produced {len(posts)} posts in {produce_s:.2f} s ({len(posts) / produce_s:,.0f}/s)")

        env = child_env(settings) | {"VEILLE_POLL_MAX_RECORDS": str(args.poll_max_records)}
        env.pop("PROMETHEUS_MULTIPROC_DIR")
        command = [sys.executable, "-m", "monitor.cli", "run", "--workers", str(args.workers)]
        log_path = Path(tmp) / "run.log"
        with log_path.open("wb") as log:
            launched = time.perf_counter()
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            first_commit: float | None = None
            first_done = 0
            done = 0
            while done < len(posts):
                if process.poll() is not None:
                    print(log_path.read_text()[-3000:], file=sys.stderr)
                    raise SystemExit(f"veille run exited with {process.returncode}")
                done = sum(committed_offsets(settings).values())
                if done and first_commit is None:
                    first_commit, first_done = time.perf_counter(), done
                time.sleep(0.05)
            finished = time.perf_counter()
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
        assert first_commit is not None
        total_s = finished - launched
        steady_s = finished - first_commit
        steady = (len(posts) - first_done) / steady_s if steady_s > 0 else float("inf")
        print(f"veille run --workers {args.workers} on {args.broker}: {len(posts)} posts committed "
              f"{total_s:.2f} s after launch (start-up and group join included: "
              f"{len(posts) / total_s:,.0f} posts/s)")
        print(f"steady state, first commit to last: {steady:,.0f} posts/s")

    pipeline = build_pipeline(Settings())
    pipeline.process(posts[:200])  # warm-up: lazy model loads
    started = time.perf_counter()
    for index in range(0, len(posts), args.poll_max_records):
        pipeline.process(posts[index : index + args.poll_max_records])
    alone_s = time.perf_counter() - started
    print(f"pipeline alone, same posts and batch size: {len(posts) / alone_s:,.0f} posts/s "
          f"(policy {pipeline.policy_version}, cpu count {os.cpu_count()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
