"""All configuration in one frozen object, read from VEILLE_* environment variables (or a .env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from detectors.registry import DetectorConfig


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

    @field_validator("bootstrap_servers", "input_topics", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'veille.db').resolve()}"
