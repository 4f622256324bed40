"""The post contract: one JSON object per Kafka record, validated once at the edge.

It lives in the policies layer because rules are the lowest layer that reads a whole post (author,
channel, source); detectors only see ``text`` and ``lang`` (``detectors.base.TextRecord``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

JURISDICTION_PATTERN = r"^(?:[A-Z]{2}|GLOBAL)$"
# Bounds the store's columns are sized from (alerts.sql.schema): a valid post must always be storable.
ID_MAX_CHARS = 256
# ISO 3166 codes are 2 (country) to 6 (subdivision) characters; the author's country becomes the
# alert's jurisdiction when the post names none.
COUNTRY_MAX_CHARS = 32


class Source(StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"


class Author(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1, max_length=ID_MAX_CHARS)
    display_name: str | None = None
    handle: str | None = None
    is_employee: bool = False
    role: str = Field(
        default="public",
        max_length=64,
        description="employee, registered_rep, executive, investor_relations, customer, public, ...",
    )
    country: str | None = Field(
        default=None, max_length=COUNTRY_MAX_CHARS, description="ISO 3166-1 alpha-2 country of the author"
    )

    @field_validator("country", mode="before")
    @classmethod
    def _upper_country(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class Post(BaseModel):
    """A post from an internal or external channel.

    Unknown top-level fields are not an error: they are moved into ``metadata`` so that
    producers can evolve without breaking the monitor.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": "teams-7f3a",
                    "source": "internal",
                    "channel": "teams",
                    "author": {
                        "id": "u-102",
                        "display_name": "Alice Martin",
                        "is_employee": True,
                        "role": "employee",
                        "country": "FR",
                    },
                    "text": "Rappel : ce document est confidentiel, ne pas diffuser.",
                    "lang": "fr",
                    "created_at": "2026-11-26T09:30:00Z",
                }
            ]
        },
    )

    id: str = Field(min_length=1, max_length=ID_MAX_CHARS)
    source: Source
    channel: str = Field(
        min_length=1, max_length=64, description="x, linkedin, teams, slack, yammer, reviews, ..."
    )
    author: Author
    text: str = Field(max_length=100_000)
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2}$", description="ISO 639-1 language code")
    jurisdiction: str | None = Field(
        default=None,
        pattern=JURISDICTION_PATTERN,
        description="ISO 3166-1 alpha-2 country (US, GB, FR) or a region (EU); GLOBAL for none",
    )
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _keep_unknown_fields_in_metadata(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # Looked up once: ``model_fields`` is a computed class property, costly on every record's every key.
        fields = cls.model_fields
        unknown = {key: value for key, value in data.items() if key not in fields}
        if not unknown:
            return data
        known = {key: value for key, value in data.items() if key in fields}
        metadata = known.get("metadata")
        merged = dict(metadata) if isinstance(metadata, dict) else {}
        for key, value in unknown.items():
            merged.setdefault(key, value)
        known["metadata"] = merged
        return known

    @field_validator("lang", mode="before")
    @classmethod
    def _lower_lang(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("jurisdiction", mode="before")
    @classmethod
    def _upper_jurisdiction(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


def summarise_validation_error(exc: ValidationError) -> str:
    """Field paths and messages only: pydantic's default text would echo the input (post content)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:5]:
        location = ".".join(str(item) for item in error["loc"]) or "(root)"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


def post_json_schema() -> dict[str, Any]:
    return Post.model_json_schema()
