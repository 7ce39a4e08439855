"""Per service: ConfigMap, API and worker Deployments, the API's Service, PDBs and the API's HPA.

Both Deployments run the service's migrations in an init container before the process starts,
so a rollout migrates first and nobody migrates by hand; migrations take an advisory lock and
skip what is applied, so pods migrating at once are safe.
"""

from __future__ import annotations

from typing import Any

from devstack.kube.common import (
    IMAGE,
    KAFKA_BOOTSTRAP,
    KAFKA_CA_DIR,
    KAFKA_CA_SECRET,
    NAMESPACE,
    OTEL_COLLECTOR,
    OTEL_NAMESPACE,
    OTEL_PORT,
    POSTGRES_CLUSTER,
    POSTGRES_PORT,
    called_services,
    database_name,
    env_prefix,
    labels,
    metadata,
    port_of,
    selector,
)
from dialogkit.service import ServiceDefinition

USER_ID = 10001  # the image's unprivileged user
RESOURCES = {
    "api": {
        "requests": {"cpu": "200m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    },
    "worker": {
        "requests": {"cpu": "250m", "memory": "384Mi"},
        "limits": {"cpu": "1", "memory": "768Mi"},
    },
}
HPA_CPU_PERCENT = 70


def config_map(definition: ServiceDefinition) -> dict[str, Any]:
    """Settings that are not secret; secrets come from Secrets, by reference."""
    prefix = env_prefix(definition)
    name = definition.name
    data = {
        "ENVIRONMENT": "production",
        "KAFKA_BOOTSTRAP": KAFKA_BOOTSTRAP,
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_USERNAME": name,  # the KafkaUser of the service
        "KAFKA_CA_FILE": f"{KAFKA_CA_DIR}/ca.crt",
        "DATABASE_URL": (
            f"postgresql://{POSTGRES_CLUSTER}-rw.{NAMESPACE}.svc:{POSTGRES_PORT}"
            f"/{database_name(name)}?sslmode=require"
        ),
        "HTTP_HOST": "0.0.0.0",
        "HTTP_PORT": str(port_of(definition, "api")),
        "WORKER_WEB_PORT": str(port_of(definition, "worker")),
        "OTLP_ENDPOINT": f"http://{OTEL_COLLECTOR}.{OTEL_NAMESPACE}.svc:{OTEL_PORT}",
        "LOG_LEVEL": "INFO",
    }
    for peer in called_services(definition):  # other services' APIs, by their Service names
        data[f"{peer.upper()}_URL"] = f"http://{peer}-api.{NAMESPACE}.svc"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(f"{name}-config"),
        "data": {f"{prefix}{key}": value for key, value in data.items()},
    }


def _env(definition: ServiceDefinition) -> dict[str, Any]:
    name, prefix = definition.name, env_prefix(definition)

    def secret(variable: str, secret_name: str, key: str) -> dict[str, Any]:
        return {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}

    return {
        "envFrom": [
            {"configMapRef": {"name": f"{name}-config"}},
            {"secretRef": {"name": f"{name}-secrets"}},  # API tokens, salts
        ],
        "env": [
            # the database role's credentials, also the CloudNativePG role's password Secret
            secret("PGUSER", f"{name}-db", "username"),
            secret("PGPASSWORD", f"{name}-db", "password"),
            # the Strimzi user operator writes the KafkaUser's password into this Secret
            secret(f"{prefix}KAFKA_PASSWORD", name, "password"),
        ],
    }


SECURITY_CONTEXT = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
MOUNTS = [
    {"name": "tmp", "mountPath": "/tmp"},
    {"name": "kafka-ca", "mountPath": KAFKA_CA_DIR, "readOnly": True},
]


def _probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _container(definition: ServiceDefinition, role: str) -> dict[str, Any]:
    return {
        "name": role,
        "image": IMAGE,
        "args": ["python", "-m", definition.name, role],
        "ports": [{"name": "http", "containerPort": port_of(definition, role)}],
        **_env(definition),
        # startup covers a worker's first consumer group join (up to 2 minutes); afterwards
        # liveness restarts a hung process and readiness takes it out of service
        "startupProbe": _probe("/healthz", period=2, failures=60),
        "livenessProbe": _probe("/healthz", period=10, failures=3),
        "readinessProbe": _probe("/readyz", period=5, failures=3),
        "resources": RESOURCES[role],
        "securityContext": SECURITY_CONTEXT,
        "volumeMounts": MOUNTS,
    }


def _migrations(definition: ServiceDefinition) -> dict[str, Any]:
    return {
        "name": "migrate",
        "image": IMAGE,
        "args": ["python", "-m", definition.name, "migrate"],
        **_env(definition),
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": SECURITY_CONTEXT,
        "volumeMounts": MOUNTS,
    }


def deployment(definition: ServiceDefinition, role: str) -> dict[str, Any]:
    name = f"{definition.name}-{role}"
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector(definition.name, role)},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        },
        "template": {
            "metadata": {"labels": labels(definition.name, role)},
            "spec": {
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": USER_ID,
                    "runAsGroup": USER_ID,
                    "fsGroup": USER_ID,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                # a worker leaves its consumer group before the pod goes
                "terminationGracePeriodSeconds": 30,
                "initContainers": [_migrations(definition)],
                "containers": [_container(definition, role)],
                "volumes": [
                    {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                    {
                        "name": "kafka-ca",
                        "secret": {
                            "secretName": KAFKA_CA_SECRET,
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                        },
                    },
                ],
            },
        },
    }
    if role == "worker":  # an API's replicas belong to its autoscaler
        spec = {"replicas": 1, **spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, labels=labels(definition.name, role)),
        "spec": spec,
    }


def api_service(definition: ServiceDefinition) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(f"{definition.name}-api", labels=labels(definition.name, "api")),
        "spec": {
            "selector": selector(definition.name, "api"),
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }


def disruption_budget(definition: ServiceDefinition, role: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(f"{definition.name}-{role}"),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(definition.name, role)}},
    }


def autoscaler(definition: ServiceDefinition) -> dict[str, Any]:
    name = f"{definition.name}-api"
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": HPA_CPU_PERCENT},
                    },
                }
            ],
        },
    }


def workload_documents(definition: ServiceDefinition) -> list[dict[str, Any]]:
    return [
        config_map(definition),
        deployment(definition, "api"),
        api_service(definition),
        autoscaler(definition),
        disruption_budget(definition, "api"),
        deployment(definition, "worker"),
        disruption_budget(definition, "worker"),
    ]
