"""Names every manifest agrees on: namespaces, labels, the image and the clusters it runs on."""

from __future__ import annotations

from typing import Any

from dialog_schemas.catalog import SERVICES
from dialogkit.config import ServiceSettings
from dialogkit.service import ServiceDefinition

NAMESPACE = "dialog"
IMAGE = "ghcr.io/dialog-platform/dialog:0.1.0"
PART_OF = "dialog-platform"
SERVICE_LABEL = "dialog-platform/service"

KAFKA_CLUSTER = "dialog"  # the Strimzi `Kafka` resource
KAFKA_NAMESPACE = "kafka"
KAFKA_PORT = 9093  # the TLS listener with SCRAM-SHA-512 authentication
KAFKA_BOOTSTRAP = f"{KAFKA_CLUSTER}-kafka-bootstrap.{KAFKA_NAMESPACE}.svc:{KAFKA_PORT}"
KAFKA_CA_SECRET = f"{KAFKA_CLUSTER}-cluster-ca-cert"  # copied from the Kafka namespace
KAFKA_CA_DIR = "/etc/kafka-ca"

POSTGRES_CLUSTER = "dialog-pg"  # the CloudNativePG `Cluster`
POSTGRES_PORT = 5432
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"
OTEL_NAMESPACE = "observability"
OTEL_COLLECTOR = "otel-collector"
OTEL_PORT = 4318
ISSUER_NAMESPACE = "auth"  # the OAuth2 token issuer in the cluster (e.g. Keycloak)
ISSUER_POD_LABELS = {"app.kubernetes.io/name": "keycloak"}
ISSUER_PORT = 8443  # the port its pods serve HTTPS on (the issuer's JWKS and token endpoint)
ISSUER_CIDR: str | None = None
"""An issuer outside the cluster: its addresses (e.g. "203.0.113.0/24"); then the policy allows
ISSUER_PORT (set it to 443) there instead of the pods of ISSUER_NAMESPACE."""
ROLES = ("api", "worker")


def env_prefix(definition: ServiceDefinition) -> str:
    return str(definition.settings.model_config.get("env_prefix", ""))


def settings_of(definition: ServiceDefinition) -> ServiceSettings:
    """The service's settings as they are in code (defaults), not as the environment says."""
    return definition.settings.model_construct()


def port_of(definition: ServiceDefinition, role: str) -> int:
    settings = settings_of(definition)
    return settings.http_port if role == "api" else settings.worker_web_port


def database_name(service: str) -> str:
    return f"dialog_{service}"


def called_services(definition: ServiceDefinition) -> list[str]:
    """The other services whose APIs this one calls: its `<peer>_url` settings."""
    return sorted(
        name.removesuffix("_url")
        for name in definition.settings.model_fields
        if name.endswith("_url") and name.removesuffix("_url") in SERVICES
    )


def labels(service: str, role: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": f"{service}-{role}",
        "app.kubernetes.io/component": role,
        "app.kubernetes.io/part-of": PART_OF,
        SERVICE_LABEL: service,
    }


def selector(service: str, role: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": f"{service}-{role}"}


def metadata(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": NAMESPACE, **extra}
