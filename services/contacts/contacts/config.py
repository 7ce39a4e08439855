from pydantic_settings import SettingsConfigDict

from dialogkit.config import Port, ServiceSettings

SERVICE = "contacts"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONTACTS_", extra="ignore", frozen=True)

    http_port: Port = 8002
    worker_web_port: Port = 6602
