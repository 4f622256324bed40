"""All configuration in one frozen object, read from VEILLE_* environment variables (or a .env file)."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from alerts.levels import QaSampling
from alerts.store import AuditOptions
from detectors.config import DetectorConfig
from monitor.brands import BrandConfig, check_brands, default_brands
from monitor.reputation_state import ReputationConfig


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VEILLE_", env_file=".env", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        default=Path(".veille"), description="SQLite database, broker state, metrics files"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/veille.db"
    )

    bootstrap_servers: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.1:9092"])
    input_topics: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["veille.posts.internal", "veille.posts.external"]
    )
    dlq_topic: str = "veille.posts.dlq"
    alerts_topic: str = "veille.alerts"
    group_id: str = "veille"
    max_record_bytes: int = Field(default=256 * 1024, gt=0)
    poll_max_records: int = Field(
        # Not Kafka's 500: each poll costs a store transaction, a reputation save and an offset commit
        # (a broker round trip), and the detectors batch. 2,000 cut that share of a worker's time from
        # about a third to a tenth with pattern-only packs. A poll's time stays bounded by
        # batch_chunk_bytes and batch_max_seconds; a quiet stream's polls are small whatever this is.
        default=2000, gt=0, description="records per poll (the batch detected, stored and committed together)"
    )
    poll_timeout_ms: int = Field(default=500, gt=0)
    batch_max_seconds: float = Field(
        default=60, gt=0, description="after this, a worker commits what it processed of a poll and polls "
        "again for the rest; at most half of max_poll_interval_ms"
    )
    batch_chunk_bytes: int = Field(
        default=1024 * 1024, gt=0, description="a poll is processed and committed in chunks of records "
        "holding at most this many bytes (at least one record each)"
    )
    max_poll_interval_ms: int = Field(
        default=300_000, gt=0, description="the group takes a worker's partitions away when it does not "
        "poll for this long (Kafka's max.poll.interval.ms)"
    )
    # kafka-python 3.0 defaults to 45 s; a join costs about half of it on some brokers.
    session_timeout_ms: int = Field(default=10_000, gt=0)
    heartbeat_interval_ms: int = Field(default=2_000, gt=0)
    metrics_port: int | None = Field(default=None, description="worker's own /metrics port; none = off")
    evidence_max_spans: int = Field(
        default=50, ge=1, le=1000, description="evidence spans kept per alert (the alert counts them all)"
    )
    evidence_max_bytes: int = Field(
        default=16 * 1024, ge=1024, le=1024 * 1024, description="evidence kept per alert, in bytes of JSON"
    )

    policies_dir: Path | None = Field(default=None, description="extra packs that override the shipped ones")
    default_jurisdiction: str = "GLOBAL"
    channel_jurisdictions: dict[str, str] = Field(
        default_factory=dict, description='e.g. {"teams-fr": "FR"}: fallback when post and author say nothing'
    )

    detectors: DetectorConfig = Field(
        default_factory=DetectorConfig,
        description="models, allow-list, thresholds (JSON in VEILLE_DETECTORS, or per field "
        "as in VEILLE_DETECTORS__ALLOW_LIST)",
    )

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str | None = Field(default=None, description="base URL used in links to alerts")
    bootstrap_admin_token: SecretStr | None = Field(
        default=None,
        description="an admin API token installed when the API starts (demo, first setup); "
        "format veille_<16 hex>_<43 url-safe chars>; revoke it once real tokens exist",
    )
    bootstrap_admin_token_days: int = Field(
        default=1, ge=1, le=365,
        description="the bootstrap admin token expires this many days after it is installed",
    )
    token_expiry_days: int = Field(
        default=90, ge=1, le=3650,
        description="expiry of API tokens created without an explicit one (`veille tokens create`, "
        "POST /api/v1/tokens); a token that never expires must be asked for explicitly",
    )
    api_max_body_bytes: int = Field(
        default=1024 * 1024, gt=0,
        description="larger request bodies are refused with 413 before they are read or parsed",
    )
    api_streams_per_token: int = Field(
        default=3, ge=1, le=100,
        description="alert streams one token may hold open at once in one API process; the next gets 429",
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="key for the stable author pseudonyms (comms role; officers in jurisdictions whose "
        "pack sets pseudonymise_authors; reputation alerts store only the pseudonym): set the same key on "
        "workers and API; unset = a random key per process (pseudonyms then change at restart)",
    )
    author_reveal_approval: bool = Field(
        default=False,
        description="revealing a pseudonymised author needs a second person's approval (request, then "
        "approve by another officer or admin)",
    )

    sampling_seed: SecretStr | None = Field(
        default=None,
        description="HMAC key of the sampling draw (alerts.sampling): the same key draws the same posts, "
        "and authors cannot predict them without it; unset = the public demo seed (a warning is logged)",
    )

    # Review (alerts.store, alerts.retention) and outbound sinks (alerts.sinks).
    group_window_seconds: int = Field(
        default=3600, ge=0, le=30 * 86400,
        description="hits of one rule by one author within this many seconds become one alert; 0 = off",
    )
    qa_sample_rate: float = Field(
        default=0.1, ge=0.0, le=1.0,
        description="fraction of the alerts closed by first-level reviewers drawn for a principal's QA "
        "review (alerts.levels); 0 = none",
    )
    qa_sample_key: SecretStr | None = Field(
        default=None, min_length=16,
        description="secret key of the QA draw (HMAC of the alert id): the same key draws the same "
        "alerts, and reviewers without it cannot tell which closures will be checked; unset = derived "
        "from VEILLE_PSEUDONYM_KEY, or random per API process when that is unset too",
    )
    retention_days: dict[str, int] = Field(
        default_factory=lambda: {"*": 730},
        description='age in days after closing at which alerts are removed, per jurisdiction; "*" for '
        'the others (JSON in VEILLE_RETENTION_DAYS, e.g. {"FR": 365, "*": 730}); when set, each key wins '
        "over the policy packs' retention: (see `veille retention policy`); unset, the packs decide",
    )
    retention_mode: Literal["anonymise", "delete"] = Field(
        default="anonymise",
        description="anonymise keeps the counts and verdicts without personal data; delete removes the alert",
    )
    alertmanager_url: str | None = Field(
        default=None, description="Alertmanager base URL, e.g. http://127.0.0.1:9093; unset = no sink"
    )
    webhook_urls: list[str] = Field(
        default_factory=list, description='signed webhooks (JSON list in VEILLE_WEBHOOK_URLS)'
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key for the X-Veille-Signature header of webhooks"
    )
    # Delivery from the outbox (alerts.outbox, monitor.delivery).
    delivery_in_workers: bool = Field(
        default=True, description="every `veille run` worker delivers the sinks from its own threads; "
        "false: run `veille deliver` instead"
    )
    delivery_batch_size: int = Field(default=100, ge=1, le=10_000, description="alerts per publish call")
    delivery_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="how often an idle deliverer looks for new alerts"
    )
    delivery_lease_seconds: float = Field(
        default=120.0, ge=2, le=3600,
        description="a sink's lease: a dead deliverer's sink is taken over after this; at least twice "
        "the longest publish (HTTP 10 s per phase, Kafka 30 s)",
    )
    sink_backoff_seconds: float = Field(
        default=0.5, gt=0, le=60, description="first retry delay after a failed delivery, doubled"
    )
    sink_backoff_max_seconds: float = Field(default=300.0, gt=0, le=3600, description="longest retry delay")

    # The audit log (alerts.anchor, alerts.views).
    audit_anchor_file: Path | None = Field(
        default=None,
        description="append-only JSON lines file receiving checkpoints of the audit chain's head "
        "(truncation of the log is then detected); keep it out of the database administrators' reach",
    )
    audit_anchor_every_entries: int = Field(
        default=100, ge=1, le=1_000_000, description="a checkpoint once this many audit entries were added"
    )
    audit_anchor_every_seconds: float = Field(
        default=60.0, gt=0, le=86_400,
        description="a checkpoint this long after the head moved, at the latest",
    )
    audit_view_window_seconds: int = Field(
        default=600, ge=0, le=86_400,
        description="repeated views of one alert by one token within this window make one audit entry "
        "with a count; 0 = one entry per view",
    )

    brands: list[BrandConfig] = Field(
        default_factory=default_brands,
        description="brands watched for e-reputation (JSON in VEILLE_BRANDS): name, aliases, handles, "
        "hashtags; at most 50, the name is a metric label",
    )
    reputation: ReputationConfig = Field(
        default_factory=ReputationConfig,
        description="e-reputation windows and spike thresholds (VEILLE_REPUTATION__WINDOW_SECONDS, "
        "__K, __MIN_VOLUME, __EWMA_ALPHA, __MIN_BASELINE_WINDOWS, __ALLOWED_LATENESS_SECONDS); a policy "
        "pack's spikes: section overrides k and min_volume for its jurisdiction",
    )

    @model_validator(mode="after")
    def _poll_outlasts_a_batch(self) -> Settings:
        # A poll is cut after batch_max_seconds, plus the chunk under way: keep as much again in hand.
        if self.batch_max_seconds * 2_000 > self.max_poll_interval_ms:
            raise ValueError(
                f"batch_max_seconds ({self.batch_max_seconds:g}) must be at most half of "
                f"max_poll_interval_ms ({self.max_poll_interval_ms}); lower it or raise max_poll_interval_ms"
            )
        return self

    @field_validator("brands")
    @classmethod
    def _bounded_brands(cls, value: list[BrandConfig]) -> list[BrandConfig]:
        check_brands(value)
        return value

    @field_validator("bootstrap_servers", "input_topics", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    def detector_config(self) -> DetectorConfig:
        """The detectors' settings, with the watched brands' names among the organisations that
        are never taken for people."""
        names = {term for brand in self.brands for term in (brand.name, *brand.aliases)}
        return self.detectors.model_copy(
            update={"known_organisations": self.detectors.known_organisations | names}
        )

    @property
    def audit_options(self) -> AuditOptions:
        return AuditOptions(
            anchor_file=self.audit_anchor_file,
            anchor_every_entries=self.audit_anchor_every_entries,
            anchor_every_seconds=self.audit_anchor_every_seconds,
            view_window=timedelta(seconds=self.audit_view_window_seconds),
        )

    @property
    def retention_overrides(self) -> dict[str, int] | None:
        """VEILLE_RETENTION_DAYS when the operator set it; None: the packs' periods apply."""
        return self.retention_days if "retention_days" in self.model_fields_set else None

    @property
    def qa_sampling(self) -> QaSampling:
        if self.qa_sample_key is not None:
            key = self.qa_sample_key.get_secret_value().encode()
        elif self.pseudonym_key is not None:
            # A key of its own for the draw, so knowing one use of the secret reveals nothing of the other.
            pseudonym_key = self.pseudonym_key.get_secret_value().encode()
            key = hmac.new(pseudonym_key, b"veille qa sample", "sha256").digest()
        else:
            key = secrets.token_bytes(32)
        return QaSampling(rate=self.qa_sample_rate, key=key)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'veille.db').resolve()}"
