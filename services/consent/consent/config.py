from pydantic_settings import SettingsConfigDict

from dialogkit.config import Port, ServiceSettings

SERVICE = "consent"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENT_", extra="ignore", frozen=True)

    http_port: Port = 8001
    worker_web_port: Port = 6601
