"""Kubernetes manifests for deploy/k8s/, rendered from the services' settings and the catalog.

`make manifests` writes a kustomize base and the overlays `dev` and `prod`; a test fails when the
checked-in files differ, so ports, probes, topics and Kafka grants cannot drift from the code.
`make k8s-check` renders every overlay and validates each object (see `devstack.kube.check`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from devstack.kube.common import NAMESPACE
from devstack.kube.database import database_documents
from devstack.kube.kafka import topic_documents, user_documents
from devstack.kube.network import network_documents
from devstack.kube.overlays import kustomization, overlay_files
from devstack.kube.workloads import workload_documents
from devstack.stack import definitions
from dialog_schemas.catalog import SERVICES, TOPICS
from dialogkit.service import ServiceDefinition

OUTPUT = Path("deploy/k8s")
OVERLAYS = ("dev", "prod")


def dump(documents: Sequence[dict[str, Any]]) -> str:
    return "".join("---\n" + yaml.safe_dump(d, sort_keys=False, width=100) for d in documents)


def base_files(services: Sequence[ServiceDefinition]) -> dict[str, str]:
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NAMESPACE,
            "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
        },
    }
    files = {
        "namespace.yaml": dump([namespace]),
        "kafka-topics.yaml": dump(topic_documents(TOPICS, services)),
        "kafka-users.yaml": dump(user_documents(TOPICS, services)),
        "postgres.yaml": dump(database_documents(SERVICES)),
        "network-policies.yaml": dump(network_documents(services)),
    }
    for definition in services:
        files[f"{definition.name}.yaml"] = dump(workload_documents(definition))
    files["kustomization.yaml"] = kustomization(sorted(files))
    return {f"base/{name}": content for name, content in files.items()}


def render() -> dict[str, str]:
    """Path under deploy/k8s -> content of every manifest."""
    services = definitions()
    return {**base_files(services), **overlay_files(services)}


def write(folder: Path) -> None:
    """Replace the manifests in `folder` with what the code renders."""
    rendered = render()
    for stale in folder.rglob("*.yaml"):
        if str(stale.relative_to(folder)) not in rendered:
            stale.unlink()
    for name, content in rendered.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        print(f"wrote {path}")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT)
