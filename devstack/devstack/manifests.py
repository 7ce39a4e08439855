"""Kubernetes manifests for deploy/k8s/, rendered from the services' own settings.

`make manifests` writes them; a test fails when the checked-in files differ, so ports, probes
and topics in the manifests cannot drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from devstack.stack import definitions
from dialogkit.service import ServiceDefinition
from dialogkit.topics import platform_topics

NAMESPACE = "dialog"
IMAGE = "ghcr.io/dialog-platform/dialog:0.1.0"
KAFKA_BOOTSTRAP = "dialog-kafka-bootstrap.kafka.svc:9092"  # Strimzi cluster "dialog"
OUTPUT = Path("deploy/k8s")


def _probe(path: str, port: str, *, period: int = 10, failures: int = 3) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _container(definition: ServiceDefinition[Any], role: str, port: int) -> dict[str, Any]:
    return {
        "name": role,
        "image": IMAGE,
        "args": ["python", "-m", definition.name, role],
        "ports": [{"name": "http", "containerPort": port}],
        "envFrom": [
            {"configMapRef": {"name": f"{definition.name}-config"}},
            {"secretRef": {"name": f"{definition.name}-secrets"}},
        ],
        # startup covers the consumer group join of a fresh worker; afterwards liveness
        # restarts a hung process and readiness takes it out of service
        "startupProbe": _probe("/healthz", "http", period=2, failures=60),
        "livenessProbe": _probe("/healthz", "http"),
        "readinessProbe": _probe("/readyz", "http", period=5),
        "resources": {
            "requests": {"cpu": "100m", "memory": "192Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def _deployment(definition: ServiceDefinition[Any], role: str, port: int) -> dict[str, Any]:
    name = f"{definition.name}-{role}"
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "dialog-platform"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "securityContext": {"runAsUser": 10001, "runAsGroup": 10001},
                    # a worker leaves its consumer group before the pod goes
                    "terminationGracePeriodSeconds": 30,
                    "containers": [_container(definition, role, port)],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def service_documents(definition: ServiceDefinition[Any]) -> list[dict[str, Any]]:
    settings = definition.settings()
    prefix = definition.settings.model_config.get("env_prefix", "")
    config = {
        f"{prefix}ENVIRONMENT": "production",
        f"{prefix}KAFKA_BOOTSTRAP": KAFKA_BOOTSTRAP,
        f"{prefix}HTTP_HOST": "0.0.0.0",
        f"{prefix}HTTP_PORT": str(settings.http_port),
        f"{prefix}WORKER_WEB_PORT": str(settings.worker_web_port),
        f"{prefix}TOPIC_REPLICATION": "3",
        f"{prefix}OTLP_ENDPOINT": "http://otel-collector.observability.svc:4318",
    }
    for name in type(settings).model_fields:  # other services' APIs, by their Service names
        if name.endswith("_url") and name != "database_url":
            peer = name.removesuffix("_url")
            config[f"{prefix}{name.upper()}"] = f"http://{peer}-api.{NAMESPACE}.svc"
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{definition.name}-config", "namespace": NAMESPACE},
            "data": config,
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": f"{definition.name}-migrate", "namespace": NAMESPACE},
            "spec": {
                "backoffLimit": 3,
                "template": {
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "securityContext": {"runAsUser": 10001, "runAsGroup": 10001},
                        "containers": [
                            {
                                "name": "migrate",
                                "image": IMAGE,
                                "args": ["python", "-m", definition.name, "migrate"],
                                "envFrom": _container(definition, "migrate", 0)["envFrom"],
                            }
                        ],
                    }
                },
            },
        },
        _deployment(definition, "api", settings.http_port),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"{definition.name}-api", "namespace": NAMESPACE},
            "spec": {
                "selector": {"app.kubernetes.io/name": f"{definition.name}-api"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
        _deployment(definition, "worker", settings.worker_web_port),
    ]


def topic_documents() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaTopic",
            "metadata": {
                "name": spec.name.replace("_", "-"),
                "namespace": "kafka",
                "labels": {"strimzi.io/cluster": "dialog"},
            },
            "spec": {
                "topicName": spec.name,
                "partitions": 6,
                "replicas": 3,
                "config": {
                    **{k: int(v) if k == "retention.ms" else v for k, v in spec.config.items()},
                    "min.insync.replicas": 2,
                },
            },
        }
        for spec in platform_topics()
    ]


def render() -> dict[str, str]:
    """File name -> content of every manifest."""

    def dump(documents: list[dict[str, Any]]) -> str:
        return "".join("---\n" + yaml.safe_dump(d, sort_keys=False) for d in documents)

    files = {
        "namespace.yaml": dump(
            [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}]
        ),
        "topics.yaml": dump(topic_documents()),
    }
    for definition in definitions():
        files[f"{definition.name}.yaml"] = dump(service_documents(definition))
    files["kustomization.yaml"] = yaml.safe_dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": sorted(files),
        },
        sort_keys=False,
    )
    return files


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in render().items():
        (folder / name).write_text(content)
        print(f"wrote {folder / name}")
