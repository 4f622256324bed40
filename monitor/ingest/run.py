"""One ingest run: which reader and poller each format has, and where the posts go.

Outputs are callables taking the stream of posts to produce: the JSONL writer returns None (there is
nothing to acknowledge), the Kafka one the number of records the broker acknowledged (``produce_posts``
waits for every acknowledgement and raises if one failed). Posts stream from the reader through the
reconciler to the output: an export larger than memory is fine.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from monitor.ingest.base import Context, Item, Reader
from monitor.ingest.feeds import atom_items, read_atom, read_rss, rss_items
from monitor.ingest.follow import FeedPoller, MastodonPoller, Poller
from monitor.ingest.manifest import Manifest, Reconciler, post_line
from monitor.ingest.mastodon import read_mastodon
from monitor.ingest.slack import read_slack
from monitor.ingest.tabular import read_csv
from monitor.ingest.teams import read_teams
from monitor.ingest.x_api import read_x
from monitor.produce import produce_posts, topic_for_sources
from monitor.settings import Settings
from policies.post import Post, Source


@dataclass(frozen=True)
class Format:
    reader: Callable[..., Iterator[Item]]  # a Reader; csv's also takes its column mapping
    default_source: Source
    poller: Callable[[str, Context], Poller] | None = None


FORMATS: dict[str, Format] = {
    "slack": Format(read_slack, Source.INTERNAL),
    "teams": Format(read_teams, Source.INTERNAL),
    "x": Format(read_x, Source.EXTERNAL),
    "mastodon": Format(read_mastodon, Source.EXTERNAL, MastodonPoller),
    "rss": Format(read_rss, Source.EXTERNAL, lambda url, context: FeedPoller(url, context, rss_items)),
    "atom": Format(read_atom, Source.EXTERNAL, lambda url, context: FeedPoller(url, context, atom_items)),
    "csv": Format(read_csv, Source.EXTERNAL),
}


class JsonlOutput:
    """Writes each post as one JSON line: the exact bytes the manifest's content hash covers."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle

    def __call__(self, posts: Iterable[Post]) -> None:
        for post in posts:
            self.handle.write(post_line(post))
        self.handle.flush()


class KafkaOutput:
    """Sends to the input topic of each post's source, keyed by author, and waits for every ack."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = sorted(set(topic_for_sources(settings).values()))

    def __call__(self, posts: Iterable[Post]) -> int:
        stream = iter(posts)
        first = next(stream, None)
        if first is None:  # most polls of a live source: no producer, no connection
            return 0
        return produce_posts(self.settings, itertools.chain([first], stream))


def ingest_path(reader: Reader, path: Path, context: Context, reconciler: Reconciler,
                deliver: Callable[[Iterable[Post]], int | None]) -> Manifest:
    acknowledged = deliver(reconciler.admit(reader(path, context)))
    if acknowledged is not None:
        reconciler.acknowledged(acknowledged)
    return reconciler.finish()
