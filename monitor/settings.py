"""All configuration in one frozen object, read from VEILLE_* environment variables (or a .env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    poll_max_records: int = Field(default=500, gt=0)
    poll_timeout_ms: int = Field(default=500, gt=0)
    # kafka-python 3.0 defaults to 45 s; a join costs about half of it on some brokers.
    session_timeout_ms: int = Field(default=10_000, gt=0)
    heartbeat_interval_ms: int = Field(default=2_000, gt=0)
    metrics_port: int | None = Field(default=None, description="worker's own /metrics port; none = off")

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
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="key for the stable author pseudonyms shown to the comms role; "
        "unset = a random key per API process (pseudonyms then change at restart)",
    )

    # Review (alerts.store, alerts.retention) and outbound sinks (alerts.sinks).
    group_window_seconds: int = Field(
        default=3600, ge=0, le=30 * 86400,
        description="hits of one rule by one author within this many seconds become one alert; 0 = off",
    )
    retention_days: dict[str, int] = Field(
        default_factory=lambda: {"*": 730},
        description='age in days after closing at which alerts are removed, per jurisdiction; "*" for '
        'the others (JSON in VEILLE_RETENTION_DAYS, e.g. {"FR": 365, "*": 730})',
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
    sink_attempts: int = Field(default=4, ge=1, le=20, description="tries per batch for HTTP sinks")
    sink_backoff_seconds: float = Field(default=0.5, gt=0, le=60, description="first retry delay, doubled")

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
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'veille.db').resolve()}"
