from pydantic_settings import SettingsConfigDict

from dialogkit.config import Port, ServiceSettings

SERVICE = "interactions"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTERACTIONS_", extra="ignore", frozen=True)

    http_port: Port = 8003
    worker_web_port: Port = 6603
