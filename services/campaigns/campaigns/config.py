from pydantic_settings import SettingsConfigDict

from dialogkit.config import Port, ServiceSettings

SERVICE = "campaigns"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CAMPAIGNS_", extra="ignore", frozen=True)

    http_port: Port = 8004
    worker_web_port: Port = 6604
