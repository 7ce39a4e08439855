"""Typed settings shared by every service; each service gives them its own env prefix."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_DEV_TOKEN = "local-dev-token"


Port = Annotated[int, Field(ge=1, le=65535)]


class ServiceSettings(BaseSettings):
    """Settings of one service's API and worker; read from `<PREFIX>_<NAME>` variables."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: Literal["local", "test", "production"] = "local"
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_idempotent_producer: bool = False
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    database_pool_max: Annotated[int, Field(ge=1, le=100)] = 10
    http_host: str = "127.0.0.1"
    http_port: Port = 8000
    worker_web_port: Port = 6066
    api_token: SecretStr = SecretStr(LOCAL_DEV_TOKEN)
    topic_partitions: Annotated[int, Field(ge=1, le=1000)] = 6
    topic_replication: Annotated[int, Field(ge=1, le=10)] = 1
    batch_max: Annotated[int, Field(ge=1, le=50_000)] = 2000
    batch_within_s: Annotated[float, Field(gt=0, le=60)] = 0.2
    otlp_endpoint: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _refuse_default_secret_outside_local(self) -> Self:
        if self.environment != "local" and self.api_token.get_secret_value() == LOCAL_DEV_TOKEN:
            raise ValueError(
                "api_token still has the local development default; set a real token "
                f"for environment={self.environment}"
            )
        return self
