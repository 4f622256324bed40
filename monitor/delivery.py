"""Running the outbox delivery (:mod:`alerts.outbox`): threads inside every `veille run` worker by
default, or its own process, `veille deliver`, for deployments that want it apart
(``VEILLE_DELIVERY_IN_WORKERS=false``).

Every deliverer, thread or process, tries every configured sink: the sink's lease lets one of them
deliver it at a time, and another takes over when that one stops or dies. One thread per sink, so a
sink stuck in timeouts never delays another.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from alerts.outbox import Backoff, Outbox, SinkDelivery
from alerts.sinks import AlertSink, sink_names
from monitor.metrics import Metrics
from monitor.settings import Settings
from monitor.sinks import build_sinks, sink_config

log = logging.getLogger(__name__)

# sink_cursors.lease_owner is VARCHAR(64).
_OWNER_CHARS = 64
STOP_TIMEOUT_S = 60.0


def delivery_owner() -> str:
    """This deliverer's name on the leases it holds: host, process, and a random part (two deliverers
    in one process, or a pid reused after a restart, never share a lease)."""
    suffix = f":{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return socket.gethostname()[: _OWNER_CHARS - len(suffix)] + suffix


def register_sinks(settings: Settings, engine: sa.Engine) -> None:
    """Cursors for the configured sinks that have none yet, at the head of the outbox. `veille run`
    calls it before it stores anything, so a newly configured sink gets every alert from then on."""
    Outbox(engine).register(sink_names(sink_config(settings)))


@dataclass
class Delivery:
    """One :class:`SinkDelivery` thread per sink; :meth:`stop` ends them and closes the sinks."""

    settings: Settings
    outbox: Outbox
    sinks: Sequence[AlertSink]
    metrics: Metrics | None = None
    owner: str = field(default_factory=delivery_owner)
    deliveries: list[SinkDelivery] = field(init=False, default_factory=list)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _threads: list[threading.Thread] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        backoff = Backoff(self.settings.sink_backoff_seconds, self.settings.sink_backoff_max_seconds)
        self.deliveries = [
            SinkDelivery(self.outbox, sink, self.owner, batch_size=self.settings.delivery_batch_size,
                         lease_s=self.settings.delivery_lease_seconds, backoff=backoff, metrics=self.metrics,
                         rng=random.Random())
            for sink in self.sinks
        ]

    @classmethod
    def for_settings(cls, settings: Settings, engine: sa.Engine, metrics: Metrics | None = None) -> Delivery:
        """The configured sinks (and the Kafka producer of the alerts topic) over ``engine``'s outbox."""
        from monitor.kafka_io import make_producer

        sinks = build_sinks(settings, make_producer(settings, client_id="veille-alerts"))
        return cls(settings, Outbox(engine), sinks, metrics)

    def start(self) -> Delivery:
        self.outbox.register([sink.name for sink in self.sinks])
        for delivery in self.deliveries:
            thread = threading.Thread(
                target=delivery.run, args=(self._stop,),
                kwargs={"poll_s": self.settings.delivery_poll_seconds}, name=f"deliver-{delivery.name}",
                daemon=True,  # a publish stuck past its timeout must not keep the process alive
            )
            thread.start()
            self._threads.append(thread)
        log.info("delivering to %s as %s", ", ".join(sink.name for sink in self.sinks) or "no sink",
                 self.owner)
        return self

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Let each thread finish its publish and cursor update, release the leases, close the sinks."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
            if thread.is_alive():
                log.error("%s did not stop within %.0f s; its lease expires on its own",
                          thread.name, timeout_s)
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # closing must not hide the reason we are stopping
                log.warning("sink %s close failed: %s", sink.name, type(exc).__name__)


def run_delivery(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """`veille deliver`: deliver the outbox to the configured sinks until SIGTERM or SIGINT."""
    from alerts.store import SqlAlertStore
    from monitor.metrics import serve_process_metrics
    from monitor.process import install_stop_handlers

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        install_stop_handlers(stop)
    metrics = serve_process_metrics(settings.metrics_port, settings.api_host)
    store = SqlAlertStore.open(settings.resolved_database_url)
    try:
        delivery = Delivery.for_settings(settings, store.engine, metrics).start()
        stop.wait()
        delivery.stop()
    finally:
        store.close()


def delivery_status(settings: Settings) -> list[dict[str, object]]:
    """Every sink's cursor with its backlog: what `veille deliver --status` prints."""
    from alerts.store import SqlAlertStore

    store = SqlAlertStore.open(settings.resolved_database_url)
    try:
        outbox = Outbox(store.engine)
        rows: list[dict[str, object]] = []
        for cursor in outbox.cursors():
            backlog = outbox.backlog(cursor["sink"])
            rows.append({**cursor, "pending": backlog.pending,
                         "oldest_age_s": round(backlog.oldest_age_s, 1)})
        return rows
    finally:
        store.close()
